#!/bin/sh
# terminal-sim load against the engine: a short, small run where every
# tap sent must be acknowledged, with no errors, and the engine's metrics
# must agree.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
e2e_init load
"$FE" certs init "$tmp/certs" >/dev/null
port=$((26000 + $$ % 1000 * 2))
"$FE" serve --dev --certs "$tmp/certs" --tariff tariffs/nl \
    --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$((port + 1)) 2>"$tmp/engine.log" &
pid=$!
wait_healthy $((port + 1)) || { echo "load: no engine"; exit 1; }
"$BIN"/terminal-sim load --engine 127.0.0.1:$port --certs "$tmp/certs" \
    --validators 5 --rate 500 --duration 2 --seed 3 2>/dev/null >"$tmp/out"
cat "$tmp/out"
sent=$(sed -n 's/^load: sent \([0-9]*\), acknowledged \([0-9]*\).*/\1 \2/p' "$tmp/out")
set -- $sent
[ "$1" -gt 0 ] && [ "$1" = "$2" ] || { echo "load: sent $1, acked $2"; exit 1; }
curl -s http://127.0.0.1:$((port + 1))/metrics >"$tmp/metrics"
grep -q "^onecity_taps_acked_total $2$" "$tmp/metrics" ||
    { echo "load: metrics disagree"; exit 1; }
