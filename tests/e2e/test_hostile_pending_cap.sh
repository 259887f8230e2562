#!/usr/bin/env bash
# Sessions before their hello do not fill the inbound cap: 4 cheap neighbours
# plus 8 idle sessions from 2 addresses (4 each: max_per_address, and 8:
# max_unauthenticated) used to make 12 inbound sessions, all of
# max_peers 16 less dial_slots 4, and every newcomer was refused. Now the
# pending ones are capped apart, a newcomer pushes out the youngest pending
# session of the address holding the most, and honest visitors, one after
# another, each get in and finish their handshake.
set -euo pipefail
. "$(dirname "$0")/../lib/hostile.sh"

fb_hostile_target
attacker=$(fb_hostile_home attacker)
fb_hostile_sybils 4 50
neighbours() { fb_hostile_neighbours; }
_held() { [ "$(neighbours)" -ge 4 ]; }
fb_wait_for 15 _held || fb_fail "the sybils hold only $(neighbours) sessions"

FB_FLOOD_S=50 FB_FLOOD_SESSIONS=4 FB_FLOOD_FROM=127.0.0.9,127.0.0.10 \
	node "$FB_ROOT/tests/e2e/ws_client.js" "$attacker" attacker@example.com "$url" idle_flood \
	>"$FB_AGENTS/flood.json" 2>&1 &
flood_pid=$!
fb_on_exit "kill $flood_pid 2>/dev/null"
sessions() { fb_agent target status --json | jq -r .gossip.sessions_open; }
_full() { [ "$(sessions)" -ge 12 ]; }
fb_wait_for 15 _full || fb_fail "neighbours and idle sessions hold only $(sessions) sessions"
fb_pass "4 neighbours and 8 idle sessions hold $(sessions) sessions on target"

for n in 1 2 3; do
	fb_hostile_visitor "visitor$n" "past the idle sessions"
done

limits=$(fb_agent target status --json | jq -c .gossip.limits)
[ "$(jq -r .pending_evicted <<<"$limits")" -ge 1 ] || fb_fail "no pending session was pushed out: $limits"
grep -q "of them from its address" "$(fb_agent_home target)/agent.log" ||
	fb_fail "no log line for max_unauthenticated"
kill "$flood_pid" "$sybil_pid" 2>/dev/null || true
fb_pass "pending sessions pushed out per address, never a visitor ($limits)"
