#!/bin/sh
# What an operator relies on (issue 17): every line the engine logs has a
# journald level prefix and is one event with key=value fields, and
# --log-level hides the levels above it; /metrics passes a strict reader of
# Prometheus's text format (tests/promtext.awk) and its figures equal the
# database's; a clean stop leaves no WAL; `fare-engine backup` taken while
# a day of taps streams in is whole (integrity_check, audit verify).
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
EX=../shared/examples
e2e_init ops 20

"$FE" certs init "$tmp/certs" >/dev/null
port=$((30400 + $$ % 300 * 3))
hport=$((port + 1))

# start_engine DB [OPTIONS...]: the engine on the week example, logging to
# $tmp/engine.log, once /healthz answers.
start_engine() {
	_db=$1
	shift
	"$FE" serve --dev --clock "${clock:-2027-06-01T00:00:00Z}" \
	    --certs "$tmp/certs" \
	    --tariff "${tariff:-$EX/week}" --db "$_db" --listen 127.0.0.1:$port \
	    --http 127.0.0.1:$hport "$@" 2>>"$tmp/engine.log" &
	pid=$!
	wait_healthy $hport || fail "engine did not come up"
}

stop_engine() {
	kill -TERM "$pid"
	wait "$pid" || fail "engine did not stop cleanly"
	pid=
}

# --- logs -----------------------------------------------------------------
start_engine "$tmp/a.db"
"$SIM" replay --engine 127.0.0.1:$port --certs "$tmp/certs" \
    "$EX/week/taps.csv" 2>"$tmp/sim.log" || fail "replay failed"
kill -HUP "$pid"
i=0
until grep -q "event=reload_done" "$tmp/engine.log"; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "no reload after SIGHUP"
	sleep 0.05
done
# SIGHUP says what it reloaded and that the config file is not re-read.
grep -q "event=tariff_reloaded" "$tmp/engine.log" || fail "no tariff reload"
grep -q '^<5>.* event=reload_done reloaded="crl tariff" msg="the config file' \
    "$tmp/engine.log" || fail "SIGHUP does not say what it leaves: $(grep reload "$tmp/engine.log")"
stop_engine
# A clean stop checkpoints the WAL (TRUNCATE): engine.db alone is whole.
[ ! -s "$tmp/a.db-wal" ] || fail "a clean stop left $(wc -c <"$tmp/a.db-wal") bytes of WAL"
grep -q "^<5>.* event=checkpoint mode=truncate frames=" "$tmp/engine.log" ||
    fail "no checkpoint logged at the stop"
# <level>UTC-time program: event=name then key=value fields (logfmt).
line_re='^<[3-7]>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z fare-engine: event=[a-z_]+( [A-Za-z_]+=("([^"\\]|\\.)*"|[^ "=]+))*$'
bad=$(grep -Evc "$line_re" "$tmp/engine.log" || true)
[ "$bad" = 0 ] || fail "$bad log lines not levelled key=value events: $(grep -Ev "$line_re" "$tmp/engine.log" | head -3)"
for ev in "<5>.* event=serving listen=127.0.0.1:$port " \
    "<6>.* event=validator_connected device=" \
    "<6>.* event=validator_disconnected device=" \
    "<4>.* event=development_mode " "<5>.* event=tariff_reloaded tariff=" \
    "<5>.* event=crl_reloaded" "<5>.* event=shutting_down signal=15 " \
    "<5>.* event=stopped"; do
	grep -Eq "$ev" "$tmp/engine.log" || fail "no '$ev' in the log"
done
n=$(wc -l <"$tmp/engine.log")
# --log-level warning: no notice or info lines, the warning still there.
: >"$tmp/engine.log"
start_engine "$tmp/a.db" --log-level warning
"$SIM" replay --engine 127.0.0.1:$port --certs "$tmp/certs" \
    "$EX/week/taps.csv" 2>"$tmp/sim.log" || fail "replay failed"
stop_engine
grep -q "^<4>.* event=development_mode" "$tmp/engine.log" ||
    fail "--log-level warning hid a warning"
if grep -Eq "^<[5-7]>" "$tmp/engine.log"; then
	fail "--log-level warning let through: $(grep -E "^<[5-7]>" "$tmp/engine.log" | head -2)"
fi
"$FE" serve --dev --log-level loud >/dev/null 2>"$tmp/err" &&
    fail "--log-level loud accepted"
grep -q "not err, warning, notice, info or debug" "$tmp/err" ||
    fail "--log-level loud: $(cat "$tmp/err")"

