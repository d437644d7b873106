#!/bin/sh
# Installs the Debian 12 packages OneCity builds, tests and runs with.
# A quick no-op when they are all present; apt-get only for what is missing.
set -eu
PKGS="gcc make libc6-dev libevent-dev libmbedtls-dev libsqlite3-dev sqlite3 \
libcmocka-dev libinih-dev tzdata curl clang libclang-rt-14-dev valgrind \
systemd man-db build-essential dpkg-dev bsdutils nats-server libnats-dev"
# The secured cluster's test: openssl makes the NATS nodes' certificate
# (an IP address in subjectAltName, which libnats checks).
PKGS="$PKGS openssl"
# The browser test: Debian's chromium (playwright-core drives it; npm
# installs playwright-core from tests/browser/package-lock.json).
PKGS="$PKGS chromium"
missing=""
# Node.js and npm: the machine's own when it has them (a newer Node.js
# than Debian's), else Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	missing=" nodejs npm"
fi
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install:$missing (run as root, or install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
