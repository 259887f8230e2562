#!/usr/bin/env bash
# Relays: silent carol and dave, each on its own 127.0.0.x with no listener, both
# hosting photos, reserve slots on the broadcasting agents (alice, bob), name them in
# their records, and become neighbours through one of them: CONNECTED with `via`, and
# gossip flows over the circuit. Silent dave seeds a torrent that silent carol downloads
# through a relay. Then the relay carrying the download is killed mid-transfer: dave
# and carol reserve elsewhere and the download resumes and completes. No answer, table
# or record anywhere holds a silent agent's address.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a
fb_agent_new alice 127.0.0.2 broadcast alpha
fb_agent_new bob 127.0.0.3 broadcast beta
fb_agent_new carol 127.0.0.4 silent photos
fb_agent_new dave 127.0.0.5 silent photos
for n in alice bob carol dave; do fb_agent_torrent "$n"; done
# The download through a relay is slowed, so that a relay can be killed during it.
printf '[relay]\ncircuit_rate = 2097152\n' >>"$(fb_agent_home alice)/agent.ini"
printf '[relay]\ncircuit_rate = 2097152\n' >>"$(fb_agent_home bob)/agent.ini"
for n in alice bob carol dave; do fb_agent_start "$n"; done
fb_agents_meet 40 . alice bob carol dave
fb_pass "four agents know each other"

# Silent agents listen on nothing but their control API.
for n in carol dave; do
	pid=FB_AGENT_PID_$n api=FB_AGENT_API_$n
	listening=$(ss -Hltnp | grep "pid=${!pid}," | awk '{print $4}' | sort -u)
	fb_assert_eq "$listening" "127.0.0.1:${!api}" "silent $n's listening sockets"
done

# Each silent agent holds reservations on both relays, and says so in its record.
reserved() {
	fb_agent "$1" relay status --json |
		jq -e '[.reservations_held[] | select(.pending == false)] | length == 2' >/dev/null
}
for n in carol dave; do
	fb_wait_for 30 reserved "$n" || fb_fail "$n holds no reservations: $(fb_agent "$n" relay status 2>&1)"
done
fb_valid 'relay-status.schema.json' "$(fb_agent carol relay status --json)"
names_relays() { fb_agent_knows "$1" "$2@example.com" '(.reachable_via | length) == 2 and .socket_addresses == []'; }
fb_wait_for 20 names_relays carol dave || fb_fail "carol's record of dave: $(fb_agent_peers_json carol | jq -c '.[] | select(.email == "dave@example.com")')"
fb_wait_for 20 names_relays alice carol || fb_fail "alice's record of carol names no relays"
fb_assert_eq "$(fb_agent alice relay status --json | jq '.reservations_served | length')" 2 "reservations alice serves"
fb_pass "carol and dave hold reservations on alice and bob; their records name them"

# Carol and dave become neighbours through a relay.
relayed() { fb_agent_knows "$1" "$2@example.com" '.state == "CONNECTED" and (.via == "alice@example.com" or .via == "bob@example.com")'; }
fb_wait_for 30 relayed carol dave || fb_fail "carol is not connected to dave: $(fb_agent carol peers 2>&1)"
fb_wait_for 10 relayed dave carol || fb_fail "dave is not connected to carol: $(fb_agent dave peers 2>&1)"
fb_valid 'peer-info.schema.json[]' "$(fb_agent_peers_json carol)"
via=$(fb_agent_peers_json carol | jq -r '.[] | select(.email == "dave@example.com") | .via')
fb_agent carol peers | grep dave@example.com | grep -q "relayed by $via" ||
	fb_fail "peer-agent peers does not show the relay: $(fb_agent carol peers)"
