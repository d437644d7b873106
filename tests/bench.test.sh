#!/bin/sh
# Long work shows progress: `make bench`'s script on tiny sizes (a
# 2,000-stop tariff, 300 accounts, 6 validators, runs of 3-4 s) announces each of its steps
# in order on stderr, with the time so far, and still ends with its table
# and its results file (here a scratch one: bench/results.json is left
# alone).  The figures of so small a run mean nothing; the steps do.
set -eu
. tests/lib.sh
BIN=${1:-bin}
e2e_init bench
BENCH_DATA=$tmp/data BENCH_OUT=$tmp/results.json BENCH_ACCOUNTS=300 \
    BENCH_STOPS=2000 BENCH_STORM=20 BENCH_COMMUTERS=3 BENCH_E2E_S=4 \
    BENCH_LAT_S=3 BENCH_GROW_S=3 BENCH_GROW_SIZES="1000 4000" \
    BENCH_VALIDATORS=6 BENCH_CL_VALIDATORS=4 BENCH_CL_RATE=200 \
    BENCH_CL_SECONDS=3 BENCH_CL_FLOOR_N=2000 \
    sh bench/run.sh "$BIN" >"$tmp/out" 2>"$tmp/err" ||
    fail "bench/run.sh failed: $(tail -5 "$tmp/err")"
grep '^bench: \[[0-9]*/10\] ' "$tmp/err" | sed 's/^bench: \[\([0-9]*\)\/10\].*/\1/' |
    uniq >"$tmp/steps"
[ "$(tr '\n' ' ' <"$tmp/steps")" = "1 2 3 4 5 6 7 8 9 10 " ] ||
    fail "steps announced: $(tr '\n' ' ' <"$tmp/steps"); $(head -3 "$tmp/err")"
grep -q '^bench: \[6/10\] end to end: .* ([0-9]* s so far)$' "$tmp/err" ||
    fail "a step line without its time: $(grep '6/10' "$tmp/err")"
[ "$(grep -c '^bench: \[9/10\]   a database of' "$tmp/err")" = 2 ] ||
    fail "the growth step does not announce each database"
grep -q "issue 14 target" "$tmp/out" || fail "no table at the end"
grep -q '"growth":\[{"taps":1000' "$tmp/results.json" ||
    fail "results: $(head -c 300 "$tmp/results.json")"
# The cluster step measured (tiny figures, but each part ran) ...
grep -q '^cluster (3 JetStream nodes, 2 gateways, loopback)' "$tmp/out" ||
    fail "no cluster table: $(tail -n 3 "$tmp/out")"
grep -q '"measured":true' "$tmp/results-cluster.json" ||
    fail "cluster results: $(head -c 300 "$tmp/results-cluster.json")"
# ... and says so, without failing, where it cannot run (no nats-server).
# Its file follows BENCH_OUT (X.json -> X-cluster.json) and never touches
# the tracked bench/results-cluster.json.
mkdir -p "$tmp/nonats"
tracked=$(cksum <bench/results-cluster.json)
PATH=/usr/local/bin:/usr/bin:/bin BENCH_DATA=$tmp/data \
    BENCH_OUT=$tmp/nonats/mine.json sh bench/cluster.sh "$BIN" \
    >"$tmp/out2" 2>&1 ||
    fail "bench/cluster.sh without nats-server failed: $(tail -n 2 "$tmp/out2")"
grep -q "NOT MEASURED" "$tmp/out2" &&
    grep -q '"measured":false,"reason":"nats-server is not installed' \
    "$tmp/nonats/mine-cluster.json" ||
    fail "without nats-server: $(cat "$tmp/out2"; ls "$tmp/nonats")"
[ "$(cksum <bench/results-cluster.json)" = "$tracked" ] ||
    fail "BENCH_OUT set, and bench/results-cluster.json was written"
echo "bench: a tiny run announced its 10 steps in order, each with the time so far, then its tables (the cluster's measured; without nats-server it says so)"
