#!/bin/sh
# HTTP tests of the web side (docs/web-api.md) on a live engine serving a
# settled, demo-like day: content types, caching and security headers,
# which port serves what, GET and HEAD only, size limits, one "not found"
# for every wrong reference, the per-client lookup limit, and the API's
# numbers equal to the auditor views.
set -eu
. tests/lib.sh
BIN=${1:-bin}
e2e_init web 8
port=$((32000 + $$ % 190 * 4))
web_day "$BIN" $port
op=http://127.0.0.1:$web_http
pub=http://127.0.0.1:$web_pub
D=2026-11-28
q() { sqlite3 "$tmp/engine.db" "$1"; }

# get URL [curl options]: status code; headers in $tmp/h, body in $tmp/b.
get() {
	_u=$1
	shift
	curl -s -o "$tmp/b" -D "$tmp/h" -w '%{http_code}' "$@" "$_u" || true
}
header() {	# header NAME: its value in $tmp/h (CR dropped)
	grep -i "^$1:" "$tmp/h" | head -1 | sed 's/^[^:]*: *//' | tr -d '\r'
}
expect() {	# expect WHAT GOT WANT
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}
json_ok() {	# the body is valid JSON
	[ "$(sqlite3 :memory: "SELECT json_valid(CAST(readfile('$tmp/b') AS TEXT))")" = 1 ] ||
	    fail "$1: not JSON: $(head -c 200 "$tmp/b")"
}
jq1() {		# jq1 PATH: a value of the JSON body (SQLite's JSON functions)
	sqlite3 :memory: "SELECT json_extract(CAST(readfile('$tmp/b') AS TEXT), '$1')"
}

# Content types, caching and security headers.
expect "day API" "$(get "$op/api/v1/day?day=$D")" 200
expect "day API type" "$(header Content-Type)" application/json
expect "day API caching" "$(header Cache-Control)" no-store
expect "nosniff" "$(header X-Content-Type-Options)" nosniff
expect "referrer" "$(header Referrer-Policy)" no-referrer
header Content-Security-Policy | grep -q "default-src 'none'" ||
    fail "no Content-Security-Policy"
json_ok "day API"
# The time of the figures as a person reads it: local, its offset named.
jq1 '$.generated_local' | grep -Eq '^20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} \+0[12]:00$' ||
    fail "generated_local: $(jq1 '$.generated_local')"
expect "series API" "$(get "$op/api/v1/series?day=$D")" 200
expect "series API type" "$(header Content-Type)" application/json
json_ok "series API"
expect "series minutes" "$(jq1 '$.minutes')" 1440
expect "dashboard" "$(get "$op/?day=$D")" 200
expect "dashboard type" "$(header Content-Type)" "text/html; charset=utf-8"
expect "dashboard caching" "$(header Cache-Control)" no-store
grep -Eq 'figures as of <time id="generated" data-k="generated_local">20[0-9-]{8} [0-9:]{5} \+0[12]:00</time>' \
    "$tmp/b" || fail "the dashboard's time is not local: $(grep -o 'figures as of[^;]*' "$tmp/b")"
expect "stylesheet" "$(get "$op/static/onecity.css")" 200
expect "stylesheet type" "$(header Content-Type)" "text/css; charset=utf-8"
expect "stylesheet caching" "$(header Cache-Control)" "public, max-age=3600"
expect "script" "$(get "$op/static/dashboard.js")" 200
expect "script type" "$(header Content-Type)" \
    "text/javascript; charset=utf-8"
expect "rider form" "$(get "$pub/trips")" 200
expect "rider form type" "$(header Content-Type)" "text/html; charset=utf-8"
expect "rider form caching" "$(header Cache-Control)" no-store
grep -q '<label for="ref">' "$tmp/b" || fail "rider form: no label"

# Which port serves what: the dashboard never on the public port, the
# rider pages never on the operator port.
for p in / /api/v1/day /api/v1/series /static/dashboard.js /healthz /metrics; do
	expect "public port $p" "$(get "$pub$p")" 404
done
expect "operator port /trips" "$(get "$op/trips")" 404
expect "operator port trips API" "$(get "$op/api/v1/trips?ref=X")" 404
expect "unknown path" "$(get "$op/nothing")" 404
expect "unknown API path" "$(get "$op/api/v1/nothing")" 404
expect "unknown API path type" "$(header Content-Type)" application/json

# GET and HEAD only.
for m in POST PUT DELETE PATCH; do
	expect "$m /api/v1/day" "$(get "$op/api/v1/day" -X $m)" 405
	expect "$m /trips" "$(get "$pub/trips" -X $m)" 405
done
expect "HEAD /" "$(get "$op/?day=$D" -I)" 200
# (curl -I writes the head where the body would go: no page after it)
! grep -q "<html" "$tmp/b" || fail "HEAD answered with a body"
expect "HEAD type" "$(header Content-Type)" "text/html; charset=utf-8"

