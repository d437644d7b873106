#!/bin/sh
# Builds a broken tariff: tests/tariffs-bad/base overlaid with CASE's files
# (a file NAME.delete removes NAME).  Prints the new directory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
case_dir=$here/tariffs-bad/$1
out=$2
rm -rf "$out"
mkdir -p "$out"
cp "$here"/tariffs-bad/base/*.txt "$out"/
for f in "$case_dir"/*; do
	b=$(basename "$f")
	case "$b" in
	expected.txt) ;;
	*.delete) rm -f "$out/${b%.delete}" ;;
	*) cp "$f" "$out/$b" ;;
	esac
done
echo "$out"
