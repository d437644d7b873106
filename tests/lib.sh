# Shell helpers for the end-to-end tests (sourced from the project root).

# wait_healthy PORT: until GET /healthz answers 200, at most 10 s.
wait_healthy() {
	_i=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$1/healthz" 2>/dev/null)" = 200 ]; do
		_i=$((_i + 1))
		[ $_i -lt 100 ] || return 1
		sleep 0.1
	done
}

# price_charges FE TARIFF TAPS: "account|day|charge" lines from price.
price_charges() {
	"$1" price --tariff "$2" "$3" | jsonl_charges
}

# jsonl_charges: the same lines from price's JSON already on stdin.
jsonl_charges() {
	sed 's/^{"account":"\([^"]*\)","service_day":"\([^"]*\)","charge_cents":\([-0-9]*\),.*/\1|\2|\3/'
}

# db_charges DB: the same lines from the engine's v_charges.
db_charges() {
	sqlite3 "$1" "SELECT account, service_day, charge_cents FROM v_charges
	    ORDER BY account, service_day"
}

# e2e_init NAME [LOG_LINES]: the start of every end-to-end test.  A
# temporary directory $tmp; $pid (the engine), $apid (the acquirer),
# $spid, $sim, $idle (simulators) and $mounted empty until started; on
# exit, whatever is still running is stopped and $tmp removed.  Set
# e2e_kill=9 to stop the engine with SIGKILL instead of SIGTERM.
e2e_init() {
	e2e_name=$1
	e2e_log_lines=${2:-5}
	tmp=$(mktemp -d)
	pid= apid= spid= sim= idle= mounted=
	trap e2e_cleanup EXIT
}

# fail MSG: which test, why, and the end of the engine's log.
fail() {
	echo "$e2e_name: $*" >&2
	[ -f "$tmp/engine.log" ] && tail -"$e2e_log_lines" "$tmp/engine.log" >&2
	exit 1
}

# Simulators first, then the engine (thawed if a test froze it, and waited
# for), then the acquirer, then the files.
e2e_cleanup() {
	for _p in $sim $spid $idle; do
		kill "$_p" 2>/dev/null
	done
	if [ -n "$pid" ]; then
		kill -CONT "$pid" 2>/dev/null
		kill -"${e2e_kill:-TERM}" "$pid" 2>/dev/null &&
		    wait "$pid" 2>/dev/null
	fi
	[ -n "$apid" ] && kill -TERM "$apid" 2>/dev/null &&
	    wait "$apid" 2>/dev/null
	[ -n "$mounted" ] && umount "$tmp/fs" 2>/dev/null
	rm -rf "$tmp"
}

# charges_equal PRICE_JSONL DB: v_charges equals price's lines, or fail
# with the first differences.
charges_equal() {
	jsonl_charges <"$1" >"$tmp/want"
	db_charges "$2" >"$tmp/got"
	cmp -s "$tmp/want" "$tmp/got" ||
	    fail "v_charges differs from price: $(diff "$tmp/want" "$tmp/got" | head -5)"
}
