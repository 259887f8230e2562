#!/usr/bin/env bash
# Identity takeover through eviction: an agent (v) knows a real peer and has
# pinned its certificate by direct contact. An attacker floods records that
# claim is_bootstrap from many fresh identities until v's table (table_max = 8)
# evicts, then announces a record for the real peer's email with its own
# certificate. v must refuse it, keep the real certificate, and the real peer
# must still connect afterwards.
# Then the table freeze: Sybils dial in one after another, say a valid hello
# and leave. A moment of an inbound session proves nothing, so their entries
# stay unprotected and a new honest peer still gets into v's table and
# connects.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

SYBILS=24
fb_bs_setup
fb_bs_start a
fb_agent_new v 127.0.0.2 broadcast alpha
sed -i '/^\[gossip\]/a table_max = 8' "$(fb_agent_home v)/agent.ini"
fb_agent_new real 127.0.0.3 silent beta
fb_agent_start v
fb_agent_start real
fb_wait_for 30 fb_agent_knows v real@example.com '.state == "CONNECTED"' ||
	fb_fail "the real peer never connected to v: $(fb_agent v peers 2>&1)"
fp_real=$(fb_fingerprint "$(fb_agent_home real)/identity.crt")
cert_fp() { fb_agent_peers_json v | jq -r '.[] | select(.email == "real@example.com") | .public_certificate' |
	certtool --fingerprint --hash sha256 2>/dev/null | tr A-F a-f; }
fb_assert_eq "$(cert_fp)" "$fp_real" "v holds the real peer's certificate"
fb_pass "v met the real peer directly and pinned it"

port=$(fb_agent v status --json | jq -r .listen_port)
url="wss://127.0.0.2:$port/gossip/v1"
nodehome="$FB_AGENTS/node"
"$FB_BUILD/bin/peer-agent" init --home "$nodehome" --email node@example.com >/dev/null
sybils="$FB_AGENTS/sybils"
mkdir -p "$sybils"
for i in $(seq -w 1 $SYBILS); do
	"$FB_BUILD/bin/peer-agent" init --home "$sybils/s$i" --email "sybil$i@example.com" >/dev/null
done
impostor="$FB_AGENTS/impostor"
"$FB_BUILD/bin/peer-agent" init --home "$impostor" --email real@example.com >/dev/null
play() {
	timeout 30 node "$FB_ROOT/tests/e2e/ws_client.js" "$nodehome" node@example.com "$url" "$@"
}

# The flood: every Sybil claims is_bootstrap, a claim nothing vouches for.
out=$(play flood_bootstrap "$sybils")
fb_log "flood: $out"
fb_assert_eq "$(jq -r .sent <<<"$out")" "$SYBILS" "every Sybil record was sent"
known=$(fb_agent v status --json | jq -r .known_peers)
[ "$known" -le 8 ] || fb_fail "v's table passed table_max: $known entries"
nsybils=$(fb_agent_peers_json v | jq '[.[] | select(.email | startswith("sybil"))] | length')
[ "$nsybils" -ge 1 ] && [ "$nsybils" -lt "$SYBILS" ] ||
	fb_fail "the flood did not fill v's table to its bound ($nsybils Sybils held)"
fb_pass "the flood filled v's table ($known entries, $nsybils of $SYBILS Sybils held)"

# The takeover attempt: the real peer's email with the attacker's certificate.
before=$(fb_agent v status --json | jq -r .gossip.verdicts.pin)
out=$(play pin "$impostor")
fb_log "impostor: $out"
after=$(fb_agent v status --json | jq -r .gossip.verdicts.pin)
[ "$after" -gt "$before" ] || fb_fail "the impostor's record was not refused as a pin mismatch ($before -> $after)"
if fb_agent_knows v real@example.com; then
	fb_assert_eq "$(cert_fp)" "$fp_real" "v still holds the real certificate"
fi
fb_pass "the impostor's record for real@example.com was refused ($before -> $after pin mismatches)"

# The real owner keeps its identity: after a restart it connects again, within seconds.
fb_agent_stop real
fb_agent_start real
fb_wait_for 20 fb_agent_knows v real@example.com '.state == "CONNECTED"' ||
	fb_fail "the real peer could not connect again: $(grep -i pin "$(fb_agent_home v)/agent.log" | tail -3)"
fb_assert_eq "$(cert_fp)" "$fp_real" "v holds the real peer's certificate after the attack"
fb_pass "the real peer connected again with its own certificate"

# The freeze attempt: each Sybil dials in with its own identity, says hello and leaves.
hellos="$FB_AGENTS/hellos"
mkdir -p "$hellos"
for i in $(seq -w 1 12); do
	"$FB_BUILD/bin/peer-agent" init --home "$hellos/h$i" --email "hello$i@example.com" >/dev/null
	out=$(timeout 30 node "$FB_ROOT/tests/e2e/ws_client.js" "$hellos/h$i" "hello$i@example.com" "$url" valid)
	[ "$(jq -r .hello_from <<<"$out")" = v@example.com ] || fb_fail "Sybil hello$i had no session: $out"
done
nhellos=$(fb_agent_peers_json v | jq '[.[] | select(.email | startswith("hello"))] | length')
[ "$nhellos" -ge 1 ] || fb_fail "no Sybil hello reached v's table"
fb_pass "12 Sybils said hello to v and left ($nhellos held)"
fb_agent_new late 127.0.0.4 silent gamma
fb_agent_start late
fb_wait_for 30 fb_agent_knows v late@example.com '.state == "CONNECTED"' ||
	fb_fail "a new honest peer could not get into v's table: $(fb_agent v status --json | jq -c .gossip.limits)"
fb_pass "a new honest peer still got into v's table and connected"
