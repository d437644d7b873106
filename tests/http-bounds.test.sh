#!/bin/sh
# Issue 16 item 3, "the HTTP port can take the engine down": GET and HEAD
# only (405), heads and bodies capped (413), a 256 MiB POST costs no
# memory, idle and half-sent connections are capped and timed out while
# /healthz and a validator are served, descriptors stay bounded;
# max_connections is checked against RLIMIT_NOFILE at start-up; and with
# descriptors exhausted the validator listener pauses, /healthz fails and
# says why, and the log stays short.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
e2e_init http-bounds 20
port=$((22000 + $$ % 1000 * 2))
hport=$((port + 1))
url=http://127.0.0.1:$hport
code() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@" || true; }
metric() { curl -s -m 10 "$url/metrics" | sed -n "s/^$1 //p"; }
fds() { ls /proc/"$pid"/fd | wc -l; }
rss_kib() { awk '/^VmRSS/ { print $2 }' /proc/"$pid"/status; }
"$FE" certs init "$tmp/certs" >/dev/null

# RLIMIT_NOFILE below what HTTP and the reserve need: refused, and said.
if (ulimit -n 200 && "$FE" serve --dev --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/low.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$hport) 2>"$tmp/low.log"; then
	fail "the engine started with 200 descriptors for 20,000 validators"
fi
grep -q "RLIMIT_NOFILE is 200: the engine needs at least" "$tmp/low.log" ||
    fail "no reason given: $(cat "$tmp/low.log")"

# 1024 descriptors: max_connections lowered to fit, and said.
(ulimit -n 1024 && exec "$FE" serve --dev --handshake-timeout 2 \
    --certs "$tmp/certs" --tariff tariffs/nl --db "$tmp/engine.db" \
    --listen 127.0.0.1:$port --http 127.0.0.1:$hport) 2>"$tmp/engine.log" &
pid=$!
wait_healthy $hport || fail "no engine"
grep -q "event=max_connections_lowered from=20000 to=704 nofile=1024 " \
    "$tmp/engine.log" || fail "max_connections not checked against RLIMIT_NOFILE"

# Methods and sizes.
for m in POST PUT DELETE OPTIONS PATCH; do
	[ "$(code -X $m "$url/healthz")" = 405 ] || fail "$m was not refused with 405"
done
curl -s -m 10 -D "$tmp/h" -X POST -d x "$url/healthz" >/dev/null || true
grep -qi '^Allow: GET, HEAD' "$tmp/h" || fail "405 without Allow: GET, HEAD"
[ "$(code -I "$url/healthz")" = 200 ] || fail "HEAD /healthz not 200"
[ -z "$(curl -s -m 10 -I "$url/healthz" | sed -n '/^\r*$/,$p' | tr -d '\r\n')" ] ||
    fail "HEAD answered with a body"
[ "$(code -H 'Content-Length: 268435456' "$url/healthz")" = 413 ] ||
    fail "a GET announcing 256 MiB was not refused with 413"
big=$(head -c 9000 /dev/zero | tr '\0' a)
[ "$(code -H "X-Big: $big" "$url/healthz")" = 413 ] ||
    fail "a 9,000-byte header was not refused with 413"
[ "$(code "$url/nowhere")" = 404 ] || fail "an unknown path was not 404"
rss0=$(rss_kib)
truncate -s 256M "$tmp/big"
for m in POST PUT; do
	[ "$(code -X $m -T "$tmp/big" "$url/healthz")" = 405 ] ||
	    fail "a 256 MiB $m was not refused with 405"
done
rss1=$(rss_kib)
[ $((rss1 - rss0)) -lt 8192 ] ||
    fail "a 256 MiB POST grew the engine from $rss0 to $rss1 KiB"

# 400 idle and 400 half-sent connections: capped at 256, /healthz and a
# validator served meanwhile, descriptors bounded, all timed out.
fd0=$(fds)
"$SIM" idle --engine 127.0.0.1:$hport --connections 400 --hold 40 \
    >"$tmp/idle1.out" &
