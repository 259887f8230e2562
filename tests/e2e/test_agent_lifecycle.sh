#!/usr/bin/env bash
# The lifecycle of peers as others see it: a peer killed without a leave turns
# stale, then disappears; SIGTERM leaves (offline at once) and unregisters; a
# restart keeps the table; with the bootstrap server gone, a restarted agent
# rejoins through the peers it saved.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a

fb_agent_new b1 127.0.0.2 broadcast alpha
fb_agent_new b2 127.0.0.3 broadcast beta
fb_agent_new s1 127.0.0.4 silent gamma
for n in b1 b2 s1; do fb_agent_start "$n"; done
fb_agents_meet 30 '.peer_status == "online"' b1 b2 s1
fb_pass "three agents see each other online"

# kill -9: no leave. stale_s = 6, expire_s = 14.
fb_agent_stop s1 KILL
t0=$SECONDS
fb_wait_for 20 fb_agent_knows b1 s1@example.com '.peer_status == "stale" and .state == "STALE"' ||
	fb_fail "s1 did not turn stale at b1: $(fb_agent_peers_json b1)"
fb_log "s1 stale at b1 after $((SECONDS - t0)) s"
gone() { ! fb_agent_knows "$1" "$2"; }
fb_wait_for 30 gone b1 s1@example.com || fb_fail "s1 was never removed from b1's table"
fb_wait_for 10 gone b2 s1@example.com || fb_fail "s1 was never removed from b2's table"
fb_pass "a killed peer turned stale, then expired ($((SECONDS - t0)) s)"

# SIGTERM: a graceful leave and an unregister.
listed() { fb_body "$(fb_as watcher@example.com "$FB_BS_URL/api/relay/broadcast/list")" | jq -e --arg e "$1" 'map(.email) | index($e) != null' >/dev/null; }
listed b1@example.com || fb_fail "b1 is not listed before it stops"
fb_agent_stop b1 TERM
fb_agent_knows b2 b1@example.com '.peer_status == "offline"' ||
	fb_fail "b2 did not mark b1 offline at once: $(fb_agent_peers_json b2)"
listed b1@example.com && fb_fail "b1 is still registered after SIGTERM"
fb_pass "SIGTERM: b1 left (offline at b2 at once) and unregistered"
[ -s "$(fb_agent_home b1)/peers.json" ] || fb_fail "b1 saved no peers.json"

# The bootstrap server goes away; b1 comes back through its saved peers.
kill "$FB_BS_PID_a"
wait "$FB_BS_PID_a" 2>/dev/null || true
fb_agent_start b1
fb_agent_knows b1 b2@example.com || fb_fail "b1 lost its table across the restart"
fb_wait_for 30 fb_agent_knows b1 b2@example.com '.state == "CONNECTED" and .peer_status == "online"' ||
	fb_fail "b1 did not rejoin b2 without the bootstrap server: $(fb_agent b1 peers)"
fb_wait_for 10 fb_agent_knows b2 b1@example.com '.peer_status == "online"' ||
	fb_fail "b2 does not see b1 back"
state=$(fb_agent b1 status --json | jq -r .bootstrap.state)
[ "$state" != REGISTERED ] || fb_fail "b1 claims to be registered with no server"
fb_pass "restart kept the table; b1 rejoined through saved peers with the bootstrap down ($state)"