# Gossip flows over the circuit: dave's frames reach carol as a neighbour's.
count() { fb_agent_peers_json carol | jq '.[] | select(.email == "dave@example.com") | .gossip_received_count'; }
c1=$(count)
sleep 3
c2=$(count)
[ "$c2" -gt "$c1" ] || fb_fail "no gossip from dave over the circuit ($c1 then $c2)"
circuits=$(fb_agent "${via%@*}" relay status --json | jq '[.circuits_served[] | select(.service == "gossip" and .pending == false)] | length')
[ "$circuits" -ge 1 ] || fb_fail "$via relays no gossip circuit: $(fb_agent "${via%@*}" relay status)"
fb_pass "silent carol and dave are neighbours through $via ($c1 -> $c2 frames from dave)"

# A silent seeder's torrent, downloaded by a silent peer through a relay.
work=$(fb_tmpdir)
head -c $((24 * 1024 * 1024)) /dev/urandom >"$work/film.bin"
want=$(sha256sum "$work/film.bin" | cut -d' ' -f1)
created=$(fb_agent dave torrent create "$work/film.bin" --json) || fb_fail "create failed: $created"
ih=$(jq -r .info_hash <<<"$created")
seeds() { fb_agent_knows carol dave@example.com "(.torrents | map(.info_hash) | index(\"$ih\")) != null"; }
fb_wait_for 20 seeds || fb_fail "carol does not see dave seeding $ih"
mkdir -p "$work/carol"
fb_agent carol torrent get "$ih" --dest "$work/carol" --no-wait >/dev/null || fb_fail "get failed"
progress() { fb_agent carol torrent list --json | jq -e --arg ih "$ih" ".[] | select(.info_hash == \$ih and .progress > $1)" >/dev/null; }
fb_wait_for 40 progress 0.1 || fb_fail "carol's download does not start: $(fb_agent carol torrent list)"
# Which relay carries it: the one whose served torrent circuit joins dave and carol.
carrier=""
for r in alice bob; do
	if fb_agent "$r" relay status --json | jq -e '.circuits_served[] | select(.service == "torrent" and .pending == false)' >/dev/null; then
		carrier=$r
	fi
done
[ -n "$carrier" ] || fb_fail "no relay carries the torrent circuit"
fb_pass "carol downloads dave's torrent through $carrier"

# The relay carrying it is killed mid-transfer; the ends reserve elsewhere and resume.
fb_agent_stop "$carrier" KILL
other=$([ "$carrier" = alice ] && echo bob || echo alice)
done_dl() { fb_agent carol torrent list --json | jq -e --arg ih "$ih" '.[] | select(.info_hash == $ih and .state == "seeding")' >/dev/null; }
fb_wait_for 120 done_dl || fb_fail "carol's download did not finish after $carrier died: $(fb_agent carol torrent list) $(fb_agent carol relay status)"
fb_assert_eq "$(sha256sum "$work/carol/film.bin" | cut -d' ' -f1)" "$want" "carol's copy"
on_other() { fb_agent "$1" relay status --json | jq -e --arg r "$other@example.com" \
	'[.reservations_held[] | select(.pending == false)] | map(.relay) == [$r]' >/dev/null; }
fb_wait_for 30 on_other dave || fb_fail "dave does not hold only $other: $(fb_agent dave relay status)"
fb_wait_for 30 relayed carol dave || fb_fail "carol and dave did not reconnect through $other"
fb_pass "after $carrier died the download finished through $other and the gossip session came back"

# Privacy: no answer of any agent holds a silent agent's address.
for n in alice bob carol dave; do
	pid=FB_AGENT_PID_$n
	kill -0 "${!pid}" 2>/dev/null || continue
	for cmd in "peers --json" "relay status --json" "torrent list --json" "status --json"; do
		# shellcheck disable=SC2086
		out=$(fb_agent "$n" $cmd 2>&1)
		case $out in *127.0.0.4*|*127.0.0.5*) fb_fail "$n's '$cmd' holds a silent agent's address" ;; esac
	done
done
rows=$(fb_psql "SELECT email FROM registrations ORDER BY email" | tr '\n' ' ')
case $rows in *carol*|*dave*) fb_fail "the bootstrap database holds a silent agent: $rows" ;; esac
fb_pass "no table, answer, record or bootstrap row holds carol's or dave's address"
