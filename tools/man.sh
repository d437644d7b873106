#!/bin/sh
# tools/man.sh BIN OUT: man pages fare-engine.1 and terminal-sim.1 in OUT,
# made from the programs' own --help (fare/opt.h), so that they cannot
# drift from the option tables.
set -eu
BIN=$1
OUT=$2
mkdir -p "$OUT"
# roff-safe text: backslashes doubled, lines starting with . or ' guarded.
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
page() {
	prog=$1 what=$2 listed=$3
	upper=$(echo "$prog" | tr a-z A-Z)
	{
		echo ".TH $upper 1 \"\" \"OneCity\" \"User Commands\""
		echo ".SH NAME"
		echo "$prog \\- $what"
		echo ".SH SYNOPSIS"
		echo ".nf"
		"$BIN/$prog" --help | esc
		echo ".fi"
		echo ".SH COMMANDS"
		"$BIN/$prog" --help | sed -n "s/^  $prog \\($listed\\).*/\\1/p" |
		    while read -r c; do
			echo ".SS \"$prog $c\""
			echo ".nf"
			# shellcheck disable=SC2086
			"$BIN/$prog" $c --help | esc
			echo ".fi"
		done
		echo ".SH SEE ALSO"
		echo "The README's \\(lqOperator's runbook\\(rq, installed with the"
		echo "documentation (share/doc/onecity or share/doc/onecity-engine)."
	} >"$OUT/$prog.1"
}
page fare-engine "the OneCity fare engine: service, pricing, audit" \
    '[a-z]*\( [a-z][a-z]*\)\{0,1\}\)\( [A-Z[(-]\|$'
page terminal-sim "simulated validators, tourists, load and acquirer" \
    '[a-z]*\)\( \|$'
