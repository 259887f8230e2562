#!/usr/bin/env bash
# Hundreds of connections dripping headers from one address do not delay
# requests from another address; the per-IP limit caps the dripping address.
# Rate limiting answers 429 with Retry-After.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

fb_bs_setup
fb_bs_start a --rate-limit 1 --max-conns-per-ip 64
port=${FB_BS_URL##*:}
dir=$(fb_tmpdir)

python3 "$FB_ROOT/tests/e2e/drip.py" 127.0.0.2 127.0.0.1 "$port" 300 25 >"$dir/drip" &
drip=$!
fb_on_exit "kill $drip"
fb_wait_for 20 test -s "$dir/drip" || fb_fail "the drip clients did not start"
held=$(head -1 "$dir/drip")
fb_log "dripping connections open from 127.0.0.2: $held"

# Ten requests from 127.0.0.3 while the drip runs: each answered, none slow.
fb_peer fast@example.com
for i in $(seq 1 10); do
	t=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' --interface 127.0.0.3 --max-time 5 \
		--cacert "$FB_CERTS/ca/ca.crt" --cert "$FB_CERTS/fast@example.com.crt" \
		--key "$FB_CERTS/fast@example.com.key" "$FB_BS_URL/healthz")
	fb_assert_eq "${t% *}" 200 "request $i from another address"
	awk -v s="${t#* }" 'BEGIN { exit !(s < 2.0) }' || fb_fail "request $i took ${t#* } s"
done
# The dripping address holds at most the per-IP limit of connections, and the
# 8 over it the server accepts to answer 503.
conns=$(ss -tn state established "( sport = :$port )" | grep -c '127.0.0.2:' || true)
[ "$conns" -le 72 ] || fb_fail "127.0.0.2 holds $conns connections, over the per-IP limit of 64 + 8"

# Rate limit: 1/s, burst 5. Quick requests of one certificate meet a 429 well
# before 30 of them, even on a loaded machine where each takes up to a second.
codes=""
for i in $(seq 1 30); do
	code=$(fb_status "$(fb_as rl@example.com "$FB_BS_URL/api/bootstrap/peers")")
	codes="$codes $code"
	[ "$code" = 429 ] && break
done
fb_assert_contains "$codes" "429" "rate limit reached"
out=$(fb_as rl@example.com -i "$FB_BS_URL/api/bootstrap/peers")
fb_assert_contains "$(tr -d '\r' <<<"$out")" "Retry-After: 1" "429 says when to retry"
fb_assert_eq "$(fb_status "$(fb_as other@example.com "$FB_BS_URL/api/bootstrap/peers")")" 200 \
	"another certificate is not limited"
fb_pass "slow clients held $held connections without delaying others; rate limit works"
