#!/bin/sh
# A day close that fails on a full disk (SPEC §6 "Provisional, then
# posted"): 300 riders' day is stored, then the engine starts the next
# morning under injected "disk full" writes (bin/fare-engine-faults,
# writes N..N+3) that hit its close pass.  The log names the cause (disk
# full, not the ROLLBACK after it); the close is retried and posts every
# account-day once space returns; /healthz is 200 again although no tap
# came (it stayed 503 until a tap batch committed); the ledger verifies.
# The first N is the one whose faults miss the start and hit the close
# (the start's own writes vary with the schema).
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
e2e_init close-fault 8
port=$((26000 + $$ % 700 * 2))
http=$((port + 1))
code() { curl -s -o "$tmp/health.json" -w '%{http_code}' "http://127.0.0.1:$http/healthz" || true; }
q() { sqlite3 "$tmp/engine.db" "$1"; }

"$FE" certs init "$tmp/certs" >/dev/null
"$BIN"/gen-taps --tariff tariffs/nl --accounts 300 --seed 5 \
    --day 2026-11-27 >"$tmp/taps.csv"
"$FE" serve --dev --clock 2026-11-27T22:00:00Z --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$http 2>"$tmp/engine.log" &
pid=$!
wait_healthy $http || fail "engine did not start"
"$SIM" replay --engine 127.0.0.1:$port --certs "$tmp/certs" "$tmp/taps.csv" \
    2>"$tmp/sim.log" || fail "replay: $(tail -3 "$tmp/sim.log")"
kill -TERM "$pid"
wait "$pid" || fail "engine did not stop cleanly"
pid=
days=$(q "SELECT count(*) FROM v_charges")
[ "$days" -gt 0 ] && [ "$(q "SELECT count(*) FROM v_charges WHERE closed")" = 0 ] ||
    fail "the day should be stored and open"
cp "$tmp/engine.db" "$tmp/base.db"

hit=
for n in 20 40 60 80 100 130 160 200 250 300 400; do
	rm -f "$tmp/engine.db"*
	cp "$tmp/base.db" "$tmp/engine.db"
	ONECITY_FAULT_WRITES=$n:4:full "$BIN"/fare-engine-faults serve --dev \
	    --clock 2026-11-28T12:00:00Z --certs "$tmp/certs" \
	    --tariff tariffs/nl --db "$tmp/engine.db" \
	    --listen 127.0.0.1:$port --http 127.0.0.1:$http \
	    2>"$tmp/engine.log" &
	pid=$!
	# Up (200 or 503), or gone: the faults hit its start.
	i=0
	until c=$(code) && [ "$c" = 200 -o "$c" = 503 ]; do
		kill -0 "$pid" 2>/dev/null || break
		i=$((i + 1)); [ $i -lt 200 ] || fail "N=$n: engine neither up nor gone"
		sleep 0.1
	done
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null || true
		pid=
		continue
	fi
	# Every account-day posted: the close went through in the end.
	i=0
	until [ "$(q "SELECT count(*) FROM v_charges WHERE closed = 0")" = 0 ]; do
		i=$((i + 1)); [ $i -lt 600 ] || fail "N=$n: days left unposted"
		sleep 0.1
	done
	if grep -q 'event=journal_failing error="cannot post closed days' \
	    "$tmp/engine.log"; then
		hit=$n
		break
	fi
	kill -TERM "$pid"
	wait "$pid" || fail "N=$n: engine did not stop cleanly"
	pid=
done
[ -n "$hit" ] || fail "no fault window hit the close pass"
grep 'event=journal_failing error="cannot post closed days' "$tmp/engine.log" |
    grep -q "full" || fail "the log does not name the full disk: $(grep \
    'event=journal_failing' "$tmp/engine.log" | head -1)"
# Healthy again with no tap sent: the close itself committed.
i=0
until [ "$(code)" = 200 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "/healthz still failing after the close went through: $(cat "$tmp/health.json")"
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || fail "engine did not stop cleanly"
pid=
[ "$(q "SELECT count(*) FROM v_charges WHERE closed = 1")" = "$days" ] ||
    fail "not every account-day closed"
"$FE" audit verify "$tmp/engine.db" >"$tmp/verify" ||
    fail "ledger: $(head -3 "$tmp/verify")"
price_charges "$FE" tariffs/nl "$tmp/taps.csv" >"$tmp/want"
db_charges "$tmp/engine.db" >"$tmp/got"
cmp -s "$tmp/want" "$tmp/got" || fail "v_charges differs from price"
echo "close-fault: disk full at the close pass (writes $hit..$((hit + 3))): the log names it, the close is retried, $days account-days posted once, /healthz 200 again without a tap, ledger sound"
