#!/usr/bin/env bash
# Agents behind one address share the bootstrap server's per-address cap, so an
# idle agent holds at most one connection to a server (busy or idle, over many
# heartbeats), and that connection leaves from its [gossip] bind address.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a
bs_port=${FB_BS_URL##*:}
fb_agent_new idle 127.0.0.5 broadcast alpha
fb_agent_start idle
_registered() { [ "$(fb_agent idle status --json | jq -r .bootstrap.state)" = REGISTERED ]; }
fb_wait_for 20 _registered || fb_fail "idle never registered"

# Client-side sockets to the server: the local address is the third column.
conns() { ss -tnH state established "( dport = :$bs_port )" | awk '{ print $3 }'; }
most=0
seen=0
end=$((SECONDS + 8))
while ((SECONDS < end)); do
	all=$(conns | grep -c . || true)
	unbound=$(conns | grep -vc '^127\.0\.0\.5:' || true)
	[ "$unbound" -eq 0 ] || fb_fail "a bootstrap connection does not leave from [gossip] bind: $(conns)"
	[ "$all" -gt "$most" ] && most=$all
	seen=$((seen + all))
	sleep 0.1
done
fb_log "at most $most connection(s) at once over 8 s of 1 s heartbeats"
[ "$seen" -gt 0 ] || fb_fail "no connection to the server was ever seen"
[ "$most" -le 1 ] || fb_fail "idle held $most connections to one server"
fb_pass "idle held at most one connection to the server, from its bind address"
