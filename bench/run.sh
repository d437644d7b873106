#!/bin/sh
# make bench: tariff load times, offline pricing on a synthetic national
# day, the SQLite floor, the live engine end to end, latency, a reconnect
# storm, and memory and cost per tap as the database grows; measured in
# this run on this machine; then the cluster deployment (bench/cluster.sh).
# Prints a table and writes bench/results.json (and results-cluster.json).  Generated data lives in bench/data/ (not committed).
set -eu
BIN=${1:-bin}
cd "$(dirname "$0")/.."
data=${BENCH_DATA:-bench/data}
out_json=${BENCH_OUT:-bench/results.json}
mkdir -p "$data"
ACCOUNTS=${BENCH_ACCOUNTS:-1000000}
STOPS=${BENCH_STOPS:-1000000}
E2E_S=${BENCH_E2E_S:-20} LAT_S=${BENCH_LAT_S:-10} GROW_S=${BENCH_GROW_S:-8}
NV=${BENCH_VALIDATORS:-100}
GROW_SIZES=${BENCH_GROW_SIZES:-10000 1000000 ${BENCH_GROW_MAX:-10000000}}

# A progress line per step on stderr (the table goes to stdout at the end):
# which step of how many, what it does, and the time so far.
STEPS=10
bench_t0=$(date +%s)
# The figures depend on what else runs: the load average at the start and
# the end goes with them.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
step() {
	echo "bench: [$1/$STEPS] $2 ($(($(date +%s) - bench_t0)) s so far)" >&2
}

step 1 "generating a tariff with $STOPS stops and a day of $ACCOUNTS accounts (once; kept in $data)"
[ -f "$data/big-$STOPS/stops.txt" ] || "$BIN"/gen-tariff --stops "$STOPS" "$data/big-$STOPS"
[ -f "$data/day-$ACCOUNTS.csv" ] || "$BIN"/gen-taps --tariff tariffs/nl \
    --accounts "$ACCOUNTS" --seed 7 >"$data/day-$ACCOUNTS.csv"
taps=$(($(wc -l <"$data/day-$ACCOUNTS.csv") - 1))

# 1. Tariff load, timed inside the process: best of 5 and best of 3.
step 2 "loading tariffs/nl 5 times and the $STOPS-stop tariff 3 times"
load() {
	"$BIN"/fare-engine tariff check --stats "$1" 2>&1 >/dev/null |
	    sed -n 's/^stats: load_s=\([0-9.]*\) peak_rss_kib=\([0-9]*\)/\1 \2/p'
}
best() { sort -n | head -n 1; }
nl_s=$(for i in 1 2 3 4 5; do load tariffs/nl | cut -d' ' -f1; done | best)
big=$(for i in 1 2 3; do load "$data/big-$STOPS"; done | sort -n | head -n 1)
big_s=${big% *} big_kib=${big#* }

step 3 "pricing the day's $taps taps offline, 3 times in time order and 3 in account order"
# 2. Offline pricing of the national day (one process, one core), on the
# file in time order (as a journal would give it) and grouped by account
# (as gen-taps writes it): median of three runs each.
[ -f "$data/day-$ACCOUNTS-by-time.csv" ] || {
	head -n 1 "$data/day-$ACCOUNTS.csv"
	tail -n +2 "$data/day-$ACCOUNTS.csv" | LC_ALL=C sort -t, -k2,2 -S 1G
} >"$data/day-$ACCOUNTS-by-time.csv"
price_median() {
	for i in 1 2 3; do
		"$BIN"/fare-engine price --stats --tariff tariffs/nl "$1" \
		    2>&1 >/dev/null | grep '^stats:'
	done | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	    print v["taps_per_s"], v["read_s"], v["price_s"], v["total_s"], v["peak_rss_kib"] }' |
	    sort -n | sed -n 2p
}
set -- $(price_median "$data/day-$ACCOUNTS-by-time.csv")
price_tps=$1 read_s=$2 work_s=$3 price_s=$4 price_kib=$5
set -- $(price_median "$data/day-$ACCOUNTS.csv")
acct_tps=$1 acct_s=$4

