#!/usr/bin/env bash
# The privacy proof on the wire. Two broadcasting and two silent agents, each on
# its own 127.0.0.x, and a bootstrap server run with SSLKEYLOGFILE (GnuTLS writes
# the session secrets); everything on loopback is captured. Decrypted with the
# key log, no byte of any TLS connection - gossip, bootstrap API, the silent
# agents' own included - carries a silent agent's address: it appears only in
# the IP headers of that agent's own connections.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

keys=$(fb_tmpdir)
cap="$keys/loopback.pcapng"
dumpcap -q -i lo -f tcp -w "$cap" 2>"$keys/dumpcap.log" &
cap_pid=$!
fb_on_exit "kill $cap_pid"
fb_wait_for 10 test -s "$cap" || fb_fail "dumpcap did not start: $(cat "$keys/dumpcap.log")"

fb_bs_setup
SSLKEYLOGFILE="$keys/bootstrap.keys" fb_bs_start a
fb_agent_new b1 127.0.0.2 broadcast alpha
fb_agent_new b2 127.0.0.3 broadcast beta
fb_agent_new s1 127.0.0.4 silent gamma
fb_agent_new s2 127.0.0.5 silent delta
for n in b1 b2 s1 s2; do SSLKEYLOGFILE="$keys/$n.keys" fb_agent_start "$n"; done

fb_agents_meet 30 . b1 b2 s1 s2
fb_agent s1 discover beta --json >/dev/null
fb_agent s2 discover alpha --json >/dev/null
fb_agent b1 discover gamma --json >/dev/null
sleep 3 # heartbeats, re-announcements and anti-entropy rounds cross the wire too
for n in s1 s2 b1 b2; do fb_agent_stop "$n" TERM; done
fb_pass "scenario ran: discovery both ways, heartbeats, leaves and unregisters"

# Silent addresses in no table or status was checked by test_agent_discovery; here, the wire.
sleep 0.5
kill "$cap_pid"
wait "$cap_pid" 2>/dev/null || true
cat "$keys"/*.keys >"$keys/all.keys"
nsecrets=$(grep -c . "$keys/all.keys")
report=$("$FB_ROOT/tests/e2e/decrypted_bytes.py" "$cap" "$keys/all.keys" \
	127.0.0.4 127.0.0.5 127.0.0.2 PEER_ANNOUNCEMENT /api/bootstrap/register s1@example.com)
fb_log "key log: $nsecrets secrets; $report"
found() { jq -r --arg n "$1" '.found[$n]' <<<"$report"; }
# The decryption worked: what must be there is there.
[ "$(found PEER_ANNOUNCEMENT)" -gt 0 ] || fb_fail "no decrypted gossip: the proof would be empty"
[ "$(found /api/bootstrap/register)" -gt 0 ] || fb_fail "no decrypted bootstrap request"
[ "$(found 127.0.0.2)" -gt 0 ] || fb_fail "a broadcasting address should be visible when decrypted"
[ "$(found s1@example.com)" -gt 0 ] || fb_fail "the silent agent's record should be visible"
# The proof.
fb_assert_eq "$(found 127.0.0.4)" 0 "decrypted bytes holding s1's address"
fb_assert_eq "$(found 127.0.0.5)" 0 "decrypted bytes holding s2's address"
# And the silent agents did talk: their addresses are in the captured IP headers.
sent=$(tshark -r "$cap" -Y "ip.src == 127.0.0.4 and tcp.len > 0" 2>/dev/null | wc -l)
[ "$sent" -gt 0 ] || fb_fail "s1 sent nothing: the capture missed it"
fb_log "s1 sent $sent data segments; its address only in their IP headers"
fb_pass "decrypted $(jq .decrypted_bytes <<<"$report") bytes of TLS: no silent address in any"
