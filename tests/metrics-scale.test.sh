#!/bin/sh
# Found in review of issue 16 item 3: the HTTP port's response cap (1 MiB)
# made /metrics a 500 once some 13,000 validators had tapped (a line per
# validator), so monitoring went blind at the fleet the engine is sized
# for.  /metrics of 20,000 validators with 64-byte ids is served and
# well-formed; and clients that ask for it and never read hold at most
# the listener's budget of queued responses (HTTP_QUEUED_MAX), not one
# whole response each, while /healthz is served.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
e2e_init metrics-scale 10
port=$((24000 + $$ % 1000 * 2))
hport=$((port + 1))
url=http://127.0.0.1:$hport
rss_kib() { awk '/^VmRSS/ { print $2 }' /proc/"$pid"/status; }
# Under ASan (make SAN=1 test) freed memory waits in a quarantine, which
# RSS would count: none here, so that RSS measures what is held.
serve() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
	    "$FE" serve --dev --certs "$tmp/certs" --tariff ../shared/examples/mini \
	    --db "$tmp/engine.db" --listen 127.0.0.1:$port \
	    --http 127.0.0.1:$hport --metrics-refresh 1 2>>"$tmp/engine.log" &
	pid=$!
	wait_healthy $hport || fail "no engine"
}
"$FE" certs init "$tmp/certs" >/dev/null
serve
kill -TERM "$pid" && wait "$pid" || fail "engine did not stop cleanly"
pid=
# 20,000 validators seen, each id 64 bytes (the longest a CN allows).
sqlite3 "$tmp/engine.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL
    SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO taps SELECT
    printf('gate-%059d', i) || ':1', printf('gate-%059d', i), 1,
    strftime('%s', 'now'), printf('%032x', i), NULL, 'CITY', 'C', 'in',
    strftime('%s', 'now') FROM n"
serve
i=0
until [ "$(curl -s -m 10 -o "$tmp/metrics" -w '%{http_code}' "$url/metrics")" = 200 ] &&
    [ "$(grep -c '^onecity_validator_last_seen_timestamp_seconds{' "$tmp/metrics")" = 20000 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "/metrics of 20,000 validators: $(head -c 200 "$tmp/metrics")"
	sleep 0.2
done
size=$(wc -c <"$tmp/metrics")
awk -f tests/promtext.awk "$tmp/metrics" >"$tmp/promtext" ||
    fail "/metrics is not strict Prometheus text: $(head -5 "$tmp/promtext")"
# 40 clients ask for it and never read: 40 x $size bytes without a budget.
rss0=$(rss_kib)
"$SIM" idle --engine 127.0.0.1:$hport --connections 40 --hold 6 \
    --send 'GET /metrics HTTP/1.1\r\n\r\n' >"$tmp/idle.out" &
idle=$!
i=0
until grep -q "connections open" "$tmp/idle.out" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "idle connections never opened"
	sleep 0.1
done
max=$rss0
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	r=$(rss_kib)
	[ "$r" -gt "$max" ] && max=$r
	sleep 0.1
done
[ "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ] ||
    fail "/healthz not served while 40 clients held /metrics"
[ $((max - rss0)) -lt 40960 ] ||
    fail "40 unread /metrics of $size bytes grew the engine from $rss0 to $max KiB"
wait "$idle" || true
idle=
echo "metrics-scale: /metrics of 20,000 validators served ($size bytes," \
    "strict); 40 clients not reading it: RSS $rss0 -> $max KiB"
