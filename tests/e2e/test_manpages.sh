#!/usr/bin/env bash
# The man pages (man/*.scd, built into $FB_BUILD/man) against the programs:
# every command and flag of `peer-agent --help`, every flag and environment
# variable of `bootstrap-server --help` and every exit code they name has an
# entry in its page (with the default bootstrap-server's help gives), every
# page's option is one the program knows, and every
# agent.ini key that `peer-agent init` writes (the table in config.c) is in
# flashback-agent.ini(5) under its section with the same default, and no
# other key is; every number key's range there is the one the parser enforces.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

man_dir="$FB_ROOT/man"
pa="$FB_BUILD/bin/peer-agent"
bs="$FB_BUILD/bin/bootstrap-server"
tmp=$(fb_tmpdir)

# section FILE TITLE: the lines of the scdoc page's "# TITLE" section.
section() {
	awk -v t="# $2" '$0 == t { on = 1; next } /^# / { on = 0 } on' "$1"
}

# Item heads: the bold words an entry line of a section starts with.
item_flags() {
	grep -E '^\*' | grep -oE '\*--[a-z][a-z-]*\*' | tr -d '*' | sort -u
}

# help_flags TEXT: the long options a --help text names.
help_flags() {
	grep -oE -- '--[a-z][a-z-]+' | sort -u
}

check_flags() { # PAGE HELP_TEXT PROGRAM
	local page=$1 help=$2 prog=$3 in_help in_page missing extra
	in_help=$(help_flags <<<"$help")
	in_page=$(section "$page" OPTIONS | item_flags)
	missing=$(comm -23 <(echo "$in_help") <(echo "$in_page"))
	[ -z "$missing" ] || fb_fail "$prog --help lists flags $(basename "$page") lacks: $missing"
	extra=$(comm -13 <(echo "$in_help") <(echo "$in_page"))
	[ -z "$extra" ] || fb_fail "$(basename "$page") documents flags $prog --help does not know: $extra"
}

check_exit_codes() { # PAGE CODES...
	local page=$1 c
	shift
	for c in "$@"; do
		section "$page" "EXIT STATUS" | grep -qx "\*$c\*" ||
			fb_fail "$(basename "$page"): exit code $c has no entry in EXIT STATUS"
	done
}

for p in "$man_dir"/*.scd; do
	out="$FB_BUILD/man/$(basename "$p" .scd)"
	[ -s "$out" ] || fb_fail "$out was not built from $p"
	[ "$out" -nt "$p" ] || [ ! "$p" -nt "$out" ] || fb_fail "$out is older than $p"
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$out" 2>&1 >/dev/null)
	[ -z "$warn" ] || fb_fail "$(basename "$out") renders with warnings: $warn"
done
fb_pass "every page is built and renders without warnings"

# peer-agent: the commands (the first words of each row of "commands:", up to an
# argument or option; the synopsis ends at a run of spaces), the flags, the
# exit codes, the environment.
help=$("$pa" --help)
check_flags "$man_dir/peer-agent.1.scd" "$help" peer-agent
commands=$(awk '/^commands:/ { on = 1; next } /^[a-z]/ { on = 0 } on && /^  [a-z]/' <<<"$help" |
	sed -E 's/^  //; s/  +.*//' | awk '{ c = $1; if ($2 ~ /^[a-z]+$/) c = c " " $2; print c }' |
	sort -u)
[ "$(wc -l <<<"$commands")" -ge 10 ] || fb_fail "too few commands read from --help: $commands"
while read -r c; do
	section "$man_dir/peer-agent.1.scd" COMMANDS | grep -qE "^\*$c\*( |$)" ||
		fb_fail "peer-agent --help lists the command '$c', peer-agent(1) has no entry for it"
done <<<"$commands"
codes=$(grep -oE '^exit codes: .*' <<<"$help" | grep -oE '\b[0-9]+ [a-z]' | cut -d' ' -f1)
[ -n "$codes" ] || fb_fail "peer-agent --help names no exit codes"
check_exit_codes "$man_dir/peer-agent.1.scd" $codes
for v in $(grep -oE '\$[A-Z_]+' <<<"$help" | tr -d '$' | sort -u); do
	section "$man_dir/peer-agent.1.scd" ENVIRONMENT | grep -qE "^\*$v\*" ||
		fb_fail "peer-agent --help names \$$v, peer-agent(1) ENVIRONMENT does not"
done
fb_pass "peer-agent(1) has all $(wc -l <<<"$commands") commands, every flag and exit code of --help"

# bootstrap-server: the flags, the environment, the exit codes of docs/operations.md's
# statement (the help names none: 0, 1 and 2, checked by test_bootstrap_api).
help=$("$bs" --help)
check_flags "$man_dir/bootstrap-server.8.scd" "$help" bootstrap-server
env_vars=$(sed -n '/^Environment:/,$p' <<<"$help" | grep -oE '\b[A-Z]+_[A-Z_]+\b' | sort -u)
[ -n "$env_vars" ] || fb_fail "bootstrap-server --help names no environment variables"
for v in $env_vars $(grep -oE '\$[A-Z_]+' <<<"$help" | tr -d '$'); do
	section "$man_dir/bootstrap-server.8.scd" ENVIRONMENT | grep -qE "^(\*[A-Z_]+\*, )*\*$v\*" ||
		fb_fail "bootstrap-server --help names $v, bootstrap-server(8) ENVIRONMENT does not"
