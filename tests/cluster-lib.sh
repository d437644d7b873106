# Shell helpers for the cluster tests and demo (sourced after lib.sh):
# a 3-node JetStream cluster (tools/nats-cluster.sh), gateways and
# workers, each started and stopped by its PID.  Needs $tmp, $BIN, $base
# (a port base: NATS on base+1..23, gateways base+30.., workers' /healthz
# none) and CLOCK (the engines' clock).

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

# stop_pid FILE [SIG]: signals the PID in FILE (TERM by default), waits
# for it (at most 30 s), removes FILE.
stop_pid() {
	[ -f "$1" ] || return 0
	_p=$(cat "$1")
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
