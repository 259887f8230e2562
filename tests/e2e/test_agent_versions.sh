#!/usr/bin/env bash
# Agents of this version and of the previous wire version in one network: the
# previous one is built from git history at FB_PREV_WIRE (the last commit
# before the latest wire change; docs/protocol.md lists what changed), or
# taken from FB_PREV_AGENT when set. Both kinds learn every record, discover
# each other's repositories, list a newcomer of either kind, keep every
# broadcasting peer online in a silent agent's table while refreshes are
# pulled (this version, in sync after 5 s) or pushed (the previous one), and
# no session is closed for a frame the other could not read (1007, 1008).
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

# digest.certless and the answers' refreshes (refreshes pulled, not pushed) came after this one.
FB_PREV_WIRE=${FB_PREV_WIRE:-4dbd607}
prev=${FB_PREV_AGENT:-}
if [ -z "$prev" ]; then
	git -C "$FB_ROOT" cat-file -e "$FB_PREV_WIRE^{commit}" 2>/dev/null ||
		fb_fail "commit $FB_PREV_WIRE is not in $FB_ROOT's history (a shallow clone?): set FB_PREV_AGENT to a peer-agent built from it"
	src=$(fb_tmpdir)
	git -C "$FB_ROOT" archive "$FB_PREV_WIRE" | tar -x -C "$src"
	fb_log "building peer-agent at $FB_PREV_WIRE"
	nice make -C "$src" -j2 build/bin/peer-agent >"$src/build.log" 2>&1 ||
		fb_fail "the previous version did not build: $(tail -5 "$src/build.log")"
	prev=$src/build/bin/peer-agent
fi
[ -x "$prev" ] || fb_fail "no previous peer-agent at $prev"
cmp -s "$prev" "$FB_BUILD/bin/peer-agent" && fb_fail "$prev is this build, not the previous one"

fb_bs_setup
fb_bs_start a
names=()
# A key of this version: [timers] ends the file fb_agent_new writes.
synced_soon() {
	echo "anti_entropy_sync_s = 5" >>"$(fb_agent_home "$1")/agent.ini"
}
# Few sessions each, so that most refreshes must travel past their origin's neighbours.
few_sessions() {
	printf '[gossip]\nneighbours = 2\nmax_peers = 6\n' >>"$(fb_agent_home "$1")/agent.ini"
}
for i in 1 2 3; do
	fb_agent_new "new$i" "127.0.72.$i" broadcast "fresh$i"
	synced_soon "new$i"
	fb_agent_new "old$i" "127.0.72.$((10 + i))" broadcast "aged$i"
	printf -v "FB_AGENT_BIN_old$i" '%s' "$prev"
	names+=("new$i" "old$i")
done
fb_agent_new new5 127.0.72.5 silent hushed5
synced_soon new5
fb_agent_new old5 127.0.72.15 silent muted5
FB_AGENT_BIN_old5=$prev
names+=(new5 old5)
for n in "${names[@]}"; do few_sessions "$n"; done
for n in "${names[@]}"; do fb_agent_start "$n"; done
fb_agents_meet 30 . "${names[@]}"
fb_pass "four agents of each version (one silent) know all seven others"

out=$(fb_agent new1 discover aged2 --json)
fb_assert_eq "$(jq -r '.[0].email' <<<"$out")" old2@example.com "new1 discovers aged2 at old2"
out=$(fb_agent old1 discover fresh3 --json)
fb_assert_eq "$(jq -r '.[0].email' <<<"$out")" new3@example.com "old1 discovers fresh3 at new3"
fb_pass "each version discovers the other's repositories"

# Newcomers of both kinds, listed by all.
fb_agent_new new4 127.0.72.4 broadcast fresh4
synced_soon new4
fb_agent_new old4 127.0.72.14 broadcast aged4
FB_AGENT_BIN_old4=$prev
few_sessions new4
few_sessions old4
fb_agent_start new4
fb_agent_start old4
names+=(new4 old4)
for n in "${names[@]}"; do
	for m in new4 old4; do
		[ "$n" = "$m" ] && continue
		fb_wait_for 30 fb_agent_knows "$n" "$m@example.com" ||
			fb_fail "$n does not list newcomer $m: $(fb_agent "$n" peers 2>&1)"
	done
done
fb_pass "newcomers of both versions are listed by all ten"

# Records are refreshed every 2 s and stale after 6: a silent agent of either
# version keeps every broadcasting one online, refreshes pulled or pushed.
sleep 8
for s in new5 old5; do
	for n in new1 new2 new3 new4 old1 old2 old3 old4; do
		fb_wait_for 10 fb_agent_knows "$s" "$n@example.com" '.peer_status == "online"' ||
			fb_fail "$s does not see $n online: $(fb_agent "$s" peers 2>&1)"
	done
done
sleep 10
for s in new5 old5; do
	for n in new1 new2 new3 new4 old1 old2 old3 old4; do
		fb_agent_knows "$s" "$n@example.com" '.peer_status == "online"' ||
			fb_fail "$s does not see $n online 10 s later: $(fb_agent "$s" peers 2>&1)"
	done
done
fb_pass "silent agents of both versions keep every broadcasting agent online"

# Nobody refused anybody's frames.
for n in "${names[@]}"; do
	st=$(fb_agent_frames_clean "$n")
	[ "$(jq .gossip.requests_answered <<<"$st")" -gt 0 ] || fb_fail "$n answered no digest: $st"
done
fb_pass "no session closed with 1007 or 1008, no frame invalid, digests answered, on either version"
