#!/usr/bin/env bash
# A local client in a loop on the control API: 96 discoveries at once for a
# repository nobody hosts, each of which would ask the neighbours and then the
# bootstrap server. At most 32 wait on the network; the rest are answered 503
# "busy" at once, and the agent keeps answering.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a
fb_agent_new b1 127.0.0.2 broadcast alpha
fb_agent_new b2 127.0.0.3 broadcast beta
fb_agent_start b1
fb_agent_start b2
fb_wait_for 30 fb_agent_knows b1 b2@example.com '.state == "CONNECTED"' || fb_fail "b1 and b2 never met"
api="http://127.0.0.1:$FB_AGENT_API_b1/api/v1"
token=$(cat "$(fb_agent_home b1)/api.token")
codes="$FB_AGENTS/codes"
pids=()
for i in $(seq 1 96); do
	curl -sS -o /dev/null -w '%{http_code}\n' --max-time 20 -H "Authorization: Bearer $token" \
		"$api/discover?repositories=nobody-$i" >>"$codes" &
	pids+=($!)
done
wait "${pids[@]}" || true
ok=$(grep -c '^200$' "$codes" || true)
busy=$(grep -c '^503$' "$codes" || true)
fb_log "96 discoveries at once: $ok answered, $busy refused with 503"
[ $((ok + busy)) -eq 96 ] || fb_fail "answers other than 200 and 503: $(sort "$codes" | uniq -c)"
[ "$busy" -ge 1 ] || fb_fail "no discovery was refused: all $ok waited on the network"
[ "$ok" -ge 32 ] || fb_fail "only $ok discoveries were served"
grep -q "requests already wait on the network" "$(fb_agent_home b1)/agent.log" ||
	fb_fail "no log line for the refusals"
fb_agent b1 status >/dev/null || fb_fail "b1 stopped answering"
fb_pass "discoveries waiting on the network capped: $ok served, $busy refused with 503"
