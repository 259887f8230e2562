#!/usr/bin/env bash
# An agent whose identity is an Ed25519 key (made with certtool: agents make
# P-256 keys themselves) beside two P-256 agents and a bootstrap server: it
# registers over mTLS, and all three meet and gossip, each verifying the other
# key type's records. With FB_PREV_BUILD naming the build directory of an agent
# without Ed25519 support, an agent of that build joins too: it meets the
# P-256 agents and refuses the Ed25519 one's hello (its signature fails there).
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a

fb_agent_new ed 127.0.0.2 broadcast alpha
fb_agent_new ec1 127.0.0.3 broadcast beta
fb_agent_new ec2 127.0.0.4 silent gamma
home=$(fb_agent_home ed)
printf '%s\n' 'cn = "ed@example.com"' 'email = "ed@example.com"' 'expiration_days = 30' \
	signing_key tls_www_client tls_www_server >"$home/ed.tmpl"
certtool --generate-privkey --key-type ed25519 --outfile "$home/identity.key" 2>/dev/null
certtool --generate-self-signed --load-privkey "$home/identity.key" --template "$home/ed.tmpl" \
	--outfile "$home/identity.crt" 2>/dev/null
certtool -i --infile "$home/identity.crt" | grep -q 'EdDSA (Ed25519)' ||
	fb_fail "certtool did not make an Ed25519 certificate"
for n in ed ec1 ec2; do fb_agent_start "$n"; done

registered() { fb_agent "$1" status --json | jq -e '.bootstrap.state == "REGISTERED"'; }
fb_wait_for 20 registered ed || fb_fail "ed did not register: $(fb_agent ed status --json)"
fb_pass "the Ed25519 agent registered with the bootstrap server (mTLS)"

fb_agents_meet 30 . ed ec1 ec2
fb_pass "the Ed25519 agent and the two P-256 agents know each other"
# The silent agent only dials attested bootstrap peers: it learnt ec1 through ed or the reverse.
fb_wait_for 20 fb_agent_knows ec2 ed@example.com '.state == "CONNECTED"' ||
	fb_fail "the silent agent has no session with the Ed25519 agent: $(fb_agent ec2 peers)"
fb_pass "a P-256 agent holds a session with the Ed25519 one"

if [ -n "${FB_PREV_BUILD:-}" ]; then
	FB_BUILD=$FB_PREV_BUILD fb_agent_new old 127.0.0.5 broadcast delta
	FB_BUILD=$FB_PREV_BUILD fb_agent_start old
	fb_wait_for 30 fb_agent_knows old ec1@example.com || fb_fail "old does not know ec1"
	fb_wait_for 30 fb_agent_knows old ec2@example.com || fb_fail "old does not know ec2"
	refused() {
		fb_agent old status --json |
			jq -e '(.gossip.verdicts.auth // 0) + (.gossip.verdicts.signature // 0) > 0'
	}
	fb_wait_for 30 refused || fb_fail "old never refused the Ed25519 agent"
	! fb_agent_knows old ed@example.com || fb_fail "old accepted an Ed25519 record"
	fb_pass "the previous build meets the P-256 agents and refuses the Ed25519 one"
fi
