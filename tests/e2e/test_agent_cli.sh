#!/usr/bin/env bash
# The peer-agent command line as a person uses it: exit codes (0 ok, 1 failure,
# 2 usage or configuration), init's refusal to overwrite, configuration errors
# naming the key, a command against an agent that is not running, broadcasting
# without a listener, and bootstrap failover past a dead URL.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

pa="$FB_BUILD/bin/peer-agent"
code() { set +e; "$@" >/dev/null 2>&1; echo $?; set -e; }
home=$(fb_tmpdir)/h

fb_assert_eq "$(code "$pa")" 2 "no command"
fb_assert_eq "$(code "$pa" frobnicate --home "$home")" 2 "unknown command"
fb_assert_eq "$(code "$pa" --help)" 0 "--help"
"$pa" --help | grep -q 'broadcast on' || fb_fail "--help does not list the commands"
fb_assert_eq "$(code "$pa" --version)" 0 "--version"
fb_assert_eq "$(code "$pa" init --home "$home")" 2 "init without --email"
fb_assert_eq "$(code "$pa" init --home "$home" --email not-an-email)" 2 "init with a bad email"
fb_assert_eq "$(code "$pa" init --home "$home" --email cli@example.com)" 0 "init"
fb_assert_eq "$(stat -c %a "$home/identity.key") $(stat -c %a "$home/api.token")" "600 600" "secret files are 0600"
err=$("$pa" init --home "$home" --email cli@example.com 2>&1 >/dev/null || true)
fb_assert_eq "$(code "$pa" init --home "$home" --email cli@example.com)" 1 "init refuses to overwrite"
fb_assert_contains "$err" "--force" "the refusal says how to overwrite"
fb_assert_eq "$(code "$pa" init --home "$home" --email cli@example.com --force)" 0 "init --force"
fb_assert_eq "$(code "$pa" status --home "$home")" 1 "status with no agent running"
err=$("$pa" status --home "$home" 2>&1 || true)
fb_assert_contains "$err" "cannot reach the agent" "says the agent is not running"
fb_pass "exit codes, init and a command without an agent behave"

# A bad value is refused with the key named, exit 2.
cp "$home/agent.ini" "$home/agent.ini.good"
printf '[gossip]\nneighbours = lots\n' >>"$home/agent.ini"
err=$("$pa" run --home "$home" 2>&1 || true)
fb_assert_eq "$(code "$pa" run --home "$home")" 2 "run with a bad agent.ini"
fb_assert_contains "$err" "[gossip] neighbours" "the error names the key"
cp "$home/agent.ini.good" "$home/agent.ini"
printf '[api]\nlisten = 192.0.2.1:7080\n' >>"$home/agent.ini"
err=$("$pa" run --home "$home" 2>&1 || true)
fb_assert_contains "$err" "[api] listen" "a non-loopback API is refused"
fb_pass "configuration errors name the key and exit 2"

# Bootstrap failover: the first URL is dead, the second answers.
fb_bs_setup
fb_bs_start a
dead=$(fb_free_port 127.0.0.1)
FB_AGENT_BS_URLS="https://127.0.0.1:$dead,$FB_BS_URL" fb_agent_new b1 127.0.0.2 broadcast alpha
FB_AGENT_BS_URLS="https://127.0.0.1:$dead,$FB_BS_URL" fb_agent_new s1 127.0.0.4 silent gamma
sed -i '/^listen = 127.0.0.4/d' "$(fb_agent_home s1)/agent.ini"
fb_agent_start b1
fb_agent_start s1
registered() { fb_agent b1 status --json | jq -e --arg u "$FB_BS_URL" '.bootstrap.state == "REGISTERED" and .bootstrap.url == $u'; }
fb_wait_for 30 registered || fb_fail "b1 did not fail over: $(fb_agent b1 status --json | jq -c .bootstrap)"
fb_pass "failover: b1 registered at the second URL when the first was dead"

# broadcast on without [gossip] listen: a clear refusal, exit 1; the agent stays silent.
err=$(fb_agent s1 broadcast on --repositories gamma 2>&1 || true)
fb_assert_eq "$(code fb_agent s1 broadcast on)" 1 "broadcast on without a listener"
fb_assert_contains "$err" "listen" "the refusal names the missing setting"
fb_assert_eq "$(fb_agent s1 status --json | jq -r .broadcasting)" false "s1 is still silent"
# And with one: broadcast on and off round trip on b1.
fb_agent b1 broadcast off >/dev/null
fb_assert_eq "$(fb_agent b1 status --json | jq -r '.broadcasting, .listen_port' | tr '\n' ' ')" "false -1 " "off: no listener"
fb_agent b1 broadcast on --repositories alpha,zeta >/dev/null
fb_wait_for 30 registered || fb_fail "b1 did not register again after broadcast on"
fb_agent_knows s1 b1@example.com '[.repositories[].name] == ["alpha","zeta"] and .is_broadcasting' ||
	fb_wait_for 20 fb_agent_knows s1 b1@example.com '[.repositories[].name] == ["alpha","zeta"] and .is_broadcasting' ||
	fb_fail "s1 did not learn b1's new repositories: $(fb_agent_peers_json s1)"
fb_pass "broadcast on/off: refused without a listener; with one, addresses and repositories follow"

# advertise = auto publishes this host's addresses, never loopback or link-local.
fb_agent_new auto1 127.0.0.6 broadcast autorepo
sed -i 's/^advertise = .*/advertise = auto/' "$(fb_agent_home auto1)/agent.ini"
fb_agent_start auto1
host_ips=$(ip -o addr show scope global | awk '{ sub("/.*", "", $4); print $4 }' | sort)
if [ -n "$host_ips" ]; then
	auto_registered() { [ -n "$(fb_psql "SELECT 1 FROM registrations WHERE email = 'auto1@example.com'")" ]; }
	fb_wait_for 30 auto_registered || fb_fail "auto1 did not register: $(fb_agent auto1 status --json | jq -c .bootstrap)"
	published=$(fb_psql "SELECT unnest(socket_addresses) FROM registrations WHERE email = 'auto1@example.com'" | sort)
	fb_assert_eq "$published" "$host_ips" "advertise = auto publishes the global addresses"
	fb_pass "advertise = auto: $(tr '\n' ' ' <<<"$published")(no loopback, no link-local)"
else
	fb_log "no global address on this host: advertise = auto has nothing to publish"
fi

# The server forgot auto1 (a swept row, a new database): its next heartbeat gets
# 404 and it registers again by itself.
fb_psql "DELETE FROM registrations WHERE email = 'auto1@example.com'" >/dev/null
back() { [ -n "$(fb_psql "SELECT 1 FROM registrations WHERE email = 'auto1@example.com'")" ]; }
if [ -n "$host_ips" ]; then
	fb_wait_for 30 back || fb_fail "auto1 did not register again after a 404"
	grep -q 'no longer knows us; registering again' "$(fb_agent_home auto1)/agent.log" ||
		fb_fail "the re-registration is not logged"
	fb_pass "a heartbeat answered 404 made the agent register again"
	# SIGINT, like SIGTERM: leave and unregister.
	fb_agent_stop auto1 INT
	back && fb_fail "auto1 is still registered after SIGINT"
	fb_pass "SIGINT unregistered the agent"
fi