# 3. The floor: raw SQLite inserts of journal-shaped rows, 1,000-row
# transactions, WAL, synchronous=FULL, on the disk the engine uses.
step 4 "the SQLite floor: 200,000 journal-shaped rows, synchronous=FULL"
floor=$("$BIN"/floor "$data/floor.db" 200000 | sed -n 's/.*: \([0-9]*\) rows\/s.*/\1/p')
rm -f "$data"/floor.db*

# The engine on a fresh database in bench/data, with the dev certificates.
port=$((31000 + $$ % 500 * 2))
epid=
cleanup() { [ -n "$epid" ] && kill -TERM "$epid" 2>/dev/null && wait "$epid" 2>/dev/null; return 0; }
trap cleanup EXIT
[ -f "$data/certs/ca.crt" ] || "$BIN"/fare-engine certs init "$data/certs" >/dev/null
serve() {	# serve DB [FLAGS]: start the engine on it
	db=$1; shift
	"$BIN"/fare-engine serve --dev --certs "$data/certs" --tariff tariffs/nl \
	    --db "$db" --listen 127.0.0.1:$port --http 127.0.0.1:$((port + 1)) \
	    "$@" 2>"$data/engine.log" &
	epid=$!
	i=0
	until curl -sf -o /dev/null http://127.0.0.1:$((port + 1))/healthz; do
		i=$((i + 1)); [ $i -lt 600 ] || { echo "bench: engine did not start"; exit 1; }
		sleep 0.1
	done
}
unserve() { kill -TERM "$epid"; wait "$epid" || true; epid=; }
metric() { curl -s http://127.0.0.1:$((port + 1))/metrics | sed -n "s/^$1 //p"; }
load() {	# load VALIDATORS RATE SECONDS: the load report on stdout
	"$BIN"/terminal-sim load --engine 127.0.0.1:$port --certs "$data/certs" \
	    --validators "$1" --rate "$2" --duration "$3" 2>/dev/null
}

# 3b. Old accounts against new ones on one database (bench/history.sh).
step 5 "history: commuters with 365 and 60 days of history against new accounts"
. bench/history.sh

# 4. End to end at the highest rate it takes: 100 validators asking for
# 100,000 taps/s for 20 s; taps acknowledged (stored, priced, ledgered).
step 6 "end to end: $NV validators asking for 100,000 taps/s for $E2E_S s"
rm -f "$data"/e2e.db*
serve "$data/e2e.db"
out=$(load "$NV" 100000 "$E2E_S")
e2e_tps=$(echo "$out" | sed -n 's/.*acknowledged [0-9]* (\([0-9]*\) taps\/s).*/\1/p')
# Where the writer's time went, per tap (the engine's own split).
ntaps=$(metric onecity_taps_committed_total)
split() { metric "onecity_batch_seconds_total{phase=\"$1\"}" |
    awk -v n="$ntaps" '{ printf "%.1f", $1 * 1e6 / n }'; }
us_store=$(split store) us_price=$(split price) us_commit=$(split commit)
unserve
rm -f "$data"/e2e.db*

# 5. Latency at half the saturation rate just measured (issue 14's
# target), for 10 s.
half=$((e2e_tps / 2))
step 7 "ack latency at half saturation ($half taps/s) for $LAT_S s"
serve "$data/lat.db"
out=$(load "$NV" "$half" "$LAT_S")
lat_tps=$(echo "$out" | sed -n 's/.*acknowledged [0-9]* (\([0-9]*\) taps\/s).*/\1/p')
set -- $(echo "$out" | sed -n 's/.*p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms, max \([0-9.]*\) ms.*/\1 \2 \3/p')
p50=$1 p99=$2 pmax=$3
unserve
rm -f "$data"/lat.db*

# 6. Reconnect storm: 5,000 validators at once, full handshakes, then all
# again with session resumption.
STORM=${BENCH_STORM:-5000}
step 8 "reconnect storm: $STORM validators at once, then again with resumption"
serve "$data/storm.db"
out=$("$BIN"/terminal-sim load --storm --engine 127.0.0.1:$port --certs \
    "$data/certs" --validators "$STORM" 2>/dev/null || true)
set -- $(echo "$out" | sed -n 's/.*full handshakes) \([0-9.]*\) s; all again with session resumption \([0-9.]*\) s (\([0-9]*\) resumed).*/\1 \2 \3/p')
storm_full=${1:-failed} storm_res=${2:-failed} storm_resumed=${3:-0}
unserve
rm -f "$data"/storm.db*

# 7. Memory and cost per tap as the database grows: the engine on a
# database already holding N taps (N/2 account-days), serving 3,000
# taps/s for 8 s: its peak RSS, and the writer's time per tap.
grow() {	# grow N: a database with N taps and N/2 account-days
	rm -f "$data"/grow.db*
	serve "$data/grow.db"; unserve	# the engine's own schema
	sqlite3 "$data/grow.db" "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;
	BEGIN;
	WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $1 - 1)
	INSERT INTO taps (tap_id, device_id, seq, time_utc, token, par,
	    network_id, stop_id, kind, received_utc)
	SELECT printf('pre:%012d', i), 'pre', i,
	    1795000000 + i % 86400, printf('%032x', i / 2), NULL, 'GVB',
	    'gvb-dam', CASE i % 2 WHEN 0 THEN 'in' ELSE 'out' END, 1795000000 FROM n;
	WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $1 / 2 - 1)
	INSERT INTO charges (account, service_day, charge_cents, uncapped_cents,
	    open_legs, posted)
	SELECT printf('tok:%032x', i), '2026-11-20', 0, 0, 0, 1 FROM n;
	COMMIT;" >/dev/null
}
growth=
step 9 "memory and writer cost per tap on databases of $(echo $GROW_SIZES | sed 's/ /, /g') taps"
for n in $GROW_SIZES; do
	echo "bench: [9/$STEPS]   a database of $n taps: filling it, then 3,000 taps/s for $GROW_S s ($(($(date +%s) - bench_t0)) s so far)" >&2
	grow $n
	serve "$data/grow.db"
	c0=$(metric onecity_taps_committed_total); s0=$(metric onecity_commit_seconds_sum)
	load $((NV / 2 > 0 ? NV / 2 : 1)) 3000 "$GROW_S" >/dev/null
	c1=$(metric onecity_taps_committed_total); s1=$(metric onecity_commit_seconds_sum)
	rss=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' /proc/$epid/status)
	us=$(awk -v a="$s0" -v b="$s1" -v c="$c0" -v d="$c1" 'BEGIN { printf "%.1f", (b - a) * 1e6 / (d - c) }')
	unserve
	growth="$growth $n:$us:$rss"
