# Shell helpers for the cluster tests and demo (sourced after lib.sh):
# a 3-node JetStream cluster (tools/nats-cluster.sh), gateways and
# workers, each started and stopped by its PID.  Needs $tmp, $BIN, $base
# (a port base: NATS on base+1..23, gateways base+30.., workers' /healthz
# none) and CLOCK (the engines' clock).  When a test fails (fail, below)
# or a process is found dead before it was stopped, cl_report says which
# process ended and how, and shows the end of each engine's log.

# glibc's fatal messages ("double free or corruption") to stderr, so to
# the engine's log, not to a terminal.
LIBC_FATAL_STDERR_=1
export LIBC_FATAL_STDERR_

cl_start() {	# the cluster in $tmp/nc
	sh tools/nats-cluster.sh start "$tmp/nc" "$base" || return 1
	urls=$(sh tools/nats-cluster.sh urls "$tmp/nc")
}

cl_stop() {
	[ -d "$tmp/nc" ] && sh tools/nats-cluster.sh stop "$tmp/nc"
	return 0
}

# worker K N [OPTIONS...]: shard K of N on $tmp/shardK.db, PID in
# $tmp/wK.pid, log appended to $tmp/wK.log.
worker() {
	_k=$1 _n=$2
	shift 2
	"$BIN"/fare-engine worker --nats "$urls" --shard "$_k" --shards "$_n" \
	    --db "$tmp/shard$_k.db" --tariff tariffs/nl --clock "$CLOCK" "$@" \
	    2>>"$tmp/w$_k.log" &
	echo $! >"$tmp/w$_k.pid"
}

# gateway G N: gateway G for N shards on port base+30+2G (validators)
# and base+31+2G (/healthz), its own database $tmp/gwG.db.
gateway() {
	_g=$1 _n=$2
	"$BIN"/fare-engine serve --dev --clock "$CLOCK" --certs "$tmp/certs" \
	    --tariff tariffs/nl --db "$tmp/gw$_g.db" \
	    --listen 127.0.0.1:$((base + 30 + 2 * _g)) \
	    --http 127.0.0.1:$((base + 31 + 2 * _g)) \
	    --nats "$urls" --shards "$_n" 2>>"$tmp/g$_g.log" &
	echo $! >"$tmp/g$_g.pid"
	wait_healthy $((base + 31 + 2 * _g))
}

gw_addr() { echo "127.0.0.1:$((base + 30 + 2 * $1))"; }

# cl_status PID: sets cl_how to how a process that no longer runs ended
# ("exited with status N", "killed by signal N (NAME)"), from this
# shell's wait (the engines are its children; wait keeps their status
# after they end, but only in this shell: not from a $(...) subshell).
cl_status() {
	wait "$1" 2>/dev/null && _rc=0 || _rc=$?
	if [ $_rc -eq 127 ]; then
		cl_how="ended (status unknown)"
	elif [ $_rc -gt 128 ]; then
		cl_how="killed by signal $((_rc - 128)) ($(kill -l $((_rc - 128)) 2>/dev/null))"
	else
		cl_how="exited with status $_rc"
	fi
}

# cl_report [LINES]: to stderr, for every gateway and worker of $tmp:
# running, stopped by the test, or how it died; and the last LINES (15)
# of its log; then the processes found dead before the test stopped them.
cl_report() {
	for _f in "$tmp"/g*.log "$tmp"/w*.log; do
		[ -f "$_f" ] || continue
		_n=$(basename "$_f" .log)
		_st="stopped by the test"
		if [ -f "$tmp/$_n.pid" ]; then
			_p=$(cat "$tmp/$_n.pid")
			if kill -0 "$_p" 2>/dev/null; then
				_st="running (pid $_p)"
			else
				cl_status "$_p"
				_st="DIED: $cl_how (pid $_p)"
			fi
		fi
		echo "--- $_n: $_st; the last ${1:-15} lines of $_n.log:"
		tail -n "${1:-15}" "$_f"
	done >&2
	if [ -s "$tmp/died" ]; then
		echo "--- found dead before the test stopped them:"
		cat "$tmp/died"
	fi >&2
	return 0
}

