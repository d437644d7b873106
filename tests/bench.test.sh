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
    BENCH_VALIDATORS=6 \
    sh bench/run.sh "$BIN" >"$tmp/out" 2>"$tmp/err" ||
    fail "bench/run.sh failed: $(tail -5 "$tmp/err")"
grep '^bench: \[[0-9]*/9\] ' "$tmp/err" | sed 's/^bench: \[\([0-9]*\)\/9\].*/\1/' |
    uniq >"$tmp/steps"
[ "$(tr '\n' ' ' <"$tmp/steps")" = "1 2 3 4 5 6 7 8 9 " ] ||
    fail "steps announced: $(tr '\n' ' ' <"$tmp/steps"); $(head -3 "$tmp/err")"
grep -q '^bench: \[6/9\] end to end: .* ([0-9]* s so far)$' "$tmp/err" ||
    fail "a step line without its time: $(grep '6/9' "$tmp/err")"
[ "$(grep -c '^bench: \[9/9\]   a database of' "$tmp/err")" = 2 ] ||
    fail "the growth step does not announce each database"
grep -q "issue 14 target" "$tmp/out" || fail "no table at the end"
grep -q '"growth":\[{"taps":1000' "$tmp/results.json" ||
    fail "results: $(head -c 300 "$tmp/results.json")"
echo "bench: a tiny run announced its 9 steps in order, each with the time so far, then its table"
