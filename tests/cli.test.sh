#!/bin/sh
# The command lines follow one convention (fare/opt.h): every command and
# subcommand of fare-engine and terminal-sim that the top-level usage lists
# answers -h and --help on stdout with exit 0; bad usage says what is wrong
# on stderr and exits 2 (unknown options, bad numbers, invalid days,
# exclusive options, missing operands); a missing file says it is missing.
set -u
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
e2e_init cli.test.sh

# expect RC PATTERN CMD...: CMD exits RC and its stderr matches PATTERN.
expect() {
	_rc=$1 _pat=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	_got=$?
	[ "$_got" = "$_rc" ] || fail "$*: exit $_got, expected $_rc: $(head -2 "$tmp/err")"
	grep -q -e "$_pat" "$tmp/err" ||
	    fail "$*: stderr does not say '$_pat': $(head -2 "$tmp/err")"
}

# Every subcommand the top-level usage lists, and each mode of the simulator.
"$FE" --help >"$tmp/top" || fail "fare-engine --help: exit $?"
sed -n 's/^  fare-engine \([a-z]*\)\( [a-z]*\)\{0,1\} .*/\1\2/p' "$tmp/top" |
    sed 's/ \([A-Z[(-]\).*//' >"$tmp/cmds"
for c in "tariff check" price "certs init" "certs device" "certs revoke" \
    serve "audit verify" "audit card" "audit operators" "audit explain" \
    "audit keygen" "audit checkpoint" "audit reconcile" \
    "deny add" "deny remove"; do
	grep -qx "$c" "$tmp/cmds" || fail "fare-engine --help does not list '$c'"
done
n=0
while read -r c; do
	for h in --help -h; do
		# shellcheck disable=SC2086
		"$FE" $c $h >"$tmp/out" 2>"$tmp/err" ||
		    fail "fare-engine $c $h: exit $?"
		head -1 "$tmp/out" | grep -q "^usage: fare-engine $c" ||
		    fail "fare-engine $c $h: no usage on stdout"
		[ -s "$tmp/err" ] && fail "fare-engine $c $h: wrote to stderr"
	done
	# shellcheck disable=SC2086
	expect 2 "unknown option '--no-such-flag'" "$FE" $c --no-such-flag
	n=$((n + 1))
done <"$tmp/cmds"
[ "$n" -ge 12 ] || fail "only $n subcommands listed"
for m in replay day load acquirer idle; do
	"$SIM" --help | grep -q "^  terminal-sim $m " ||
	    fail "terminal-sim --help does not list $m"
	for h in --help -h; do
		"$SIM" $m $h >"$tmp/out" 2>"$tmp/err" ||
		    fail "terminal-sim $m $h: exit $?"
		head -1 "$tmp/out" | grep -q "^usage: terminal-sim $m" ||
		    fail "terminal-sim $m $h: no usage on stdout"
	done
	expect 2 "unknown option '--no-such-flag'" "$SIM" $m --no-such-flag
done
for h in --help -h; do
	"$FE" audit $h | grep -q "fare-engine audit card" ||
	    fail "fare-engine audit $h does not list its subcommands"
done

# --help wins over a config file that cannot be read or is wrong.
printf '[engine]\nno_such_key = 1\n' >"$tmp/bad.ini"
for cfg in "$tmp/bad.ini" "$tmp/no-such.ini"; do
	"$FE" serve --config "$cfg" --help >"$tmp/out" 2>"$tmp/err" ||
	    fail "serve --config $cfg --help: exit $?: $(cat "$tmp/err")"
	head -1 "$tmp/out" | grep -q "^usage: fare-engine serve" ||
	    fail "serve --config $cfg --help: no usage"
done

# --version: the version and the libraries, on stdout, exit 0.
for p in "$FE" "$SIM"; do
	"$p" --version >"$tmp/out" 2>"$tmp/err" || fail "$p --version: exit $?"
	[ -s "$tmp/err" ] && fail "$p --version wrote to stderr: $(cat "$tmp/err")"
	head -1 "$tmp/out" | grep -Eq "^$(basename "$p") [^ ]+$" &&
	    grep -q "^built with " "$tmp/out" &&
	    grep -q "^libraries: .*libevent 2\.1.*mbed TLS 2\.28" "$tmp/out" ||
	    fail "$p --version: $(cat "$tmp/out")"
	"$p" --help | grep -q -- "--version" || fail "$p --help does not say --version"
done
grep -q "SQLite 3\." "$tmp/out" && fail "terminal-sim --version names SQLite it does not use"
"$FE" --version | grep -q "SQLite 3\." || fail "fare-engine --version: no SQLite"

