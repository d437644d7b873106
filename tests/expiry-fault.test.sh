#!/bin/sh
# A write that fails inside the expiry pass (the pass that ends legs past
# max_leg_minutes without a tap) must not commit half a repricing.  A day
# of taps leaves two riders with legs open; the engine restarts after
# they expired with a trigger that makes the NS share of one of them fail
# to insert (RAISE(ABORT): that statement fails, the transaction goes on,
# as a failed write does).  That account's day must keep what it had (it
# was committed half written: its leg incomplete, its shares partly
# deleted, its charge as before, and with no open leg left no pass ever
# priced it again), the other rider's leg still expires, and once the
# fault is gone the next start prices it: v_charges equals `price`, the
# ledger verifies.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
e2e_init expiry-fault
port=$((27400 + $$ % 700 * 2))
http=$((port + 1))
q() { sqlite3 "$tmp/engine.db" "$1"; }
serve() {
	"$FE" serve --dev --clock "$1" --certs "$tmp/certs" --tariff tariffs/nl \
	    --db "$tmp/engine.db" --listen 127.0.0.1:$port \
	    --http 127.0.0.1:$http 2>>"$tmp/engine.log" &
	pid=$!
	# Up: 200, or 503 while a fault is injected.
	_i=0
	until _c=$(curl -s -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$http/healthz") && [ "$_c" = 200 -o "$_c" = 503 ]; do
		_i=$((_i + 1)); [ $_i -lt 200 ] || fail "engine did not start"
		sleep 0.1
	done
}
stop() { kill -TERM "$pid"; wait "$pid" || fail "engine did not stop cleanly"; pid=; }

"$FE" certs init "$tmp/certs" >/dev/null
cat >"$tmp/taps.csv" <<'EOF'
tap_id,time,card,par,network_id,stop_id,kind
x:1,2026-11-27T07:00:00Z,4000000000000002,,GVB,gvb-dam,in
x:2,2026-11-27T07:20:00Z,4000000000000002,,GVB,gvb-rai,out
x:3,2026-11-27T08:00:00Z,4000000000000002,,NS,asd,in
x:4,2026-11-27T08:10:00Z,5555555555554444,,GVB,gvb-dam,in
x:5,2026-11-27T08:30:00Z,5555555555554444,,GVB,gvb-rai,out
x:6,2026-11-27T09:00:00Z,5555555555554444,,GVB,gvb-rai,in
EOF
serve 2026-11-27T10:00:00Z
"$SIM" replay --keep-ids --engine 127.0.0.1:$port --certs "$tmp/certs" \
    "$tmp/taps.csv" 2>"$tmp/sim.log" || fail "replay: $(tail -3 "$tmp/sim.log")"
stop
[ "$(q "SELECT count(*) FROM v_legs WHERE status = 'open'")" = 2 ] ||
    fail "expected two open legs: $(q "SELECT * FROM v_legs")"
acc=$(q "SELECT account FROM v_legs WHERE status = 'open' AND
    network_id = 'NS'")
other=$(q "SELECT account FROM v_legs WHERE status = 'open' AND
    network_id = 'GVB'")
before=$(q "SELECT charge_cents FROM v_charges WHERE account = '$acc'")
# The fault: writing that account's expired leg fails.
q "CREATE TRIGGER fault BEFORE INSERT ON shares WHEN NEW.account = '$acc'
    AND NEW.network_id = 'NS' BEGIN SELECT RAISE(ABORT,
    'injected fault'); END"
# That afternoon: both legs have expired; the day is still open.
serve 2026-11-27T15:00:00Z
i=0
until [ "$(q "SELECT count(*) FROM v_legs WHERE account = '$other' AND
    status = 'incomplete'")" = 1 ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "the other rider's leg did not expire"
	sleep 0.1
done
stop
grep -q 'event=journal_failing error="repricing open legs' "$tmp/engine.log" ||
    fail "the failed repricing was not logged"
[ "$(q "SELECT charge_cents FROM v_charges WHERE account = '$acc'")" = "$before" ] ||
    fail "the account whose repricing failed lost its day: $(q "SELECT
    count(*) FROM legs WHERE account = '$acc'") legs, charge '$(q "SELECT
    charge_cents FROM v_charges WHERE account = '$acc'")' (was $before)"
[ "$(q "SELECT count(*) FROM v_legs WHERE account = '$acc' AND
    status = 'open'")" = 1 ] || fail "its open leg is gone"
# The fault gone, the next start ends that leg too.
q "DROP TRIGGER fault"
serve 2026-11-27T15:00:00Z
i=0
until [ "$(q "SELECT count(*) FROM v_legs WHERE status = 'open'")" = 0 ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "the leg never expired"
	sleep 0.1
done
stop
"$FE" price --tariff tariffs/nl "$tmp/taps.csv" >"$tmp/price.jsonl" 2>/dev/null
charges_equal "$tmp/price.jsonl" "$tmp/engine.db"
"$FE" audit verify "$tmp/engine.db" >"$tmp/verify" ||
    fail "ledger: $(head -3 "$tmp/verify")"
echo "expiry-fault: a write failing in the expiry pass left that account's day as it was (the other's leg expired); once the fault was gone its leg expired too: v_charges equals price, ledger sound"
