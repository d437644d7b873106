#!/bin/sh
# A secured cluster: nats-server with TLS (clients verified: mutual TLS)
# and users with passwords (tools/nats-cluster.sh with NATS_CONF_EXTRA).
# A worker without the password, without TLS or without its client
# certificate, or with a wrong password, is refused at start (and so is
# anybody else: nobody publishes taps or touches the buckets without
# credentials); a password file others can read is refused; with
# --nats-user, --nats-password-file, --nats-ca, --nats-cert and
# --nats-key (serve takes them from its config file too) taps flow from
# a validator through a gateway to the shard's database.
set -u
BIN=${1:-bin}
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
. tests/cluster-lib.sh
e2e_init cluster-auth.test.sh
trap 'cl_cleanup; [ -n "${KEEP:-}" ] || e2e_cleanup' EXIT
[ -n "${KEEP:-}" ] && { tmp=$KEEP; rm -rf "$tmp"; mkdir -p "$tmp"; }
base=$((20000 + $$ % 150 * 50 + 25))
CLOCK=2026-11-29T01:00:00Z

# The cluster's own CA (not the validators'): the nodes' certificate, a
# client certificate for the gateway and the worker.
c=$tmp/natsca
"$BIN"/fare-engine certs init "$c" >/dev/null || fail "certs init (NATS CA)"
# The nodes': 127.0.0.1 in subjectAltName (libnats checks the address
# it dialled against it).
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' \
    >"$tmp/san.ext"
(umask 077; openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -nodes -keyout "$c/nats.key" -subj /CN=onecity-nats -out "$tmp/nats.csr" \
    2>"$tmp/openssl.log") || fail "openssl req: $(cat "$tmp/openssl.log")"
openssl x509 -req -in "$tmp/nats.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" \
    -CAcreateserial -days 30 -extfile "$tmp/san.ext" -out "$c/nats.crt" \
    2>"$tmp/openssl.log" || fail "openssl x509: $(cat "$tmp/openssl.log")"
"$BIN"/fare-engine certs device "$c" gw-a >/dev/null || fail "certs device"
"$BIN"/fare-engine certs device "$c" worker-a >/dev/null || fail "certs device"
"$BIN"/fare-engine certs init "$tmp/certs" >/dev/null || fail "certs init"
(umask 077; echo "gw-secret-4711" >"$tmp/gw.pw"; echo "wk-secret-0815" >"$tmp/wk.pw")
cat >"$tmp/secure.conf" <<EOC
tls {
  cert_file: "$c/nats.crt"
  key_file: "$c/nats.key"
  ca_file: "$c/ca.crt"
  verify: true
}
authorization {
  users = [
    {user: gateway, password: "gw-secret-4711"}
    {user: worker, password: "wk-secret-0815"}
  ]
}
EOC
NATS_CONF_EXTRA=$tmp/secure.conf cl_start ||
    fail "the secured NATS cluster did not start"
tlsurls=$(echo "$urls" | sed 's|nats://|tls://|g')

# refused LOG WHAT CMD...: CMD exits non-zero within 60 s, LOG says WHAT.
refused() {
	_log=$1 _what=$2
	shift 2
	"$@" 2>"$_log" &
	_p=$!
	_i=0
	while kill -0 $_p 2>/dev/null && [ $_i -lt 600 ]; do
		_i=$((_i + 1))
		sleep 0.1
	done
	if kill -0 $_p 2>/dev/null; then
		kill -KILL $_p
		fail "$*: still running, not refused ($_what)"
	fi
	wait $_p && fail "$*: exit 0, not refused ($_what)"
	grep -qi "$_what" "$_log" || fail "$*: not refused for '$_what': \
$(grep -v '^tariffs' "$_log" | tail -n 2)"
}
# wk URLS [OPTIONS...]: a worker of shard 0 of 1 (stderr: the caller's).
wk() {
	_u=$1
	shift
	"$BIN"/fare-engine worker --nats "$_u" --shard 0 --shards 1 \
	    --db "$tmp/shard0.db" --tariff tariffs/nl --clock "$CLOCK" "$@"
}
cert="--nats-ca $c/ca.crt --nats-cert $c/devices/worker-a.crt \
--nats-key $c/devices/worker-a.key"

