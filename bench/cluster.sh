# The cluster deployment's figures (issue 19): sourced by bench/run.sh as
# its last step, or run alone: sh bench/cluster.sh [BIN].  In one run, on
# this machine, with the same load for each deployment (one `terminal-sim
# load`: $CL_VALIDATORS validators over mutual TLS asking for $CL_RATE
# taps/s for $CL_SECONDS s, spread over the gateways):
#   1. the floor: JetStream R3 publish-acknowledged messages per second of
#      tap size (bin/jsfloor: asynchronous, 512 in flight, each with its
#      own Nats-Msg-Id, as a gateway publishes) on a fresh 3-node cluster;
#   2. the embedded engine (serve on one SQLite file): acknowledged taps/s
#      (an ack there means stored, priced and committed) and its CPU;
#   3. the cluster with 1 and with 2 workers (fresh 3-node cluster, 2
#      gateways): the rate the gateways acknowledged (JetStream has the
#      tap) and the end-to-end rate (every acknowledged tap stored, priced
#      and committed on its shard, timed from the load's start), each as a
#      ratio to the floor and to the embedded engine; per-core efficiency:
#      taps per CPU-second of the deployment's processes (3 nats-servers,
#      gateways, workers; the embedded engine), from /proc.
# Prints a table and writes results-cluster.json beside run.sh's results
# (bench/results-cluster.json; with BENCH_OUT=X.json, X-cluster.json).  If the cluster cannot
# run here (no nats-server, a node that does not start, ...), it says so
# in the table and the file ("measured": false, and why) and exits 0:
# the rest of the bench stands.
: "${BIN:=${1:-bin}}"
cd "$(dirname "$0")/.." || exit 1
: "${data:=${BENCH_DATA:-bench/data}}"
# The results file: a sibling of run.sh's (BENCH_OUT), named after it:
# bench/results.json -> bench/results-cluster.json, X.json -> X-cluster.json.
cl_json=${out_json:-${BENCH_OUT:-bench/results.json}}
cl_out=${cl_json%.json}-cluster.json
mkdir -p "$data"
. tests/lib.sh
. tests/cluster-lib.sh
cl_base=$((26000 + $$ % 100 * 50))
CL_VALIDATORS=${BENCH_CL_VALIDATORS:-50}
CL_RATE=${BENCH_CL_RATE:-20000}
CL_SECONDS=${BENCH_CL_SECONDS:-15}
CL_FLOOR_N=${BENCH_CL_FLOOR_N:-100000}
CLOCK=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cl_why=

# cpu_s PIDFILE...: CPU seconds (user + system) the processes used so far.
cpu_s() {
	for _f in "$@"; do
		[ -f "$_f" ] && cat "/proc/$(cat "$_f")/stat" 2>/dev/null
	done | awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); t += $12 + $13 }
	    END { printf "%.2f", t / hz }'
}

# cl_load ENGINES: the load, from now; sets cl_taps (acknowledged) and
# cl_t0, cl_t1 (its start and end, seconds).
cl_load() {
	cl_t0=$(date +%s.%N)
	"$BIN"/terminal-sim load --engine "$1" --certs "$tmp/certs" \
	    --validators "$CL_VALIDATORS" --rate "$CL_RATE" \
	    --duration "$CL_SECONDS" --seed 1 >"$tmp/load.out" 2>"$tmp/load.err" ||
	    { cl_why="terminal-sim load: $(tail -n 1 "$tmp/load.err")"; return 1; }
	cl_t1=$(date +%s.%N)
	cl_taps=$(sed -n 's/.*acknowledged \([0-9]*\) (.*/\1/p' "$tmp/load.out")
	[ -n "$cl_taps" ] && [ "$cl_taps" -gt 0 ] ||
	    { cl_why="no tap acknowledged: $(tail -n 1 "$tmp/load.out")"; return 1; }
}

# rate N T0 T1: N per second over T1 - T0.
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%d", n / (b - a) }'; }

# cl_embedded: the embedded engine under the same load; sets emb_*.
cl_embedded() {
	tmp=$data/cluster-embedded
	rm -rf "$tmp"
	mkdir -p "$tmp"
	"$BIN"/fare-engine certs init "$tmp/certs" >/dev/null
	"$BIN"/fare-engine serve --dev --certs "$tmp/certs" --tariff tariffs/nl \
	    --db "$tmp/engine.db" --listen 127.0.0.1:$((cl_base + 40)) \
	    --http 127.0.0.1:$((cl_base + 41)) 2>"$tmp/engine.log" &
	echo $! >"$tmp/engine.pid"
	wait_healthy $((cl_base + 41)) ||
	    { cl_why="the embedded engine did not start"; stop_pid "$tmp/engine.pid"; return 1; }
	_c0=$(cpu_s "$tmp/engine.pid")
	cl_load 127.0.0.1:$((cl_base + 40)) || { stop_pid "$tmp/engine.pid"; return 1; }
	_c1=$(cpu_s "$tmp/engine.pid")
	stop_pid "$tmp/engine.pid"
	emb_taps=$cl_taps
	emb_tps=$(rate "$cl_taps" "$cl_t0" "$cl_t1")
	emb_cpu=$(awk -v a="$_c0" -v b="$_c1" 'BEGIN { printf "%.1f", b - a }')
	rm -rf "$tmp"
}