# Limits: a long query, a big head, a body on a GET; a bad day.
long=$(head -c 600 /dev/zero | tr '\0' a)
expect "long query" "$(get "$op/api/v1/day?day=$long")" 414
big=$(head -c 10000 /dev/zero | tr '\0' b)
code=$(get "$op/api/v1/day" -H "X-Big: $big")
[ "$code" = 400 ] || [ "$code" = 413 ] || [ "$code" = 431 ] ||
    fail "a 10 kB header: got $code, want 400, 413 or 431"
code=$(get "$pub/trips" -X GET --data-binary "@$tmp/taps.csv")
[ "$code" = 413 ] || [ "$code" = 400 ] ||
    fail "a GET with a body: got $code, want 413 or 400"
expect "bad day" "$(get "$op/api/v1/day?day=2026-13-45")" 400
expect "bad day type" "$(header Content-Type)" application/json
expect "still serving" "$(get "$op/healthz")" 200

# The API equals the views.
get "$op/api/v1/day?day=$D" >/dev/null
expect "taps" "$(jq1 '$.taps.acknowledged')" "$(q "SELECT count(*) FROM
    v_taps WHERE time_utc >= '${D}T03:00:00Z' AND
    time_utc < '2026-11-29T03:00:00Z'")"
expect "charged" "$(jq1 '$.charges.charged_cents')" \
    "$(q "SELECT sum(charge_cents) FROM v_charges WHERE service_day = '$D'")"
expect "revenue" "$(jq1 '$.charges.revenue_cents')" \
    "$(q "SELECT sum(revenue_cents) FROM v_operator_revenue
    WHERE service_day = '$D'")"
