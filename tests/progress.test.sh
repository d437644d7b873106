#!/bin/sh
# Long work shows progress: `price` on a big file (60,000 accounts, about
# 340,000 taps) tells a person at a terminal how far it got on stderr,
# reading and pricing, and says nothing more when stderr is a file; its
# output is the same either way.  (The demo's waits: privacy.test.sh; make
# bench's steps: bench.test.sh.)
set -eu
. tests/lib.sh
BIN=${1:-bin}
e2e_init progress
command -v script >/dev/null || fail "script(1) (bsdutils) is needed for a terminal"
"$BIN"/gen-taps --tariff tariffs/nl --accounts 60000 --seed 3 >"$tmp/big.csv"
rows=$(($(wc -l <"$tmp/big.csv") - 1))
"$BIN"/fare-engine price --tariff tariffs/nl "$tmp/big.csv" >"$tmp/plain.jsonl" \
    2>"$tmp/plain.err"
grep -q '^price:' "$tmp/plain.err" && fail "progress on a stderr that is a file"
# The same run with stderr on a terminal (script's pseudo-terminal).
script -qec "'$BIN/fare-engine' price --tariff tariffs/nl '$tmp/big.csv' \
    >'$tmp/tty.jsonl'" /dev/null >"$tmp/tty.err" </dev/null ||
    fail "price under a terminal failed: $(tail -3 "$tmp/tty.err")"
cmp -s "$tmp/plain.jsonl" "$tmp/tty.jsonl" || fail "output differs on a terminal"
shown=$(printf '%s' "$rows" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
tr '\r' '\n' <"$tmp/tty.err" >"$tmp/lines"
grep -q "^price: reading: 65,536 rows, [0-9]*% (" "$tmp/lines" ||
    fail "no reading progress: $(head -c 300 "$tmp/lines")"
grep -q "^price: read $shown rows (" "$tmp/lines" ||
    fail "no 'read $shown rows': $(head -c 300 "$tmp/lines")"
days=$(wc -l <"$tmp/plain.jsonl" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
grep -q "^price: priced $days account-days (" "$tmp/lines" ||
    fail "no 'priced $days account-days': $(head -c 400 "$tmp/lines")"
echo "progress: price of $rows taps showed its progress on a terminal (read $shown rows, priced $days account-days), nothing on a file, the same output"
