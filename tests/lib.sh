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
	"$1" price --tariff "$2" "$3" |
	    sed 's/^{"account":"\([^"]*\)","service_day":"\([^"]*\)","charge_cents":\([-0-9]*\),.*/\1|\2|\3/'
}

# db_charges DB: the same lines from the engine's v_charges.
db_charges() {
	sqlite3 "$1" "SELECT account, service_day, charge_cents FROM v_charges
	    ORDER BY account, service_day"
}
