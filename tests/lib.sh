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

# web_day BIN PORT: the web tests' demo-like data.  A seeded day
# (2026-11-28) of 150 visitors through the engine, the acquirer
# simulator declining 10% of accounts once; the engine restarted the next
# morning settles it, then keeps serving with the operator port
# (PORT + 1, dashboard) and the public web port (PORT + 3, riders).
# Sets $pid, $apid, $web_http, $web_pub; the database is $tmp/engine.db.
web_day() {
	_fe=$1/fare-engine
	_sim=$1/terminal-sim
	web_http=$(($2 + 1))
	web_pub=$(($2 + 3))
	"$_fe" certs init "$tmp/certs" >/dev/null
	"$_sim" acquirer --listen 127.0.0.1:$(($2 + 2)) \
	    --journal "$tmp/acq.journal" --certs "$tmp/certs" --decline-pct 10 \
	    --seed 5 \
	    >"$tmp/acq.out" 2>"$tmp/acq.log" &
	apid=$!
	web_serve "$1" "$2" 2026-11-29T01:00:00Z
	"$_sim" day --engine 127.0.0.1:"$2" --certs "$tmp/certs" \
	    --tourists 150 --seed 7 --date 2026-11-28 \
	    --taps-out "$tmp/taps.csv" 2>"$tmp/sim.log" ||
	    fail "day: $(tail -3 "$tmp/sim.log")"
	kill -TERM "$pid"
	wait "$pid" || fail "engine did not stop cleanly"
	pid=
	web_serve "$1" "$2" 2026-11-29T06:30:00Z
	_i=0
	until [ "$(sqlite3 "$tmp/engine.db" "SELECT count(*) FROM charges c
	    WHERE c.charge_cents != 0 AND NOT EXISTS (SELECT 1 FROM settlements
	    s WHERE s.account = c.account AND s.service_day = c.service_day
	    AND s.state != 'pending')")" = 0 ]; do
		_i=$((_i + 1))
		[ $_i -lt 600 ] || fail "settlement did not finish"
		sleep 0.2
	done
}

# web_serve BIN PORT CLOCK: the engine with both HTTP ports.
web_serve() {
	"$1"/fare-engine serve --dev --clock "$3" --certs "$tmp/certs" \
	    --tariff tariffs/nl --db "$tmp/engine.db" --listen 127.0.0.1:"$2" \
	    --http 127.0.0.1:$(($2 + 1)) --web 127.0.0.1:$(($2 + 3)) \
	    --acquirer 127.0.0.1:$(($2 + 2)) --settle-interval 1 \
	    2>>"$tmp/engine.log" &
	pid=$!
	wait_healthy $(($2 + 1)) || fail "engine did not start"
}

# wait_exit PID SECONDS: until PID (a child) exits, at most SECONDS; then
# its status as `wait` gives it, or 124 if it is still running.
wait_exit() {
	_i=0
	while kill -0 "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -lt $(($2 * 10)) ] || return 124
		sleep 0.1
	done
	wait "$1"
}
