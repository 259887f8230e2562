#!/usr/bin/env bash
# A hostile neighbour (tests/e2e/ws_client.js with its own certificate) against
# a real agent b1 with an honest neighbour b2:
#   - a flood of PEER_REQUESTs, not read, over a table of big records: b1's
#     memory stays bounded (answers are bounded, requests rate-limited) and the
#     session is closed;
#   - an announcement padded outside its signed record: what b1 forwards to
#     another neighbour carries no padding;
#   - records with bad signatures, one after another: the session is closed;
#   - copies of an old record under the id of the victim's next announcement:
#     the genuine announcement is still accepted;
#   - valid ~60 KB records of 40 fresh identities at once (2.4 MB, each of
#     which b1 would forward): b1 reads about its byte budget per neighbour
#     (rate_bytes_in, burst 1 MiB) of them and drops the rest unparsed.
# Throughout, the honest neighbour b2 stays connected to b1.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

RSS_GROWTH_MAX_KB=$((16 * 1024)) # b1's peak RSS may grow by this much under the flood

fb_bs_setup
fb_bs_start a
fb_agent_new b1 127.0.0.2 broadcast alpha
fb_agent_new b2 127.0.0.3 broadcast beta
fb_agent_start b1
fb_agent_start b2
fb_wait_for 30 fb_agent_knows b1 b2@example.com '.state == "CONNECTED"' || fb_fail "b1 and b2 never met"
port=$(fb_agent b1 status --json | jq -r .listen_port)
url="wss://127.0.0.2:$port/gossip/v1"
init() { mkdir -p "$(dirname "$FB_AGENTS/$1")" && "$FB_BUILD/bin/peer-agent" init --home "$FB_AGENTS/$1" --email "$2" >/dev/null; }
init node node@example.com
init listener listener@example.com
init victim victim@example.com
for i in 0 1 2 3 4; do init "big/h$i" "big$i@example.com"; done
init flooder flooder@example.com
FRESH=40
for i in $(seq 0 $((FRESH - 1))); do init "fresh/h$i" "fresh$i@example.com"; done

play() {
	local home=$1
	shift
	timeout 30 node "$FB_ROOT/tests/e2e/ws_client.js" "$FB_AGENTS/$home" "$home@example.com" "$url" "$@"
}
verdict() { fb_agent b1 status --json | jq -r ".gossip.verdicts.$1 // 0"; }
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$FB_AGENT_PID_b1/status"; }
honest_still_connected() {
	fb_agent_knows b1 b2@example.com '.state == "CONNECTED"' || fb_fail "b2 lost its session with b1: $1"
}

# 1. Amplification: five ~60 KB records make every answer to "anything" ~300 KB
# on an unbounded agent; 3000 requests (about 700 KB) would queue ~900 MB.
rss_before=$(kb VmRSS)
out=$(WS_DEADLINE_MS=15000 play node request_flood "$FB_AGENTS/big")
fb_log "request flood: $out"
fb_wait_for 10 fb_agent_knows b1 big4@example.com || fb_fail "the big records were not applied"
peak=$(kb VmHWM)
growth=$((peak - rss_before))
fb_log "b1 RSS before $rss_before kB, peak $peak kB (+$growth kB)"
[ "$growth" -le "$RSS_GROWTH_MAX_KB" ] || fb_fail "b1 grew by $growth kB under the request flood"
# Whichever bites first closes it: the request rate limit, or the send queue
# cap when the answers allowed by the rate are not read (the attacker then sees
# 1006: its unsent output, the close frame with it, was dropped).
b1_log="$(fb_agent_home b1)/agent.log"
limited=$(verdict rate)
[ "$limited" -gt 0 ] || grep -q "send queue cap" "$b1_log" ||
	fb_fail "neither the rate limit nor the send queue cap stopped the flood"
closes=$(fb_agent b1 status --json | jq -c .gossip.closed_by_code)
[ "$(jq -r '."1008" // 0' <<<"$closes")" -ge 1 ] || fb_fail "b1 did not close the flooding session with 1008: $closes"
honest_still_connected "after the request flood"
fb_pass "request flood: b1 grew by $growth kB (bound $RSS_GROWTH_MAX_KB), $limited requests rate-limited, session closed ($closes)"

