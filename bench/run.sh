#!/bin/sh
# make bench: tariff load times and offline pricing on a synthetic national
# day, measured in this run on this machine.  Prints a table and writes
# bench/results.json.  Generated data lives in bench/data/ (not committed).
set -eu
BIN=${1:-bin}
cd "$(dirname "$0")/.."
data=bench/data
mkdir -p "$data"
ACCOUNTS=${BENCH_ACCOUNTS:-1000000}
STOPS=${BENCH_STOPS:-1000000}

echo "bench: generating a tariff with $STOPS stops and a day of $ACCOUNTS accounts"
[ -f "$data/big-$STOPS/stops.txt" ] || "$BIN"/gen-tariff --stops "$STOPS" "$data/big-$STOPS"
[ -f "$data/day-$ACCOUNTS.csv" ] || "$BIN"/gen-taps --tariff tariffs/nl \
    --accounts "$ACCOUNTS" --seed 7 >"$data/day-$ACCOUNTS.csv"
taps=$(($(wc -l <"$data/day-$ACCOUNTS.csv") - 1))

# 1. Tariff load, timed inside the process: best of 5 and best of 3.
load() {
	"$BIN"/fare-engine tariff check --stats "$1" 2>&1 >/dev/null |
	    sed -n 's/^stats: load_s=\([0-9.]*\) peak_rss_kib=\([0-9]*\)/\1 \2/p'
}
best() { sort -n | head -n 1; }
nl_s=$(for i in 1 2 3 4 5; do load tariffs/nl | cut -d' ' -f1; done | best)
big=$(for i in 1 2 3; do load "$data/big-$STOPS"; done | sort -n | head -n 1)
big_s=${big% *} big_kib=${big#* }

# 2. Offline pricing of the national day (one process, one core).
"$BIN"/fare-engine price --stats --tariff tariffs/nl "$data/day-$ACCOUNTS.csv" \
    2>"$data/price.err" >/dev/null
stats=$(grep '^stats:' "$data/price.err")
get() { echo "$stats" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
price_s=$(get total_s) price_tps=$(get taps_per_s) price_kib=$(get peak_rss_kib)
read_s=$(get read_s) work_s=$(get price_s)

printf '\n%-44s %14s %14s\n' "figure" "measured" "target"
printf '%-44s %12s s %14s\n' "load tariffs/nl (best of 5)" "$nl_s" "< 0.050 s"
printf '%-44s %12s s %14s\n' "load $STOPS-stop tariff (best of 3)" "$big_s" "< 2 s"
printf '%-44s %10s MiB %14s\n' "  its peak memory" "$((big_kib / 1024))" "< 1024 MiB"
printf '%-44s %14s\n' "price: taps in the national day" "$taps"
printf '%-44s %12s s\n' "  read and check the file" "$read_s"
printf '%-44s %12s s\n' "  price and write JSON" "$work_s"
printf '%-44s %10s t/s %14s\n' "  taps per second, end to end" "$price_tps" ">= 1000000"
printf '%-44s %10s MiB %14s\n' "  peak memory" "$((price_kib / 1024))" "< 2048 MiB"

cat >bench/results.json <<JSON
{"date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","machine":"$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB",
 "tariff_load":{"nl_s":$nl_s,"big_stops":$STOPS,"big_s":$big_s,"big_peak_kib":$big_kib},
 "price":{"taps":$taps,"accounts":$ACCOUNTS,"read_s":$read_s,"price_s":$work_s,"total_s":$price_s,
          "taps_per_s":$price_tps,"peak_rss_kib":$price_kib}}
JSON
echo "bench: wrote bench/results.json"
