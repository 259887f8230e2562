#!/usr/bin/env bash
# Torrents between agents: broadcasting alice creates a 50 MiB file's torrent; bob finds
# it with `torrent search` (gossip) and gets it by magnet; silent carol gets it by its
# info hash alone (seeders from gossip). SHA-256s equal; carol's address is in no tracker
# answer, no table, and carol listens on nothing. Seeding survives a restart; remove
# --delete-data deletes the files.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a
fb_agent_new alice 127.0.0.2 broadcast alpha
fb_agent_new bob 127.0.0.3 broadcast beta
fb_agent_new carol 127.0.0.4 silent gamma
for n in alice bob carol; do fb_agent_torrent "$n"; done
for n in alice bob carol; do fb_agent_start "$n"; done
fb_agents_meet 30 . alice bob carol
fb_pass "three agents know each other"

work=$(fb_tmpdir)
head -c $((50 * 1024 * 1024)) /dev/urandom >"$work/big.bin"
want=$(sha256sum "$work/big.bin" | cut -d' ' -f1)

created=$(fb_agent alice torrent create "$work/big.bin" --json) || fb_fail "create failed: $created"
ih=$(jq -r .info_hash <<<"$created")
[[ $ih =~ ^[0-9a-f]{40}$ ]] || fb_fail "no info hash: $created"
fb_assert_eq "$(jq -r .sha256 <<<"$created")" "$want" "create's sha256"
fb_assert_eq "$(jq -r .size <<<"$created")" $((50 * 1024 * 1024)) "create's size"
fb_assert_eq "$(jq -r .name <<<"$created")" big.bin "create's name"
magnet=$(jq -r .magnet <<<"$created")
tfile=$(jq -r .torrent_file <<<"$created")
[ -s "$tfile" ] || fb_fail "no .torrent written at $tfile"
fb_assert_contains "$magnet" "xt=urn:btih:$ih" "magnet names the info hash"
fb_assert_contains "$magnet" "127.0.0.2%3A$FB_AGENT_HPORT_alice%2Fannounce" "magnet names alice's tracker"
fb_valid 'torrent.schema.json#/$defs/created' "$created"
# The .torrent names alice's tracker and her web seed.
grep -aq "127.0.0.2:$FB_AGENT_HPORT_alice/announce" "$tfile" || fb_fail "no tracker in $tfile"
grep -aq "127.0.0.2:$FB_AGENT_HPORT_alice/seed/$ih/" "$tfile" || fb_fail "no web seed in $tfile"
fb_pass "alice created $ih ($(jq -r .piece_length <<<"$created") B pieces)"

# Alice's record now announces the torrent: bob's search finds alice through the table.
found() { fb_agent bob torrent search "$ih" --json | jq -e '.[] | select(.email == "alice@example.com")'; }
fb_wait_for 20 found >/dev/null || fb_fail "bob's search: $(fb_agent bob torrent search "$ih" --json)"
fb_valid 'peer-info.schema.json[]' "$(fb_agent bob torrent search "$ih" --json)"
fb_pass "bob finds alice seeding $ih"

mkdir -p "$work/bob" "$work/carol"
fb_agent bob torrent get "$magnet" --dest "$work/bob" >"$work/bob.out" ||
	fb_fail "bob's get failed: $(tail -3 "$work/bob.out")"
fb_assert_eq "$(sha256sum "$work/bob/big.bin" | cut -d' ' -f1)" "$want" "bob's copy"
fb_pass "bob got it by magnet: $(tail -1 "$work/bob.out")"

fb_agent carol torrent get "$ih" --dest "$work/carol" >"$work/carol.out" ||
	fb_fail "carol's get failed: $(tail -3 "$work/carol.out")"
fb_assert_eq "$(sha256sum "$work/carol/big.bin" | cut -d' ' -f1)" "$want" "carol's copy"
fb_pass "silent carol got it by info hash alone"

# Privacy: carol listens on nothing but her control API; no tracker answer and no
# table holds her address.
listening=$(ss -Hltnp | grep "pid=$FB_AGENT_PID_carol," | awk '{print $4}' | sort -u)
fb_assert_eq "$listening" "127.0.0.1:$FB_AGENT_API_carol" "silent carol's listening sockets"
for n in alice bob; do
	hp=FB_AGENT_HPORT_$n ipv=FB_AGENT_IP_$n
	q="info_hash=$(python3 -c "import sys,urllib.parse;print(urllib.parse.quote(bytes.fromhex('$ih')))")"
	curl -sf "http://${!ipv}:${!hp}/announce?$q&peer_id=-XX0001-000000000000&port=6881&uploaded=0&downloaded=0&left=0&compact=1" \
		>"$work/$n.announce" || true
	# Both trackers list alice (bob's knows her from gossip), neither lists carol.
	python3 - "$work/$n.announce" <<'PY' || fb_fail "$n's tracker answer is wrong"
import sys, socket
b = open(sys.argv[1], 'rb').read()
i = b.find(b'5:peers')
assert i >= 0, b[:200]
j = b.index(b':', i + 7)
n = int(b[i + 7:j]); p = b[j + 1:j + 1 + n]
ips = {socket.inet_ntoa(p[k:k + 4]) for k in range(0, len(p), 6)}
assert '127.0.0.4' not in ips, ips
assert '127.0.0.2' in ips, ips
PY
done
for n in alice bob carol; do
	! fb_agent_peers_json "$n" | grep -q '127\.0\.0\.4' || fb_fail "$n's table holds carol's address"
	! fb_agent "$n" torrent list --json | grep -q '127\.0\.0\.4' || fb_fail "$n's torrent list holds it"
done
# Carol seeds now: her record names the torrent but carries no port or address.
carol_seeds() { fb_agent_knows bob carol@example.com \
	"(.torrents | map(.info_hash) | index(\"$ih\")) != null and (.torrent_port // 0) == 0 and .socket_addresses == []"; }
fb_wait_for 20 carol_seeds || fb_fail "bob's record of carol: $(fb_agent_peers_json bob | jq -c '.[] | select(.email == "carol@example.com")')"
fb_pass "carol's address is in no tracker answer, table or torrent list; her record names the torrent only"

# Seeding survives a restart of alice.
fb_agent_stop alice
fb_agent_start alice
seeding() { fb_agent alice torrent list --json | jq -e --arg ih "$ih" '.[] | select(.info_hash == $ih and .state == "seeding")'; }
fb_wait_for 30 seeding >/dev/null || fb_fail "not seeding after restart: $(fb_agent alice torrent list --json)"
fb_valid 'torrent.schema.json#/$defs/statusList' "$(fb_agent alice torrent list --json)"
fb_pass "alice seeds $ih again after a restart"

fb_agent bob torrent remove "$ih" --delete-data >/dev/null || fb_fail "remove failed"
[ ! -e "$work/bob/big.bin" ] || fb_fail "bob's data is still there"
fb_assert_eq "$(fb_agent bob torrent list --json | jq length)" 0 "bob's torrents after remove"
fb_pass "remove --delete-data deleted bob's copy"