# cl_run SHARDS: the cluster with SHARDS workers and 2 gateways; sets
# cl_acked_tps, cl_e2e_tps, cl_cpu_s, cl_taps.
cl_run() {
	tmp=$data/cluster-$1
	rm -rf "$tmp"
	mkdir -p "$tmp"
	base=$cl_base
	cl_start || { cl_why="the 3-node cluster did not start: $(tail -n 1 "$tmp"/nc/n*.log)"; return 1; }
	"$BIN"/fare-engine certs init "$tmp/certs" >/dev/null
	_k=0
	while [ $_k -lt "$1" ]; do
		worker $_k "$1"
		_k=$((_k + 1))
	done
	gateway 0 "$1" && gateway 1 "$1" ||
	    { cl_why="gateways did not start: $(tail -n 1 "$tmp/g0.log")"; cl_cleanup; return 1; }
	_nats="$tmp/nc/n1.pid $tmp/nc/n2.pid $tmp/nc/n3.pid"
	_gws="$tmp/g0.pid $tmp/g1.pid"
	_wks=$(echo "$tmp"/w*.pid)
	# shellcheck disable=SC2086
	_n0=$(cpu_s $_nats) _g0=$(cpu_s $_gws) _w0=$(cpu_s $_wks)
	cl_load "$(gw_addr 0),$(gw_addr 1)" || { cl_cleanup; return 1; }
	# Every acknowledged tap on a shard (at most 10 minutes).
	_i=0
	until [ "$(shards_sum 'SELECT count(*) FROM taps')" -ge "$cl_taps" ]; do
		_i=$((_i + 1))
		[ $_i -lt 6000 ] || { cl_why="$1 worker(s): $(shards_sum \
'SELECT count(*) FROM taps') of $cl_taps acknowledged taps stored after 10 minutes"; cl_cleanup; return 1; }
		sleep 0.1
	done
	_t2=$(date +%s.%N)
	# shellcheck disable=SC2086
	_n1=$(cpu_s $_nats) _g1=$(cpu_s $_gws) _w1=$(cpu_s $_wks)
	cl_acked_tps=$(rate "$cl_taps" "$cl_t0" "$cl_t1")
	cl_e2e_tps=$(rate "$cl_taps" "$cl_t0" "$_t2")
	cl_nats_s=$(awk -v a="$_n0" -v b="$_n1" 'BEGIN { printf "%.1f", b - a }')
	cl_gw_s=$(awk -v a="$_g0" -v b="$_g1" 'BEGIN { printf "%.1f", b - a }')
	cl_wk_s=$(awk -v a="$_w0" -v b="$_w1" 'BEGIN { printf "%.1f", b - a }')
	cl_cpu_s=$(awk -v a="$cl_nats_s" -v b="$cl_gw_s" -v c="$cl_wk_s" \
	    'BEGIN { printf "%.1f", a + b + c }')
	# The machine's load while it ran (other work on it shows here).
	cl_loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
	cl_cleanup
	rm -rf "$tmp"
}

# cl_floor: bin/jsfloor on a fresh cluster; sets js_floor.
cl_floor() {
	tmp=$data/cluster-floor
	rm -rf "$tmp"
	mkdir -p "$tmp"
	base=$cl_base
	cl_start || { cl_why="the 3-node cluster did not start: $(tail -n 1 "$tmp"/nc/n*.log)"; return 1; }
	js_floor=$("$BIN"/jsfloor "$urls" "$CL_FLOOR_N" 170 512 2>"$tmp/jsfloor.err" |
	    sed -n 's/.*: \([0-9]*\) acknowledged msgs\/s/\1/p')
	cl_stop
	[ -n "$js_floor" ] || { cl_why="jsfloor: $(tail -n 1 "$tmp/jsfloor.err")"; return 1; }
	rm -rf "$tmp"
}

cluster_bench() {
	command -v nats-server >/dev/null 2>&1 ||
	    { cl_why="nats-server is not installed (make deps installs it)"; return 1; }
	[ -x "$BIN/jsfloor" ] || { cl_why="$BIN/jsfloor is not built (make bench builds it)"; return 1; }
	cl_floor || return 1
	cl_embedded || return 1
	cl_run 1 || return 1
	w1_taps=$cl_taps w1_acked=$cl_acked_tps w1_e2e=$cl_e2e_tps w1_cpu=$cl_cpu_s
	w1_nats=$cl_nats_s w1_gw=$cl_gw_s w1_wk=$cl_wk_s w1_load=$cl_loadavg
	cl_run 2 || return 1
	w2_taps=$cl_taps w2_acked=$cl_acked_tps w2_e2e=$cl_e2e_tps w2_cpu=$cl_cpu_s
	w2_nats=$cl_nats_s w2_gw=$cl_gw_s w2_wk=$cl_wk_s w2_load=$cl_loadavg
}

r() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
if ! cluster_bench; then
	printf '\n%-52s\n' "cluster (3 JetStream nodes on loopback): NOT MEASURED"
	echo "  $cl_why"
	cat >"$cl_out" <<JSON
{"date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","machine":"$(nproc) cores",
 "measured":false,"reason":"$(echo "$cl_why" | tr '"\\' "''" | head -c 300)"}
JSON
	echo "bench: the cluster was not measured ($cl_why); wrote $cl_out"
else
	printf '\n%-56s %12s\n' "cluster (3 JetStream nodes, 2 gateways, loopback)" "measured"
	printf '%-56s %12s\n' "load: validators, asking for taps/s, for s" "$CL_VALIDATORS, $CL_RATE, $CL_SECONDS"
	printf '%-56s %10s m/s\n' "floor: JetStream R3 publish-acked, 170 B" "$js_floor"
	printf '%-56s %10s t/s\n' "embedded engine: acknowledged (= stored, priced)" "$emb_tps"
	printf '%-56s %10s t/s\n' "  per CPU-second of the engine ($emb_cpu s for $emb_taps)" "$(r "$emb_taps" "$emb_cpu")"
	for w in 1 2; do
		eval "n=\$w${w}_taps a=\$w${w}_acked e=\$w${w}_e2e c=\$w${w}_cpu"
		eval "cn=\$w${w}_nats cg=\$w${w}_gw cw=\$w${w}_wk ld=\$w${w}_load"
		# shellcheck disable=SC2154
		printf '%-56s %10s t/s\n' "$w worker(s): acknowledged by the gateways" "$a"
		printf '%-56s %10s t/s\n' "$w worker(s): end to end (stored on the shards)" "$e"
		printf '%-56s %14s\n' "  end to end / JetStream floor" "$(r "$e" "$js_floor")"
		printf '%-56s %14s\n' "  end to end / embedded engine" "$(r "$e" "$emb_tps")"
		printf '%-56s %10s t/s\n' "  per CPU-second of the cluster ($c s for $n)" "$(r "$n" "$c")"
		# shellcheck disable=SC2154
		printf '%-56s %14s\n' "  CPU s: 3 nats-servers / 2 gateways / workers" "$cn / $cg / $cw"
		printf '%-56s %10s t/s\n' "  taps per CPU-second: nats-servers (3 together)" "$(r "$n" "$cn")"
		printf '%-56s %10s t/s\n' "  taps per CPU-second: gateways" "$(r "$n" "$cg")"
		printf '%-56s %10s t/s\n' "  taps per CPU-second: workers" "$(r "$n" "$cw")"
		printf '%-56s %14s\n' "  load average at its end" "$ld"
		# What the CPU figures allow, derived (not measured): the
		# cluster alone on this machine's cores, and one worker on
		# a core of its own.
		printf '%-56s %10s t/s\n' "  derived: $(nproc) cores given to the cluster alone" \
		    "$(awk -v n="$n" -v c="$c" -v k="$(nproc)" 'BEGIN { if (c > 0) printf "%d", k * n / c; else print "n/a" }')"
		printf '%-56s %10s t/s\n' "  derived: one worker on a core of its own" \
		    "$(awk -v n="$n" -v c="$cw" 'BEGIN { if (c > 0) printf "%d", n / c; else print "n/a" }')"
	done
	printf '%-56s %14s\n' "2 workers / 1 worker, end to end" "$(r "$w2_e2e" "$w1_e2e")"
	cat >"$cl_out" <<JSON
{"date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","machine":"$(nproc) cores","measured":true,
 "load":{"validators":$CL_VALIDATORS,"rate":$CL_RATE,"seconds":$CL_SECONDS},
 "jetstream_floor_msgs_per_s":$js_floor,
 "embedded":{"taps":$emb_taps,"acked_per_s":$emb_tps,"cpu_s":$emb_cpu,
   "taps_per_cpu_s":$(r "$emb_taps" "$emb_cpu")},
 "workers":[
  {"workers":1,"taps":$w1_taps,"acked_per_s":$w1_acked,"end_to_end_per_s":$w1_e2e,"cpu_s":$w1_cpu,
   "cpu_s_nats":$w1_nats,"cpu_s_gateways":$w1_gw,"cpu_s_workers":$w1_wk,"loadavg":"$w1_load",
   "to_floor":$(r "$w1_e2e" "$js_floor"),"to_embedded":$(r "$w1_e2e" "$emb_tps"),"taps_per_cpu_s":$(r "$w1_taps" "$w1_cpu")},
  {"workers":2,"taps":$w2_taps,"acked_per_s":$w2_acked,"end_to_end_per_s":$w2_e2e,"cpu_s":$w2_cpu,
   "cpu_s_nats":$w2_nats,"cpu_s_gateways":$w2_gw,"cpu_s_workers":$w2_wk,"loadavg":"$w2_load",
   "to_floor":$(r "$w2_e2e" "$js_floor"),"to_embedded":$(r "$w2_e2e" "$emb_tps"),"taps_per_cpu_s":$(r "$w2_taps" "$w2_cpu")}]}
JSON
	echo "bench: wrote $cl_out"
fi
