#!/bin/sh
# Runs every test binary in BIN (CMocka prints its own summaries), then the
# public contract checks, then one closing line: "N passed, N failed".
set -u
BIN=${1:-bin}
cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0
for t in "$BIN"/test_*; do
	[ -x "$t" ] || continue
	if "$t"; then
		passed=$((passed + 1))
	else
		echo "FAILED: $t"
		failed=$((failed + 1))
	fi
done
for s in tests/*.test.sh; do
	[ -f "$s" ] || continue
	echo "[ RUN      ] $s"
	if sh "$s" "$BIN"; then
		echo "[       OK ] $s"
		passed=$((passed + 1))
	else
		echo "[  FAILED  ] $s"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