# Bad usage: exit 2, naming what is wrong.
expect 2 "unknown command 'frobnicate'" "$FE" frobnicate
expect 2 "missing subcommand" "$FE" audit
expect 2 "unknown subcommand sideways" "$FE" audit sideways
expect 2 "unknown mode 'fly'" "$SIM" fly
expect 2 "\-\-engine 'nohostport': not HOST:PORT" "$SIM" load \
    --engine nohostport --certs c
expect 2 "\-\-engine 'x:y': not HOST:PORT" "$SIM" load \
    --engine 127.0.0.1:1,x:y --certs c
expect 2 "usage" "$FE"
expect 2 "no such date" "$FE" audit operators x.db --day 2026-02-30
expect 2 "not a day (YYYY-MM-DD)" "$FE" audit operators x.db --day yesterday
expect 2 "missing --day" "$FE" audit operators x.db
expect 2 "missing --key KEY" "$FE" audit checkpoint x.db
expect 2 "expects DB|DIR REPORT.csv..., got 1 operand" "$FE" audit reconcile x.db
expect 2 "no such date" "$FE" audit reconcile x.db r.csv --day 2026-02-30
expect 2 "--checkpoints and --pubkey go together" "$FE" audit verify x.db \
    --checkpoints c
expect 2 "missing KEY" "$FE" audit keygen
expect 2 "go together" "$FE" serve --dev --certs a --tariff b --db c \
    --ledger-key-file k
expect 2 "no such date" "$FE" audit explain x.db \
    par:V001ONECITYEXAMPLE00000000001 2026-13-01 --tariff tariffs/nl
expect 2 "'carol': an account is" "$FE" audit explain x.db carol 2026-11-28 \
    --tariff tariffs/nl
expect 2 "expects DB ACCOUNT YYYY-MM-DD, got 1 operand" "$FE" audit explain \
    x.db --tariff tariffs/nl
expect 2 "\-\-settle-grace 'abc': not an integer" "$FE" serve --dev \
    --certs c --tariff t --db d --settle-grace abc
expect 2 "\-\-settle-grace '-1': out of range (0-604800)" "$FE" serve --dev \
    --certs c --tariff t --db d --settle-grace -1
expect 2 "\-\-clock '2026-11-28': not an RFC 3339 time" "$FE" serve --dev \
    --certs c --tariff t --db d --clock 2026-11-28
expect 2 "needs --certs, --tariff and --db" "$FE" serve --dev
expect 2 "\-\-dev takes no value" "$FE" serve --dev=1
expect 2 "\-\-explain and --summary cannot be used together" "$FE" price \
    --tariff tariffs/nl --explain --summary x.csv
expect 2 "missing --tariff DIR" "$FE" price x.csv
expect 2 "missing TAPS.csv" "$FE" price --tariff tariffs/nl
expect 2 "unexpected operand 'b.csv'" "$FE" price --tariff tariffs/nl a.csv \
    b.csv
expect 2 "\-\-tariff needs a value" "$FE" price x.csv --tariff
expect 2 "\-\-tariff given twice" "$FE" price --tariff a --tariff b x.csv
expect 2 "\-\-pan and --par cannot be used together" "$FE" audit card x.db \
    --pan 4111111111111111 --par V001ONECITYEXAMPLE00000000001
expect 2 "missing --pan, --par or --token" "$FE" audit card x.db \
    --tariff tariffs/nl
# A card named wrongly or days the wrong way round are bad usage too.
expect 2 "\-\-par 'short': not a PAR" "$FE" audit card x.db --par short \
    --tariff tariffs/nl
expect 2 "\-\-token 'zz': not a card token" "$FE" audit card x.db \
    --token zz --tariff tariffs/nl
expect 2 "\-\-pan: " "$FE" audit card x.db --pan 4111111111111112 \
    --tariff tariffs/nl
expect 2 "\-\-from 2026-11-29 is after --to 2026-11-27" "$FE" audit card \
    x.db --par V001ONECITYEXAMPLE00000000001 --tariff tariffs/nl \
    --from 2026-11-29 --to 2026-11-27
expect 2 "\-\-expired and --no-client-auth cannot" "$FE" certs device d x \
    --expired --no-client-auth
expect 2 "missing DIR DEVICE_ID" "$FE" certs revoke
expect 2 "an account is par:" "$FE" deny add x.db alice "no reason"
expect 2 "\-\-connections '0': out of range (1-19000)" "$SIM" idle \
    --engine 127.0.0.1:1 --connections 0
expect 2 "\-\-date '2026-11-31': no such date" "$SIM" day --generate-only \
    --date 2026-11-31
