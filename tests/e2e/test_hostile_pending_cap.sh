#!/usr/bin/env bash
# Sessions before their hello do not fill the inbound cap: 4 cheap neighbours
# plus 8 idle sessions from 2 addresses (4 each: max_per_address, and 8:
# max_unauthenticated) used to make 12 inbound sessions, all of
# max_peers 16 less dial_slots 4, and every newcomer was refused. Now the
# pending ones are capped apart, a newcomer pushes out the youngest pending
# session of the address holding the most, and honest visitors, one after
# another, each get in and finish their handshake.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a
fb_agent_new target 127.0.0.2 broadcast alpha
fb_agent_start target
port=$(fb_agent target status --json | jq -r .listen_port)
url="wss://127.0.0.2:$port/gossip/v1"
attacker="$FB_AGENTS/attacker"
"$FB_BUILD/bin/peer-agent" init --home "$attacker" --email attacker@example.com >/dev/null
homes=()
for i in 1 2 3 4; do
	h="$FB_AGENTS/sybil$i"
	"$FB_BUILD/bin/peer-agent" init --home "$h" --email "sybil$i@example.com" >/dev/null
	homes+=("$h")
done

FB_FLOOD_S=50 FB_SYBIL_HOMES=$(IFS=,; echo "${homes[*]}") \
	node "$FB_ROOT/tests/e2e/ws_client.js" "${homes[0]}" sybil1@example.com "$url" sybil_hold \
	>"$FB_AGENTS/sybil.json" 2>&1 &
sybil_pid=$!
fb_on_exit "kill $sybil_pid 2>/dev/null"
neighbours() { fb_agent target status --json | jq -r .neighbours; }
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
	v="$FB_AGENTS/visitor$n"
	"$FB_BUILD/bin/peer-agent" init --home "$v" --email "visitor$n@example.com" >/dev/null
	start=$SECONDS
	out=$(timeout 20 node "$FB_ROOT/tests/e2e/ws_client.js" "$v" "visitor$n@example.com" "$url" valid)
	fb_log "visitor$n: $out"
	fb_assert_eq "$(jq -r .hello_from <<<"$out")" target@example.com "visitor$n was answered with target's hello"
	fb_assert_eq "$(jq -r .close_code <<<"$out")" 1000 "visitor$n closed the session itself"
	fb_agent_knows target "visitor$n@example.com" '.peer_count == 7' ||
		fb_fail "target did not take visitor$n's hello and heartbeat"
	[ $((SECONDS - start)) -le 8 ] || fb_fail "visitor$n needed $((SECONDS - start)) s"
	fb_pass "visitor$n got in past the idle sessions in $((SECONDS - start)) s"
done

limits=$(fb_agent target status --json | jq -c .gossip.limits)
[ "$(jq -r .pending_evicted <<<"$limits")" -ge 1 ] || fb_fail "no pending session was pushed out: $limits"
grep -q "of them from its address" "$(fb_agent_home target)/agent.log" ||
	fb_fail "no log line for max_unauthenticated"
kill "$flood_pid" "$sybil_pid" 2>/dev/null || true
fb_pass "pending sessions pushed out per address, never a visitor ($limits)"
