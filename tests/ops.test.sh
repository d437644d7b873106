#!/bin/sh
# What an operator relies on (issue 17): every line the engine logs has a
# journald level prefix and is one event with key=value fields, and
# --log-level hides the levels above it.
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
	"$FE" serve --dev --clock 2027-06-01T00:00:00Z --certs "$tmp/certs" \
	    --tariff "$EX/week" --db "$_db" --listen 127.0.0.1:$port \
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
until grep -q "event=tariff_reloaded" "$tmp/engine.log"; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "no reload after SIGHUP"
	sleep 0.05
done
stop_engine
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
echo "ops: $n log lines, each a levelled key=value event; --log-level warning hides notice and info"
