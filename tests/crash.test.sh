#!/bin/sh
# Crash safety: kill -9 the engine at random moments while validators send
# a day of taps, restart it each time on the same database.  Afterwards
# every acknowledged tap is stored exactly once, the ledger verifies, and
# the charges equal `price` over the same taps.  KILLS (default 5; `make
# soak` uses 20) and SEED vary it.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
KILLS=${KILLS:-5}
SEED=${SEED:-$$}
e2e_init crash
e2e_kill=9

"$FE" certs init "$tmp/certs" >/dev/null
"$BIN"/gen-taps --tariff tariffs/nl --accounts "${ACCOUNTS:-4000}" --seed 5 \
    --day 2026-11-27 >"$tmp/taps.csv"
port=$((22000 + $$ % 2000 * 2))
start() {
	"$FE" serve --dev --clock 2026-11-29T12:00:00Z --certs "$tmp/certs" \
	    --tariff tariffs/nl --db "$tmp/engine.db" \
	    --listen 127.0.0.1:$port 2>>"$tmp/engine.log" &
	pid=$!
}
start
sleep 0.3
"$BIN"/terminal-sim replay --engine 127.0.0.1:$port --certs "$tmp/certs" \
    --ack-log "$tmp/acks" "$tmp/taps.csv" 2>"$tmp/sim.log" &
sim=$!
# Random moments from a seeded sequence (awk's srand is reproducible).
delays=$(awk -v n="$KILLS" -v s="$SEED" 'BEGIN { srand(s);
    for (i = 0; i < n; i++) printf "%.2f ", 0.1 + rand() * 0.6 }')
k=0
for d in $delays; do
	sleep "$d"
	kill -0 "$sim" 2>/dev/null || break
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	k=$((k + 1))
	start
done
wait "$sim" || fail "replay did not finish: $(tail -3 "$tmp/sim.log")"
sim=
kill -TERM "$pid"
wait "$pid" || fail "engine did not stop cleanly"
pid=
acked=$(cut -d' ' -f1 "$tmp/acks" | sort -u | wc -l)
stored=$(sqlite3 "$tmp/engine.db" "SELECT count(*) FROM v_taps")
rows=$(($(wc -l <"$tmp/taps.csv") - 1))
[ "$acked" = "$rows" ] || fail "$acked of $rows taps acknowledged"
[ "$stored" = "$acked" ] || fail "$acked acknowledged but $stored stored"
cut -d' ' -f1 "$tmp/acks" | sort -u >"$tmp/acked-ids"
sqlite3 "$tmp/engine.db" "SELECT tap_id FROM v_taps ORDER BY 1" |
    sort >"$tmp/stored-ids"
cmp -s "$tmp/acked-ids" "$tmp/stored-ids" || fail "acked and stored ids differ"
"$FE" audit verify "$tmp/engine.db" >"$tmp/verify" ||
    fail "ledger: $(head -3 "$tmp/verify")"
price_charges "$FE" tariffs/nl "$tmp/taps.csv" >"$tmp/want"
db_charges "$tmp/engine.db" >"$tmp/got"
cmp -s "$tmp/want" "$tmp/got" || fail "charges differ from price after crashes"
echo "crash: survived $k kill -9 (seed $SEED): $acked taps acknowledged," \
    "all stored once, ledger sound, charges equal price"
