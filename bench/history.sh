#!/bin/sh
# The cost of an old account (ISSUE 14): on ONE database, N commuters with
# 365 days of history, N with 60 days and N brand-new ones each ride one
# more day through the live engine (replayed over mutual TLS); the
# writer's time per tap of each group (the engine's own /metrics split),
# and rows written per tap.  Sourced by bench/run.sh, which provides BIN,
# data, port, serve, unserve and metric; sets hist_* variables.
N=${BENCH_COMMUTERS:-500}
DAY=2026-11-30
gen() {	# gen FILE FIRST DAYS LASTDAY
	[ -f "$data/$1" ] || "$BIN"/gen-taps --tariff tariffs/nl --commuters "$N" \
	    --first "$2" --days "$3" --day "$4" --seed 14 >"$data/$1"
}
gen hist-365.csv 0 365 2026-11-29
gen hist-60.csv 1000000 60 2026-11-29
gen today-365.csv 0 1 $DAY
gen today-60.csv 1000000 1 $DAY
gen today-new.csv 2000000 1 $DAY
replay() {
	"$BIN"/terminal-sim replay --keep-ids --engine 127.0.0.1:$port \
	    --certs "$data/certs" "$1" >/dev/null 2>&1 || { echo "bench: replay of $1 failed"; exit 1; }
}
rm -f "$data"/hist.db*
serve "$data/hist.db" --clock ${DAY}T23:00:00Z
echo "bench: history: replaying $N commuters x 365 days and $N x 60 days"
t0=$(date +%s)
replay "$data/hist-365.csv"
replay "$data/hist-60.csv"
hist_load_s=$(($(date +%s) - t0))
# One more day of each group, the new accounts in between (the same
# database, the same warm cache): writer microseconds and rows per tap.
group() {	# group FILE: "us_per_tap price_us_per_tap rows_per_tap
	#   store_us_per_tap commit_us_per_tap taps_per_batch"
	c0=$(metric onecity_taps_committed_total)
	s0=$(metric onecity_commit_seconds_sum)
	b0=$(metric onecity_commit_seconds_count)
	a0=$(metric 'onecity_batch_seconds_total{phase="store"}')
	p0=$(metric 'onecity_batch_seconds_total{phase="price"}')
	k0=$(metric 'onecity_batch_seconds_total{phase="commit"}')
	r0=$(metric onecity_rows_written_total)
	replay "$data/$1"
	c1=$(metric onecity_taps_committed_total)
	s1=$(metric onecity_commit_seconds_sum)
	b1=$(metric onecity_commit_seconds_count)
	a1=$(metric 'onecity_batch_seconds_total{phase="store"}')
	p1=$(metric 'onecity_batch_seconds_total{phase="price"}')
	k1=$(metric 'onecity_batch_seconds_total{phase="commit"}')
	r1=$(metric onecity_rows_written_total)
	awk -v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" -v p0="$p0" \
	    -v p1="$p1" -v r0="${r0:-0}" -v r1="${r1:-0}" -v a0="$a0" \
	    -v a1="$a1" -v k0="$k0" -v k1="$k1" -v b0="$b0" -v b1="$b1" 'BEGIN {
	    n = c1 - c0; printf "%.1f %.1f %.2f %.1f %.1f %.0f",
	    (s1 - s0) * 1e6 / n, (p1 - p0) * 1e6 / n, (r1 - r0) / n,
	    (a1 - a0) * 1e6 / n, (k1 - k0) * 1e6 / n,
	    (b1 > b0 ? n / (b1 - b0) : 0) }'
}
# Where each group's time went (store, price, COMMIT) and its batches'
# size: the COMMIT's fsync is shared by a batch, so fewer taps a batch
# cost more each whatever their history.
set -- $(group today-new.csv); hist_new_us=$1 hist_new_price=$2 hist_new_rows=$3
hist_new_split="$4/$2/$5 ($6)"
set -- $(group today-60.csv); hist_60_us=$1 hist_60_price=$2 hist_60_rows=$3
hist_60_split="$4/$2/$5 ($6)"
set -- $(group today-365.csv); hist_365_us=$1 hist_365_price=$2 hist_365_rows=$3
hist_365_split="$4/$2/$5 ($6)"
unserve
hist_60_ratio=$(awk -v a="$hist_60_us" -v b="$hist_new_us" 'BEGIN { printf "%.2f", a / b }')
hist_365_ratio=$(awk -v a="$hist_365_us" -v b="$hist_new_us" 'BEGIN { printf "%.2f", a / b }')
rm -f "$data"/hist.db*
