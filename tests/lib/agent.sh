# tests/lib/agent.sh - peer agents, each on its own 127.0.0.x, with short timers.
#   fb_agent_new NAME IP broadcast|silent REPOS   init DIR, write agent.ini (email NAME@example.com)
#   fb_agent_start NAME                           run it; waits for its control API
#                                                 (FB_AGENT_BIN_<name>: another build's binary)
#   fb_agent NAME ARGS...                         the CLI against NAME (--home added)
#   fb_agent_stop NAME [SIGNAL]                   stops it (default TERM) and waits
#   fb_agent_peers_json NAME                      `peers --json` of NAME
#   fb_agent_frames_clean NAME                    no 1007/1008 close, invalid frame or bad signature
# Bootstrap URLs come from $FB_BS_URL when set (fb_bs_start); $FB_AGENT_TIMERS
# overrides the [timers] block.

. "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

FB_AGENT_TIMERS=${FB_AGENT_TIMERS:-"heartbeat_s = 1
stale_s = 6
expire_s = 14
reannounce_s = 2
anti_entropy_s = 1
bootstrap_heartbeat_s = 1"}

fb_agent_home() {
	echo "$FB_AGENTS/$1"
}

fb_agent_new() {
	local name=$1 ip=$2 mode=$3 repos=$4 home api gport
	if [ -z "${FB_AGENTS:-}" ]; then
		FB_AGENTS=$(fb_tmpdir)
		# FB_KEEP_LOGS=DIR keeps every agent's log after the test, for diagnosis.
		[ -z "${FB_KEEP_LOGS:-}" ] ||
			fb_on_exit "mkdir -p '$FB_KEEP_LOGS' && for d in '$FB_AGENTS'/*; do cp \"\$d/agent.log\" '$FB_KEEP_LOGS'/\$(basename \"\$d\").log; done"
	fi
	export FB_AGENTS
	home=$(fb_agent_home "$name")
	"$FB_BUILD/bin/peer-agent" init --home "$home" --email "$name@example.com" >/dev/null ||
		fb_fail "peer-agent init $name failed"
	api=$(fb_free_port 127.0.0.1)
	gport=$(fb_free_port "$ip")
	{
		echo "[identity]"
		echo "email = $name@example.com"
		if [ -n "${FB_BS_URL:-}" ]; then
			echo "[bootstrap]"
			echo "urls = ${FB_AGENT_BS_URLS:-$FB_BS_URL}"
			echo "ca = $FB_CERTS/ca/ca.crt"
		fi
		echo "[gossip]"
		echo "broadcasting = $([ "$mode" = broadcast ] && echo true || echo false)"
		echo "listen = $ip:$gport"
		echo "advertise = $ip"
		echo "bind = $ip"
		echo "[api]"
		echo "listen = 127.0.0.1:$api"
		echo "[repositories]"
		echo "names = $repos"
		echo "[timers]"
		echo "$FB_AGENT_TIMERS"
	} >"$home/agent.ini"
	printf -v "FB_AGENT_IP_$name" '%s' "$ip"
	printf -v "FB_AGENT_API_$name" '%s' "$api"
}

# fb_agent_torrent NAME: gives the agent a peer-wire and an HTTP port on its address
# ([torrent] listen and http_listen; a silent agent is given them too and must not
# use them), in FB_AGENT_TPORT_<name> and FB_AGENT_HPORT_<name>.
fb_agent_torrent() {
	local name=$1 ipv ip tport hport
	ipv=FB_AGENT_IP_$name
	ip=${!ipv}
	tport=$(fb_free_port "$ip")
	hport=$(fb_free_port "$ip")
	printf '[torrent]\nlisten = %s:%s\nhttp_listen = %s:%s\n' "$ip" "$tport" "$ip" "$hport" \
		>>"$(fb_agent_home "$name")/agent.ini"
	printf -v "FB_AGENT_TPORT_$name" '%s' "$tport"
	printf -v "FB_AGENT_HPORT_$name" '%s' "$hport"
}

fb_agent_start() {
	local name=$1 home pid api bin
	home=$(fb_agent_home "$name")
	api=FB_AGENT_API_$name
	bin=FB_AGENT_BIN_$name
	"${!bin:-$FB_BUILD/bin/peer-agent}" run --home "$home" --log-level "${FB_AGENT_LOG_LEVEL:-info}" \
		>>"$home/agent.log" 2>&1 &
	pid=$!
	printf -v "FB_AGENT_PID_$name" '%s' "$pid"
	fb_on_exit "kill -9 $pid"
	_fb_agent_up() { kill -0 "$pid" 2>/dev/null || return 2; fb_wait_port 127.0.0.1 "${!api}" 0.2; }
	fb_wait_for 20 _fb_agent_up && kill -0 "$pid" 2>/dev/null ||
		fb_fail "peer-agent $name did not start: $(tail -5 "$home/agent.log")"
}

fb_agent() {
	local name=$1
	shift
	"$FB_BUILD/bin/peer-agent" --home "$(fb_agent_home "$name")" "$@"
}

fb_agent_stop() {
	local name=$1 sig=${2:-TERM} pid
	pid=FB_AGENT_PID_$name
	kill "-$sig" "${!pid}" 2>/dev/null || true
	_fb_gone() { ! kill -0 "${!pid}" 2>/dev/null; }
	fb_wait_for 10 _fb_gone || fb_fail "peer-agent $name did not stop on SIG$sig"
	wait "${!pid}" 2>/dev/null || true
}

fb_agent_peers_json() {
	fb_agent "$1" peers --json
}

# fb_agent_knows NAME EMAIL [JQ_FILTER] : NAME's table has EMAIL (matching the filter).
fb_agent_knows() {
	fb_agent_peers_json "$1" | jq -e --arg e "$2" \
		"map(select(.email == \$e)) | .[0] | select(. != null) | ${3:-.}" >/dev/null
}

# fb_agent_frames_clean NAME: no session of NAME ended with 1007 or 1008, no frame
# it received was invalid or failed its signature; prints its status JSON.
fb_agent_frames_clean() {
	local st
	st=$(fb_agent "$1" status --json)
	fb_assert_eq "$(jq -c '[.gossip.closed_by_code["1007"] // 0, .gossip.closed_by_code["1008"] // 0, .gossip.verdicts.invalid, .gossip.verdicts.signature]' <<<"$st")" \
		"[0,0,0,0]" "$1's 1007 and 1008 closes, invalid frames and bad signatures" >&2
	printf '%s\n' "$st"
}

# fb_agents_meet TIMEOUT_S JQ_FILTER NAME... : every agent knows every other one
# (matching the filter, "." for any), within the time limit.
fb_agents_meet() {
	local limit=$1 filter=$2 n m
	shift 2
	for n in "$@"; do
		for m in "$@"; do
			[ "$n" = "$m" ] && continue
			fb_wait_for "$limit" fb_agent_knows "$n" "$m@example.com" "$filter" ||
				fb_fail "$n does not know $m ($filter): $(fb_agent "$n" peers 2>&1)"
		done
	done
}
