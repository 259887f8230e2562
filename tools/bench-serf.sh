#!/usr/bin/env bash
# tools/bench-serf.sh [BUILD] - membership side by side with Serf: Debian's
# serf (LAN profile, encryption on) against our peer agents (every timer at
# its default, broadcasting, one bootstrap server), BENCH_SERF_N members each
# (32) on their own 127.0.x.y, BENCH_SERF_ROUNDS rounds (5) interleaved, what
# tools/bench-serf.py measures: all-see-all after a cold start, idle bytes
# sent per member (nftables counters by source address), RSS and private
# memory, and a newcomer's time until every member lists it. Results (JSON
# lines, logs) go to BUILD/bench/serf.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
export FB_BUILD=$build FB_TEST_NAME=bench-serf
# The agents' timers at their defaults: no [timers] keys.
export FB_AGENT_TIMERS="# defaults"
. "$here/../tests/lib/agent.sh"

n=${BENCH_SERF_N:-32}
rounds=${BENCH_SERF_ROUNDS:-5}
idle=${BENCH_SERF_IDLE_S:-30}
settle=${BENCH_SERF_SETTLE_S:-60}
out=$build/bench/serf
mkdir -p "$out"
rm -f "$out"/*.jsonl "$out"/*.log
command -v serf >/dev/null || fb_fail "serf is not installed (tools/install-deps.sh)"
command -v nft >/dev/null || fb_fail "nft is not installed (tools/install-deps.sh)"
/usr/bin/python3 -c 'import msgpack' || fb_fail "python3-msgpack is not installed"

fb_bs_setup
fb_bs_start a
# Ports on 127.0.0.1 (the agents' APIs, serf's RPC), each picked free at random: no two alike.
declare -A used
unique_port() { # PORT: sets $port to PORT, or another free one if PORT is taken here
	port=$1
	while [ -n "${used[$port]:-}" ]; do port=$(fb_free_port 127.0.0.1); done
	used[$port]=1
}
homes=()
for i in $(seq 1 $((n + 1))); do
	fb_agent_new "a$i" "127.0.71.$i" broadcast bench
	h=$(fb_agent_home "a$i")
	v=FB_AGENT_API_a$i
	unique_port "${!v}"
	sed -i "s/^listen = 127\.0\.0\.1:.*/listen = 127.0.0.1:$port/" "$h/agent.ini"
	homes+=("$(jq -n --arg home "$h" --arg email "a$i@example.com" --arg ip "127.0.71.$i" \
		--argjson api "$port" --arg token "$(cat "$h/api.token")" \
		'{home: $home, email: $email, ip: $ip, api: $api, token: $token}')")
done
rpc=()
for i in $(seq 0 "$n"); do
	unique_port "$(fb_free_port 127.0.0.1)"
	rpc+=("$port")
done
rpc_ports=$(printf '%s\n' "${rpc[@]}" | jq -s .)
jq -n --argjson n "$n" --argjson rounds "$rounds" --argjson idle "$idle" --argjson settle "$settle" \
	--arg serf "$(command -v serf)" --arg key "$(head -c 16 /dev/urandom | base64)" \
	--argjson rpc_ports "$rpc_ports" --arg agent "$build/bin/peer-agent" \
	--arg results "$out/rounds.jsonl" --arg log "$out/processes.log" \
	--argjson homes "$(printf '%s\n' "${homes[@]}" | jq -s .)" \
	'{n: $n, rounds: $rounds, idle_s: $idle, settle_s: $settle, timeout_s: 120, results: $results, log: $log,
	  serf: {bin: $serf, key: $key, rpc_ports: $rpc_ports},
	  agents: {bin: $agent, homes: $homes}}' >"$out/config.json"
/usr/bin/python3 "$here/bench-serf.py" "$out/config.json"
