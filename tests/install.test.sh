#!/bin/sh
# make install: into a scratch DESTDIR (PREFIX=/usr, as a package would)
# every file lands where the unit and the example config say; the man
# pages list every subcommand; a second install keeps an edited config;
# installed under a scratch PREFIX, the unit passes `systemd-analyze
# verify` with nothing to say, and the engine serves with the installed
# example config and tariff; debian/ builds a .deb with dpkg-buildpackage.
set -eu
. tests/lib.sh
BIN=${1:-bin}
e2e_init install 10
san=
[ "$BIN" = bin-san ] && san="SAN=1"
mk() { make -s --no-print-directory $san "$@" >"$tmp/make.log" 2>&1 ||
    fail "make $*: $(tail -5 "$tmp/make.log")"; }

d=$tmp/dest
mk install PREFIX=/usr DESTDIR="$d"
for f in usr/bin/fare-engine usr/bin/terminal-sim \
    usr/share/man/man1/fare-engine.1 usr/share/man/man1/terminal-sim.1 \
    usr/lib/systemd/system/onecity-engine.service \
    usr/lib/sysusers.d/onecity.conf etc/onecity/engine.ini \
    usr/share/doc/onecity/engine.ini.example usr/share/doc/onecity/README.md \
    usr/share/onecity/tariffs/nl/fare_leg_rules.txt; do
	[ -s "$d/$f" ] || fail "make install did not install $f"
done
[ -x "$d/usr/bin/fare-engine" ] || fail "fare-engine not executable"
unit=$d/usr/lib/systemd/system/onecity-engine.service
grep -qx "ExecStart=/usr/bin/fare-engine serve --config /etc/onecity/engine.ini" \
    "$unit" || fail "unit: $(grep ExecStart= "$unit")"
for k in "User=onecity" "StateDirectory=onecity" "ProtectSystem=strict" \
    "NoNewPrivileges=yes" 'ExecReload=/bin/kill -HUP $MAINPID'; do
	grep -qxF "$k" "$unit" || fail "unit lacks $k"
done
nofile=$(sed -n 's/^LimitNOFILE=//p' "$unit")
maxconn=$(sed -n 's/^max_connections = \([0-9]*\).*/\1/p' "$d/etc/onecity/engine.ini")
# max_connections + 256 HTTP connections + 64 in reserve (engine/server.c).
[ "$nofile" -ge $((maxconn + 320)) ] ||
    fail "LimitNOFILE=$nofile is short of max_connections $maxconn + 320"
grep -q "^tariff = /usr/share/onecity/tariffs/nl " "$d/etc/onecity/engine.ini" ||
    fail "config's tariff path: $(grep ^tariff "$d/etc/onecity/engine.ini")"
"$d/usr/bin/fare-engine" tariff check "$d/usr/share/onecity/tariffs/nl" \
    >/dev/null 2>&1 || fail "the installed tariff does not load"
# The man pages: every subcommand of --help, rendered by man.
"$d/usr/bin/fare-engine" --help |
    sed -n 's/^  fare-engine \([a-z]*\( [a-z][a-z]*\)\{0,1\}\)\( [A-Z[(-].*\)\{0,1\}$/\1/p' \
    >"$tmp/cmds"
[ "$(wc -l <"$tmp/cmds")" -ge 13 ] || fail "only $(wc -l <"$tmp/cmds") subcommands"
MANWIDTH=200 man -l "$d/usr/share/man/man1/fare-engine.1" >"$tmp/man" 2>/dev/null ||
    fail "man cannot render fare-engine.1"
while read -r c; do
	grep -q "usage: fare-engine $c" "$tmp/man" || fail "fare-engine.1 lacks $c"
done <"$tmp/cmds"
# A second install keeps the operator's config.
echo "; edited" >>"$d/etc/onecity/engine.ini"
mk install PREFIX=/usr DESTDIR="$d"
grep -q "^; edited" "$d/etc/onecity/engine.ini" || fail "install overwrote engine.ini"

# Under a scratch PREFIX the paths in the unit exist: systemd-analyze
# verify checks them, and the man page its Documentation= names.
p=$tmp/prefix
mk install PREFIX="$p"
if command -v systemd-analyze >/dev/null; then
	MANPATH=$p/share/man: systemd-analyze verify \
	    "$p/lib/systemd/system/onecity-engine.service" >"$tmp/verify" 2>&1 ||
	    fail "systemd-analyze verify: $(cat "$tmp/verify")"
	[ ! -s "$tmp/verify" ] || fail "systemd-analyze verify says: $(cat "$tmp/verify")"
	verified="systemd-analyze verify passes"
else
	fail "systemd-analyze is missing (tools/deps.sh installs systemd)"
fi
# The engine runs with the installed config (its tariff path resolved);
# flags give it a scratch database, certificates and ports.
"$p/bin/fare-engine" certs init "$tmp/certs" >/dev/null
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' \
    >"$tmp/token.key")	# a key others can read is refused
port=$((31300 + $$ % 200 * 2))
"$p/bin/fare-engine" serve --config "$p/etc/onecity/engine.ini" \
    --token-key-file "$tmp/token.key" --certs "$tmp/certs" --db "$tmp/e.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$((port + 1)) 2>"$tmp/engine.log" &
pid=$!
wait_healthy $((port + 1)) || fail "the engine did not start with the installed config"
grep -q "event=serving" "$tmp/engine.log" || fail "no serving event"
kill -TERM "$pid"
wait "$pid" || fail "the engine did not stop cleanly"
pid=
# The Debian package: dpkg-buildpackage -us -uc -b in a copy of the tree
# (its clean step runs make clean).
mkdir -p "$tmp/deb/src"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -co --exclude-standard | while read -r f; do
		[ -f "$f" ] && echo "$f"
	done
else
	find . -path './build*' -prune -o -path './bin*' -prune -o -type f -print
fi | tar -cf - -T - | (cd "$tmp/deb/src" && tar xf -)
# As from an operator's shell: not the jobserver of a `make -j2 test` that
# runs this script (debian/rules' own make -j2 would warn that it is gone).
(cd "$tmp/deb/src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    dpkg-buildpackage -us -uc -b) >"$tmp/deb.log" 2>&1 ||
    fail "dpkg-buildpackage: $(tail -5 "$tmp/deb.log")"
deb=$(ls "$tmp"/deb/onecity-engine_*.deb)
dpkg-deb -c "$deb" >"$tmp/deb.files"
for f in ./usr/bin/fare-engine ./usr/bin/terminal-sim \
    ./lib/systemd/system/onecity-engine.service \
    ./usr/lib/sysusers.d/onecity.conf ./etc/onecity/engine.ini \
    ./usr/share/man/man1/fare-engine.1 ./usr/share/doc/onecity-engine/copyright; do
	grep -q " $f\$" "$tmp/deb.files" || fail "the .deb lacks $f"
done
dpkg-deb -f "$deb" Depends | grep -q "libsqlite3-0" || fail "the .deb's Depends: $(dpkg-deb -f "$deb" Depends)"
[ "$(dpkg-deb --ctrl-tarfile "$deb" | tar xOf - ./conffiles)" = /etc/onecity/engine.ini ] ||
    fail "engine.ini is not a conffile"
! grep -q "warning" "$tmp/deb.log" || fail "dpkg-buildpackage warned: $(grep warning "$tmp/deb.log")"

echo "install: DESTDIR install complete, man pages list $(wc -l <"$tmp/cmds") subcommands, config kept on reinstall, $verified, the engine serves with the installed config, dpkg-buildpackage made $(basename "$deb")"
