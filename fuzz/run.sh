#!/bin/sh
# make fuzz: builds the libFuzzer harnesses with clang (ASan+UBSan) and runs
# each for FUZZ_SECONDS (default 60) with a maximum input length.  Every
# harness works in memory (no file per run).  New crashes stop the run;
# fold each into a regression test.  CI sets FUZZ_RUNS and FUZZ_SEED
# instead, so that its short run is reproducible.  FUZZ_ONLY="http config"
# runs some of them.
set -eu
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-60}
out=build-fuzz
mkdir -p "$out"
# The pure fare library and the wire's pure codecs: what every harness
# may parse with; http and config add their engine file and library.
SRC="fare/csv.c fare/strtab.c fare/parse.c fare/tz.c fare/diag.c
fare/tariff.c fare/tariff-load.c fare/price.c fare/price-caps.c fare/price-window.c
fare/tap.c fare/buf.c fare/tapset.c fare/explain.c fare/opt.c fare/log.c
wire/wire.c wire/acqline.c"
ALL="wire tapcsv tariff http acqline config deny"
CFLAGS="-std=c17 -D_GNU_SOURCE -g -O1 -iquote fare -iquote wire -iquote engine
-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
# Each source compiled once for every harness (again only when it or a
# header changed), then one link per harness.
mkdir -p "$out/obj"
newest=$(ls -t fare/*.h wire/*.h engine/*.h | head -n 1)
objs=
for src in $SRC engine/http.c engine/config.c; do
	o="$out/obj/$(echo "$src" | tr / _).o"
	case $src in engine/*) ;; *) objs="$objs $o" ;; esac
	if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ "$newest" -nt "$o" ]; then
		# shellcheck disable=SC2086
		clang $CFLAGS -c -o "$o" "$src"
	fi
done
for h in ${FUZZ_ONLY:-$ALL}; do
	extra= libs=
	case $h in
	http) extra=$out/obj/engine_http.c.o libs=-levent_core ;;
	config) extra=$out/obj/engine_config.c.o libs=-linih ;;
	esac
	# shellcheck disable=SC2086
	clang $CFLAGS -fsanitize=fuzzer -o "$out/fuzz_$h" fuzz/fuzz_$h.c \
	    $objs $extra -lmbedtls -lmbedx509 -lmbedcrypto -lm $libs
done
for h in ${FUZZ_ONLY:-$ALL}; do
	case $h in
	wire) max=20000 ;;
	tapcsv) max=65536 ;;
	tariff) max=16384 ;;
	http) max=8192 ;;
	acqline | deny) max=4096 ;;
	config) max=8192 ;;
	esac
	mkdir -p "$out/corpus-$h"
	echo "fuzz: $h (max_len $max)"
	limit="-max_total_time=$SECS"
	[ -n "${FUZZ_RUNS:-}" ] && limit="-runs=$FUZZ_RUNS -seed=${FUZZ_SEED:-1}"
	dict=
	[ -f "fuzz/$h.dict" ] && dict="-dict=fuzz/$h.dict"
	# shellcheck disable=SC2086
	"$out/fuzz_$h" $limit -max_len=$max $dict \
	    -artifact_prefix="$out/$h-" -print_final_stats=1 \
	    "$out/corpus-$h" "fuzz/corpus/$h" \
	    2>"$out/$h.log" || { tail -30 "$out/$h.log"; exit 1; }
	grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb" \
	    "$out/$h.log" | sed "s/^/fuzz: $h: /"
done
