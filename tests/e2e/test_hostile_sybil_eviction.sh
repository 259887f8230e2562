#!/usr/bin/env bash
# Cheap identities from few addresses cannot keep an honest peer out: sixteen
# sybils with valid hellos from 4 addresses (4 each: max_per_address) try for
# the 12 inbound sessions of max_peers 16 less dial_slots 4. Past the cap each
# newcomer closes (4000, "full: try another peer") the youngest session of the
# address group with the most, outside the longest connected half, 5 s after
# its hello (at once past 2 more): the sybils push out each other, honest
# visitors from another address get in and stay until they leave, and one that
# leaves within 5 s pushes out nobody.
set -euo pipefail
. "$(dirname "$0")/../lib/hostile.sh"

fb_hostile_target
fb_hostile_sybils 16 30 4
neighbours() { fb_hostile_neighbours; }
_held() { [ "$(neighbours)" -ge 12 ]; }
fb_wait_for 20 _held || fb_fail "the sybils hold only $(neighbours) sessions"
sleep 2 # all sixteen have arrived
limits() { fb_agent target status --json | jq -c .gossip.limits; }
# Up to 2 over the cap for 5 s after a hello (a session dialled for one question leaves by then).
_capped() { [ "$(neighbours)" -le 12 ]; }
fb_wait_for 10 _capped || fb_fail "$(neighbours) inbound neighbours, over max_peers less dial_slots"
[ "$(limits | jq -r .inbound_evicted)" -ge 4 ] || fb_fail "the sybils past the cap pushed out nobody: $(limits)"
fb_pass "the sybils hold $(neighbours) inbound sessions, and pushed out each other past the cap"

# A short visit (1.5 s, as a session dialled for one lookup) pushes out nobody;
# one that stays past 5 s pushes out a sybil.
before=$(limits | jq -r .inbound_evicted)
fb_hostile_visitor visitor1 "past $(neighbours) sybil neighbours"
fb_assert_eq "$(limits | jq -r .inbound_evicted)" "$before" "sessions pushed out by a 1.5 s visit"
VISIT_MS=7000 fb_hostile_visitor visitor2 "past $(neighbours) sybil neighbours"
[ "$(limits | jq -r .inbound_evicted)" -gt "$before" ] || fb_fail "a 7 s visitor pushed out no sybil: $(limits)"
grep -q "youngest of the address with the most" "$(fb_agent_home target)/agent.log" ||
	fb_fail "no log line for the inbound eviction"
wait "$sybil_pid" || true
fb_log "sybils: $(cat "$sybil_out")"
[ "$(jq -r '.closed."4000" // 0' "$sybil_out")" -ge 5 ] || fb_fail "the sybils were not closed with 4000: $(cat "$sybil_out")"
fb_pass "sybils from 4 addresses rotate among themselves; visitors get in ($(limits))"
