#!/usr/bin/env bash
# A third-party WebSocket client (Node's ws from Debian) speaks gossip with an
# agent using a client certificate; then bad frames: each is dropped or closes
# the connection with the RFC 6455 code that says why, is counted, is never
# forwarded, and the agent stays up.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a
fb_agent_new b1 127.0.0.2 broadcast alpha
fb_agent_new b2 127.0.0.3 broadcast beta
fb_agent_start b1
fb_agent_start b2
fb_wait_for 30 fb_agent_knows b1 b2@example.com '.state == "CONNECTED"' || fb_fail "b1 and b2 never met"
port=$(fb_agent b1 status --json | jq -r .listen_port)
url="wss://127.0.0.2:$port/gossip/v1"
nodehome="$FB_AGENTS/node"
"$FB_BUILD/bin/peer-agent" init --home "$nodehome" --email node@example.com >/dev/null
althome="$FB_AGENTS/impostor"
"$FB_BUILD/bin/peer-agent" init --home "$althome" --email b2@example.com >/dev/null

play() {
	timeout 20 node "$FB_ROOT/tests/e2e/ws_client.js" "$nodehome" node@example.com "$url" "$@"
}
verdict() { fb_agent b1 status --json | jq -r ".gossip.verdicts.$1"; }

# A valid exchange: TLS with a client certificate, the subprotocol, no extension
# (permessage-deflate was offered and declined), hellos both ways, a heartbeat.
out=$(play valid)
fb_log "valid: $out"
fb_assert_eq "$(jq -r .hello_from <<<"$out")" b1@example.com "node received b1's hello"
fb_assert_eq "$(jq -r .protocol <<<"$out")" flashback-gossip.v1 "subprotocol agreed"
fb_assert_eq "$(jq -r .extensions <<<"$out")" "" "permessage-deflate declined"
fb_assert_eq "$(jq -r .close_code <<<"$out")" 1000 "normal close"
fb_agent_knows b1 node@example.com '.peer_count == 7 and .socket_addresses == []' ||
	fb_fail "b1 did not apply node's hello and heartbeat: $(fb_agent_peers_json b1)"
fb_wait_for 10 fb_agent_knows b2 node@example.com || fb_fail "node's valid record was not forwarded to b2"
fb_pass "node's ws client exchanged valid frames with b1; its record reached b2"

# Bad frames that close the connection, each with its code.
for case in "no_hello 1008" "invalid_json 1007" "binary 1003" "oversize 1009" "unmasked 1002"; do
	set -- $case
	out=$(play "$1")
	fb_assert_eq "$(jq -r .close_code <<<"$out")" "$2" "$1 closes with $2 ($out)"
	fb_pass "$1: closed with $2"
done

# Bad frames that are dropped on an open connection, each counted.
for case in "forged signature" "replay duplicate" "future future" "pin pin"; do
	set -- $case
	before=$(verdict "$2")
	out=$(play "$1" "$althome")
	after=$(verdict "$2")
	[ "$after" -gt "$before" ] || fb_fail "$1 was not counted as $2 ($before -> $after): $out"
	fb_pass "$1: dropped and counted as $2 ($before -> $after)"
done

# Nothing bad reached a table, here or one hop on; the pinned certificate held.
for n in b1 b2; do
	fb_agent_knows "$n" forged@example.com && fb_fail "$n holds the forged record"
	fb_agent_knows "$n" b2@example.com '.repositories[0].name == "from-node"' &&
		fb_fail "$n took the impostor's record for b2"
done
fp=$(fb_fingerprint "$(fb_agent_home b2)/identity.crt")
fb_agent_knows b1 b2@example.com '.repositories[0].name == "beta"' || fb_fail "b1 lost b2's record"
fb_assert_eq "$(jq -r --arg f "$fp" '.public_certificate' <<<"$(fb_agent_peers_json b1 | jq '.[] | select(.email == "b2@example.com")')" | certtool --fingerprint --hash sha256 2>/dev/null | tr A-F a-f)" "$fp" "b2's pinned certificate unchanged"
closes=$(fb_agent b1 status --json | jq -c .gossip.closed_by_code)
for code in 1002 1003 1007 1008 1009; do
	[ "$(jq -r --arg c "$code" '.[$c] // 0' <<<"$closes")" -ge 1 ] || fb_fail "close $code not counted: $closes"
done
fb_agent b1 status >/dev/null || fb_fail "b1 is down"
fb_pass "bad frames dropped or closed, counted ($closes), never forwarded; b1 stays up"