for n in $(q "SELECT network_id FROM v_operator_revenue
    WHERE service_day = '$D'"); do
	expect "revenue of $n" "$(jq1 "\$.revenue_cents.$n")" \
	    "$(q "SELECT revenue_cents FROM v_operator_revenue
	    WHERE service_day = '$D' AND network_id = '$n'")"
done
for st in $(q "SELECT DISTINCT status FROM v_legs WHERE service_day = '$D'"); do
	expect "legs $st" "$(jq1 "\$.journeys_by_status.$st.legs")" \
	    "$(q "SELECT count(*) FROM v_legs WHERE service_day = '$D'
	    AND status = '$st'")"
done
expect "captured" "$(jq1 '$.settlement.captured.cents')" \
    "$(q "SELECT coalesce(sum(amount_cents), 0) FROM v_settlements WHERE
    service_day = '$D' AND kind = 'capture' AND state = 'approved'")"
expect "declined" "$(jq1 '$.settlement.declined.n')" \
    "$(q "SELECT count(*) FROM v_settlements WHERE service_day = '$D' AND
    kind = 'capture' AND state = 'declined'")"
expect "connected (live engine)" "$(jq1 '$.validators.connected')" 0
[ "$(jq1 '$.crl.days_to_expiry')" -ge 0 ] || fail "no CRL expiry"

# A known reference: the rider's day equals the views, and a capped day
# names a cap of the tariff.
set -- $(q "SELECT s.reference, s.account FROM v_settlements s JOIN v_charges
    c USING (account, service_day) WHERE s.service_day = '$D' AND s.kind =
    'capture' AND s.state = 'approved' AND c.charge_cents < c.uncapped_cents
    ORDER BY s.reference LIMIT 1" | tr '|' ' ')
[ $# = 2 ] || fail "no capped rider on $D"
expect "trips API" "$(get "$pub/api/v1/trips?ref=$1" --interface 127.0.0.2)" 200
expect "trips API type" "$(header Content-Type)" application/json
expect "trips API caching" "$(header Cache-Control)" no-store
json_ok "trips API"
expect "trip charge" "$(jq1 '$.charge_cents')" "$(q "SELECT charge_cents FROM
    v_charges WHERE account = '$2' AND service_day = '$D'")"
expect "trip legs" "$(sqlite3 :memory: "SELECT json_array_length(CAST(
    readfile('$tmp/b') AS TEXT), '\$.legs')")" "$(q "SELECT count(*) FROM
    v_legs WHERE account = '$2' AND service_day = '$D'")"
cap=$(jq1 '$.caps[0]')
[ -n "$cap" ] && grep -qF ",$cap," tariffs/nl/fare_caps.txt ||
    fail "capped day: cap '$cap' is not one of the tariff's"
grep -q "$2" "$tmp/b" && fail "the trips API shows the account"
expect "trip page" "$(get "$pub/trips?ref=$1&lang=nl" --interface 127.0.0.2)" 200
grep -q '<html lang="nl">' "$tmp/b" || fail "trip page: not in Dutch"
# As a rider types it from a bank statement: lower case, in groups,
# the letter O for the digit 0 (the reference's base32 has no O, I, L).
cp "$tmp/b" "$tmp/trip.html"
typed=$(printf '%s' "$1" | tr 'A-Z0' 'a-zo' | sed 's/^\(....\)\(....\)/\1+\2-/')
expect "trip page, typed '$typed'" "$(get "$pub/trips?ref=$typed&lang=nl" \
    --interface 127.0.0.3)" 200
cmp -s "$tmp/b" "$tmp/trip.html" || fail "typed '$typed': another page"
# A check-out with no check-in before it is named as such (not "no
# check-out", which the rider did do), with advice for both taps.
nci=$(q "SELECT s.reference FROM v_settlements s JOIN v_legs l USING
    (account, service_day) WHERE s.service_day = '$D' AND s.kind = 'capture'
    AND l.status = 'incomplete' AND coalesce(l.from_stop_id, '') = ''
    ORDER BY s.reference LIMIT 1")
[ -n "$nci" ] || fail "no day with a check-out but no check-in on $D"
expect "no check-in page" "$(get "$pub/trips?ref=$nci" --interface 127.0.0.4)" 200
grep -q 'no check-in: the maximum fare' "$tmp/b" ||
    fail "a leg with no check-in is not named so: $(grep -o 'no check-[a-z]*[^<]*' "$tmp/b" | head -3)"
grep -q 'when you enter and' "$tmp/b" || fail "no advice for a missing check-in"

# One "not found" for every wrong reference, in HTML and in JSON (each
# check from its own loopback address: the limit is per client).  Then
# the per-client limit: fixed minute windows, so 21 lookups within a
# minute cross at most one window boundary and at least one is refused;
# another client is not.
expect "wrong ref" "$(get "$pub/trips?ref=NOSUCHREF0000")" 404
# The public port does not time its lookups for whoever asks.
[ -z "$(header Server-Timing)" ] ||
    fail "public port: Server-Timing $(header Server-Timing)"
cp "$tmp/b" "$tmp/nf.html"
k=10
for r in "AAAA" "%27%20or%201%3D1%20--" "%3Cscript%3E" "" "%00" "++++" \
    "$long"; do
	k=$((k + 1))
	code=$(get "$pub/trips?ref=$r" --interface 127.0.0.$k)
	[ "$r" = "$long" ] && { expect "long ref" "$code" 414; continue; }
	expect "ref '$r'" "$code" 404
	cmp -s "$tmp/b" "$tmp/nf.html" || fail "ref '$r': another not-found page"
	expect "API ref '$r'" "$(get "$pub/api/v1/trips?ref=$r" \
	    --interface 127.0.0.$k)" 404
	expect "API ref '$r' body" "$(cat "$tmp/b")" '{"error":"not found"}'
done
i=0
first429=
while [ $i -lt 21 ]; do
	i=$((i + 1))
	code=$(get "$pub/trips?ref=NOSUCH$i" --interface 127.0.0.99)
	case $code in
	404) ;;
	429) [ -n "$first429" ] || first429=$i
	    expect "Retry-After" "$(header Retry-After)" 60 ;;
	*) fail "lookup $i: $code" ;;
	esac
done
[ -n "$first429" ] || fail "21 lookups in a row were never limited"
[ "$first429" -gt 10 ] || fail "limited after $((first429 - 1)) lookups"
expect "another client" "$(get "$pub/trips?ref=NOSUCH" \
    --interface 127.0.0.98)" 404
echo "web: lookups refused (429) from lookup ${first429} of 21 in a row"

echo "web: Server-Timing of the dashboard: $(get "$op/?day=$D" >/dev/null;
    header Server-Timing)"

# Text stored by the engine or named by the feed is escaped everywhere
# on the dashboard, in attributes too: a refused tap's reason with markup.
before=$(get "$op/api/v1/day?day=$D" >/dev/null; jq1 '$.taps.refused')
sqlite3 -cmd ".timeout 10000" "$tmp/engine.db" "INSERT INTO refused
    (received_utc, device_id, reason, detail) VALUES (strftime('%s',
    '${D}T12:00:00Z'), 'dev<b>x</b>', 'r\"><i>x</i>', 'd<i>x</i>')"
i=0
while [ "$(get "$op/api/v1/day?day=$D" >/dev/null; jq1 '$.taps.refused')" = \
    "$before" ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "the dashboard never counted the refused tap"
	sleep 0.1
done
expect "dashboard" "$(get "$op/?day=$D")" 200
grep -q 'r&quot;&gt;&lt;i&gt;x' "$tmp/b" || fail "the reason is not shown"
! grep -q '<i>' "$tmp/b" || fail "markup from the database in the \
dashboard: $(grep -o '.\{40\}<i>.\{20\}' "$tmp/b" | head -1)"
