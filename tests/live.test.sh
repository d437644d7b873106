#!/bin/sh
# Live repricing from the changed week only (SPEC §6) against `price`:
# commuters with 90 days of history whose taps arrive in random order
# (late taps into every earlier week), ten of whom start showing a PAR on
# their last day and add a phone of the same bank account (PAR merges
# after months of a card's history), night journeys crossing Sunday into
# Monday and the 04:00 day start, and a tariff reload between the two
# halves.  The views equal `fare-engine price` over the same taps, day by
# day and leg by leg, and the writer read back far less than the history.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
cache=${ACCOUNT_CACHE:-}
shuffle=${SHUFFLE-1}
e2e_init live${cache:+-cache-$cache}

"$FE" certs init "$tmp/certs" >/dev/null
"$BIN"/gen-taps --tariff tariffs/nl --commuters 40 --days 90 \
    --day 2026-11-29 --seed 5 >"$tmp/commute.csv"
# Commuters 0-9 show a PAR on their last day (2026-11-29 is day 20786),
# and a phone of the same account taps too.
awk -F, 'BEGIN { OFS = "," }
NR == 1 { print; next }
{
	split($1, id, ":"); seq = id[2]; a = int(seq / 400000) * 16 + substr(id[1], 9); day = int(seq / 4) % 100000
	if (a < 10 && day == 20786) $4 = sprintf("V001LIVETEST%017d", a)
	print
}' "$tmp/commute.csv" >"$tmp/taps.csv"
cat >>"$tmp/taps.csv" <<'EOF'
phone-1:1,2026-11-29T12:00:00Z,4111111111111111,V001LIVETEST00000000000000001,GVB,gvb-dam,in
phone-1:2,2026-11-29T12:20:00Z,4111111111111111,V001LIVETEST00000000000000001,GVB,gvb-rai,out
phone-1:3,2026-11-29T12:40:00Z,4111111111111111,V001LIVETEST00000000000000001,GVB,gvb-rai,in
phone-1:4,2026-11-29T12:55:00Z,4111111111111111,V001LIVETEST00000000000000001,GVB,gvb-spui,out
night-1:1,2026-11-29T22:50:00Z,5555555555554444,,GVB,gvb-dam,in
night-1:2,2026-11-29T23:10:00Z,5555555555554444,,GVB,gvb-spui,out
night-1:3,2026-11-30T02:20:00Z,5555555555554444,,GVB,gvb-spui,in
night-1:4,2026-11-30T02:40:00Z,5555555555554444,,GVB,gvb-rai,out
night-1:5,2026-11-30T03:10:00Z,5555555555554444,,GVB,gvb-rai,in
night-1:6,2026-11-30T03:30:00Z,5555555555554444,,GVB,gvb-dam,out
night-1:7,2026-11-30T06:50:00Z,5555555555554444,,NS,asd,in
night-1:8,2026-11-30T07:20:00Z,5555555555554444,,NS,ut,out
night-1:9,2026-11-29T20:30:00Z,5105105105105100,,NS,ut,in
night-1:10,2026-11-29T23:40:00Z,5105105105105100,,NS,asd,out
night-1:11,2026-11-30T03:15:00Z,5105105105105100,,GVB,gvb-centraal,in
night-1:12,2026-11-30T03:30:00Z,5105105105105100,,NS,asd,in
night-1:13,2026-11-30T04:10:00Z,5105105105105100,,NS,ut,out
EOF
taps=$(($(wc -l <"$tmp/taps.csv") - 1))
# Two halves, each replayed in its own random order, a reload between.
# The night journey's Monday legs come first, its Sunday legs after: the
# late Sunday must reprice the Monday it runs into (the next week).
awk -v seed=7 'BEGIN { srand(seed) } NR == 1 { print > "'"$tmp"'/a.csv";
    print > "'"$tmp"'/b.csv"; next }
    /^night-1:[5-8],/ { print > "'"$tmp"'/a.csv"; next }
    /^night-1:[1-4],/ { print > "'"$tmp"'/b.csv"; next }
    { print > (rand() < 0.5 ? "'"$tmp"'/a.csv" : "'"$tmp"'/b.csv") }' \
    "$tmp/taps.csv"
port=$((16000 + $$ % 1000 * 2))
# Monday 2026-11-30 (the last service day here) closes at 04:00 local on
# Tuesday (03:00Z) with no grace: a few seconds into the run.
"$FE" serve --dev --clock 2026-12-01T02:59:55Z --settle-grace 0 \
    ${cache:+--account-cache $cache} --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$((port + 1)) 2>"$tmp/engine.log" &