expect 2 "\-\-tourists 'many': not an integer" "$SIM" day --generate-only \
    --tourists many
expect 2 "\-\-rate 'fast': not a number" "$SIM" load --engine 127.0.0.1:1 \
    --certs c --rate fast
expect 2 "\-\-decline-pct '101': out of range (0-100)" "$SIM" acquirer \
    --listen 127.0.0.1:1 --journal j --certs c --decline-pct 101
expect 2 "missing --engine HOST:PORT" "$SIM" replay --certs c x.csv

# A missing file says so (not "not a tap file").
expect 1 "no-such.csv:0: no such tap file" "$FE" price --tariff tariffs/nl \
    "$tmp/no-such.csv"
expect 2 "no-such.csv: No such file or directory" "$SIM" replay \
    --engine 127.0.0.1:1 --certs "$tmp" "$tmp/no-such.csv"
: >"$tmp/empty.csv"
expect 2 "empty.csv: not a tap file (no header line)" "$SIM" replay \
    --engine 127.0.0.1:1 --certs "$tmp" "$tmp/empty.csv"

# backup: an empty operand is bad usage (exit 2, not a file error); a
# source that is not a database is named once, with no second, misleading
# line about DEST, and leaves neither DEST nor DEST.tmp behind.
expect 2 "backup: DEST is empty" "$FE" backup "$tmp/empty.csv" ""
expect 2 "backup: DB is empty" "$FE" backup "" "$tmp/b.db"
echo "not a database" >"$tmp/text.db"
expect 1 "text.db: file is not a database" "$FE" backup "$tmp/text.db" \
    "$tmp/b.db"
[ "$(wc -l <"$tmp/err")" = 1 ] ||
    fail "backup of a non-database: more than one line: $(cat "$tmp/err")"
[ ! -e "$tmp/b.db" ] && [ ! -e "$tmp/b.db.tmp" ] ||
    fail "a failed backup left a file behind"
expect 1 "is a directory; name the file to create in it" "$FE" backup \
    "$tmp/text.db" "$tmp"

# Options after operands and GNU --opt=value still work.
"$FE" price "../shared/examples/mini/taps.csv" \
    --tariff=../shared/examples/mini >"$tmp/p.jsonl" ||
    fail "price with the operand first: exit $?"
cmp -s "$tmp/p.jsonl" ../shared/examples/mini/expected.jsonl ||
    fail "price with the operand first differs from expected.jsonl"
"$SIM" day --generate-only --tourists 3 --taps-out "$tmp/d.csv" \
    2>/dev/null || fail "day --generate-only: exit $?"
[ "$(head -1 "$tmp/d.csv")" = "tap_id,time,card,par,network_id,stop_id,kind" ] ||
    fail "day --taps-out wrote no tap file"
# audit reconcile: a day whose only settlement is a refund of 50 cents nets
# -0.50 (not 0.50); a report line too long is named once, at its line.
sqlite3 "$tmp/rec.db" "CREATE TABLE settlements (id INTEGER PRIMARY KEY,
    idem_key TEXT, account TEXT, service_day TEXT, kind TEXT,
    amount_cents INTEGER, state TEXT, reference TEXT);
    INSERT INTO settlements VALUES (1, 'k1', 'par:P1', '2026-11-28',
    'refund', -50, 'approved', 'OC1')"
printf '%s\n' "reference,key,account,service_day,amount_cents,outcome,time_utc" \
    "OC1,k1,par:P1,2026-11-28,-50,approved,2026-11-29T07:00:00Z" >"$tmp/rec.csv"
"$FE" audit reconcile "$tmp/rec.db" "$tmp/rec.csv" >"$tmp/rec.out" ||
    fail "reconcile of a refund: $(cat "$tmp/rec.out")"
grep -q "(1 approved, -€0.50 net)" "$tmp/rec.out" ||
    fail "reconcile: a net of -50 cents: $(cat "$tmp/rec.out")"
{ cat "$tmp/rec.csv"; head -c 2000 /dev/zero | tr '\0' x; echo; } \
    >"$tmp/rec-long.csv"
if "$FE" audit reconcile "$tmp/rec.db" "$tmp/rec-long.csv" >"$tmp/rec.out"; then
	fail "reconcile accepted a line too long"
fi
[ "$(grep -c "rec-long.csv:3: line too long" "$tmp/rec.out")" = 1 ] &&
    [ "$(grep -c "rec-long.csv" "$tmp/rec.out")" = 1 ] ||
    fail "reconcile: a long line: $(head -3 "$tmp/rec.out")"

echo "cli: $n fare-engine subcommands and 5 terminal-sim modes answer --help; bad usage exits 2 naming what is wrong"
