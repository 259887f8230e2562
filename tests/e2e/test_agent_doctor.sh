#!/usr/bin/env bash
# `peer-agent doctor` on a healthy home says ok to every check and exits 0;
# then each thing users get wrong is broken in turn and must be named, with
# what to do, and exit 1: a key readable by others, an unknown agent.ini key,
# a listen port another program holds, an advertised address not of this
# host (a warning), a bootstrap URL nobody answers, a CA that did not sign the
# server, and a server whose clock is two minutes off (a stand-in HTTPS
# server sending that Date header).
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a
fb_agent_new doc 127.0.0.2 broadcast alpha
home=$(fb_agent_home doc)
ini="$home/agent.ini"
cp "$ini" "$home/agent.ini.good"
restore() { cp "$home/agent.ini.good" "$ini"; }

run_doctor() { "$FB_BUILD/bin/peer-agent" --home "$home" doctor 2>&1; }
expect_fail() { # WHAT PATTERN
	local out rc=0
	out=$(run_doctor) || rc=$?
	[ "$rc" -eq 1 ] || fb_fail "$1: doctor exited $rc, not 1: $out"
	grep -qE "$2" <<<"$out" || fb_fail "$1: no line matching '$2' in: $out"
	fb_pass "$1: $(grep -E "$2" <<<"$out" | head -1)"
}

out=$(run_doctor) || fb_fail "doctor fails on a healthy home: $out"
fb_log "$out"
for check in home agent.ini "identity key" identity "api token" "api listen" "gossip listen" \
	advertise bootstrap clock; do
	grep -q "^ok    $check: " <<<"$out" || fb_fail "no ok line for $check: $out"
done
! grep -qE '^(warn|FAIL)' <<<"$out" || fb_fail "a healthy home has warnings: $out"
fb_pass "a healthy home: every check ok, exit 0"

chmod 644 "$home/identity.key"
expect_fail "a readable key" '^FAIL  identity key: .*chmod 600'
chmod 600 "$home/identity.key"

printf '[gossip]\nneighbors = 8\n' >>"$ini"
expect_fail "a misspelt key" '^FAIL  agent.ini: .*neighbors: unknown key'
restore

gport=$(sed -n 's/^listen = 127.0.0.2://p' "$ini")
python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.2", int(sys.argv[1]))); s.listen(); time.sleep(60)' "$gport" &
holder=$!
fb_on_exit "kill $holder"
fb_wait_port 127.0.0.2 "$gport" 5 || fb_fail "the port holder did not start"
expect_fail "a port in use" "^FAIL  gossip listen: 127.0.0.2:$gport: Address already in use; do: choose another"
kill "$holder"
wait "$holder" 2>/dev/null || true

sed -i 's/^advertise = .*/advertise = 192.0.2.7/' "$ini"
out=$(run_doctor) || fb_fail "an address not of this host should only warn: $out"
grep -q '^warn  advertise: 192.0.2.7 is not an address of this host' <<<"$out" ||
	fb_fail "no advertise warning: $out"
fb_pass "an advertised address not of this host is a warning, exit 0"
restore

dead=$(fb_free_port 127.0.0.1)
sed -i "s|^urls = .*|urls = https://127.0.0.1:$dead|" "$ini"
expect_fail "nobody answers" "^FAIL  bootstrap: https://127.0.0.1:$dead: .*do: check the URL"
restore

other=$(fb_tmpdir)
fb_make_ca "$other"
sed -i "s|^ca = .*|ca = $other/ca.crt|" "$ini"
expect_fail "the wrong CA" '^FAIL  bootstrap: .*do: set \[bootstrap\] ca'
restore

# A server two minutes ahead of us, with the test CA's certificate.
skewed=$(fb_free_port 127.0.0.1)
python3 - "$skewed" "$FB_CERTS/server.crt" "$FB_CERTS/server.key" <<'PY' &
import email.utils, http.server, ssl, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(time.time() + 120, usegmt=True)
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
fake=$!
fb_on_exit "kill $fake"
fb_wait_port 127.0.0.1 "$skewed" 5 || fb_fail "the skewed server did not start"
sed -i "s|^urls = .*|urls = https://127.0.0.1:$skewed|" "$ini"
expect_fail "a clock two minutes off" '^FAIL  clock: 1[12][0-9]\.[0-9] s behind .*timedatectl set-ntp true'
restore

# While the agent runs, its ports are its own.
fb_agent_start doc
out=$(run_doctor) || fb_fail "doctor fails while the agent runs: $out"
grep -q '^ok    api listen: .*answers: the agent runs' <<<"$out" || fb_fail "running agent not seen: $out"
fb_pass "while the agent runs: exit 0, its ports not reported as taken"