idle=$!
"$SIM" idle --engine 127.0.0.1:$hport --connections 400 --hold 40 \
    --send 'GET /healthz HTTP/1.1\r\nX-Slow: ' >"$tmp/idle2.out" &
sim=$!
i=0
until grep -q "connections open" "$tmp/idle1.out" "$tmp/idle2.out" 2>/dev/null &&
    [ "$(grep -l "connections open" "$tmp/idle1.out" "$tmp/idle2.out" | wc -l)" = 2 ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "idle connections never opened"
	sleep 0.1
done
fd1=$(fds)
[ "$fd1" -le $((fd0 + 256 + 8)) ] ||
    fail "800 HTTP connections took $((fd1 - fd0)) descriptors (cap 256)"
ok=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
	[ "$(code "$url/healthz")" = 200 ] && { ok=1; break; }
done
[ $ok = 1 ] || fail "/healthz not answered while the HTTP cap was full"
"$SIM" load --engine 127.0.0.1:$port --certs "$tmp/certs" --validators 1 \
    --rate 50 --duration 1 >"$tmp/load.out" 2>&1 ||
    fail "a validator was not served: $(cat "$tmp/load.out")"
evicted=$(metric 'onecity_http_closed_total{why="evicted"}')
[ "${evicted:-0}" -ge 500 ] || fail "only ${evicted:-0} connections evicted at the cap"
# Still held by the clients, the survivors time out (10 s) and close.
i=0
until [ "$(metric onecity_http_connections)" -le 1 ] 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "idle HTTP connections not timed out"
	sleep 0.1
done
[ "$(metric 'onecity_http_closed_total{why="timeout"}')" -ge 1 ] ||
    fail "no timeout counted"
kill "$idle" "$sim" 2>/dev/null || true
wait "$idle" "$sim" 2>/dev/null || true
idle= sim=

# Descriptors run out: the validator listener pauses, /healthz says so
# (through the spare descriptor), the log stays short; then it recovers.
prlimit --pid "$pid" --nofile=$(($(fds) + 4)):1024
"$SIM" idle --engine 127.0.0.1:$port --connections 200 --hold 6 \
    >"$tmp/idle3.out" &
idle=$!
i=0
until grep -q "event=accept_failed .*error=\"Too many open files" "$tmp/engine.log"; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "descriptors never ran out"
	sleep 0.1
done
curl -s -m 10 -o "$tmp/health" -w '%{http_code}' "$url/healthz" >"$tmp/hcode" || true
[ "$(cat "$tmp/hcode")" = 503 ] ||
    fail "/healthz said $(cat "$tmp/hcode") with descriptors exhausted: $(cat "$tmp/health" 2>/dev/null)"
grep -q "accept() failed" "$tmp/health" || fail "/healthz gave no reason: $(cat "$tmp/health")"
wait "$idle" || true
idle=
prlimit --pid "$pid" --nofile=1024:1024
i=0
until [ "$(code "$url/healthz")" = 200 ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "/healthz did not recover"
	sleep 0.1
done
"$SIM" load --engine 127.0.0.1:$port --certs "$tmp/certs" --validators 1 \
    --rate 50 --duration 1 >"$tmp/load.out" 2>&1 ||
    fail "no validator served after descriptors came back: $(cat "$tmp/load.out")"
# At most 10 a minute for each listener; the run may span two minutes.
n=$(grep -c "event=accept_failed" "$tmp/engine.log")
[ "$n" -le 40 ] || fail "$n accept lines logged (at most 10 a minute)"
lines=$(wc -l <"$tmp/engine.log")
echo "http-bounds: 405/413/404 as specified; 256 MiB POST: RSS $rss0 -> $rss1 KiB;" \
    "800 idle/half-sent connections held in $((fd1 - fd0)) descriptors, $evicted evicted," \
    "the rest timed out; out of descriptors: /healthz 503, $n accept lines, $lines log lines in all"
