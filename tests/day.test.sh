#!/bin/sh
# terminal-sim day: the same seed gives the same taps; a day of tourists
# with a validator offline for an hour (its taps forwarded after the
# others') and the simulator killed halfway (its durable queue resends
# what was not acknowledged): every tap arrives once, and the engine's
# charges equal `fare-engine price` over the taps the simulator logged.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
e2e_init day

# Reproducibility: the same seed, the same taps; another seed, others.
"$SIM" day --generate-only --tourists 300 --seed 5 --taps-out "$tmp/a.csv" 2>/dev/null
"$SIM" day --generate-only --tourists 300 --seed 5 --taps-out "$tmp/b.csv" 2>/dev/null
"$SIM" day --generate-only --tourists 300 --seed 6 --taps-out "$tmp/c.csv" 2>/dev/null
cmp -s "$tmp/a.csv" "$tmp/b.csv" || fail "seed 5 gave two different days"
cmp -s "$tmp/a.csv" "$tmp/c.csv" && fail "seeds 5 and 6 gave the same day"
[ "$(wc -l <"$tmp/a.csv")" -gt 3000 ] || fail "too few taps: $(wc -l <"$tmp/a.csv")"
# The mistakes are in there: forgotten check-outs and double taps.
"$FE" price --tariff tariffs/nl "$tmp/a.csv" >"$tmp/a.jsonl"
grep -q '"status":"incomplete"' "$tmp/a.jsonl" || fail "no incomplete journey"
grep -q '"account":"par:' "$tmp/a.jsonl" || fail "no phone wallet (PAR)"

"$FE" certs init "$tmp/certs" >/dev/null
port=$((14000 + $$ % 1000 * 2))
"$FE" serve --dev --clock 2026-11-29T12:00:00Z --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$((port + 1)) 2>"$tmp/engine.log" &
pid=$!
wait_healthy $((port + 1)) || fail "engine did not start"

# First run: the simulator dies abruptly after 2,000 answers.
set +e
"$SIM" day --engine 127.0.0.1:$port --certs "$tmp/certs" --tourists 400 \
    --seed 9 --taps-out "$tmp/taps.csv" --ack-log "$tmp/acks1" \
    --queue "$tmp/queue" --stop-after 2000 2>"$tmp/sim1.log"
rc=$?
set -e
[ $rc = 3 ] || fail "the simulator did not stop on purpose (rc $rc)"
grep -q "offline for an hour ([1-9][0-9]* taps forwarded late)" "$tmp/sim1.log" ||
    fail "no offline validator: $(cat "$tmp/sim1.log")"
[ "$(grep -c '^T ' "$tmp/queue")" -ge 2000 ] || fail "the queue did not keep the taps"
# Restarted with the same queue: the rest goes, nothing twice.
"$SIM" day --engine 127.0.0.1:$port --certs "$tmp/certs" --tourists 400 \
    --seed 9 --ack-log "$tmp/acks2" --queue "$tmp/queue" 2>"$tmp/sim2.log" ||
    fail "second run: $(tail -3 "$tmp/sim2.log")"
grep -q "answered before; sending the other" "$tmp/sim2.log" ||
    fail "the restart did not resume from the queue: $(cat "$tmp/sim2.log")"
rows=$(($(wc -l <"$tmp/taps.csv") - 1))
acked=$(cut -d' ' -f2 "$tmp/acks2" | sort -u | wc -l)
stored=$(sqlite3 "$tmp/engine.db" "SELECT count(*) FROM taps")
[ "$acked" = "$rows" ] || fail "$rows taps, $acked acknowledged"
[ "$stored" = "$rows" ] || fail "$rows taps, $stored stored"
# Every tap_id of the file is stored once, under its own validator.
tail -n +2 "$tmp/taps.csv" | cut -d, -f1 | sort >"$tmp/ids.want"
sqlite3 "$tmp/engine.db" "SELECT tap_id FROM taps" | sort >"$tmp/ids.got"
cmp -s "$tmp/ids.want" "$tmp/ids.got" || fail "tap_ids differ"
kill -TERM "$pid"
wait "$pid"
pid=
price_charges "$FE" tariffs/nl "$tmp/taps.csv" >"$tmp/want"
db_charges "$tmp/engine.db" >"$tmp/got"
cmp -s "$tmp/want" "$tmp/got" ||
    fail "v_charges differs from price: $(diff "$tmp/want" "$tmp/got" | head -5)"
echo "day: $rows taps of 400 visitors (offline validator, simulator killed" \
    "after 2000 answers and resumed): all stored once, $(wc -l <"$tmp/got")" \
    "account-days equal price; seeds reproduce"