# --- metrics --------------------------------------------------------------
# The engine's clock on the evening of 2026-11-30 (a Monday, CET): that
# service day runs from 04:00 local (03:00 UTC) for 24 hours.
metric() { sed -n "s/^$1 //p" "$tmp/metrics"; }
scrape() { curl -s -o "$tmp/metrics" http://127.0.0.1:$hport/metrics; }
clock=2026-11-30T20:00:00Z
start_engine "$tmp/m.db" --metrics-refresh 1
# One tap the engine refuses (a stop the tariff lacks): labelled by reason.
{ cat "$EX/week/taps.csv"
  echo "bad-1,2026-11-30T10:00:00Z,4000056655665556,,TRAM,nowhere,in"; } \
    >"$tmp/taps.csv"
"$SIM" replay --engine 127.0.0.1:$port --certs "$tmp/certs" \
    "$tmp/taps.csv" 2>"$tmp/sim.log" && fail "replay: the bad tap was not refused"
day_start=$(date -u -d 2026-11-30T03:00:00Z +%s)
sqlite3 "$tmp/m.db" "SELECT network_id, count(*) FROM taps WHERE time_utc >= $day_start
    AND time_utc < $day_start + 86400 GROUP BY 1 ORDER BY 1" >"$tmp/want-taps"
sqlite3 "$tmp/m.db" "SELECT network_id, revenue_cents FROM v_operator_revenue
    WHERE service_day = '2026-11-30' ORDER BY 1" >"$tmp/want-rev"
[ -s "$tmp/want-taps" ] && [ -s "$tmp/want-rev" ] || fail "no taps or revenue on 2026-11-30"
# Until a refresh after the last commit (the thread reads every second).
i=0
while :; do
	scrape
	sed -n 's/^onecity_service_day_taps{network="\(.*\)"} /\1|/p' \
	    "$tmp/metrics" | sort >"$tmp/got-taps"
	sed -n 's/^onecity_service_day_revenue_cents{network="\(.*\)"} /\1|/p' \
	    "$tmp/metrics" | grep -v '|0$' | sort >"$tmp/got-rev"
	cmp -s "$tmp/want-taps" "$tmp/got-taps" &&
	    cmp -s "$tmp/want-rev" "$tmp/got-rev" && break
	i=$((i + 1))
	[ $i -lt 300 ] || fail "/metrics per network: taps $(cat "$tmp/got-taps") revenue $(cat "$tmp/got-rev"), want $(cat "$tmp/want-taps") and $(cat "$tmp/want-rev")"
	sleep 0.1
done
awk -f tests/promtext.awk "$tmp/metrics" >"$tmp/promtext" ||
    fail "/metrics is not strict Prometheus text: $(head -5 "$tmp/promtext")"
[ "$(tail -c 1 "$tmp/metrics" | od -An -c | tr -d ' ')" = '\n' ] ||
    fail "/metrics does not end with a newline"
if command -v promtool >/dev/null; then
	promtool check metrics <"$tmp/metrics" || fail "promtool check metrics"
fi
[ "$(metric 'onecity_taps_refused_total{reason="unknown-stop"}')" = 1 ] ||
    fail "refusals not labelled by reason: $(grep refused_total "$tmp/metrics")"
[ "$(metric onecity_taps_acked_total)" = 60 ] || fail "acked $(metric onecity_taps_acked_total)"
[ "$(metric onecity_metrics_refresh_interval_seconds)" = 1 ] ||
    fail "refresh interval $(metric onecity_metrics_refresh_interval_seconds), want 1"
[ "$(metric onecity_service_day_start_timestamp_seconds)" = "$day_start" ] ||
    fail "service day start $(metric onecity_service_day_start_timestamp_seconds), want $day_start"
grep -q '^onecity_build_info{version="[^"]*",sqlite="3\.[0-9.]*",libevent="2\.1' \
    "$tmp/metrics" || fail "no build info"
[ "$(metric process_resident_memory_bytes)" -gt 1000000 ] || fail "no RSS"
[ "$(metric process_open_fds)" -gt 5 ] || fail "no open fds"
[ "$(metric process_max_fds)" -gt 0 ] || fail "no fd limit"
exp=$(metric onecity_crl_expiry_seconds)
[ "$exp" -gt 86400 ] || fail "CRL expiry $exp s"
seen=$(metric 'onecity_validator_last_seen_timestamp_seconds{device="replay-0"}')
[ -n "$seen" ] && [ "$seen" -ge "$day_start" ] || fail "validator last seen: $seen"
# Every validator's last tap as the taps table has it, though the refresh
# reads no taps after its first (the writer passes them on): the replay's
# came after the first refresh, and so do a second replay's (ISSUE 14).
sqlite3 "$tmp/m.db" "SELECT device_id || '|' || max(received_utc) FROM taps
    GROUP BY device_id ORDER BY 1" >"$tmp/want-seen"
seen_now() {
	sed -n 's/^onecity_validator_last_seen_timestamp_seconds{device="\(.*\)"} /\1|/p' \
	    "$tmp/metrics" | sort >"$tmp/got-seen"
}
seen_now
cmp -s "$tmp/want-seen" "$tmp/got-seen" ||
    fail "validators last seen: $(cat "$tmp/got-seen"), want $(cat "$tmp/want-seen")"
{ echo "tap_id,time,card,par,network_id,stop_id,kind"
  echo "gate-late:7,2026-11-30T19:00:00Z,4000056655665556,,TRAM,centre,in"; } \
    >"$tmp/late.csv"
"$SIM" replay --keep-ids --engine 127.0.0.1:$port --certs "$tmp/certs" \
    "$tmp/late.csv" 2>>"$tmp/sim.log" || fail "replay of gate-late failed"
sqlite3 "$tmp/m.db" "SELECT device_id || '|' || max(received_utc) FROM taps
    GROUP BY device_id ORDER BY 1" >"$tmp/want-seen"
grep -q '^gate-late|' "$tmp/want-seen" || fail "gate-late's tap not stored"
i=0
until scrape && seen_now && cmp -s "$tmp/want-seen" "$tmp/got-seen"; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "validators last seen after a refresh: $(cat "$tmp/got-seen"), want $(cat "$tmp/want-seen")"
	sleep 0.1
done
for m in onecity_settlement_backlog_account_days \
    onecity_settlement_pending_requests onecity_refunds_pending_over_1d \
    onecity_debts_open; do
	[ "$(metric $m)" = 0 ] || fail "$m: $(metric $m)"
done
stop_engine

# --- backup ---------------------------------------------------------------
# A day of 1,500 visitors streams in; once 2,000 taps are committed, a
# backup while the simulator still sends.
clock=2026-11-29T12:00:00Z tariff=tariffs/nl start_engine "$tmp/b.db" \
    --metrics-refresh 1
"$SIM" day --engine 127.0.0.1:$port --certs "$tmp/certs" --tourists 1500 \
    --seed 3 --date 2026-11-28 --ack-log "$tmp/b.acks" 2>"$tmp/day.log" &
sim=$!
i=0
until scrape && [ "$(metric onecity_taps_committed_total)" -ge 2000 ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "the day did not get going: $(tail -2 "$tmp/day.log")"
	sleep 0.1
done
"$FE" backup "$tmp/b.db" "$tmp/backup.db" >"$tmp/backup.out" ||
    fail "backup failed: $(cat "$tmp/backup.out")"
kill -0 "$sim" 2>/dev/null ||
    fail "the day ended before the backup did: not a backup under load"
wait "$sim" || fail "the day failed: $(tail -3 "$tmp/day.log")"
sim=
taps_in_backup=$(sqlite3 "$tmp/backup.db" "SELECT count(*) FROM taps")
[ ! -e "$tmp/backup.db-wal" ] || fail "the backup is not one file"
[ "$(sqlite3 "$tmp/backup.db" "PRAGMA journal_mode")" = delete ] ||
    fail "the backup is still in WAL mode"
[ "$(sqlite3 "$tmp/backup.db" "PRAGMA integrity_check")" = ok ] ||
    fail "the backup's integrity check failed"
"$FE" audit verify "$tmp/backup.db" >"$tmp/verify.out" ||
    fail "audit verify of the backup: $(cat "$tmp/verify.out")"
acked=$(wc -l <"$tmp/b.acks")
[ "$taps_in_backup" -ge 2000 ] && [ "$taps_in_backup" -lt "$acked" ] ||
    fail "the backup holds $taps_in_backup taps of $acked"
"$FE" backup "$tmp/b.db" "$tmp/backup.db" 2>"$tmp/err" &&
    fail "backup overwrote an existing file"
grep -q "exists; not overwritten" "$tmp/err" || fail "backup over a file: $(cat "$tmp/err")"
# The cost of a /metrics refresh over the whole day's taps: one that
# began after the last tap.
scrape
t0=$(metric onecity_metrics_refresh_timestamp_seconds)
i=0
until scrape && [ "$(metric onecity_metrics_refresh_timestamp_seconds)" -gt $((t0 + 1)) ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "no /metrics refresh after the day"
	sleep 0.1
done
refresh_s=$(metric onecity_metrics_refresh_seconds)
stop_engine
# After the stop (checkpointed), a backup holds every acknowledged tap.
"$FE" backup "$tmp/b.db" "$tmp/final.db" >/dev/null || fail "final backup"
[ "$(sqlite3 "$tmp/final.db" "SELECT count(*) FROM taps")" = "$acked" ] ||
    fail "the final backup lacks taps"
"$FE" audit verify "$tmp/final.db" >/dev/null || fail "audit verify of the final backup"

echo "ops: backup under load: $taps_in_backup of $acked taps, integrity ok, ledger sound; a /metrics refresh over its $acked taps took $refresh_s s"
echo "ops: $n log lines, each a levelled key=value event; --log-level warning hides notice and info; a clean stop leaves no WAL; /metrics: $(cat "$tmp/promtext"), strict, figures equal the database's"
