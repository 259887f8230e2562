#!/usr/bin/env bash
# make run: a private PostgreSQL, a bootstrap server and four peer agents on
# 127.0.0.2-5 (alice and bob broadcast; carol and dave are silent), showing
# each agent's peer table, a discovery from a silent agent, silent carol and
# dave (both hosting photos) connected through a relay, and a file shared as a
# torrent (alice seeds, silent dave finds it by gossip and downloads it,
# dialling out only), and the address of alice's web page (peer-agent ui).
# Keeps running until Ctrl-C, then stops everything cleanly. DEMO_ONCE=1 (or no terminal)
# stops right after the demo.
set -euo pipefail
export FB_BUILD=$(cd "${1:-build}" && pwd)
export FB_TEST_NAME=demo
# Demo timers: fast enough to watch peers go stale and expire.
export FB_AGENT_TIMERS="heartbeat_s = 2
stale_s = 20
expire_s = 60
reannounce_s = 5
anti_entropy_s = 2
bootstrap_heartbeat_s = 5"
. "$(dirname "$0")/../tests/lib/agent.sh"

step() { printf '\n== %s\n' "$*"; }

step "starting PostgreSQL 15 (private cluster on 127.0.0.1)"
fb_bs_setup
echo "database: $DATABASE_URL"
step "starting bootstrap-server (mTLS, pinning mode)"
fb_bs_start demo
echo "bootstrap server: $FB_BS_URL   (log: $FB_CERTS/demo.log)"

step "starting four peer agents"
fb_agent_new alice 127.0.0.2 broadcast photos
fb_agent_new bob 127.0.0.3 broadcast music
fb_agent_new carol 127.0.0.4 silent photos
fb_agent_new dave 127.0.0.5 silent recipes,photos
for n in alice bob carol dave; do fb_agent_torrent "$n"; done
for n in alice bob carol dave; do
	fb_agent_start "$n"
	ip=FB_AGENT_IP_$n
	if grep -q 'broadcasting = true' "$(fb_agent_home "$n")/agent.ini"; then
		kind="broadcasting from ${!ip}"
	else
		kind="silent (its own ${!ip} is never shared)"
	fi
	printf '  %-6s %-40s home %s\n' "$n" "$kind" "$(fb_agent_home "$n")"
done

step "waiting until every agent knows the three others (gossip over WebSocket/TLS)"
fb_agents_meet 60 . alice bob carol dave
echo "done"

step "waiting until silent carol and dave, who both host photos, reach each other through a relay"
relayed() { fb_agent_knows carol dave@example.com '.state == "CONNECTED" and .via != null'; }
fb_wait_for 60 relayed || echo "(not yet: $(fb_agent carol peers 2>&1 | grep dave))"
echo "done"
for n in alice bob carol dave; do
	step "peer-agent peers   ($n)"
	fb_agent "$n" peers
done
step "peer-agent relay status   (alice relays for the silent agents; she sees ciphertext only)"
fb_agent alice relay status
step "peer-agent relay status   (carol: her reservations and her circuit to dave)"
fb_agent carol relay status

step "peer-agent discover photos   (dave, silent)"
fb_agent dave discover photos
step "peer-agent discover recipes   (alice finds silent dave's repository: no address is shared)"
fb_agent alice discover recipes
demo_files=$(fb_tmpdir)
head -c $((16 * 1024 * 1024)) /dev/urandom >"$demo_files/holiday.mov"
step "peer-agent torrent create holiday.mov   (alice: hashes it, seeds it, announces it in her record)"
fb_agent alice torrent create "$demo_files/holiday.mov"
ih=$(fb_agent alice torrent list --json | jq -r '.[0].info_hash')
step "peer-agent torrent search $ih   (dave, silent: who seeds it, from gossip)"
fb_agent dave torrent search "$ih"
step "peer-agent torrent get $ih --dest ...   (dave dials alice; nobody learns dave's address)"
mkdir -p "$demo_files/dave"
fb_agent dave torrent get "$ih" --dest "$demo_files/dave"
echo "sha256 of the original: $(sha256sum "$demo_files/holiday.mov" | cut -d' ' -f1)"
step "peer-agent torrent list   (dave now seeds it too)"
fb_agent dave torrent list
step "peer-agent status   (carol)"
fb_agent carol status
step "what the bootstrap database holds: broadcasting peers only"
fb_psql "SELECT email, is_broadcasting, socket_addresses, port FROM registrations ORDER BY email"

step "the web page of alice's agent: open this address in a browser on this machine"
fb_agent alice ui
echo "(any agent's: $FB_BUILD/bin/peer-agent --home HOME ui [--open], e.g. HOME $(fb_agent_home carol))"

if [ -t 0 ] && [ -z "${DEMO_ONCE:-}" ]; then
	step "running; Ctrl-C stops everything. Try, for example:"
	echo "  $FB_BUILD/bin/peer-agent --home $(fb_agent_home dave) peers --json | jq ."
	echo "  $FB_BUILD/bin/peer-agent --home $(fb_agent_home alice) broadcast off"
	echo "  $FB_BUILD/bin/peer-agent --home $(fb_agent_home bob) torrent get $ih --dest /tmp"
	while sleep 3600; do :; done
fi
step "demo done; stopping agents (they leave and unregister), the server and PostgreSQL"
for n in alice bob carol dave; do fb_agent_stop "$n" TERM; done