# 2. Unsigned bytes: a listener neighbour measures what b1 forwards of node's padded announcement.
LISTEN_MS=8000 WS_DEADLINE_MS=12000 play listener listen node@example.com >"$FB_AGENTS/listen.json" &
listener_pid=$!
fb_on_exit "kill $listener_pid 2>/dev/null"
fb_wait_for 10 fb_agent_knows b1 listener@example.com '.state == "CONNECTED"' ||
	fb_fail "the listener never became b1's neighbour"
out=$(play node padded)
fb_log "padded: $out"
wait "$listener_pid" || true
heard=$(cat "$FB_AGENTS/listen.json")
fb_log "listener: $heard"
[ "$(jq -r .seen <<<"$heard")" -ge 1 ] || fb_fail "the padded announcement was not forwarded at all: $heard"
fb_assert_eq "$(jq -r .unsigned <<<"$heard")" false "no unsigned field forwarded"
[ "$(jq -r .max_len <<<"$heard")" -lt 16384 ] || fb_fail "the forward carried the padding: $heard"
fb_wait_for 10 fb_agent_knows b2 node@example.com || fb_fail "node's record did not reach b2"
fb_pass "padded announcement: forwarded in $(jq -r .max_len <<<"$heard") bytes, without its 200 KB of padding"

# 3. Signature flood: the session is closed after a few bad signatures.
before=$(verdict signature)
out=$(play node forged_flood)
fb_log "forged flood: $out"
fb_assert_eq "$(jq -r .close_code <<<"$out")" 1008 "the forging session is closed with 1008"
sigs=$(($(verdict signature) - before))
[ "$sigs" -le 3 ] || fb_fail "$sigs bad signatures were checked before the close"
honest_still_connected "after the forged flood"
fb_pass "forged flood: closed after $sigs bad signatures ($(jq -r .forged <<<"$out") sent)"

# 4. Seen-id shadowing: the genuine announcement under a shadowed id is applied.
out=$(play node shadow "$FB_AGENTS/victim")
fb_log "shadow: $out"
fb_wait_for 5 fb_agent_knows b1 victim@example.com '.repositories[0].name == "genuine-news"' ||
	fb_fail "the genuine announcement was shadowed: $(fb_agent_peers_json b1 | jq -c '.[] | select(.email == "victim@example.com")')"
honest_still_connected "after the shadowing attempt"
fb_agent b1 status >/dev/null || fb_fail "b1 is down"
fb_pass "seen-id shadow: the genuine announcement was still accepted"

# 5. Bytes, not frames: 40 valid big announcements of fresh identities at once,
# well within the announcement rate (burst 500), are 2.4 MB that b1 would forward.
before=$(verdict rate)
out=$(play flooder big_flood "$FB_AGENTS/fresh")
fb_log "big flood: $out"
sleep 1
limited=$(($(verdict rate) - before))
held=$(fb_agent_peers_json b1 | jq '[.[] | select(.email | startswith("fresh"))] | length')
# The burst (1 MiB) and what 256 KiB/s gives back while the flood lasts: at most ~24 of 40.
[ "$limited" -gt 0 ] || fb_fail "no frame of the big flood met the byte budget ($held of $FRESH applied)"
[ "$held" -le 24 ] || fb_fail "b1 applied $held of $FRESH big records: more than its byte budget"
[ "$held" -ge 8 ] || fb_fail "b1 applied only $held of $FRESH big records: under its byte budget"
honest_still_connected "after the big flood"
limits=$(fb_agent b1 status --json | jq -c '.gossip.limits | {answers_limited, rates_restored, forwards_dropped}')
jq -e 'map(numbers) | length == 3' <<<"$limits" >/dev/null || fb_fail "limit counters missing: $limits"
fb_pass "big flood: $(jq -r .bytes <<<"$out") bytes sent, $held of $FRESH records applied, $limited frames dropped unparsed ($limits)"
