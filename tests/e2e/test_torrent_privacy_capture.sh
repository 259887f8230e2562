#!/usr/bin/env bash
# The privacy proof for torrents, on the wire. Broadcasting alice seeds; bob
# (broadcasting) and silent carol download; a client asks both trackers for
# peers. Every byte of every torrent connection (peer wire, tracker, web seed:
# plain TCP, all captured on loopback) is searched: none sent to anyone but
# carol carries her address, as text or as a compact peer (BEP 23). The file
# is made of one repeated byte so its data cannot hold those bytes by chance.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a
fb_agent_new alice 127.0.0.2 broadcast alpha
fb_agent_new bob 127.0.0.3 broadcast beta
fb_agent_new carol 127.0.0.4 silent gamma
for n in alice bob carol; do fb_agent_torrent "$n"; done
work=$(fb_tmpdir)
cap="$work/torrents.pcapng"
ports="tcp port $FB_AGENT_TPORT_alice or tcp port $FB_AGENT_HPORT_alice"
ports+=" or tcp port $FB_AGENT_TPORT_bob or tcp port $FB_AGENT_HPORT_bob"
dumpcap -q -i lo -f "$ports" -w "$cap" 2>"$work/dumpcap.log" &
cap_pid=$!
fb_on_exit "kill $cap_pid"
fb_wait_for 10 test -s "$cap" || fb_fail "dumpcap did not start: $(cat "$work/dumpcap.log")"
for n in alice bob carol; do fb_agent_start "$n"; done
fb_agents_meet 30 . alice bob carol

head -c $((8 * 1024 * 1024)) /dev/zero | tr '\0' 'A' >"$work/same.bin"
ih=$(fb_agent alice torrent create "$work/same.bin" --json | jq -r .info_hash)
mkdir -p "$work/bob" "$work/carol"
fb_agent bob torrent get "$ih" --dest "$work/bob" >/dev/null || fb_fail "bob's get failed"
fb_agent carol torrent get "$ih" --dest "$work/carol" >/dev/null || fb_fail "carol's get failed"
q="info_hash=$(python3 -c "import urllib.parse;print(urllib.parse.quote(bytes.fromhex('$ih')))")"
for n in alice bob; do
	ipv=FB_AGENT_IP_$n hp=FB_AGENT_HPORT_$n
	curl -sf "http://${!ipv}:${!hp}/announce?$q&peer_id=-XX0001-000000000000&port=6881&uploaded=0&downloaded=0&left=100&compact=1" >/dev/null ||
		fb_fail "$n's tracker did not answer"
done
sleep 1
kill "$cap_pid"
wait "$cap_pid" 2>/dev/null || true
fb_pass "scenario ran: two downloads, two tracker answers"

tshark -r "$cap" -Y 'tcp.len > 0' -T fields -e ip.src -e ip.dst -e tcp.payload 2>/dev/null >"$work/segments"
report=$(python3 - "$work/segments" <<'PY'
import json, sys
silent, text, compact = "127.0.0.4", b"127.0.0.4", bytes([127, 0, 0, 4])
# The control: bob broadcasts, so the trackers' answers must show his compact address.
bob = bytes([127, 0, 0, 3])
seen = {"segments": 0, "bytes": 0, "from_carol": 0, "to_carol": 0, "bob_listed": 0, "leaks": []}
for line in open(sys.argv[1]):
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 3 or not parts[2]:
        continue
    src, dst, payload = parts[0], parts[1], bytes.fromhex(parts[2].replace(":", ""))
    seen["segments"] += 1
    seen["bytes"] += len(payload)
    seen["from_carol"] += src == silent
    seen["to_carol"] += dst == silent
    seen["bob_listed"] += dst == "127.0.0.1" and bob in payload
    if dst != silent and (text in payload or compact in payload):
        seen["leaks"].append(f"{src} -> {dst}: {payload[:80]!r}")
print(json.dumps(seen))
PY
)
fb_log "captured: $(jq -c 'del(.leaks)' <<<"$report")"
[ "$(jq .from_carol <<<"$report")" -gt 0 ] || fb_fail "carol sent nothing: the capture missed her"
[ "$(jq .bytes <<<"$report")" -gt $((8 * 1024 * 1024)) ] || fb_fail "the transfers were not captured"
[ "$(jq .bob_listed <<<"$report")" -gt 0 ] || fb_fail "no tracker answer lists bob: the search would find nothing"
fb_assert_eq "$(jq -c .leaks <<<"$report")" "[]" "segments carrying carol's address"
fb_pass "$(jq .segments <<<"$report") torrent segments: carol's address only in her own connections' headers"
