#!/bin/sh
# SPEC §2/§5 contract through the real binary: the worked examples price
# byte for byte, the sample tariff loads, bad tap files fail as specified.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
EX=../shared/examples
e2e_init contract

for ex in "$EX"/*/; do
	ex=${ex%/}
	[ -f "$ex/taps.csv" ] || continue
	"$FE" tariff check "$ex" >/dev/null || fail "tariff check rejects $ex"
	"$FE" price --tariff "$ex" "$ex/taps.csv" >"$tmp/out.jsonl" ||
	    fail "price fails on $ex"
	cmp -s "$tmp/out.jsonl" "$ex/expected.jsonl" ||
	    fail "price output for $ex differs from expected.jsonl"
done
"$FE" tariff check tariffs/nl >/dev/null || fail "tariffs/nl rejected"

# A bad row: FILE:LINE: message on stderr, exit 1, nothing on stdout.
cp "$EX/mini/taps.csv" "$tmp/bad.csv"
echo 'x01,2026-11-28T10:00:00Z,4111111111111112,,CITY,C,in' >>"$tmp/bad.csv"
echo 'x02,2026-11-28T10:00:00Z,4111111111111111,,BUS,C,in' >>"$tmp/bad.csv"
if "$FE" price --tariff "$EX/mini" "$tmp/bad.csv" >"$tmp/o" 2>"$tmp/e"; then
	fail "a bad tap file was accepted"
fi
[ ! -s "$tmp/o" ] || fail "a failed price run printed output"
grep -q "^$tmp/bad.csv:32: card number fails the Luhn check$" "$tmp/e" ||
    fail "no FILE:LINE message for a bad PAN: $(cat "$tmp/e")"
grep -q "^$tmp/bad.csv:33: unknown network_id$" "$tmp/e" ||
    fail "no FILE:LINE message for an unknown network"
# --skip-bad reports, skips, and prices the rest exactly as before.
"$FE" price --skip-bad --tariff "$EX/mini" "$tmp/bad.csv" >"$tmp/o" 2>"$tmp/e" ||
    fail "--skip-bad failed"
cmp -s "$tmp/o" "$EX/mini/expected.jsonl" || fail "--skip-bad changed prices"
grep -q "bad.csv:32:" "$tmp/e" || fail "--skip-bad did not report the row"
# The header is exact.
printf 'tap_id,time,card,par,network_id,stop_id\n' >"$tmp/h.csv"
"$FE" price --tariff "$EX/mini" "$tmp/h.csv" 2>"$tmp/e" && fail "bad header accepted"
grep -q "h.csv:1: the header must be exactly" "$tmp/e" || fail "header message"
# A bad tariff: exit 1.
if "$FE" tariff check /nonexistent-tariff 2>/dev/null; then fail "missing tariff accepted"; fi
# No PAN reaches the output.
if "$FE" price --tariff "$EX/mini" "$EX/mini/taps.csv" --explain |
    grep -Eq '4111111111111111|4012888888881881|5555555555554444'; then
	fail "a PAN appears in the output"
fi
# A feed whose every rule is dropped for a bank card (only cash and paper
# prices): tariff check exits 0, with warnings naming what was dropped.
cp -r "$EX/gtfs" "$tmp/dropped"
sed -i "s/,emv,/,cash,/" "$tmp/dropped/fare_products.txt"
rm "$tmp/dropped/network_policies.txt"
"$FE" tariff check "$tmp/dropped" >"$tmp/o" 2>"$tmp/e" ||
    fail "tariff check rejected a feed whose rules were all dropped: $(cat "$tmp/e")"
for want in "fare_products.txt:1: warning: 7 rows ignored for a bank card: fare medium not contactless EMV" \
    "fare_leg_rules.txt:2: warning: rule left out of pricing: fare product 'metro_fare'" \
    "fare_transfer_rules.txt:2: warning: rule left out of pricing: fare product 'tram_transfer'" \
    "routes.txt:2: warning: network 'METRO' has no leg rule for a bank card"; do
	grep -qF "$want" "$tmp/e" || fail "tariff check did not warn: $want; got: $(cat "$tmp/e")"
done
grep -q ": 10 stops, 3 networks, 0 leg rules," "$tmp/o" || fail "summary: $(cat "$tmp/o")"
exit 0
