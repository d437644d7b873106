#!/bin/sh
# No PAN anywhere: run the main job on a small day, then look for every
# card number the simulator used (and any Luhn-valid 12-19 digit run) in
# the database, the logs and everything printed.  The input tap file is
# the only place they may be.
set -eu
. tests/lib.sh
BIN=${1:-bin}
e2e_init privacy
DEMO_DIR=$tmp/demo DEMO_TOURISTS=300 sh tools/demo.sh "$BIN" >"$tmp/stdout" \
    2>"$tmp/stderr" || { cat "$tmp/stderr"; exit 1; }
# The demo says what it waits for, and shows money one way (issue 17).
grep -q "the acquirer to answer every account-day's capture ... [0-9]* s)" \
    "$tmp/stdout" || { echo "privacy: the demo did not say what it waited for"; exit 1; }
grep -Eq "captured \(€[0-9,]+\.[0-9]{2}\)" "$tmp/stdout" ||
    { echo "privacy: the demo's settlement line: $(grep settled "$tmp/stdout")"; exit 1; }
tail -q -n +2 "$tmp"/demo/taps*.csv | cut -d, -f3 | sort -u >"$tmp/pans"
[ -s "$tmp/pans" ] || { echo "privacy: no PANs in the input?"; exit 1; }
sqlite3 "$tmp/demo/engine.db" .dump >"$tmp/dump.sql"
for f in "$tmp/dump.sql" "$tmp/demo/engine.log" "$tmp"/demo/acks*.log \
    "$tmp/demo/acquirer.journal" "$tmp/demo/acquirer.log" \
    "$tmp/demo/acquirer.out" "$tmp/stdout" "$tmp/stderr"; do
	if grep -F -q -f "$tmp/pans" "$f"; then
		echo "privacy: a PAN appears in $(basename "$f")"
		exit 1
	fi
	# Any other Luhn-valid run of 12-19 digits.
	if grep -oE '\b[0-9]{12,19}\b' "$f" | awk '
	    { s = 0; n = length($0)
	      for (i = n; i >= 1; i--) { d = substr($0, i, 1) + 0
	        if ((n - i) % 2 == 1) { d *= 2; if (d > 9) d -= 9 }
	        s += d }
	      if (s % 10 == 0) { found = 1; print; exit } }
	    END { exit !found }' >"$tmp/hit"; then
		echo "privacy: a Luhn-valid number $(cat "$tmp/hit") in $(basename "$f")"
		exit 1
	fi
done
echo "privacy: $(wc -l <"$tmp/pans") card numbers, none in the database, logs or output"
