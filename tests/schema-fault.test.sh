#!/bin/sh
# The engine's start re-creates its views (DROP VIEW, CREATE VIEW): a
# start that fails on a full disk must leave the auditors' views as they
# were.  With each of the start's first writes failing in turn ("disk
# full", bin/fare-engine-faults), every view of SPEC §6 still answers
# after the failed start (v_charges and v_settlements were dropped by one
# statement and the failing CREATE left them gone), and a start with
# space again serves the same charges.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
e2e_init schema-fault
port=$((28800 + $$ % 600 * 2))
http=$((port + 1))
views="v_taps v_refused_taps v_legs v_charges v_operator_revenue v_ledger v_deny_list v_settlements"

"$FE" certs init "$tmp/certs" >/dev/null
"$BIN"/gen-taps --tariff tariffs/nl --accounts 50 --seed 5 \
    --day 2026-11-27 >"$tmp/taps.csv"
"$FE" serve --dev --clock 2026-11-28T12:00:00Z --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$http 2>"$tmp/engine.log" &
pid=$!
wait_healthy $http || fail "engine did not start"
"$SIM" replay --engine 127.0.0.1:$port --certs "$tmp/certs" "$tmp/taps.csv" \
    2>"$tmp/sim.log" || fail "replay: $(tail -3 "$tmp/sim.log")"
kill -TERM "$pid"
wait "$pid" || fail "engine did not stop cleanly"
pid=
db_charges "$tmp/engine.db" >"$tmp/charges"
[ -s "$tmp/charges" ] || fail "no charges stored"

failed=0
n=1
while [ $n -le 80 ]; do
	ONECITY_FAULT_WRITES=$n:1000000:full "$BIN"/fare-engine-faults serve \
	    --dev --clock 2026-11-28T12:00:00Z --certs "$tmp/certs" \
	    --tariff tariffs/nl --db "$tmp/engine.db" \
	    --listen 127.0.0.1:$port --http 127.0.0.1:$http \
	    2>"$tmp/fault.log" &
	pid=$!
	# It fails to start (its writes fail), or it serves: then stop it.
	i=0
	while kill -0 "$pid" 2>/dev/null &&
	    [ "$(curl -s -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$http/healthz")" = 000 ]; do
		i=$((i + 1)); [ $i -lt 200 ] || fail "N=$n: neither up nor gone"
		sleep 0.1
	done
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
	if grep -q "event=start_failed" "$tmp/fault.log"; then
		failed=$((failed + 1))
		for v in $views; do
			sqlite3 "$tmp/engine.db" "SELECT count(*) FROM $v" \
			    >/dev/null 2>"$tmp/err" ||
			    fail "after a start failed at write $n: $v: $(cat "$tmp/err")"
		done
	fi
	n=$((n + 1))
done
[ $failed -gt 0 ] || fail "no start failed: the faults missed the schema"
"$FE" serve --dev --clock 2026-11-28T12:00:00Z --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$http 2>>"$tmp/engine.log" &
pid=$!
wait_healthy $http || fail "engine did not start with space again"
kill -TERM "$pid"
wait "$pid" || fail "engine did not stop cleanly"
pid=
db_charges "$tmp/engine.db" >"$tmp/after"
cmp -s "$tmp/charges" "$tmp/after" || fail "charges changed"
"$FE" audit verify "$tmp/engine.db" >"$tmp/verify" ||
    fail "ledger: $(head -3 "$tmp/verify")"
echo "schema-fault: $failed starts failed on a full disk at one of their first 80 writes; every view still answers after each; the next start serves the same charges"
