#!/bin/sh
# A late tap on a day whose capture was declined: the mini example is
# settled with one card always declined (a debt of 13.00, deny list);
# then its missing check-in arrives, turning the orphan check-out
# (4.00, outside the caps) into a priced leg under the day cap.  The
# charge falls to 9.00: the debt shrinks by 4.00 (no money moves, no
# refund to a card that paid nothing), the ledger stays sound, and what
# was collected plus what is owed equals the charge.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
EX=../shared/examples/mini
ACC=tok:67da5f2440cd91a5ebf8e26f1142bdaa	# card 5105105105105100
e2e_init debt
q() { sqlite3 "$tmp/engine.db" "$1"; }
port=$((23000 + $$ % 300 * 3))
# until_q SQL VALUE: wait (at most 20 s) until the query gives VALUE.
until_q() {
	i=0
	until [ "$(q "$1")" = "$2" ]; do
		i=$((i + 1)); [ $i -lt 200 ] || fail "waited for: $1 = $2 (is $(q "$1"))"
		sleep 0.1
	done
}

"$FE" certs init "$tmp/certs" >/dev/null
"$SIM" acquirer --listen 127.0.0.1:$((port + 2)) --journal "$tmp/acq.journal" \
    --certs "$tmp/certs" \
    --decline $ACC --decline-times 99 >/dev/null 2>"$tmp/acq.log" &
apid=$!
"$FE" serve --dev --clock 2026-11-29T08:00:00Z --certs "$tmp/certs" \
    --tariff "$EX" --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$((port + 1)) --acquirer 127.0.0.1:$((port + 2)) \
    --settle-interval 1 2>"$tmp/engine.log" &
pid=$!
wait_healthy $((port + 1)) || fail "engine did not start"
"$SIM" replay --engine 127.0.0.1:$port --certs "$tmp/certs" "$EX/taps.csv" \
    2>"$tmp/sim.log" || fail "replay: $(tail -2 "$tmp/sim.log")"
until_q "SELECT amount_cents || ' ' || state FROM debts WHERE account = '$ACC'" "1300 open"
until_q "SELECT count(*) FROM deny WHERE account = '$ACC'" 1
# The missing check-in, forwarded late by its validator.
printf 'tap_id,time,card,par,network_id,stop_id,kind\nlate-1:1,2026-11-28T09:50:00Z,5105105105105100,,CITY,C,in\n' \
    >"$tmp/late.csv"
"$SIM" replay --keep-ids --engine 127.0.0.1:$port --certs "$tmp/certs" \
    "$tmp/late.csv" 2>"$tmp/sim.log" || fail "late tap: $(tail -2 "$tmp/sim.log")"
until_q "SELECT charge_cents FROM charges WHERE account = '$ACC'" 900
until_q "SELECT amount_cents || ' ' || state FROM debts WHERE account = '$ACC'" "900 open"
[ "$(q "SELECT kind || ' ' || amount_cents FROM settlements WHERE
    account = '$ACC' AND state = 'debt-adjusted'")" = "refund -400" ] ||
    fail "no debt adjustment of -400"
[ "$(q "SELECT count(*) FROM settlements WHERE account = '$ACC' AND
    state = 'approved'")" = 0 ] || fail "money moved for a declined card"
[ "$(q "SELECT settled FROM v_charges WHERE account = '$ACC'")" = 0 ] ||
    fail "a day in debt shows as settled"
curl -s http://127.0.0.1:$((port + 1))/metrics >"$tmp/metrics"
grep -q '^onecity_settlements_total{outcome="declined"} 1$' "$tmp/metrics" ||
    fail "/metrics does not count the decline: $(grep settle "$tmp/metrics")"
grep -q '^onecity_acquirer_up 1$' "$tmp/metrics" || fail "/metrics: acquirer not up"
kill -TERM "$pid"
wait "$pid" || fail "engine did not stop cleanly"
pid=
"$FE" audit verify "$tmp/engine.db" >"$tmp/verify" || fail "$(cat "$tmp/verify")"
[ "$(q "SELECT sum(amount_cents) FROM ledger WHERE ledger_account = 'debt:$ACC'")" = 900 ] ||
    fail "the ledger's debt is not 900"
{ cat "$EX/taps.csv"; tail -n +2 "$tmp/late.csv"; } >"$tmp/all.csv"
price_charges "$FE" "$EX" "$tmp/all.csv" >"$tmp/want"
db_charges "$tmp/engine.db" >"$tmp/got"
cmp -s "$tmp/want" "$tmp/got" || fail "v_charges differs from price"
echo "debt: a late check-in lowered a declined day from 13.00 to 9.00: the" \
    "debt shrank to 9.00, nothing refunded, ledger sound, charges equal price"
