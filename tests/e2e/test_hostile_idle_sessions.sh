#!/usr/bin/env bash
# Eclipse by idle sessions: 16 TLS+WebSocket sessions from one address (and 4
# from another: max_unauthenticated is full) that never send a hello and keep
# pinging, coming back as soon as they are closed. The agent
# under attack must still take an honest inbound peer within seconds, still
# dial out, and reach an honest agent as a neighbour; the idle sessions are
# refused past max_per_address, pushed out past max_unauthenticated, and
# closed with 1008 at the hello deadline.
set -euo pipefail
. "$(dirname "$0")/../lib/hostile.sh"

fb_hostile_target
attacker=$(fb_hostile_home attacker)
visitor=$(fb_hostile_home visitor)

flood_out="$FB_AGENTS/flood.json"
FB_FLOOD_S=40 FB_FLOOD_SESSIONS=16 FB_FLOOD_FROM=127.0.0.9 \
	node "$FB_ROOT/tests/e2e/ws_client.js" "$attacker" attacker@example.com "$url" idle_flood \
	>"$flood_out" 2>&1 &
flood_pid=$!
fb_on_exit "kill $flood_pid 2>/dev/null"
FB_FLOOD_S=40 FB_FLOOD_SESSIONS=4 FB_FLOOD_FROM=127.0.0.10 \
	node "$FB_ROOT/tests/e2e/ws_client.js" "$attacker" attacker@example.com "$url" idle_flood \
	>"$flood_out.2" 2>&1 &
flood2_pid=$!
fb_on_exit "kill $flood2_pid 2>/dev/null"

sessions() { fb_agent target status --json | jq -r .gossip.sessions_open; }
_flooded() { [ "$(sessions)" -ge 8 ]; }
fb_wait_for 15 _flooded || fb_fail "the flood never held sessions on target ($(sessions))"
fb_pass "the idle flood holds $(sessions) sessions on target"

# An honest peer from another address gets in and is heard within seconds.
start=$SECONDS
out=$(timeout 20 node "$FB_ROOT/tests/e2e/ws_client.js" "$visitor" visitor@example.com "$url" valid)
fb_log "visitor: $out"
fb_assert_eq "$(jq -r .hello_from <<<"$out")" target@example.com "the visitor was answered with target's hello"
fb_agent_knows target visitor@example.com '.peer_count == 7' ||
	fb_fail "target did not take the visitor's hello and heartbeat"
[ $((SECONDS - start)) -le 8 ] || fb_fail "the visitor needed $((SECONDS - start)) s"
fb_pass "an honest inbound peer got in during the flood in $((SECONDS - start)) s"

# An honest agent appears: target dials it or takes its dial, and they become neighbours.
fb_agent_new honest 127.0.0.3 broadcast beta
fb_agent_start honest
start=$SECONDS
fb_wait_for 20 fb_agent_knows target honest@example.com '.state == "CONNECTED"' ||
	fb_fail "target never got honest as a neighbour during the flood: $(fb_agent target status --json | jq -c .)"
fb_pass "target and honest became neighbours during the flood in $((SECONDS - start)) s"
grep -q "dialling honest@example.com" "$(fb_agent_home target)/agent.log" &&
	fb_pass "target dialled out during the flood"

# The limits bit, and said so.
log="$(fb_agent_home target)/agent.log"
grep -q "max_per_address" "$log" || fb_fail "no log line for max_per_address"
fb_wait_for 15 grep -q "no hello within" "$log" || fb_fail "no log line for the hello deadline"
closes=$(fb_agent target status --json | jq -c .gossip.closed_by_code)
[ "$(jq -r '."1008" // 0' <<<"$closes")" -ge 1 ] || fb_fail "no idle session was closed with 1008: $closes"
limits=$(fb_agent target status --json | jq -c .gossip.limits)
[ "$(jq -r .refused_per_address <<<"$limits")" -ge 1 ] && [ "$(jq -r .hello_timeouts <<<"$limits")" -ge 1 ] ||
	fb_fail "status does not count the limits that bit: $limits"
[ "$(fb_agent target status --json | jq -r .neighbours)" -le 2 ] ||
	fb_fail "idle sessions count as neighbours: $(fb_agent target status --json | jq .neighbours)"
kill "$flood_pid" "$flood2_pid" 2>/dev/null || true
fb_pass "idle sessions refused per address, pushed out or closed at the hello deadline ($closes)"
