#!/usr/bin/env bash
# Four agents on 127.0.0.2-5 (two broadcasting, two silent) and a bootstrap server:
# they find each other, a broadcasting agent discovers a silent agent's repository
# through gossip alone, a silent agent discovers through its neighbours, and no
# table, status or database row anywhere holds a silent agent's address.
# fb-topology and peer-agent topology both see the four as one network.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a

fb_agent_new b1 127.0.0.2 broadcast alpha
fb_agent_new b2 127.0.0.3 broadcast beta
fb_agent_new s1 127.0.0.4 silent gamma
fb_agent_new s2 127.0.0.5 silent delta
for n in b1 b2 s1 s2; do fb_agent_start "$n"; done

registered() { fb_agent "$1" status --json | jq -e '.bootstrap.state == "REGISTERED"'; }
fb_wait_for 20 registered b1 || fb_fail "b1 did not register: $(fb_agent b1 status --json)"
fb_wait_for 20 registered b2 || fb_fail "b2 did not register"
fb_pass "both broadcasting agents registered with the bootstrap server"

# Everyone learns everyone (gossip spreads the silent agents' records too).
fb_agents_meet 30 . b1 b2 s1 s2
fb_pass "every agent knows the three others"

# The topology of the live network from the four tables: one component.
topo=$(fb_tmpdir)
args=()
for n in b1 b2 s1 s2; do
	fb_agent_peers_json "$n" >"$topo/$n.json"
	args+=("$n@example.com=$topo/$n.json")
done
out=$("$FB_BUILD/bin/fb-topology" --json --dot "$topo/net.dot" "${args[@]}")
fb_assert_eq "$(jq -c '[.nodes, .components, .partitioned]' <<<"$out")" '[4,1,false]' "topology ($out)"
[ "$(jq .edges <<<"$out")" -ge 3 ] || fb_fail "fewer sessions than a tree needs: $out"
fb_pass "fb-topology: $(jq -c '{edges, degree_avg, diameter_estimate}' <<<"$out")"

# The same from the agents themselves: peer-agent topology asks each one's API.
homes=()
for n in b1 b2 s1 s2; do homes+=("$(fb_agent_home "$n")"); done
out=$("$FB_BUILD/bin/peer-agent" topology --json --dot "$topo/live.dot" "${homes[@]}")
fb_assert_eq "$(jq -c '[.nodes, .components, .partitioned]' <<<"$out")" '[4,1,false]' \
	"peer-agent topology ($out)"
fb_assert_eq "$(grep -c -- ' -- ' "$topo/live.dot")" "$(jq .edges <<<"$out")" "one DOT edge per session"
# One agent alone (its --home): it and every peer it knows, four nodes.
fb_assert_eq "$(fb_agent b1 topology --json | jq .nodes)" 4 "b1's own view"
fb_agent b1 topology | grep -q '^nodes 4, sessions' || fb_fail "no text summary: $(fb_agent b1 topology)"
fb_pass "peer-agent topology: $(jq -c '{edges, degree_avg, diameter_estimate}' <<<"$out")"

# A silent agent's record is in others' tables, with no address.
fb_agent_knows b1 s1@example.com '.socket_addresses == [] and .is_broadcasting == false' ||
	fb_fail "b1 holds s1 with an address: $(fb_agent_peers_json b1)"
fb_agent_knows s1 b1@example.com '.socket_addresses == ["127.0.0.2"] and .is_bootstrap == true' ||
	fb_fail "s1 lacks b1's address or bootstrap flag"

# Discovery of the silent agent's repository by a broadcasting agent: gossip alone
# (the bootstrap server knows nothing about s1).
out=$(fb_agent b1 discover gamma --json)
fb_assert_eq "$(jq -r '.[0].email' <<<"$out")" s1@example.com "b1 discovers gamma at s1"
fb_assert_contains "table gossip" "$(jq -r '.[0].source' <<<"$out")" "found without the bootstrap"
fb_assert_eq "$(jq -c '.[0].socket_addresses' <<<"$out")" "[]" "s1 is found without an address"
fb_pass "b1 discovered gamma (silent s1) via $(jq -r '.[0].source' <<<"$out")"

# Discovery from a silent agent.
out=$(fb_agent s2 discover beta --json)
fb_assert_eq "$(jq -r '.[0].email' <<<"$out")" b2@example.com "s2 discovers beta at b2"
fb_assert_eq "$(jq -c '.[0].socket_addresses' <<<"$out")" '["127.0.0.3"]' "b2 is dialable"
fb_pass "silent s2 discovered beta at b2 via $(jq -r '.[0].source' <<<"$out")"

# Every answer of the control API matches proto/agent.openapi.yaml's schemas.
for n in b1 s2; do
	fb_valid agent-status.schema.json "$(fb_agent "$n" status --json)"
	fb_valid 'peer-info.schema.json[]' "$(fb_agent_peers_json "$n")"