# 1. No credentials at all; the password without TLS; TLS without the
# client certificate; a wrong password; a password file others can read.
refused "$tmp/r1.log" "cannot connect to NATS" wk "$urls"
refused "$tmp/r2.log" "cannot connect to NATS" wk "$urls" \
    --nats-user worker --nats-password-file "$tmp/wk.pw"
refused "$tmp/r3.log" "cannot connect to NATS" wk "$tlsurls" \
    --nats-user worker --nats-password-file "$tmp/wk.pw" --nats-ca "$c/ca.crt"
(umask 077; echo "guess" >"$tmp/bad.pw")
# shellcheck disable=SC2086
refused "$tmp/r4.log" "authorization" wk "$tlsurls" --nats-user worker \
    --nats-password-file "$tmp/bad.pw" $cert
chmod 644 "$tmp/wk.pw"
# shellcheck disable=SC2086
refused "$tmp/r5.log" "chmod 600" wk "$tlsurls" --nats-user worker \
    --nats-password-file "$tmp/wk.pw" $cert
chmod 600 "$tmp/wk.pw"
wk "$tlsurls" --nats-user worker >/dev/null 2>"$tmp/r6.log"
[ $? -eq 2 ] && grep -q "go together" "$tmp/r6.log" ||
    fail "--nats-user without its password file: $(cat "$tmp/r6.log")"

# 2. With all of it: a worker, a gateway configured in its config file,
# and a validator's taps stored on the shard.
# shellcheck disable=SC2086
wk "$tlsurls" --nats-user worker --nats-password-file "$tmp/wk.pw" $cert \
    2>"$tmp/w0.log" &
echo $! >"$tmp/w0.pid"
cat >"$tmp/gw.ini" <<EOC
[engine]
nats = $tlsurls
shards = 1
nats_user = gateway
nats_password_file = $tmp/gw.pw
nats_ca = $c/ca.crt
nats_cert = $c/devices/gw-a.crt
nats_key = $c/devices/gw-a.key
EOC
"$BIN"/fare-engine serve --config "$tmp/gw.ini" --dev --clock "$CLOCK" \
    --certs "$tmp/certs" --tariff tariffs/nl --db "$tmp/gw0.db" \
    --listen 127.0.0.1:$((base + 30)) --http 127.0.0.1:$((base + 31)) \
    2>"$tmp/g0.log" &
echo $! >"$tmp/g0.pid"
_i=0
until wait_healthy $((base + 31)); do
	_i=$((_i + 1))
	kill -0 "$(cat "$tmp/g0.pid")" 2>/dev/null && [ $_i -lt 6 ] ||
	    fail "the gateway with credentials is not healthy: \
$(grep -v '^tariffs' "$tmp/g0.log" | tail -n 2)"
done
"$BIN"/terminal-sim day --engine "127.0.0.1:$((base + 30))" \
    --certs "$tmp/certs" --tourists 5 --seed 9 --date 2026-11-28 \
    --taps-out "$tmp/day.csv" --ack-log "$tmp/acks" 2>"$tmp/sim.log" ||
    fail "terminal-sim day: $(tail -n 2 "$tmp/sim.log")"
n=$(cut -d' ' -f1 "$tmp/acks" | sort -u | wc -l)
[ "$n" -gt 0 ] || fail "no tap acknowledged"
wait_stored "$n" || fail "$n taps acknowledged, not stored on the shard: \
$(grep -v '^tariffs' "$tmp/w0.log" | tail -n 2)"
echo "cluster-auth: no credentials, no TLS, no client certificate, a wrong" \
    "or readable password refused; with them $n taps went over TLS to" \
    "the shard"
