#!/usr/bin/env bash
# Every bootstrap endpoint's success path, as peers with curl and client certificates.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

fb_bs_setup
# Feedback from a peer registered a moment ago counts here (the default waits 600 s).
fb_bs_start a --feedback-min-age 0
U=$FB_BS_URL

out=$(fb_register alice@example.com '{"email":"alice@example.com","socket_addresses":["127.0.0.2"],"port":7443,"repositories":[{"name":"photos","description":"Holiday photos"},{"name":"music"}],"capabilities":{"max_peers":8,"supports_torrent":true,"bandwidth_estimate":1000000}}')
fb_expect 200 "$out" "register alice"
body=$(fb_body "$out")
fb_assert_eq "$(jq -r .status <<<"$body")" registered "status"
fb_valid register-response.schema.json "$body"
fb_assert_eq "$(jq -r '.peer_id | test("^[0-9a-f-]{36}$")' <<<"$body")" true "generated peer_id"
fb_assert_eq "$(jq -r .heartbeat_interval_s <<<"$body")" 30 "heartbeat interval"
fb_assert_eq "$(jq -r '.bootstrap_peers | length' <<<"$body")" 0 "first peer sees nobody"

out=$(fb_register bob@example.com '{"email":"bob@example.com","peer_id":"0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f","socket_addresses":["127.0.0.3","::1"],"port":7444,"repositories":[{"name":"photos"}]}')
fb_expect 200 "$out" "register bob"
body=$(fb_body "$out")
fb_assert_eq "$(jq -r .peer_id <<<"$body")" 0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f "client peer_id kept"
fb_assert_eq "$(jq -r '.bootstrap_peers[0].email' <<<"$body")" alice@example.com "bob learns alice"
fb_assert_contains "$(jq -r '.bootstrap_peers[0].public_certificate' <<<"$body")" "BEGIN CERTIFICATE" \
	"certificate handed out for pinning"

out=$(fb_as alice@example.com "$U/api/bootstrap/peers")
fb_expect 200 "$out" "peers"
fb_assert_eq "$(fb_body "$out" | jq -c '[.[].email]')" '["bob@example.com"]' "peers excludes the caller"
fb_valid bootstrap-peer-list.schema.json "$(fb_body "$out")"

out=$(fb_as carol@example.com "$U/api/bootstrap/discover?repositories=photos,nothing&limit=10")
fb_expect 200 "$out" "discover by an unregistered reader"
fb_assert_eq "$(fb_body "$out" | jq -c '[.[].email] | sort')" '["alice@example.com","bob@example.com"]' "discover photos"
fb_valid bootstrap-peer-list.schema.json "$(fb_body "$out")"
fb_assert_eq "$(fb_body "$out" | jq -c '[.[].performance_score]')" '[null,null]' "no feedback yet"
fb_assert_eq "$(fb_body "$out" | jq -c '[.[].availability_score] | map(. > 0 and . <= 100) | all')" true "availability in 0..100"
out=$(fb_as carol@example.com "$U/api/bootstrap/discover?repositories=music")
fb_assert_eq "$(fb_body "$out" | jq -c '[.[].email]')" '["alice@example.com"]' "discover music"

out=$(fb_as bob@example.com -X POST -H 'Content-Type: application/json' -d '{"email":"alice@example.com","latency_ms":15}' "$U/api/bootstrap/feedback")
fb_expect 200 "$out" "feedback"
out=$(fb_as bob@example.com -X POST -H 'Content-Type: application/json' -d '{"email":"alice@example.com","latency_ms":15}' "$U/api/bootstrap/feedback")
fb_expect 429 "$out" "second feedback within the window"
out=$(fb_as carol@example.com "$U/api/bootstrap/discover?repositories=photos")
fb_assert_eq "$(fb_body "$out" | jq -r '.[0].email')" alice@example.com "good feedback ranks first"
perf=$(fb_body "$out" | jq -r '.[0].performance_score')
# One report moves a score from the neutral 50 by a bounded step (at most 4.2 a window).
awk -v p="$perf" 'BEGIN { exit !(p > 50 && p <= 54.3) }' || fb_fail "performance after one 15 ms report: $perf"

before=$(fb_psql "SELECT expires_at FROM registrations WHERE email = 'alice@example.com'")
out=$(fb_as alice@example.com -X POST -H 'Content-Type: application/json' -d '{"email":"alice@example.com"}' "$U/api/bootstrap/heartbeat")
fb_expect 200 "$out" "heartbeat"
fb_assert_eq "$(fb_body "$out" | jq -r .status)" ok "heartbeat status"
fb_valid status.schema.json "$(fb_body "$out")"
after=$(fb_psql "SELECT expires_at FROM registrations WHERE email = 'alice@example.com'")
[ "$after" \> "$before" ] || fb_fail "heartbeat did not slide the TTL ($before -> $after)"

out=$(fb_as carol@example.com -i "$U/api/relay/broadcast/lookup?email=bob@example.com")
fb_assert_contains "$out" "Deprecation: true" "legacy lookup is marked deprecated"
fb_assert_contains "$out" '"socket_addresses":["127.0.0.3","::1"]' "legacy lookup"
out=$(fb_as alice@example.com "$U/api/relay/broadcast/list")
fb_assert_eq "$(fb_body "$out" | jq -c '[.[].email] | sort')" '["alice@example.com","bob@example.com"]' "legacy list includes the caller"
fb_valid bootstrap-peer-list.schema.json "$(fb_body "$out")"
out=$(fb_as dave@example.com -i -X POST -H 'Content-Type: application/json' -d '{"email":"dave@example.com","socket_addresses":["127.0.0.4"],"port":1,"repositories":[]}' "$U/api/relay/broadcast/ready")
fb_assert_contains "$out" "Deprecation: true" "legacy ready is marked deprecated"
fb_assert_contains "$out" '"status":"registered"' "legacy ready registers"

out=$(fb_as bob@example.com -X DELETE "$U/api/bootstrap/unregister?email=bob@example.com")
fb_expect 200 "$out" "unregister"
fb_assert_eq "$(fb_psql "SELECT count(*) FROM registrations WHERE email = 'bob@example.com'")" 0 "row gone at once"
out=$(fb_as bob@example.com -X DELETE "$U/api/bootstrap/unregister?email=bob@example.com")
fb_expect 404 "$out" "second unregister"
out=$(fb_as bob@example.com -X POST -H 'Content-Type: application/json' -d '{"email":"bob@example.com"}' "$U/api/bootstrap/heartbeat")
fb_expect 404 "$out" "heartbeat after unregister"

out=$(fb_anon "$U/healthz")
fb_expect 200 "$out" "healthz without a certificate"
out=$(fb_anon "$U/readyz")
fb_expect 200 "$out" "readyz"
metrics=$(curl -sS --cacert "$FB_CERTS/ca/ca.crt" "$U/metrics")
fb_assert_contains "$metrics" 'bootstrap_requests_total{route="register",status="200"} 2' "metrics count requests"
fb_assert_contains "$metrics" 'bootstrap_registrations{state="online"} 2' "metrics gauge"
fb_assert_contains "$metrics" 'bootstrap_request_duration_seconds_count' "latency histogram"
fb_pass "every endpoint answered"
