#!/usr/bin/env bash
# `make run` as a newcomer runs it, without a terminal (DEMO_ONCE=1): it starts
# everything, shows each agent's table, a discovery from a silent agent and a
# torrent downloaded by a silent agent, prints the address of an agent's web page,
# and stops cleanly with nothing left running.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

# The demo's homes go under a folder of this test's own, so that the check for
# agents left running sees only them, not a user's agent or another test run's.
demo_tmp=$(fb_tmpdir)
out=$(TMPDIR=$demo_tmp DEMO_ONCE=1 timeout 300 "$FB_ROOT/tools/run-demo.sh" "$FB_BUILD" </dev/null 2>&1) ||
	fb_fail "the demo failed: $(tail -20 <<<"$out")"
for n in alice bob carol dave; do
	fb_assert_contains "$out" "peer-agent peers   ($n)" "the demo shows $n's table"
done
fb_assert_contains "$out" "discover photos" "the demo runs a discovery"
# Silent carol and dave are connected through a relay (alice or bob).
sed -n '/== peer-agent peers   (carol)/,/== peer-agent peers   (dave)/p' <<<"$out" |
	grep dave@example.com | grep -q 'CONNECTED.*relayed by' ||
	fb_fail "carol's table does not show dave CONNECTED through a relay: $(grep -A8 'peers   (carol)' <<<"$out")"
fb_assert_contains "$out" "peer-agent relay status   (alice" "the demo shows the relay's status"
# dave (silent) finds both hosts of photos; alice finds silent dave's recipes.
grep -A4 'discover photos' <<<"$out" | grep -q 'alice@example.com' || fb_fail "dave did not find alice"
grep -A4 'discover recipes' <<<"$out" | grep -q 'dave@example.com' || fb_fail "alice did not find dave"
# Silent dave gets alice's torrent; the copy has the original's SHA-256.
fb_assert_contains "$out" "complete and verified" "dave's torrent download completes"
sums=$(grep -E '^sha256(: | of the original: )' <<<"$out" | awk '{print $NF}' | sort -u)
fb_assert_eq "$(wc -l <<<"$sums")" 1 "dave's copy and the original hash alike ($sums)"
# The start-up lines name each agent's own address; no answer of the agents may.
answers=$(sed -n '/== peer-agent peers/,/== what the bootstrap database/p' <<<"$out")
case $answers in *127.0.0.4*|*127.0.0.5*) fb_fail "an agent's answer shows a silent agent's address" ;; esac
# The web page's address, with the token in the fragment, for a newcomer to open.
grep -A1 "the web page of alice's agent" <<<"$out" | grep -Eq '^http://127\.0\.0\.1:[0-9]+/#token=[0-9a-f]+$' ||
	fb_fail "no peer-agent ui address: $(grep -A2 'web page' <<<"$out")"
fb_assert_contains "$out" "demo done" "the demo ends by itself"
pgrep -f "peer-agent run --home $demo_tmp/" >/dev/null && fb_fail "agents left running"
fb_pass "make run's demo works end to end and cleans up"
