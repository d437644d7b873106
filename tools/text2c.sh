#!/bin/sh
# text2c.sh NAME FILE: FILE as a C string constant NAME (the web pages'
# stylesheet and script are kept as real files and built into the engine).
set -eu
printf '/* Generated from %s by tools/text2c.sh: do not edit. */\n' "$2"
printf 'extern const char %s[];\nconst char %s[] =\n' "$1" "$1"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/\\n"/' "$2"
printf ';\n'
