# The cluster deployment (sourced by bench/run.sh after its own figures,
# or run alone: sh bench/cluster.sh BIN).  On a fresh 3-node JetStream
# cluster on loopback each time (tools/nats-cluster.sh):
#   1. the floor: JetStream R3 publish-acknowledged messages per second of
#      tap size (bin/jsfloor, asynchronous, 512 in flight, as a gateway);
#   2. end to end with 1 and with 2 workers (shards): two gateways, each
#      loaded by `terminal-sim load` (50 validators, asking for 20,000
#      taps/s for 15 s); the acknowledged rate (JetStream has the taps)
#      and the end-to-end rate (every acknowledged tap stored, priced and
#      committed on its shard, from the load's start), each as a ratio to
#      the floor and to the embedded engine's end-to-end figure
#      ($e2e_tps, when run.sh measured it); and per-core efficiency: taps
#      per CPU-second of all the cluster's processes (3 nats-servers,
#      gateways, workers).
# Prints its table and writes results-cluster.json beside run.sh's
# results (bench/ unless BENCH_OUT names another place).
: "${BIN:=${1:-bin}}"
cl_out=$(dirname "${out_json:-bench/results.json}")/results-cluster.json
: "${data:=bench/data}"
mkdir -p "$data"
. tests/lib.sh
. tests/cluster-lib.sh
cl_base=$((26000 + $$ % 100 * 50))
CL_VALIDATORS=${BENCH_CL_VALIDATORS:-50}
CL_RATE=${BENCH_CL_RATE:-20000}
CL_SECONDS=${BENCH_CL_SECONDS:-15}
CLOCK=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# cpu_s PIDFILE...: CPU seconds (user + system) the processes used so far.
cpu_s() {
	for _f in "$@"; do
		[ -f "$_f" ] && cat "/proc/$(cat "$_f")/stat" 2>/dev/null
	done | awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); t += $12 + $13 }
	    END { printf "%.2f", t / hz }'
}

# cl_run SHARDS: sets cl_acked_tps, cl_e2e_tps, cl_cpu_s, cl_taps.
cl_run() {
	tmp=$data/cluster-$1
	rm -rf "$tmp"
	mkdir -p "$tmp"
	base=$cl_base
	cl_start || { echo "bench: the cluster did not start"; exit 1; }
	"$BIN"/fare-engine certs init "$tmp/certs" >/dev/null
	_k=0
	while [ $_k -lt "$1" ]; do
		worker $_k "$1"
		_k=$((_k + 1))
	done
	gateway 0 "$1" && gateway 1 "$1" ||
	    { echo "bench: gateways did not start"; exit 1; }
	_pids="$tmp/nc/n1.pid $tmp/nc/n2.pid $tmp/nc/n3.pid $tmp/g0.pid $tmp/g1.pid $tmp/w*.pid"
	# shellcheck disable=SC2086
	_c0=$(cpu_s $_pids)
	_t0=$(date +%s.%N)
	for _g in 0 1; do
		"$BIN"/terminal-sim load --engine "$(gw_addr $_g)" \
		    --certs "$tmp/certs" --validators "$CL_VALIDATORS" \
		    --rate "$CL_RATE" --duration "$CL_SECONDS" --seed $((_g + 1)) \
		    >"$tmp/load$_g.out" 2>/dev/null &
		eval "_l$_g=\$!"
		# Both loads name their validators load-0..; their first
		# sequence number is the start second * 10^6: a second apart,
		# their tap_ids differ.
		[ $_g = 0 ] && sleep 1.1
	done
	# shellcheck disable=SC2154
	wait "$_l0" "$_l1"
	_t1=$(date +%s.%N)
	cl_taps=0
	for _g in 0 1; do
		_n=$(sed -n 's/.*acknowledged \([0-9]*\) (.*/\1/p' "$tmp/load$_g.out")
		cl_taps=$((cl_taps + ${_n:-0}))
	done
	wait_stored "$cl_taps" || echo "bench: not every acknowledged tap stored"
	_t2=$(date +%s.%N)
	# shellcheck disable=SC2086
	_c1=$(cpu_s $_pids)
	cl_acked_tps=$(awk -v n="$cl_taps" -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%d", n / (b - a) }')
	cl_e2e_tps=$(awk -v n="$cl_taps" -v a="$_t0" -v b="$_t2" 'BEGIN { printf "%d", n / (b - a) }')
	cl_cpu_s=$(awk -v a="$_c0" -v b="$_c1" 'BEGIN { printf "%.1f", b - a }')
	cl_cleanup
	rm -rf "$tmp"
}

tmp=$data/cluster-floor
rm -rf "$tmp"
mkdir -p "$tmp"
base=$cl_base
cl_start || { echo "bench: the cluster did not start"; exit 1; }
js_floor=$("$BIN"/jsfloor "$urls" 100000 170 512 |
    sed -n 's/.*: \([0-9]*\) acknowledged msgs\/s/\1/p')
cl_stop
rm -rf "$tmp"

cl_run 1
w1_taps=$cl_taps w1_acked=$cl_acked_tps w1_e2e=$cl_e2e_tps w1_cpu=$cl_cpu_s
cl_run 2
w2_taps=$cl_taps w2_acked=$cl_acked_tps w2_e2e=$cl_e2e_tps w2_cpu=$cl_cpu_s

r() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
emb=${e2e_tps:-0}
printf '\n%-52s %12s\n' "cluster (3 JetStream nodes, 2 gateways, loopback)" "measured"
printf '%-52s %10s m/s\n' "floor: JetStream R3 publish-acked, 170 B" "$js_floor"
for w in 1 2; do
	eval "n=\$w${w}_taps a=\$w${w}_acked e=\$w${w}_e2e c=\$w${w}_cpu"
	# shellcheck disable=SC2154
	printf '%-52s %10s t/s\n' "$w worker(s): acknowledged by the gateways" "$a"
	printf '%-52s %10s t/s\n' "$w worker(s): end to end (stored on the shards)" "$e"
	printf '%-52s %14s\n' "  end to end / JetStream floor" "$(r "$e" "$js_floor")"
	printf '%-52s %14s\n' "  end to end / embedded engine ($emb t/s)" "$(r "$e" "$emb")"
	printf '%-52s %10s t/s\n' "  per CPU-second of the cluster ($c s for $n)" "$(r "$n" "$c")"
done
printf '%-52s %14s\n' "2 workers / 1 worker, end to end" "$(r "$w2_e2e" "$w1_e2e")"
cat >"$cl_out" <<JSON
{"date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","machine":"$(nproc) cores",
 "jetstream_floor_msgs_per_s":$js_floor,
 "embedded_end_to_end_taps_per_s":$emb,
 "workers":[
  {"workers":1,"taps":$w1_taps,"acked_per_s":$w1_acked,"end_to_end_per_s":$w1_e2e,"cpu_s":$w1_cpu},
  {"workers":2,"taps":$w2_taps,"acked_per_s":$w2_acked,"end_to_end_per_s":$w2_e2e,"cpu_s":$w2_cpu}]}
JSON
echo "bench: wrote $cl_out"
