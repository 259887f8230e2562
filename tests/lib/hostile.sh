# tests/lib/hostile.sh - attacks on one agent with tests/e2e/ws_client.js.
#   fb_hostile_target                  bootstrap server a and agent "target" on
#                                      127.0.0.2 (broadcast alpha); sets $url
#   fb_hostile_home NAME               a fresh home NAME@example.com under $FB_AGENTS; echoes it
#   fb_hostile_sybils N SECONDS [ADDRS] N identities holding sessions with valid
#                                      hellos (sybil_hold, from ADDRS addresses);
#                                      sets $sybil_pid and $sybil_out
#   fb_hostile_visitor NAME WHAT       an honest visitor NAME gets target's hello, stays
#                                      until it closes, and its heartbeat is taken,
#                                      within 8 s ("got in WHAT")
#   fb_hostile_neighbours              target's neighbour count

. "$(dirname "${BASH_SOURCE[0]}")/agent.sh"

fb_hostile_target() {
	local port
	fb_bs_setup
	fb_bs_start a
	fb_agent_new target 127.0.0.2 broadcast alpha
	fb_agent_start target
	port=$(fb_agent target status --json | jq -r .listen_port)
	url="wss://127.0.0.2:$port/gossip/v1"
}

fb_hostile_home() {
	"$FB_BUILD/bin/peer-agent" init --home "$FB_AGENTS/$1" --email "$1@example.com" >/dev/null
	echo "$FB_AGENTS/$1"
}

fb_hostile_sybils() {
	local n=$1 seconds=$2 addresses=${3:-} homes=() i
	for i in $(seq 1 "$n"); do
		homes+=("$(fb_hostile_home "sybil$i")")
	done
	sybil_out="$FB_AGENTS/sybil.json"
	FB_FLOOD_S=$seconds FB_SYBIL_ADDRESSES=$addresses FB_SYBIL_HOMES=$(IFS=,; echo "${homes[*]}") \
		node "$FB_ROOT/tests/e2e/ws_client.js" "${homes[0]}" sybil1@example.com "$url" sybil_hold \
		>"$sybil_out" 2>&1 &
	sybil_pid=$!
	fb_on_exit "kill $sybil_pid 2>/dev/null"
}

fb_hostile_neighbours() {
	fb_agent target status --json | jq -r .neighbours
}

fb_hostile_visitor() {
	local name=$1 what=$2 home start out
	home=$(fb_hostile_home "$name")
	start=$SECONDS
	out=$(timeout 20 node "$FB_ROOT/tests/e2e/ws_client.js" "$home" "$name@example.com" "$url" valid)
	fb_log "$name: $out"
	fb_assert_eq "$(jq -r .hello_from <<<"$out")" target@example.com "$name was answered with target's hello"
	fb_assert_eq "$(jq -r .close_code <<<"$out")" 1000 "$name stayed until it closed itself"
	fb_agent_knows target "$name@example.com" '.peer_count == 7' ||
		fb_fail "target did not take $name's hello and heartbeat"
	# VISIT_MS: how long it stays (1.5 s).
	[ $((SECONDS - start)) -le $((8 + ${VISIT_MS:-1500} / 1000)) ] ||
		fb_fail "$name needed $((SECONDS - start)) s"
	fb_pass "$name got in $what in $((SECONDS - start)) s"
}