done
check_exit_codes "$man_dir/bootstrap-server.8.scd" 0 1 2
# The defaults --help prints, "(default N ...)" or "(N s)", against the entry's text.
ndefaults=0
while read -r flag def; do
	entry=$(awk -v f="*$flag*" 'index($0, f) == 1 { on = 1; next } on && /^$/ { exit } on' \
		"$man_dir/bootstrap-server.8.scd" | tr -s " \t\n" " ")
	[[ $entry == *"default $def"[\;\)]* ]] ||
		fb_fail "bootstrap-server --help says $flag defaults to $def, bootstrap-server(8) does not"
	ndefaults=$((ndefaults + 1))
done < <(sed -nE 's/^  (--[a-z-]+) .*\((default )?([0-9.:]+)( s)?\)$/\1 \3/p' <<<"$help")
[ "$ndefaults" -ge 15 ] || fb_fail "too few defaults read from bootstrap-server --help: $ndefaults"
fb_pass "bootstrap-server(8) has every flag and environment variable of --help and its $ndefaults defaults"

# agent.ini: the keys and defaults init writes, from config.c's table.
"$pa" init --home "$tmp/h" --email man@example.com >/dev/null
awk '/^\[/ { s = $0; next } /^#? ?[a-z_]+ =/ { sub(/^# /, ""); print s " " $0 }' "$tmp/h/agent.ini" |
	sed 's/ *$//' | sort >"$tmp/ini-keys"
[ "$(wc -l <"$tmp/ini-keys")" -ge 40 ] || fb_fail "too few keys read from agent.ini"
awk '/^## \[/ { s = $2; next } /^# / { s = "" } s != "" && /^\*[a-z_]+\* =/ {
	gsub(/\*/, ""); print s " " $0 }' "$man_dir/flashback-agent.ini.5.scd" |
	sed 's/ *$//' | sort >"$tmp/man-keys"
# The email is the one given to init; the page shows a placeholder.
missing=$(comm -23 <(cut -d= -f1 "$tmp/ini-keys") <(cut -d= -f1 "$tmp/man-keys"))
[ -z "$missing" ] || fb_fail "agent.ini keys missing from flashback-agent.ini(5): $missing"
extra=$(comm -13 <(cut -d= -f1 "$tmp/ini-keys") <(cut -d= -f1 "$tmp/man-keys"))
[ -z "$extra" ] || fb_fail "flashback-agent.ini(5) documents keys config.c does not know: $extra"
wrong=$(comm -23 <(grep -v '^\[identity\] email =' "$tmp/ini-keys") <(grep -v '^\[identity\] email =' "$tmp/man-keys"))
[ -z "$wrong" ] || fb_fail "flashback-agent.ini(5) shows other defaults than init writes: $wrong"
fb_pass "flashback-agent.ini(5) has all $(wc -l <"$tmp/ini-keys") keys of agent.ini with their defaults"

# The ranges: a number key refuses a word ("not a number") and names its range
# when refused a value below every range; the page must give the same range.
awk '/^## \[/ { s = $2; next } /^\*[a-z_]+\* =/ { k = $1; gsub(/\*/, "", k); next }
	s != "" && match($0, /Range: -?[0-9]+\.\.[0-9]+\./) {
		r = substr($0, RSTART + 7, RLENGTH - 8); print s " " k " " r }' \
	"$man_dir/flashback-agent.ini.5.scd" | sort >"$tmp/man-ranges"
cp "$tmp/h/agent.ini" "$tmp/agent.ini.orig"
: >"$tmp/ini-ranges"
while read -r sec key _; do
	[ "$sec $key" != "[identity] email" ] || continue
	cp "$tmp/agent.ini.orig" "$tmp/h/agent.ini"
	printf '\n%s\n%s = x\n' "$sec" "$key" >>"$tmp/h/agent.ini"
	err=$("$pa" status --home "$tmp/h" 2>&1 || true)
	[[ $err == *"$sec $key: not a number"* ]] || continue
	cp "$tmp/agent.ini.orig" "$tmp/h/agent.ini"
	printf '\n%s\n%s = -99999999999999999999\n' "$sec" "$key" >>"$tmp/h/agent.ini"
	err=$("$pa" status --home "$tmp/h" 2>&1 || true)
	range=$(grep -oE 'out of range -?[0-9]+\.\.[0-9]+' <<<"$err" | awk '{ print $4 }')
	[ -n "$range" ] || fb_fail "$sec $key: no range in '$err'"
	echo "$sec $key $range" >>"$tmp/ini-ranges"
done <"$tmp/ini-keys"
sort -o "$tmp/ini-ranges" "$tmp/ini-ranges"
[ "$(wc -l <"$tmp/ini-ranges")" -ge 30 ] || fb_fail "too few number keys found: $(cat "$tmp/ini-ranges")"
diff=$(diff "$tmp/ini-ranges" "$tmp/man-ranges" || true)
[ -z "$diff" ] || fb_fail "flashback-agent.ini(5) ranges differ from config.c's (< program, > page): $diff"
fb_pass "flashback-agent.ini(5) gives the range of all $(wc -l <"$tmp/ini-ranges") number keys"
