#!/bin/sh
# The browser test: Debian's chromium driven by playwright-core (npm,
# tests/browser/package-lock.json; it uses the system browser and
# downloads none) against a live engine on a settled, demo-like day.  The
# dashboard's figures equal the views (taps, revenue per operator,
# journeys by status), as served and after its script refreshed them; the
# rider page for a known reference shows the charge and the journeys that
# `audit card` shows for that day, in English, in Dutch and without
# JavaScript; a wrong reference shows "not found"; a basic accessibility
# check on each page.  Screenshots go to $BROWSER_OUT (default
# build/browser-test/).  Nothing is skipped: a missing chromium or npm
# fails the test (tools/deps.sh installs them).
set -eu
. tests/lib.sh
BIN=${1:-bin}
e2e_init browser 8
out=${BROWSER_OUT:-build/browser-test}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "no $CHROMIUM: run tools/deps.sh (Debian's chromium)"
command -v node >/dev/null && command -v npm >/dev/null ||
    fail "no node and npm: run tools/deps.sh"
# playwright-core as locked, installed once (npm ci when it is missing or
# not the locked version).
lock=$(sed -n '/"node_modules\/playwright-core"/,/}/s/.*"version": "\(.*\)".*/\1/p' \
    tests/browser/package-lock.json)
have=$(sed -n 's/^  "version": "\(.*\)".*/\1/p' \
    tests/browser/node_modules/playwright-core/package.json 2>/dev/null || true)
if [ "$have" != "$lock" ]; then
	(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) \
	    >"$tmp/npm.log" 2>&1 || fail "npm ci: $(tail -5 "$tmp/npm.log")"
fi

port=$((32000 + $$ % 190 * 4))
web_day "$BIN" $port
D=2026-11-28
q() { sqlite3 "$tmp/engine.db" "$1"; }

# A capped rider with a transfer discount among three or more journeys,
# paid.
set -- $(q "SELECT s.reference, s.account FROM v_settlements s
    JOIN v_charges c USING (account, service_day)
    WHERE s.service_day = '$D' AND s.kind = 'capture' AND
    c.charge_cents < c.uncapped_cents AND
    s.state = 'approved' AND (SELECT count(*) FROM v_legs l WHERE
    l.account = s.account AND l.service_day = '$D') >= 3 AND EXISTS
    (SELECT 1 FROM v_legs l WHERE l.account = s.account AND l.service_day
    = '$D' AND l.status = 'complete' AND l.contribution_cents <
    l.fare_cents) ORDER BY s.reference LIMIT 1" | tr '|' ' ')
[ $# = 2 ] || fail "no capped, paid rider with a transfer on $D"
ref=$1 account=$2
case $account in
par:*) who="--par ${account#par:}" ;;
*) who="--token $account" ;;
esac
# (audit card names stops and local times where it takes the tariff)
tflag=
"$BIN"/fare-engine audit card --help | grep -q -- --tariff &&
    tflag="--tariff tariffs/nl"
# shellcheck disable=SC2086
"$BIN"/fare-engine audit card "$tmp/engine.db" --csv $tflag $who \
    >"$tmp/card.csv" || fail "audit card $who failed"
q "SELECT json_object('day', '$D',
  'dashboard', json_object(
    'taps', (SELECT count(*) FROM v_taps WHERE time_utc >= '${D}T03:00:00Z'
      AND time_utc < '2026-11-29T03:00:00Z'),
    'revenue', (SELECT json_group_object(network_id, revenue_cents)
      FROM v_operator_revenue WHERE service_day = '$D'),
    'status', (SELECT json_group_object(status, json_object('legs', n,
      'fares_cents', f)) FROM (SELECT status, count(*) AS n,
      sum(fare_cents) AS f FROM v_legs WHERE service_day = '$D'
      GROUP BY status)),
    'charged', (SELECT sum(charge_cents) FROM v_charges
      WHERE service_day = '$D'),
    'captured', (SELECT sum(amount_cents) FROM v_settlements WHERE
      service_day = '$D' AND kind = 'capture' AND state = 'approved')),
  'rider', json_object('reference', '$ref', 'account', '$account',
    'capped', json('true'),
    'card_csv', CAST(readfile('$tmp/card.csv') AS TEXT)))" >"$tmp/expected.json"

rm -rf "$out"
OP=http://127.0.0.1:$web_http PUB=http://127.0.0.1:$web_pub \
    EXPECTED="$tmp/expected.json" OUT="$out" CHROMIUM="$CHROMIUM" \
    CAPS=tariffs/nl/fare_caps.txt \
    node tests/browser/pages.mjs || fail "the browser test failed"