done
fb_valid 'peer-info.schema.json[]' "$(fb_agent b1 discover gamma --json)"
fb_valid 'peer-info.schema.json[]' "$(fb_agent b1 peers --repository gamma --json)"
fb_valid 'peer-info.schema.json[]' "$(fb_agent b1 lookup s1@example.com --json)"
api="http://127.0.0.1:$FB_AGENT_API_b1/api/v1"
token=$(cat "$(fb_agent_home b1)/api.token")
out=$(curl -sS -w '\n%{http_code}' "$api/status")
fb_assert_eq "$(tail -1 <<<"$out")" 401 "no token"
fb_valid error.schema.json "$(head -1 <<<"$out")"
out=$(curl -sS -w '\n%{http_code}' -H "Authorization: Bearer $token" "$api/discover?repositories=a,,b%2C%01")
fb_assert_eq "$(tail -1 <<<"$out")" 400 "bad repository list"
fb_valid error.schema.json "$(head -1 <<<"$out")"
out=$(curl -sS -w '\n%{http_code}' -H "Authorization: Bearer $token" -X PUT "$api/broadcast")
fb_assert_eq "$(tail -1 <<<"$out")" 405 "wrong method"
fb_valid error.schema.json "$(head -1 <<<"$out")"
out=$(curl -sS -w '\n%{http_code}' -H "Authorization: Bearer $token" -X POST -d '{"repositories":[{"name":7}]}' "$api/broadcast")
fb_assert_eq "$(tail -1 <<<"$out")" 400 "bad broadcast body"
fb_valid error.schema.json "$(head -1 <<<"$out")"
out=$(curl -sS -w '\n%{http_code}' -H "Authorization: Bearer $token" "$api/nothing")
fb_assert_eq "$(tail -1 <<<"$out")" 404 "unknown endpoint"
fb_pass "control API answers match proto/agent.openapi.yaml; errors are JSON"

# The human-readable CLI works too.
fb_agent b1 peers | grep -q 's1@example.com' || fb_fail "peers table lacks s1"
fb_agent b1 status | grep -q 'REGISTERED' || fb_fail "status lacks the bootstrap state"

# Privacy: no answer of any agent, and no bootstrap row, holds a silent address.
for n in b1 b2 s1 s2; do
	all="$(fb_agent "$n" peers --json) $(fb_agent "$n" status --json)"
	for ip in 127.0.0.4 127.0.0.5; do
		case $all in *"$ip"*) fb_fail "$n reveals silent address $ip: $all" ;; esac
	done
done
dump=$(pg_dump -a "$DATABASE_URL")
fb_assert_contains "$dump" "127.0.0.2" "the dump holds broadcasting rows (it is a real dump)"
for ip in 127.0.0.4 127.0.0.5; do
	case $dump in *"$ip"*) fb_fail "the bootstrap database holds silent address $ip" ;; esac
done
fb_pass "no table, status or database row holds a silent agent's address"

# broadcast off: b2's addresses leave every other table.
fb_agent b2 broadcast off >/dev/null
for n in b1 s1 s2; do
	fb_wait_for 20 fb_agent_knows "$n" b2@example.com '.socket_addresses == [] and .is_broadcasting == false' ||
		fb_fail "$n still holds b2's address after broadcast off"
done
fb_assert_eq "$(fb_agent b2 status --json | jq -r .bootstrap.state)" UNREGISTERED "b2 unregistered"
fb_pass "broadcast off removed b2's address from every table and unregistered it"

# Fallbacks: a repository no agent gossips about, known only to the bootstrap
# server, is found there after the neighbours had nothing; a lookup of a
# silent registration ends at the legacy relay lookup (the migration path).
fb_register ext@example.com '{"email":"ext@example.com","socket_addresses":["127.0.0.9"],"port":7443,"repositories":[{"name":"omega"}]}' >/dev/null
fb_register quiet@example.com '{"email":"quiet@example.com","is_broadcasting":false,"repositories":[{"name":"omega"}]}' >/dev/null
out=$(fb_agent s2 discover omega --json)
fb_assert_eq "$(jq -r '.[0].email' <<<"$out")" ext@example.com "s2 discovers omega"
fb_assert_eq "$(jq -r '.[0].source' <<<"$out")" bootstrap "omega came from the bootstrap server"
[ "$(jq -r '.[0].found_in_ms' <<<"$out")" -ge 1000 ] || fb_fail "the neighbours were not asked first"
out=$(fb_agent b1 lookup ext@example.com --json)
fb_assert_eq "$(jq -r '.[0].source' <<<"$out")" bootstrap "lookup of a registered peer"
out=$(fb_agent b1 lookup quiet@example.com --json)
fb_assert_eq "$(jq -r '.[0].source + " " + (.[0].socket_addresses | tostring)' <<<"$out")" "relay []" \
	"lookup of a silent registration goes to the legacy relay"
out=$(fb_agent b1 lookup s1@example.com --json)
fb_assert_eq "$(jq -r '.[0].source' <<<"$out")" table "lookup of a known peer"
fb_pass "discover falls back to the bootstrap server; lookup to the legacy relay"
