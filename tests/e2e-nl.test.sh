#!/bin/sh
# 100,000 random taps on tariffs/nl through the live engine over mutual TLS
# (shuffled, with a reconnect every 5,000 answers per validator): the
# views equal `fare-engine price` over the same taps, account-day by
# account-day and leg by leg.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
e2e_init e2e-nl

"$FE" certs init "$tmp/certs" >/dev/null
"$BIN"/gen-taps --tariff tariffs/nl --accounts 18000 --seed 11 \
    --day 2026-11-27 >"$tmp/taps.csv"
taps=$(($(wc -l <"$tmp/taps.csv") - 1))
[ "$taps" -ge 100000 ] || fail "only $taps taps generated"
port=$((18000 + $$ % 2000 * 2))
"$FE" serve --dev --clock 2026-11-29T12:00:00Z --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    2>"$tmp/engine.log" &
pid=$!
i=0
until "$BIN"/terminal-sim replay --engine 127.0.0.1:$port --certs \
    "$tmp/certs" --shuffle 3 --reconnect-every 5000 "$tmp/taps.csv" \
    2>"$tmp/sim.log"; do
	i=$((i + 1))
	# Only a refused connection at start-up is retried (bounded).
	grep -q "cannot connect" "$tmp/sim.log" && [ $i -lt 50 ] ||
	    fail "replay failed: $(tail -3 "$tmp/sim.log")"
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || fail "engine did not stop cleanly"
pid=
"$FE" price --tariff tariffs/nl "$tmp/taps.csv" >"$tmp/price.jsonl"
charges_equal "$tmp/price.jsonl" "$tmp/engine.db"
# Legs: the same count and the same sum of fares as price's JSON.
want_legs=$(grep -o '"status":"' "$tmp/price.jsonl" | wc -l)
got_legs=$(sqlite3 "$tmp/engine.db" "SELECT count(*) FROM v_legs")
[ "$want_legs" = "$got_legs" ] || fail "legs: price $want_legs, engine $got_legs"
want_fares=$(grep -o '"fare_cents":[0-9]*' "$tmp/price.jsonl" |
    cut -d: -f2 | awk '{ s += $1 } END { print s }')
got_fares=$(sqlite3 "$tmp/engine.db" "SELECT sum(fare_cents) FROM v_legs")
[ "$want_fares" = "$got_fares" ] || fail "fares: price $want_fares, engine $got_fares"
# Operator revenue: the same per network as price's "operators".
grep -o '"operators":{[^}]*}' "$tmp/price.jsonl" | sed 's/"operators":{//; s/}$//' |
    tr ',' '\n' | sed -n 's/^"\([^"]*\)":\(-*[0-9]*\)$/\1 \2/p' |
    awk '{ s[$1] += $2 } END { for (n in s) if (s[n] != 0) print n "|" s[n] }' |
    sort >"$tmp/want-rev"
sqlite3 "$tmp/engine.db" "SELECT network_id, sum(revenue_cents) FROM
    v_operator_revenue GROUP BY network_id HAVING sum(revenue_cents) != 0
    ORDER BY network_id" | sort >"$tmp/got-rev"
cmp -s "$tmp/want-rev" "$tmp/got-rev" ||
    fail "revenue differs: $(diff "$tmp/want-rev" "$tmp/got-rev" | head -5)"
"$FE" audit verify "$tmp/engine.db" >"$tmp/verify" ||
    fail "ledger: $(head -5 "$tmp/verify")"
stored=$(sqlite3 "$tmp/engine.db" "SELECT count(*) FROM v_taps")
echo "e2e-nl: $taps taps (stored $stored unique), $(wc -l <"$tmp/got") account-days: the engine equals price"