# fail MSG: lib.sh's, then cl_report.
fail() {
	echo "${e2e_name:-cluster}: $*" >&2
	cl_report
	exit 1
}

# stop_pid FILE [SIG]: signals the PID in FILE (TERM by default), waits
# for it (at most 30 s), removes FILE.  A process already dead is noted
# in $tmp/died (which, and how it ended) and on stderr.
stop_pid() {
	[ -f "$1" ] || return 0
	_p=$(cat "$1")
	if ! kill -0 "$_p" 2>/dev/null; then
		cl_status "$_p"
		echo "$(basename "$1" .pid) (pid $_p) had died before it was" \
		    "stopped: $cl_how" | tee -a "$tmp/died" >&2
	fi
	kill -"${2:-TERM}" "$_p" 2>/dev/null
	_i=0
	while kill -0 "$_p" 2>/dev/null && [ $_i -lt 300 ]; do
		_i=$((_i + 1))
		sleep 0.1
	done
	rm -f "$1"
}

cl_cleanup() {
	for _f in "$tmp"/g*.pid "$tmp"/w*.pid; do
		[ -f "$_f" ] && stop_pid "$_f" KILL
	done
	cl_stop
}

# shards_count SQL: the sum of one number over every shard database.
shards_sum() {
	_s=0
	for _db in "$tmp"/shard*.db; do
		_s=$((_s + $(sqlite3 "$_db" "$1")))
	done
	echo $_s
}

# wait_stored N: until the shards hold N taps together (at most 120 s).
wait_stored() {
	_i=0
	until [ "$(shards_sum 'SELECT count(*) FROM taps')" -ge "$1" ]; do
		_i=$((_i + 1))
		[ $_i -lt 1200 ] || return 1
		sleep 0.1
	done
}

# shards_charges: v_charges of every shard, one sorted list.
shards_charges() {
	for _db in "$tmp"/shard*.db; do
		db_charges "$_db"
	done | sort
}

# cl_check ACKED ALL.csv: every tap_id in ACKED (sorted, unique) stored
# exactly once across the shards and nothing else; the shards' charges
# equal price over ALL.csv; no account on two shards; every shard's
# ledger verifies.  Waits (at most 120 s) for the workers to catch up.
cl_check() {
	_i=0
	until [ "$(shards_sum 'SELECT count(*) FROM taps')" -eq \
	    "$(wc -l <"$1")" ]; do
		_i=$((_i + 1))
		[ $_i -lt 1200 ] || fail "shards hold $(shards_sum \
		    'SELECT count(*) FROM taps') taps, $(wc -l <"$1") acknowledged"
		sleep 0.1
	done
	for _db in "$tmp"/shard*.db; do
		sqlite3 "$_db" "SELECT tap_id FROM taps"
	done | sort >"$tmp/stored"
	[ "$(uniq -d "$tmp/stored" | wc -l)" -eq 0 ] ||
	    fail "$(uniq -d "$tmp/stored" | wc -l) tap(s) stored on two shards"
	cmp -s "$1" "$tmp/stored" || fail "stored taps differ from the \
acknowledged ones: $(diff "$1" "$tmp/stored" | head -3)"
	"$BIN"/fare-engine price --tariff tariffs/nl "$2" 2>/dev/null |
	    jsonl_charges | sort >"$tmp/want"
	shards_charges >"$tmp/got"
	cmp -s "$tmp/want" "$tmp/got" || fail "charges differ from price: \
$(diff "$tmp/want" "$tmp/got" | head -5)"
	for _db in "$tmp"/shard*.db; do
		sqlite3 "$_db" "SELECT DISTINCT account FROM v_taps"
	done | sort | uniq -d >"$tmp/split"
	[ -s "$tmp/split" ] && fail "accounts with taps on two shards: \
$(head -3 "$tmp/split")"
	# shellcheck disable=SC2046
	"$BIN"/fare-engine audit verify "$tmp"/shard*.db >"$tmp/verify" 2>&1 ||
	    fail "audit verify over the shards: $(head -3 "$tmp/verify")"
	grep -q "^2 shards: all sound" "$tmp/verify" ||
	    fail "audit verify gave no total: $(tail -n 1 "$tmp/verify")"
}