pid=$!
wait_healthy $((port + 1)) || fail "engine did not start"
"$BIN"/terminal-sim replay --keep-ids --engine 127.0.0.1:$port \
    --certs "$tmp/certs" ${shuffle:+--shuffle 11} "$tmp/a.csv" 2>"$tmp/sim.log" ||
    fail "replay a: $(tail -3 "$tmp/sim.log")"
kill -HUP "$pid"
i=0
until grep -q "event=tariff_reloaded" "$tmp/engine.log"; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "no tariff reload logged"
	sleep 0.1
done
"$BIN"/terminal-sim replay --keep-ids --engine 127.0.0.1:$port \
    --certs "$tmp/certs" ${shuffle:+--shuffle 12} "$tmp/b.csv" 2>"$tmp/sim.log" ||
    fail "replay b: $(tail -3 "$tmp/sim.log")"
curl -s http://127.0.0.1:$((port + 1))/metrics >"$tmp/metrics"
read_back=$(sed -n 's/^onecity_taps_read_total //p' "$tmp/metrics")
hits=$(sed -n 's/^onecity_account_cache_total{outcome="hit"} //p' "$tmp/metrics")
evicted=$(sed -n 's/^onecity_account_cache_total{outcome="evicted"} //p' \
    "$tmp/metrics")
held=$(sed -n 's/^onecity_account_cache_accounts //p' "$tmp/metrics")
# (Hits depend on how taps fall into batches here; test_writer counts
# them with one batch per tap.)
if [ -n "$cache" ]; then
	[ "$held" -le "$cache" ] || fail "cache holds $held accounts, bound $cache"
	[ "$evicted" -gt 0 ] || fail "no account evicted under a bound of $cache"
fi
# Every day here has closed (SPEC §6): Monday posted once at its close,
# late taps into days already closed posted as adjustments.
i=0
until [ "$(sqlite3 "$tmp/engine.db" "SELECT count(*) FROM v_charges
    WHERE closed = 0")" = 0 ]; do
	i=$((i + 1)); [ $i -lt 150 ] || fail "days left unposted after closing"
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || fail "engine did not stop cleanly"
pid=
"$FE" price --tariff tariffs/nl "$tmp/taps.csv" >"$tmp/price.jsonl"
charges_equal "$tmp/price.jsonl" "$tmp/engine.db"
# Every leg: status, fare and contribution, in order, as price has them.
grep -o '"status":"[a-z]*","fare_cents":[0-9]*,"contribution_cents":[0-9]*' \
    "$tmp/price.jsonl" | sed 's/"status":"\([a-z]*\)","fare_cents":\([0-9]*\),"contribution_cents":\([0-9]*\)/\1|\2|\3/' \
    >"$tmp/want-legs"
sqlite3 "$tmp/engine.db" "SELECT status, fare_cents, contribution_cents
    FROM v_legs ORDER BY account, service_day, leg_no" >"$tmp/got-legs"
cmp -s "$tmp/want-legs" "$tmp/got-legs" || fail "legs differ from price"
for r in close adjustment; do
	[ "$(sqlite3 "$tmp/engine.db" "SELECT count(*) FROM v_ledger
	    WHERE reason = '$r'")" -gt 0 ] || fail "no '$r' postings"
done
pars=$(sqlite3 "$tmp/engine.db" "SELECT count(DISTINCT account) FROM v_charges
    WHERE account LIKE 'par:V001LIVETEST%'")
[ "$pars" = 10 ] || fail "PAR accounts: $pars, expected 10"
"$FE" audit verify "$tmp/engine.db" >"$tmp/verify" ||
    fail "ledger: $(head -5 "$tmp/verify")"
# A tap re-reads the account's open week (plus the cut before it), not
# its history: far fewer taps read back than taps x history.
[ "$read_back" -lt $((taps * 10)) ] ||
    fail "read back $read_back taps for $taps: the whole history?"
echo "live: $taps taps of 40 commuters over 90 days in random order, 10 PAR merges, night journeys, a reload: the engine equals price ($(wc -l <"$tmp/want") account-days, $(wc -l <"$tmp/want-legs") legs); $read_back taps read back; account cache${cache:+ of $cache}: $hits hits, $evicted evictions"
