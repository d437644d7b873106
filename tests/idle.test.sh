#!/bin/sh
# Resource exhaustion: 10,000 connections that never start TLS.  The engine
# holds them (memory measured), keeps serving a real validator meanwhile,
# and drops them all at the handshake timeout.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
N=${IDLE_CONNECTIONS:-10000}
# Under the sanitizers every connection costs several times more.
[ "$BIN" = bin-san ] && N=${IDLE_CONNECTIONS:-2000}
e2e_init idle
metric() {
	curl -s http://127.0.0.1:$((port + 1))/metrics | sed -n "s/^$1 //p"
}
"$FE" certs init "$tmp/certs" >/dev/null
port=$((28000 + $$ % 1000 * 2))
"$FE" serve --dev --handshake-timeout 20 --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$((port + 1)) 2>"$tmp/engine.log" &
pid=$!
wait_healthy $((port + 1)) || fail "no engine: $(cat "$tmp/engine.log")"
rss0=$(awk '/^VmRSS/ { print $2 }' /proc/$pid/status)
"$BIN"/terminal-sim idle --engine 127.0.0.1:$port --connections "$N" \
    --hold 60 >"$tmp/idle.out" &
idle=$!
# While they are held: wait until the engine has them, then serve a tap.
i=0
until [ "$(metric onecity_connections)" -ge "$N" ] 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "engine holds $(metric onecity_connections) of $N"
	sleep 0.1
done
rss1=$(awk '/^VmRSS/ { print $2 }' /proc/$pid/status)
"$BIN"/terminal-sim load --engine 127.0.0.1:$port --certs "$tmp/certs" \
    --validators 1 --rate 50 --duration 1 >"$tmp/load.out" 2>/dev/null ||
    fail "a validator was not served: $(cat "$tmp/load.out")"
grep -q "of $N connections open" "$tmp/idle.out" ||
    fail "not all idle connections opened: $(cat "$tmp/idle.out")"
# The handshake timeout drops them while they are still held open.
i=0
until [ "$(metric onecity_connections)" = 0 ]; do
	i=$((i + 1)); [ $i -lt 400 ] || fail "idle connections not dropped"
	sleep 0.1
done
grep -q "event=validator_disconnected device=- reason=\"handshake timeout\"" "$tmp/engine.log" ||
    fail "no log line for the timeout"
per=$(( (rss1 - rss0) * 1024 / N ))
echo "idle: $N connections held: engine RSS $rss0 -> $rss1 KiB" \
    "(~$per bytes each); a validator served meanwhile; all dropped after"
