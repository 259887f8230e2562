#!/usr/bin/env bash
# IP harvesting by a claimed bootstrap: a Sybil announces a record that claims
# is_bootstrap at an address where it listens, and waits for silent agents to
# dial it (their connections would give it their IP addresses). A silent agent
# (s) must dial only bootstrap peers a trusted bootstrap server listed, and its
# broadcasting neighbour (b) must not hand it the Sybil as a bootstrap peer.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a
fb_agent_new b 127.0.0.2 broadcast alpha
fb_agent_new s 127.0.0.3 silent alpha
fb_agent_start b
fb_agent_start s
fb_wait_for 30 fb_agent_knows s b@example.com '.state == "CONNECTED"' ||
	fb_fail "the silent agent never reached b: $(fb_agent s peers 2>&1)"
fb_pass "the silent agent s is connected to the bootstrap-listed peer b"

port=$(fb_agent b status --json | jq -r .listen_port)
url="wss://127.0.0.2:$port/gossip/v1"
nodehome="$FB_AGENTS/node"
"$FB_BUILD/bin/peer-agent" init --home "$nodehome" --email node@example.com >/dev/null
sybil="$FB_AGENTS/sybil"
"$FB_BUILD/bin/peer-agent" init --home "$sybil" --email sybil@example.com >/dev/null
trap_port=$(fb_free_port 127.0.0.77)

# The Sybil's claim reaches b, which gossips with s; the trap listens for 8 s.
out=$(timeout 30 node "$FB_ROOT/tests/e2e/ws_client.js" "$nodehome" node@example.com "$url" \
	bootstrap_claim "$sybil,127.0.0.77:$trap_port")
fb_log "sybil: $out"
fb_agent_knows b sybil@example.com || fb_fail "b never took the Sybil's record: the attack did not run"
from=$(jq -c .trap_from <<<"$out")
jq -e 'index("127.0.0.3") == null' <<<"$from" >/dev/null ||
	fb_fail "the silent agent dialled the Sybil's address and gave it its IP: $from"
fb_pass "the silent agent never dialled the claimed bootstrap (trap saw: $from)"

# No session with the Sybil, and the honest neighbour stays.
if fb_agent s peers --json | jq -e '.[] | select(.email == "sybil@example.com" and .state == "CONNECTED")' >/dev/null; then
	fb_fail "s holds a session with the Sybil"
fi
fb_agent_knows s b@example.com '.state == "CONNECTED"' || fb_fail "s lost its honest neighbour"
fb_pass "s keeps its honest neighbour b"
