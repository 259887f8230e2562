#!/usr/bin/env bash
# Lookup by key with real agents: an agent whose table holds only part of the
# network (table_max 8 of 10 peers) and not a repository's host asks the
# peers of its table nearest the repository's key, dialling a session to
# those it has none with, finds the host without the bootstrap server, and
# closes the sessions it dialled for the question.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a

# Eight broadcasting agents with the default table: each holds everyone.
names=()
for i in 1 2 3 4 5 6 7 8; do
	fb_agent_new "r$i" "127.0.0.$((i + 1))" broadcast "r-$i"
	printf '[gossip]\nneighbours = 2\n' >>"$(fb_agent_home "r$i")/agent.ini"
	names+=("r$i")
done
fb_agent_new seed 127.0.0.10 broadcast seed
for n in "${names[@]}" seed; do fb_agent_start "$n"; done
fb_agents_meet 40 . "${names[@]}" seed
fb_pass "eight agents and a seed know each other"

# The asker has no bootstrap server: it starts from the seed's saved table,
# without its pins, so that no peer of it is attested or vouched for, as
# most of a large table is not.
fb_agent_stop seed
saved_bs=$FB_BS_URL
unset FB_BS_URL
fb_agent_new q 127.0.0.11 broadcast q-own
FB_BS_URL=$saved_bs
printf '[gossip]\ntable_max = 8\nneighbours = 1\n' >>"$(fb_agent_home q)/agent.ini"
jq 'del(.pins)' "$(fb_agent_home seed)/peers.json" >"$(fb_agent_home q)/peers.json"
fb_agent_start q
fb_wait_for 30 fb_agent_knows r1 q@example.com || fb_fail "q did not join: $(tail -5 "$(fb_agent_home q)/agent.log")"
# Full of the eight, all fresh (the seed's leave expires from every table).
eight() { fb_agent_peers_json q | jq -e '[.[] | select(.peer_status == "online")] | length == 8' >/dev/null; }
fb_wait_for 40 eight || fb_fail "q's table is not the eight: $(fb_agent q peers)"
fb_pass "q joined from its saved table: 8 entries, all online"

# A repository whose key lies in the half of the key space away from q's
# position (first bits of SHA-256 of the name and of q's certificate differ):
# q's table keeps the hosts of the keys nearest it only (a quarter of its
# entries), so it is not responsible for this one.
top_bit() { [ $((0x${1:0:1} & 8)) -ne 0 ] && echo 1 || echo 0; }
qbit=$(top_bit "$(openssl x509 -in "$(fb_agent_home q)/identity.crt" -outform DER | sha256sum)")
for i in $(seq 0 63); do
	repo="zeta-$i"
	[ "$(top_bit "$(printf %s "$repo" | sha256sum)")" != "$qbit" ] && break
done

# The host comes last: q's full table refuses its record, the large ones keep it.
fb_agent_new h 127.0.0.12 broadcast "$repo"
printf '[gossip]\nneighbours = 1\n' >>"$(fb_agent_home h)/agent.ini"
fb_agent_start h
for n in "${names[@]}"; do
	fb_wait_for 30 fb_agent_knows "$n" h@example.com || fb_fail "$n did not learn h"
done
sleep 2
! fb_agent_knows q h@example.com || fb_fail "q holds h already: $(fb_agent q peers)"
fb_pass "every large table holds h; q's does not"

# No bootstrap server to fall back on: the answer can only come from peers.
pid=FB_BS_PID_a
kill "${!pid}"
log="$(fb_agent_home q)/agent.log"
out=$(fb_agent q discover "$repo" --json)
fb_assert_eq "$(jq -r '.[0].email' <<<"$out")" h@example.com "q discovers $repo at h ($out)"
fb_assert_eq "$(jq -r '.[0].source' <<<"$out")" gossip "found by asking peers"
fb_assert_eq "$(jq -c '.[0].socket_addresses' <<<"$out")" '["127.0.0.12"]' "h is dialable"
grep -q "asking r[0-9]@example.com for $repo by key" "$log" ||
	fb_fail "no peer was dialled by key: $(grep -E 'by key|dialling' "$log" | tail -5)"
fb_pass "q found $repo at h in $(jq -r '.[0].found_in_ms' <<<"$out") ms; $(grep -c "for $repo by key" "$log") peer(s) dialled by key"

# The sessions dialled for the question close once it is answered (a full
# peer may have pushed one out before, with 4000).
dialled=$(grep -o "asking r[0-9]@example.com for $repo by key" "$log" | cut -d' ' -f2 | sort -u)
closed() {
	local e
	for e in $dialled; do grep -q "session with $e closed: " "$log" || return 1; done
}
fb_wait_for 10 closed || fb_fail "a lookup's session stayed open: $(grep -E 'session with|lookup' "$log" | tail -8)"
grep -q "closed: 1000 lookup answered" "$log" || fb_fail "no lookup session closed by q: $(grep 'session with' "$log" | tail -5)"
fb_pass "the lookup's sessions closed: $(grep -c 'closed: 1000 lookup answered' "$log") with 1000 (lookup answered)"
