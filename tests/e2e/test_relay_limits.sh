#!/usr/bin/env bash
# A relay's limits hold against what passes through it: a circuit past its byte cap
# is closed (here: a torrent download between silent agents through alice, whose
# max_circuit_bytes is 64 KiB), and a flood of circuit requests from one identity is
# refused by its caps (per peer, accept rate) while the relay's own gossip sessions and
# the silent agents' circuit carry on.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

fb_bs_setup
fb_bs_start a
fb_agent_new alice 127.0.0.2 broadcast alpha
fb_agent_new bob 127.0.0.3 broadcast beta
fb_agent_new carol 127.0.0.4 silent photos
fb_agent_new dave 127.0.0.5 silent photos
for n in carol dave; do fb_agent_torrent "$n"; done
printf '[relay]\nmax_circuit_bytes = 65536\nmax_circuits_per_peer = 3\n' >>"$(fb_agent_home alice)/agent.ini"
# Only alice relays, so that every circuit goes through her.
printf '[relay]\nserve = false\n' >>"$(fb_agent_home bob)/agent.ini"
for n in alice bob carol dave; do fb_agent_start "$n"; done
fb_agents_meet 40 . alice bob carol dave

relayed() { fb_agent_knows "$1" "$2@example.com" '.state == "CONNECTED" and .via == "alice@example.com"'; }
fb_wait_for 40 relayed carol dave || fb_fail "carol is not connected to dave through alice: $(fb_agent carol peers)"
fb_pass "carol and dave are neighbours through alice"

# A circuit past max_circuit_bytes is closed.
work=$(fb_tmpdir)
head -c $((2 * 1024 * 1024)) /dev/urandom >"$work/two.bin"
ih=$(fb_agent dave torrent create "$work/two.bin" --json | jq -r .info_hash)
seeds() { fb_agent_knows carol dave@example.com "(.torrents | map(.info_hash) | index(\"$ih\")) != null"; }
fb_wait_for 20 seeds || fb_fail "carol does not see dave seeding"
mkdir -p "$work/carol"
fb_agent carol torrent get "$ih" --dest "$work/carol" --no-wait >/dev/null || fb_fail "get failed"
capped() { fb_agent alice relay status --json | jq -e '.closed.byte_cap >= 1' >/dev/null; }
fb_wait_for 40 capped || fb_fail "no circuit closed by its byte cap: $(fb_agent alice relay status)"
grep -q "byte" "$(fb_agent_home alice)/agent.log" || fb_fail "alice's log does not say why the circuit closed"
fb_agent carol torrent remove "$ih" >/dev/null
fb_pass "a circuit past 64 KiB is closed ($(fb_agent alice relay status --json | jq .closed.byte_cap) so far)"

# A flood of circuit requests from one identity: refused by the caps.
port=$(fb_agent_peers_json carol | jq -r '.[] | select(.email == "alice@example.com") | .relay_port')
[[ $port =~ ^[0-9]+$ ]] && [ "$port" -gt 0 ] || fb_fail "alice's record has no relay_port: $port"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj "/CN=mallory@example.com" -addext "subjectAltName=email:mallory@example.com" \
	-keyout "$work/m.key" -out "$work/m.crt" 2>/dev/null
answers=$(python3 - "$port" "$work/m.crt" "$work/m.key" <<'PY'
import json, socket, ssl, sys, time
port, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(crt, key)
conns, codes = [], []
for i in range(30):
    try:
        s = socket.create_connection(('127.0.0.2', port), timeout=5)
        t = ctx.wrap_socket(s)
        t.sendall(json.dumps({"op": "connect", "to": "dave@example.com", "service": "gossip"}).encode() + b"\n")
        conns.append(t)
    except (OSError, ssl.SSLError) as e:
        codes.append("dropped")
for t in conns:
    try:
        t.settimeout(12)
        line = t.recv(4096).split(b"\n")[0]
        codes.append(json.loads(line).get("code") or json.loads(line)["op"] if line else "closed")
    except (OSError, ssl.SSLError, ValueError):
        codes.append("closed")
print(" ".join(codes))
PY
)
fb_log "flood answers: $answers"
fb_assert_contains "$answers" "per_peer" "circuits over max_circuits_per_peer are refused"
st=$(fb_agent alice relay status --json)
[ "$(jq '.refused.per_peer' <<<"$st")" -ge 1 ] || fb_fail "per_peer refusals not counted: $st"
[ "$(jq '.refused.rate + .refused.per_address' <<<"$st")" -ge 1 ] || fb_fail "no connection refused by rate or address: $st"
# The relay's own sessions and the silent agents' circuit carry on.
fb_agent_knows alice bob@example.com '.state == "CONNECTED"' || fb_fail "alice lost bob: $(fb_agent alice peers)"
fb_agent_knows alice carol@example.com '.state == "CONNECTED"' || fb_fail "alice lost carol"
fb_wait_for 30 relayed carol dave || fb_fail "carol and dave lost their circuit"
fb_pass "a flood of 30 circuit requests is refused by cap ($(jq -c .refused <<<"$st")); alice's sessions are unaffected"

# The same counts as Prometheus metrics, behind the API token.
api="http://127.0.0.1:$FB_AGENT_API_alice/api/v1/metrics"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$api")" = 401 ] || fb_fail "metrics answered without the token"
m=$(curl -sS -H "Authorization: Bearer $(cat "$(fb_agent_home alice)/api.token")" "$api")
python3 - "$m" <<'PY' || fb_fail "metrics are not in the Prometheus text format"
import re, sys
typed = set()
for line in sys.argv[1].splitlines():
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind in ("counter", "gauge"), line
            typed.add(name)
        continue
    m = re.fullmatch(r'([a-z_]+)(\{[a-z_]+="[a-z0-9_]+"\})? ([0-9]+)', line)
    assert m and m.group(1) in typed, "bad or untyped sample: " + line
PY
metric() { awk -v k="$1" '$1 == k { print $2 }' <<<"$m"; }
[ "$(metric 'flashback_relay_refused_total{limit="per_peer"}')" -ge 1 ] || fb_fail "per_peer not in the metrics: $(grep relay <<<"$m")"
[ "$(metric 'flashback_relay_circuits_limited_total{limit="byte_cap"}')" -ge 1 ] || fb_fail "byte_cap not in the metrics"
[ "$(metric flashback_relay_circuits_opened_total)" -ge 2 ] || fb_fail "circuits opened not in the metrics"
[ "$(metric flashback_relay_bytes_relayed_total)" -gt 65536 ] || fb_fail "bytes relayed not in the metrics"
fb_pass "metrics count circuits opened ($(metric flashback_relay_circuits_opened_total)), refused by limit and bytes relayed ($(metric flashback_relay_bytes_relayed_total))"
