#!/usr/bin/env bash
# Sixteen cheap identities, each with a valid hello and its own address, take
# every inbound session an agent accepts (12 of max_peers 16: dial_slots 4 are
# kept for its own dials).
# The agent still reaches a peer of its choosing and makes it a neighbour:
# it dials it, or that peer's own dial pushes out a sybil.
set -euo pipefail
. "$(dirname "$0")/../lib/hostile.sh"

fb_hostile_target
fb_hostile_sybils 16 60
neighbours() { fb_hostile_neighbours; }
_held() { [ "$(neighbours)" -ge 12 ]; }
fb_wait_for 20 _held || fb_fail "the sybils hold only $(neighbours) sessions"
fb_pass "$(neighbours) sybil identities hold target's inbound sessions"

fb_agent_new honest 127.0.0.3 broadcast beta
fb_agent_start honest
start=$SECONDS
fb_wait_for 20 fb_agent_knows target honest@example.com '.state == "CONNECTED"' ||
	fb_fail "target never reached honest: $(fb_agent target status --json | jq -c '{neighbours, sessions: .gossip.sessions_open}')"
# Either target dialled honest, or honest's own dial pushed out a sybil first.
grep -Eq "dialling honest@example.com|session with honest@example.com \(accepted\) is up" \
	"$(fb_agent_home target)/agent.log" ||
	fb_fail "target neither dialled honest nor took its dial"
fb_pass "target and honest became neighbours in $((SECONDS - start)) s, inbound full of sybils"
