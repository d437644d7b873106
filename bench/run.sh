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

# 2. Offline pricing of the national day (one process, one core), on the
# file in time order (as a journal would give it) and grouped by account
# (as gen-taps writes it): median of three runs each.
[ -f "$data/day-$ACCOUNTS-by-time.csv" ] || {
	head -n 1 "$data/day-$ACCOUNTS.csv"
	tail -n +2 "$data/day-$ACCOUNTS.csv" | LC_ALL=C sort -t, -k2,2 -S 1G
} >"$data/day-$ACCOUNTS-by-time.csv"
price_median() {
	for i in 1 2 3; do
		"$BIN"/fare-engine price --stats --tariff tariffs/nl "$1" \
		    2>&1 >/dev/null | grep '^stats:'
	done | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	    print v["taps_per_s"], v["read_s"], v["price_s"], v["total_s"], v["peak_rss_kib"] }' |
	    sort -n | sed -n 2p
}
set -- $(price_median "$data/day-$ACCOUNTS-by-time.csv")
price_tps=$1 read_s=$2 work_s=$3 price_s=$4 price_kib=$5
set -- $(price_median "$data/day-$ACCOUNTS.csv")
acct_tps=$1 acct_s=$4

printf '\n%-44s %14s %14s\n' "figure" "measured" "target"
printf '%-44s %12s s %14s\n' "load tariffs/nl (best of 5)" "$nl_s" "< 0.050 s"
printf '%-44s %12s s %14s\n' "load $STOPS-stop tariff (best of 3)" "$big_s" "< 2 s"
printf '%-44s %10s MiB %14s\n' "  its peak memory" "$((big_kib / 1024))" "< 1024 MiB"
printf '%-44s %14s\n' "price: taps in the national day" "$taps"
printf '%-44s %12s s\n' "  time order: read and check the file" "$read_s"
printf '%-44s %12s s\n' "  time order: price and write JSON" "$work_s"
printf '%-44s %10s t/s %14s\n' "  time order: taps per second, end to end" "$price_tps" ">= 1000000"
printf '%-44s %10s t/s %14s\n' "  account order: taps per second" "$acct_tps" ">= 1000000"
printf '%-44s %10s MiB %14s\n' "  peak memory" "$((price_kib / 1024))" "< 2048 MiB"

cat >bench/results.json <<JSON
{"date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","machine":"$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB",
 "tariff_load":{"nl_s":$nl_s,"big_stops":$STOPS,"big_s":$big_s,"big_peak_kib":$big_kib},
 "price":{"taps":$taps,"accounts":$ACCOUNTS,"read_s":$read_s,"price_s":$work_s,"total_s":$price_s,
          "taps_per_s":$price_tps,"peak_rss_kib":$price_kib,
          "account_order_taps_per_s":$acct_tps,"account_order_total_s":$acct_s}}
JSON
echo "bench: wrote bench/results.json"
