#!/bin/sh
# make fuzz: builds the libFuzzer harnesses with clang (ASan+UBSan) and runs
# each for FUZZ_SECONDS (default 60) with a maximum input length.  New
# crashes stop the run; fold each into a regression test.  CI sets
# FUZZ_RUNS and FUZZ_SEED instead, so that its short run is reproducible.
set -eu
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-60}
out=build-fuzz
mkdir -p "$out"
# The pure fare library and the frame codec: what the harnesses parse with.
SRC="fare/csv.c fare/strtab.c fare/parse.c fare/tz.c fare/diag.c
fare/tariff.c fare/tariff-load.c fare/price.c fare/price-caps.c fare/price-window.c
fare/tap.c fare/buf.c fare/tapset.c fare/explain.c fare/opt.c fare/log.c wire/wire.c"
for h in wire tapcsv tariff; do
	clang -std=c17 -D_GNU_SOURCE -g -O1 -iquote fare -iquote wire \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o "$out/fuzz_$h" fuzz/fuzz_$h.c $SRC \
	    -lmbedtls -lmbedx509 -lmbedcrypto -lm
done
for h in wire tapcsv tariff; do
	case $h in
	wire) max=20000 ;;
	tapcsv) max=65536 ;;
	tariff) max=16384 ;;
	esac
	mkdir -p "$out/corpus-$h"
	echo "fuzz: $h (max_len $max)"
	limit="-max_total_time=$SECS"
	[ -n "${FUZZ_RUNS:-}" ] && limit="-runs=$FUZZ_RUNS -seed=${FUZZ_SEED:-1}"
	# shellcheck disable=SC2086
	"$out/fuzz_$h" $limit -max_len=$max \
	    -dict="fuzz/$h.dict" -artifact_prefix="$out/$h-" \
	    -print_final_stats=1 "$out/corpus-$h" "fuzz/corpus/$h" \
	    2>"$out/$h.log" || { tail -30 "$out/$h.log"; exit 1; }
	grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$out/$h.log" |
	    sed "s/^/fuzz: $h: /"
done
