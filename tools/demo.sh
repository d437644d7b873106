#!/bin/sh
# The main job, for now: price a sample day of visitors on tariffs/nl with
# `fare-engine price` and summarise charges, caps and operator revenue.
# (The live engine over mutual TLS replaces this when it lands.)
set -eu
BIN=${1:-bin}
out=${DEMO_DIR:-demo}
mkdir -p "$out"
"$BIN"/fare-engine tariff check tariffs/nl
"$BIN"/gen-taps --tariff tariffs/nl --accounts 2000 --seed 1 \
    --day 2026-11-28 >"$out/taps.csv"
"$BIN"/fare-engine price --tariff tariffs/nl "$out/taps.csv" >"$out/charges.jsonl"
"$BIN"/fare-engine price --tariff tariffs/nl --explain "$out/taps.csv" \
    >"$out/explain.txt"
"$BIN"/fare-engine price --tariff tariffs/nl --summary "$out/taps.csv"
echo "Files: $out/taps.csv (taps), $out/charges.jsonl (one line per" \
    "account-day), $out/explain.txt (every charge in plain words)"
