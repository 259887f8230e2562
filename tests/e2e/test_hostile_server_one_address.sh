#!/usr/bin/env bash
# A household behind one NAT address, with default settings: 70 agents each
# holding 3 connections (as libcurl's pool did) all register and heartbeat.
# Beyond the per-address connection limit the server answers 503 with
# Retry-After, then refuses at accept; a request flood from that address gets
# 429s with Retry-After and a JSON error. Every refusal is in the log and in
# bootstrap_refusals_total; another address is served throughout, and the
# household works again seconds after the flood stops.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

AGENTS=70
CONNS=3
MAX_CONNS_PER_IP=256 # the default
FLOODERS=20

fb_bs_setup
fb_bs_start a
port=${FB_BS_URL##*:}
certs=$(fb_tmpdir)
for ((i = 0; i < AGENTS; i++)); do fb_make_selfsigned_client "$certs" "agent$i@example.com"; done
for ((i = 0; i < FLOODERS; i++)); do fb_make_selfsigned_client "$certs" "flood$i@example.com"; done
fb_peer other@example.com

# From another address (the crowd's holds its whole allowance).
metric() {
	curl -sS --interface 127.0.0.2 --max-time 10 --cacert "$FB_CERTS/ca/ca.crt" "$FB_BS_URL/metrics" |
		awk -v m="bootstrap_refusals_total{reason=\"$1\"}" '$1 == m { print $2 }'
}

out=$(python3 "$FB_ROOT/tests/e2e/crowd.py" "$certs" "$FB_CERTS/ca/ca.crt" 127.0.0.1 "$port" \
	"$AGENTS" "$CONNS" "$MAX_CONNS_PER_IP" "$FLOODERS") || fb_fail "crowd.py failed: $out"
phase() { grep "\"phase\": \"$1\"" <<<"$out"; }
fb_log "$out"

household=$(phase household)
fb_assert_eq "$(jq -r .ok <<<"$household")" $((AGENTS * CONNS)) \
	"every request of $AGENTS agents x $CONNS connections from one address succeeds: $household"

over=$(phase over)
fb_assert_eq "$(jq -r .status <<<"$over")" 503 "a connection over the per-address limit is told so: $over"
fb_assert_eq "$(jq -r '.body | fromjson | .code' <<<"$over")" too_many_connections "503 error code"
fb_valid error.schema.json "$(jq -r .body <<<"$over")"
[ "$(jq -r .retry_after <<<"$over")" -ge 1 ] || fb_fail "503 without Retry-After: $over"
fb_assert_eq "$(jq -r .connection <<<"$over")" close "503 closes the connection"
[ "$(jq -r .raw_refused <<<"$over")" -ge 30 ] || fb_fail "connections far over the limit not refused: $over"

flood=$(phase flood)
n429=$(jq -r '.counts["429"] // 0' <<<"$flood")
n200=$(jq -r '.counts["200"] // 0' <<<"$flood")
[ "$n429" -gt "$n200" ] || fb_fail "the flood was not stopped by the per-address rate limit: $flood"
# Burst 250 and 50/s for 3 s: at most ~400 of the flood got through.
[ "$n200" -le 450 ] || fb_fail "the flood got $n200 requests through: $flood"
fb_assert_eq "$(jq -r '.sample_429.body | fromjson | .code' <<<"$flood")" rate_limited "429 error code"
fb_valid error.schema.json "$(jq -r .sample_429.body <<<"$flood")"
[ "$(jq -r .sample_429.retry_after <<<"$flood")" -ge 1 ] || fb_fail "429 without Retry-After: $flood"

recover=$(phase recover)
fb_assert_eq "$(jq -r .ok <<<"$recover")" "$AGENTS" "the household heartbeats again after the flood: $recover"

# Another address registers while all of that happens to 127.0.0.1's allowance.
code=$(curl -sS -o /dev/null -w '%{http_code}' --interface 127.0.0.3 --max-time 10 \
	--cacert "$FB_CERTS/ca/ca.crt" --cert "$FB_CERTS/other@example.com.crt" \
	--key "$FB_CERTS/other@example.com.key" -X POST -H 'Content-Type: application/json' \
	-d '{"email":"other@example.com","is_broadcasting":false,"repositories":[]}' \
	"$FB_BS_URL/api/bootstrap/register")
fb_assert_eq "$code" 200 "another address registers"

# Counted and logged, each reason at least once.
conns=$(metric conns_per_ip)
conns503=$(metric conns_per_ip_503)
rate=$(metric rate_per_ip)
[ "${conns:-0}" -ge 30 ] || fb_fail "connection refusals not counted: conns_per_ip=$conns"
[ "${conns503:-0}" -ge 1 ] || fb_fail "the 503 not counted: conns_per_ip_503=$conns503"
[ "${rate:-0}" -ge "$n429" ] || fb_fail "rate refusals not counted: rate_per_ip=$rate, 429s seen $n429"
log=$FB_CERTS/a.log
grep -q "refused a connection from 127.0.0.1: .* (max-conns-per-ip 256)" "$log" ||
	fb_fail "no log line for refused connections: $(tail -5 "$log")"
grep -q "answered 503 to 127.0.0.1" "$log" || fb_fail "no log line for the 503"
grep -q "rate limited 127.0.0.1: over 50 requests/s from that address" "$log" ||
	fb_fail "no log line for the rate limit"
# Rate-limited log lines: thousands of refusals, a handful of lines.
lines=$(grep -c "refused a connection\|answered 503\|rate limited" "$log")
[ "$lines" -le 20 ] || fb_fail "$lines log lines for the refusals; the log is not rate-limited"
# A replica at --max-connections answers 503 overloaded, from any address.
fb_bs_start full --max-connections 16
full_port=${FB_BS_URL_full##*:}
python3 -c '
import socket, sys, time
held = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), source_address=("127.0.0.4", 0))
        for _ in range(16)]
print(len(held), flush=True)
time.sleep(20)
' "$full_port" >"$certs/held" &
holder=$!
fb_on_exit "kill $holder 2>/dev/null"
fb_wait_for 10 test -s "$certs/held" || fb_fail "could not hold 16 connections"
sleep 0.5
out=$(fb_anon -i --interface 127.0.0.5 "$FB_BS_URL_full/healthz")
fb_assert_eq "$(fb_status "$out")" 503 "a replica at max-connections answers 503"
fb_assert_contains "$(tr -d '\r' <<<"$out")" "Retry-After: 5" "503 says when to retry"
fb_assert_contains "$out" '"code":"overloaded"' "503 overloaded"
kill "$holder"
wait "$holder" 2>/dev/null || true
grep -q "answered 503 to 127.0.0.5: over max-connections 16" "$FB_CERTS/full.log" ||
	fb_fail "no log line for the overload"
n=$(curl -sS --max-time 10 --cacert "$FB_CERTS/ca/ca.crt" "$FB_BS_URL_full/metrics" |
	awk '$1 == "bootstrap_refusals_total{reason=\"conns_total_503\"}" { print $2 }')
[ "${n:-0}" -ge 1 ] || fb_fail "the overload not counted: conns_total_503=$n"
fb_pass "$AGENTS agents x $CONNS connections from one address served; the flood got $n429 429s, $conns connection refusals counted"
