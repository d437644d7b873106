#!/bin/sh
# Network faults between validators and the engine.  The engine is frozen
# (SIGSTOP) for 17 s in the middle of a day: its connections stay open but
# nothing answers, as on a half-open link.  The validators notice the
# silence (15 s with taps in flight), drop the links and reconnect; once
# the engine runs again everything in flight is resent.  Every tap the
# simulator logged is stored once and the charges equal `price`.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
e2e_init netfault
port=$((20000 + $$ % 900 * 2))

"$FE" certs init "$tmp/certs" >/dev/null
"$FE" serve --dev --clock 2026-11-29T12:00:00Z --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$((port + 1)) 2>"$tmp/engine.log" &
pid=$!
wait_healthy $((port + 1)) || fail "engine did not start"
"$SIM" day --engine 127.0.0.1:$port --certs "$tmp/certs" --tourists 3000 \
    --seed 31 --taps-out "$tmp/taps.csv" --ack-log "$tmp/acks" \
    2>"$tmp/sim.log" &
spid=$!
# Freeze the engine once a few hundred taps are through.
i=0
until [ "$(cat "$tmp/acks" 2>/dev/null | wc -l)" -ge 300 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "no taps acknowledged"
	sleep 0.05
done
kill -STOP "$pid"
sleep 17
kill -CONT "$pid"
wait "$spid" || fail "the day did not finish: $(tail -3 "$tmp/sim.log")"
spid=
n=$(grep -c "no answer for 15 s with taps in flight; reconnecting" "$tmp/sim.log" || true)
[ "$n" -gt 0 ] || fail "no validator noticed the silent link"
kill -TERM "$pid"
wait "$pid" || fail "engine did not stop cleanly"
pid=
rows=$(($(wc -l <"$tmp/taps.csv") - 1))
acked=$(cut -d' ' -f2 "$tmp/acks" | sort -u | wc -l)
stored=$(sqlite3 "$tmp/engine.db" "SELECT count(*) FROM taps")
[ "$acked" = "$rows" ] || fail "$rows taps, $acked acknowledged"
[ "$stored" = "$rows" ] || fail "$rows taps, $stored stored"
price_charges "$FE" tariffs/nl "$tmp/taps.csv" >"$tmp/want"
db_charges "$tmp/engine.db" >"$tmp/got"
cmp -s "$tmp/want" "$tmp/got" || fail "v_charges differs from price"
echo "netfault: engine frozen 17 s mid-day: $n silent links dropped and" \
    "reconnected; all $rows taps stored once, charges equal price"
