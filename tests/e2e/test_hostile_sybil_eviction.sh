#!/usr/bin/env bash
# Cheap identities from few addresses cannot keep an honest peer out: sixteen
# sybils with valid hellos from 4 addresses (4 each: max_per_address) try for
# the 12 inbound sessions of max_peers 16 less dial_slots 4. Past the cap each
# newcomer closes (1008) the youngest session of the address group with the
# most, outside the longest connected half: the sybils push out each other,
# and honest visitors from another address get in and stay until they leave.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a
fb_agent_new target 127.0.0.2 broadcast alpha
fb_agent_start target
port=$(fb_agent target status --json | jq -r .listen_port)
url="wss://127.0.0.2:$port/gossip/v1"
homes=()
for i in $(seq 1 16); do
	h="$FB_AGENTS/sybil$i"
	"$FB_BUILD/bin/peer-agent" init --home "$h" --email "sybil$i@example.com" >/dev/null
	homes+=("$h")
done
sybil_out="$FB_AGENTS/sybil.json"
FB_FLOOD_S=30 FB_SYBIL_ADDRESSES=4 FB_SYBIL_HOMES=$(IFS=,; echo "${homes[*]}") \
	node "$FB_ROOT/tests/e2e/ws_client.js" "${homes[0]}" sybil1@example.com "$url" sybil_hold \
	>"$sybil_out" 2>&1 &
sybil_pid=$!
fb_on_exit "kill $sybil_pid 2>/dev/null"
neighbours() { fb_agent target status --json | jq -r .neighbours; }
_held() { [ "$(neighbours)" -ge 12 ]; }
fb_wait_for 20 _held || fb_fail "the sybils hold only $(neighbours) sessions"
sleep 2 # all sixteen have arrived
limits() { fb_agent target status --json | jq -c .gossip.limits; }
[ "$(neighbours)" -le 12 ] || fb_fail "$(neighbours) inbound neighbours, over max_peers less dial_slots"
[ "$(limits | jq -r .inbound_evicted)" -ge 4 ] || fb_fail "the sybils past the cap pushed out nobody: $(limits)"
fb_pass "the sybils hold $(neighbours) inbound sessions, and pushed out each other past the cap"

for n in 1 2; do
	v="$FB_AGENTS/visitor$n"
	"$FB_BUILD/bin/peer-agent" init --home "$v" --email "visitor$n@example.com" >/dev/null
	start=$SECONDS
	out=$(timeout 20 node "$FB_ROOT/tests/e2e/ws_client.js" "$v" "visitor$n@example.com" "$url" valid)
	fb_log "visitor$n: $out"
	fb_assert_eq "$(jq -r .hello_from <<<"$out")" target@example.com "visitor$n was answered with target's hello"
	fb_assert_eq "$(jq -r .close_code <<<"$out")" 1000 "visitor$n stayed until it closed itself"
	fb_agent_knows target "visitor$n@example.com" '.peer_count == 7' ||
		fb_fail "target did not take visitor$n's hello and heartbeat"
	[ $((SECONDS - start)) -le 8 ] || fb_fail "visitor$n needed $((SECONDS - start)) s"
	fb_pass "visitor$n got in past $(neighbours) sybil neighbours in $((SECONDS - start)) s"
done

# The first visitor pushed out a sybil; the second found the place it left.
[ "$(limits | jq -r .inbound_evicted)" -ge 5 ] || fb_fail "the visitors pushed out no sybil: $(limits)"
grep -q "youngest of the address with the most" "$(fb_agent_home target)/agent.log" ||
	fb_fail "no log line for the inbound eviction"
wait "$sybil_pid" || true
fb_log "sybils: $(cat "$sybil_out")"
[ "$(jq -r '.closed."1008" // 0' "$sybil_out")" -ge 5 ] || fb_fail "the sybils were not closed with 1008: $(cat "$sybil_out")"
fb_pass "sybils from 4 addresses rotate among themselves; visitors get in ($(limits))"
