#!/usr/bin/env bash
# Refreshes travel by anti-entropy, without certificates: seven agents of this
# version (one silent) with few sessions each, in sync after 5 s. Records are
# refreshed every 2 s and stale after 6, so each agent keeps every broadcasting
# one online only if the refreshes its neighbours do not push reach it by pull;
# each pulls some bare, none checks one against a wrong certificate, and no
# session is closed for a frame (1007, 1008).
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a
names=()
for i in 1 2 3 4 5 6; do
	fb_agent_new "b$i" "127.0.73.$i" broadcast "repo$i"
	names+=("b$i")
done
fb_agent_new s1 127.0.73.10 silent hushed
names+=(s1)
for n in "${names[@]}"; do
	# [timers] ends the file fb_agent_new writes; then fewer sessions than peers.
	printf 'anti_entropy_sync_s = 5\n[gossip]\nneighbours = 2\nmax_peers = 4\n' \
		>>"$(fb_agent_home "$n")/agent.ini"
	fb_agent_start "$n"
done
fb_agents_meet 30 . "${names[@]}"
fb_pass "seven agents with at most four sessions each know each other"

# A responder sends a peer's refresh bare once it has held the peer for a minute.
pulled_bare() { [ "$(fb_agent "$1" status --json | jq .gossip.refreshes_pulled)" -gt 0 ]; }
for n in "${names[@]}"; do
	fb_wait_for 100 pulled_bare "$n" ||
		fb_fail "$n pulled no refresh without certificates: $(fb_agent "$n" status --json | jq -c .gossip)"
done
fb_pass "every agent, the silent one too, pulls refreshes without certificates"

online() {
	local n m
	for n in "${names[@]}"; do
		for m in b1 b2 b3 b4 b5 b6; do
			[ "$n" = "$m" ] && continue
			fb_agent_knows "$n" "$m@example.com" '.peer_status == "online"' || {
				echo "$n does not see $m online" >&2
				return 1
			}
		done
	done
}
for round in 1 2 3; do
	sleep 4
	online || fb_fail "round $round: $(fb_agent s1 peers 2>&1)"
done
fb_pass "every agent sees every broadcasting one online over 12 s (refreshes every 2 s, stale after 6)"

for n in "${names[@]}"; do fb_agent_frames_clean "$n" >/dev/null; done
fb_pass "no session closed with 1007 or 1008, no frame invalid, no signature failed"
