#!/usr/bin/env bash
# A neighbour that never reads: after its hello it stops reading and sends
# 48 MiB of pings, each of which the agent must answer with a pong. The
# agent closes it once its unsent output passes send_queue_max (1 MiB), and
# its memory stays bounded: RSS grows by less than 24 MiB. It stays up and an
# honest peer still gets in afterwards.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_agent_new target 127.0.0.2 broadcast alpha
fb_agent_start target
pid=$FB_AGENT_PID_target
port=$(fb_agent target status --json | jq -r .listen_port)
url="wss://127.0.0.2:$port/gossip/v1"
attacker="$FB_AGENTS/attacker"
visitor="$FB_AGENTS/visitor"
"$FB_BUILD/bin/peer-agent" init --home "$attacker" --email attacker@example.com >/dev/null
"$FB_BUILD/bin/peer-agent" init --home "$visitor" --email visitor@example.com >/dev/null

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
base=$(rss_kib)
out_file="$FB_AGENTS/slow.json"
FB_FLOOD_MB=48 node "$FB_ROOT/tests/e2e/ws_client.js" "$attacker" attacker@example.com "$url" slow_reader \
	>"$out_file" 2>&1 &
node_pid=$!
fb_on_exit "kill $node_pid 2>/dev/null"
peak=$base
while kill -0 "$node_pid" 2>/dev/null; do
	now=$(rss_kib)
	[ "$now" -gt "$peak" ] && peak=$now
	sleep 0.1
done
out=$(cat "$out_file")
fb_log "slow reader: $out; RSS $base KiB before, peak $peak KiB"
log="$(fb_agent_home target)/agent.log"
[ $((peak - base)) -lt $((24 * 1024)) ] ||
	fb_fail "RSS grew by $(((peak - base) / 1024)) MiB while a peer did not read"
grep -q "send queue cap" "$log" || fb_fail "the agent never closed the slow reader: $(tail -5 "$log")"
fb_pass "the slow reader was closed at the send queue cap; RSS grew by $(((peak - base) / 1024)) MiB"

closes=$(fb_agent target status --json | jq -c .gossip.closed_by_code)
[ "$(jq -r '."1008" // 0' <<<"$closes")" -ge 1 ] || fb_fail "the close was not counted as 1008: $closes"
overflows=$(fb_agent target status --json | jq -r .gossip.limits.send_queue_overflows)
[ "$overflows" -ge 1 ] || fb_fail "status counts no send queue overflow: $overflows"
out=$(timeout 20 node "$FB_ROOT/tests/e2e/ws_client.js" "$visitor" visitor@example.com "$url" valid)
fb_assert_eq "$(jq -r .hello_from <<<"$out")" target@example.com "an honest peer still gets target's hello"
fb_pass "target stays up and answers an honest peer ($closes)"
