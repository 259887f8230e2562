#!/usr/bin/env bash
# TTL and staleness with short timers: a peer without heartbeats turns stale
# (left out of peers/discover, shown stale to admins), then expires (gone from
# reads before any sweep), then the sweeper deletes its row.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

fb_bs_setup
fb_peer admin@example.com
fb_fingerprint "$FB_CERTS/admin@example.com.crt" >"$FB_CERTS/admins"
# A sweeper that will not run during the test, to show reads hide expired rows themselves.
fb_bs_start a --ttl 10 --stale-after 3 --heartbeat-interval 1 --sweep-interval 3600 \
	--admin-fingerprints "$FB_CERTS/admins"
U=$FB_BS_URL
body='{"email":"%s","socket_addresses":["127.0.0.8"],"port":7200,"repositories":[{"name":"r"}]}'
fb_expect 200 "$(fb_register old@example.com "$(printf "$body" old@example.com)")" "register old"
fb_expect 200 "$(fb_register live@example.com "$(printf "$body" live@example.com)")" "register live"

listed() { fb_body "$(fb_as reader@example.com "$U/api/bootstrap/$1")" | jq -r '[.[].email] | sort | join(",")'; }
fb_assert_eq "$(listed 'discover?repositories=r')" "live@example.com,old@example.com" "both online"

beat() { fb_as live@example.com -X POST -H 'Content-Type: application/json' -d '{"email":"live@example.com"}' "$U/api/bootstrap/heartbeat" >/dev/null; }
stale_seen() { beat; [ "$(listed 'discover?repositories=r')" = "live@example.com" ]; }
fb_wait_for 15 stale_seen || fb_fail "old never turned stale"
fb_assert_eq "$(listed peers)" "live@example.com" "stale peer left out of peers"
state=$(fb_body "$(fb_as admin@example.com "$U/api/admin/registrations")" | jq -r '.[] | select(.email == "old@example.com") | .state')
fb_assert_eq "$state" stale "admins see it stale"

expired() { beat; [ "$(fb_status "$(fb_as reader@example.com "$U/api/relay/broadcast/lookup?email=old@example.com")")" = 404 ]; }
fb_wait_for 20 expired || fb_fail "old never expired"
fb_assert_eq "$(fb_psql "SELECT count(*) FROM registrations WHERE email = 'old@example.com'")" 1 \
	"row still there before the sweep"
fb_assert_eq "$(listed 'discover?repositories=r')" "live@example.com" "heartbeats kept live online"

# A second replica with a fast sweeper deletes the expired row.
fb_bs_start sweeper --ttl 10 --stale-after 3 --heartbeat-interval 1 --sweep-interval 1
gone() { beat; [ "$(fb_psql "SELECT count(*) FROM registrations WHERE email = 'old@example.com'")" = 0 ]; }
fb_wait_for 15 gone || fb_fail "the sweeper did not delete the expired row"
fb_assert_eq "$(fb_psql "SELECT count(*) FROM registration_repositories WHERE email = 'old@example.com'")" 0 "its repositories went too"
fb_assert_contains "$(curl -sS --cacert "$FB_CERTS/ca/ca.crt" "$FB_BS_URL/metrics")" "bootstrap_swept_rows_total 1" "swept rows counted"
fb_assert_eq "$(fb_psql "SELECT count(*) FROM registrations WHERE email = 'live@example.com'")" 1 "live kept"

# A mass expiry: more rows than one delete takes (1,000) go in paced batches.
fb_psql "BEGIN;
INSERT INTO registrations (email, peer_id, fingerprint, public_certificate, is_broadcasting, expires_at)
SELECT 'mass' || i || '@example.com', gen_random_uuid(), 'f', 'c', false, now() - interval '1 second'
FROM generate_series(1, 2500) AS i;
INSERT INTO registration_repositories (name, email)
SELECT 'r', 'mass' || i || '@example.com' FROM generate_series(1, 2500) AS i;
COMMIT" >/dev/null
mass_gone() { [ "$(fb_psql "SELECT count(*) FROM registrations WHERE email LIKE 'mass%'")" = 0 ]; }
fb_wait_for 15 mass_gone || fb_fail "the sweeper did not delete 2,500 expired rows"
fb_assert_eq "$(fb_psql "SELECT count(*) FROM registration_repositories WHERE email LIKE 'mass%'")" 0 \
	"their repositories went too"
swept_log() { grep -q 'deleted 2500 expired registrations in 3 batches' "$FB_CERTS/sweeper.log"; }
fb_wait_for 5 swept_log || fb_fail "no log line for the sweep: $(grep -i sweep "$FB_CERTS/sweeper.log" | tail -3)"
fb_assert_contains "$(curl -sS --cacert "$FB_CERTS/ca/ca.crt" "$FB_BS_URL/metrics")" "bootstrap_swept_rows_total 2501" \
	"mass expiry counted"
fb_assert_eq "$(listed 'discover?repositories=r')" "live@example.com" "live still served"
fb_pass "online -> stale -> expired -> swept; a mass expiry swept in batches"