done
rm -f "$data"/grow.db*

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
printf '\nbench: load average %s at the start, %s at the end (%s cores)\n' \
    "$load_start" "$load_end" "$(nproc)"
printf '\n%-44s %14s %14s\n' "figure" "measured" "target"
printf '%-44s %12s s %14s\n' "load tariffs/nl (best of 5)" "$nl_s" "< 0.050 s"
printf '%-44s %12s s %14s\n' "load $STOPS-stop tariff (best of 3)" "$big_s" "< 2 s"
printf '%-44s %10s MiB %14s\n' "  its peak memory" "$((big_kib / 1024))" "< 1024 MiB"
printf '%-44s %14s\n' "price: taps in the national day" "$taps"
printf '%-44s %12s s\n' "  time order: read and check the file" "$read_s"
printf '%-44s %12s s\n' "  time order: price and write JSON" "$work_s"
printf '%-44s %10s t/s %14s\n' "  time order: taps per second, end to end" "$price_tps" ">= 1000000"
printf '%-44s %10s t/s %14s\n' "  account order: taps per second" "$acct_tps" ">= 1000000"
printf '%-44s %10s MiB %14s\n' "  peak memory" "$((price_kib / 1024))" "< 2048 MiB"
ratio=$(awk -v a="$e2e_tps" -v b="$floor" 'BEGIN { printf "%.2f", a / b }')
printf '%-44s %10s r/s\n' "floor: SQLite inserts, 1,000-row txns, FULL" "$floor"
printf '%-44s %10s t/s %14s\n' "end to end, acknowledged (20 s)" "$e2e_tps" ">= 50000"
printf '%-44s %14s %14s\n' "  ratio to the floor" "$ratio" ">= 0.50"
printf '%-44s %9s us\n' "  writer per tap: store the tap" "$us_store"
printf '%-44s %9s us\n' "  writer per tap: price and post its account" "$us_price"
printf '%-44s %9s us\n' "  writer per tap: COMMIT (WAL write, fsync)" "$us_commit"
printf '%-44s %10s t/s %14s\n' "at half saturation ($half/s): acknowledged" "$lat_tps" "$half"
printf '%-44s %11s ms %14s\n' "  ack latency p50" "$p50" ""
printf '%-44s %11s ms %14s\n' "  ack latency p99" "$p99" "<= 25 ms"
printf '%-44s %11s ms %14s\n' "  ack latency max" "$pmax" ""
printf '%-44s %9s us %14s\n' "history: writer per tap, new accounts" "$hist_new_us" ""
printf '%-44s %9s us %14s\n' "  commuters with 60 days of history" "$hist_60_us" ""
printf '%-44s %9s us %14s\n' "  commuters with 365 days of history" "$hist_365_us" ""
printf '%-44s %12sx %14s\n' "  60 days vs new (writer per tap)" "$hist_60_ratio" "<= 1.2x"
printf '%-44s %12sx %14s\n' "  365 days vs new (writer per tap)" "$hist_365_ratio" "<= 1.2x"
printf '%-44s %9s us %14s\n' "  pricing phase per tap: new / 60 d / 365 d" "$hist_new_price/$hist_60_price/$hist_365_price" ""
printf '%-44s %s\n' "  store/price/commit us per tap (taps a batch)" "new $hist_new_split, 60 d $hist_60_split, 365 d $hist_365_split"
printf '%-44s %14s %14s\n' "  rows written per tap: new / 60 d / 365 d" "$hist_new_rows/$hist_60_rows/$hist_365_rows" ""
printf '%-44s %12s s\n' "  replaying the history ($N x 425 days)" "$hist_load_s"
printf '%-44s %12s s %14s\n' "storm of $STORM: full handshakes" "$storm_full" "<= 30 s"
printf '%-44s %12s s %14s\n' "storm of $STORM: with resumption ($storm_resumed)" "$storm_res" "<= 30 s"
grow_json=
for g in $growth; do
	n=${g%%:*}; rest=${g#*:}; us=${rest%%:*}; rss=${rest#*:}
	per=$(awk -v r="$rss" -v n="$n" 'BEGIN { printf "%.3f", r / (n / 2) }')
	printf '%-44s %8s us/tap %10s KiB\n' "db of $n taps: writer time per tap, RSS" "$us" "$rss"
	printf '%-44s %10s KiB %14s\n' "  engine RSS per account-day ($((n / 2)))" "$per" "<= 1 KiB"
	grow_json="$grow_json${grow_json:+,}{\"taps\":$n,\"account_days\":$((n / 2)),\"writer_us_per_tap\":$us,\"peak_rss_kib\":$rss}"
done

# Issue 14's targets, each beside its figure, met or not.
met() {	# met FIGURE OP LIMIT: "met" or "NOT MET"
	awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { ok = op == "<=" ? a + 0 <= b + 0 : a + 0 >= b + 0
	    print (a ~ /^[0-9.]+$/ && ok) ? "met" : "NOT MET" }'
}
rss_1m=
for g in $growth; do
	n=${g%%:*}; rest=${g#*:}; rss=${rest#*:}
	[ "$n" = 1000000 ] && rss_1m=$(awk -v r="$rss" -v n="$n" 'BEGIN { printf "%.3f", r / (n / 2) }')
done
printf '\n%-52s %12s %10s %8s\n' "issue 14 target" "measured" "target" ""
printf '%-52s %11sx %9s %8s\n' "per-tap cost, 60 days of history vs new" "$hist_60_ratio" "<= 1.2x" "$(met "$hist_60_ratio" "<=" 1.2)"
printf '%-52s %11sx %9s %8s\n' "per-tap cost, 365 days of history vs new" "$hist_365_ratio" "<= 1.2x" "$(met "$hist_365_ratio" "<=" 1.2)"
printf '%-52s %12s %10s %8s\n' "end to end vs the SQLite floor" "$ratio" ">= 0.5" "$(met "$ratio" ">=" 0.5)"
printf '%-52s %9s ms %10s %8s\n' "ack latency p99 at half saturation" "$p99" "<= 25 ms" "$(met "$p99" "<=" 25)"
printf '%-52s %10s s %10s %8s\n' "full-handshake storm of $STORM" "$storm_full" "<= 30 s" "$(met "$storm_full" "<=" 30)"
printf '%-52s %8s KiB %10s %8s\n' "engine memory per account-day at 1 M" "$rss_1m" "<= 1 KiB" "$(met "$rss_1m" "<=" 1)"

cat >"$out_json" <<JSON
{"date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","machine":"$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB",
 "load_average":{"start":"$load_start","end":"$load_end"},
 "tariff_load":{"nl_s":$nl_s,"big_stops":$STOPS,"big_s":$big_s,"big_peak_kib":$big_kib},
 "price":{"taps":$taps,"accounts":$ACCOUNTS,"read_s":$read_s,"price_s":$work_s,"total_s":$price_s,
          "taps_per_s":$price_tps,"peak_rss_kib":$price_kib,
          "account_order_taps_per_s":$acct_tps,"account_order_total_s":$acct_s},
 "floor_rows_per_s":$floor,
 "end_to_end":{"taps_per_s":$e2e_tps,"ratio_to_floor":$ratio,
   "writer_us_per_tap":{"store":$us_store,"price":$us_price,"commit":$us_commit}},
 "latency_at_half":{"rate":$half,"acked_per_s":$lat_tps,"p50_ms":$p50,"p99_ms":$p99,"max_ms":$pmax},
 "history":{"commuters":$N,"writer_us_per_tap":{"new":$hist_new_us,"days60":$hist_60_us,"days365":$hist_365_us},
   "ratio":{"days60":$hist_60_ratio,"days365":$hist_365_ratio},
   "price_us_per_tap":{"new":$hist_new_price,"days60":$hist_60_price,"days365":$hist_365_price},
   "rows_per_tap":{"new":$hist_new_rows,"days60":$hist_60_rows,"days365":$hist_365_rows}},
 "storm":{"validators":$STORM,"full_s":"$storm_full","resumed_s":"$storm_res","resumed":$storm_resumed},
 "growth":[$grow_json]}
JSON
echo "bench: wrote $out_json in $(($(date +%s) - bench_t0)) s"

# The cluster deployment: JetStream floor, the embedded engine and the
# cluster with 1 and 2 workers under one load (issue 19; says so and goes
# on when the cluster cannot run here).
step 10 "the cluster: the JetStream floor, then the same load on the embedded engine and on 3 nodes with 1 and 2 workers"
. bench/cluster.sh
