#!/bin/sh
# Issue 16 item 10, input edge cases from files and the command line (the
# wire's are in test_security): an all-zero PAN is no card for price
# either; terminal-sim replay refuses a CSV field holding a comma (a tap
# frame splits at commas) and sends the rest; an operator's deny reason
# with an ANSI escape is stored escaped.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
EX=../shared/examples/mini
e2e_init input-edges 10
port=$((29000 + $$ % 1000 * 2))
H=tap_id,time,card,par,network_id,stop_id,kind

printf '%s\nz:1,2026-11-28T10:00:00Z,000000000000,,CITY,C,in\n' "$H" >"$tmp/zero.csv"
if "$FE" price --tariff "$EX" "$tmp/zero.csv" >/dev/null 2>"$tmp/zero.err"; then
	fail "price took an all-zero PAN"
fi
grep -q "zero.csv:2: card number is all zeros" "$tmp/zero.err" ||
    fail "$(cat "$tmp/zero.err")"

"$FE" certs init "$tmp/certs" >/dev/null
"$FE" serve --dev --certs "$tmp/certs" --tariff "$EX" --db "$tmp/engine.db" \
    --listen 127.0.0.1:$port --http 127.0.0.1:$((port + 1)) \
    2>"$tmp/engine.log" &
pid=$!
wait_healthy $((port + 1)) || fail "no engine"
printf '%s\nc:1,2026-11-28T10:00:00Z,4111111111111111,,CITY,"C,D",in\nc:2,2026-11-28T10:01:00Z,4111111111111111,,CITY,C,in\n' \
    "$H" >"$tmp/comma.csv"
if "$BIN"/terminal-sim replay --engine 127.0.0.1:$port --certs "$tmp/certs" \
    --ack-log "$tmp/acks" "$tmp/comma.csv" 2>"$tmp/sim.log"; then
	fail "replay sent a field with a comma"
fi
grep -q "comma.csv:2: stop_id holds a comma" "$tmp/sim.log" ||
    fail "$(cat "$tmp/sim.log")"
[ "$(sqlite3 "$tmp/engine.db" "SELECT count(*) || ' ' || stop_id FROM taps")" = "1 C" ] ||
    fail "stored: $(sqlite3 "$tmp/engine.db" "SELECT tap_id, stop_id FROM taps")"
esc=$(printf '\033[2Jcleared')
"$FE" deny add "$tmp/engine.db" tok:0123456789abcdef0123456789abcdef \
    "$esc" >/dev/null
[ "$(sqlite3 "$tmp/engine.db" "SELECT instr(reason, char(27)) FROM deny")" = 0 ] ||
    fail "a raw escape in the deny reason"
[ "$(sqlite3 "$tmp/engine.db" "SELECT reason FROM deny")" = '\x1B[2Jcleared' ] ||
    fail "reason stored as $(sqlite3 "$tmp/engine.db" "SELECT reason FROM deny")"
echo "input-edges: all-zero PAN refused by price, a comma field refused by" \
    "replay (the rest sent), escapes stored escaped"
