#!/usr/bin/env bash
# The privacy proof for circuits, on the wire. Silent carol and dave reach each other
# through broadcasting alice, which relays their gossip session and a torrent dave
# seeds. Everything on loopback is captured; alice writes her TLS secrets
# (SSLKEYLOGFILE), so the outer TLS of every connection to her relay port is
# decrypted: it carries the relay's lines only, up to joined. After joined a
# circuit's connections carry the ends' own TLS bare, which the relay cannot
# read: TLS 1.3 records, no certificate in clear, application data after the
# handshake, and no gossip, no peer wire, no file byte and no silent address in
# them.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

keys=$(fb_tmpdir)
cap="$keys/loopback.pcapng"
dumpcap -q -B 64 -i lo -f tcp -w "$cap" 2>"$keys/dumpcap.log" &
cap_pid=$!
fb_on_exit "kill $cap_pid"
fb_wait_for 10 test -s "$cap" || fb_fail "dumpcap did not start: $(cat "$keys/dumpcap.log")"

fb_bs_setup
fb_bs_start a
fb_agent_new alice 127.0.0.2 broadcast alpha
fb_agent_new carol 127.0.0.4 silent photos
fb_agent_new dave 127.0.0.5 silent photos
for n in carol dave; do fb_agent_torrent "$n"; done
SSLKEYLOGFILE="$keys/alice.keys" fb_agent_start alice
for n in carol dave; do fb_agent_start "$n"; done
fb_agents_meet 40 . alice carol dave
relayed() { fb_agent_knows carol dave@example.com '.state == "CONNECTED" and .via == "alice@example.com"'; }
fb_wait_for 40 relayed || fb_fail "carol is not connected to dave through alice: $(fb_agent carol peers)"

work=$(fb_tmpdir)
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'A' >"$work/same.bin"
ih=$(fb_agent dave torrent create "$work/same.bin" --json | jq -r .info_hash)
seeds() { fb_agent_knows carol dave@example.com "(.torrents | map(.info_hash) | index(\"$ih\")) != null"; }
fb_wait_for 20 seeds || fb_fail "carol does not see dave seeding"
mkdir -p "$work/carol"
fb_agent carol torrent get "$ih" --dest "$work/carol" >/dev/null || fb_fail "carol's get failed"
cmp -s "$work/same.bin" "$work/carol/same.bin" || fb_fail "carol's copy differs"
port=$(fb_agent_peers_json carol | jq -r '.[] | select(.email == "alice@example.com") | .relay_port')
for n in carol dave alice; do fb_agent_stop "$n" TERM; done
sleep 0.5
kill "$cap_pid"
wait "$cap_pid" 2>/dev/null || true
fb_pass "scenario ran: a gossip session and a download through alice's relay port $port"

secrets=(127.0.0.4 127.0.0.5 PEER_ANNOUNCEMENT HEARTBEAT 'BitTorrent protocol' AAAAAAAAAAAAAAAA gossip/v1)
report=$(DECRYPT_FILTER="tcp.port == $port" "$FB_ROOT/tests/e2e/decrypted_bytes.py" "$cap" "$keys/alice.keys" \
	'"op":"reserve"' '"op":"joined"' "${secrets[@]}")
fb_log "relay port, decrypted: $report"
found() { jq -r --arg n "$1" '.found[$n]' <<<"$report"; }
# The outer TLS was decrypted: the relay's own lines are there.
[ "$(found '"op":"reserve"')" -gt 0 ] || fb_fail "no reservation decrypted: the proof would be empty"
[ "$(found '"op":"joined"')" -gt 0 ] || fb_fail "no circuit decrypted"
for n in "${secrets[@]}"; do
	fb_assert_eq "$(found "$n")" 0 "decrypted relay bytes holding '$n'"
done
# After joined: the ends' TLS 1.3, bare, and the bulk went through it.
bare=$("$FB_ROOT/tests/e2e/circuit_records.py" "$cap" "$port" "${secrets[@]}")
fb_log "relay port, after joined: $bare"
fb_assert_eq "$(jq -c .problems <<<"$bare")" "[]" "what the circuits carry bare"
[ "$(jq .circuit_connections <<<"$bare")" -ge 4 ] || fb_fail "fewer than two circuits (four connections) seen bare"
[ "$(jq .server_hellos <<<"$bare")" -ge 4 ] || fb_fail "the inner handshakes were not seen on both sides of the relay"
fb_assert_eq "$(jq .tls13_server_hellos <<<"$bare")" "$(jq .server_hellos <<<"$bare")" "inner sessions in TLS 1.3"
[ "$(jq .inner_bytes <<<"$bare")" -gt $((512 * 1024)) ] || fb_fail "the download did not cross the relay port"
for n in "${secrets[@]}"; do
	fb_assert_eq "$(jq -r --arg n "$n" '.found[$n]' <<<"$bare")" 0 "bare circuit bytes holding '$n'"
done
sent=$(tshark -r "$cap" -Y "ip.src == 127.0.0.4 and tcp.dstport == $port and tcp.len > 0" 2>/dev/null | wc -l)
[ "$sent" -gt 0 ] || fb_fail "carol sent nothing to the relay: the capture missed it"
fb_pass "the relay's TLS decrypted: its lines, no silent address; $(jq .inner_bytes <<<"$bare") bytes of circuits after joined: TLS 1.3 records, no certificate in clear, no silent address"
