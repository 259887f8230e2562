#!/usr/bin/env bash
# Two replicas on one database: state written through one is read through the
# other; migrations ran once; only one replica sweeps at a time.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

fb_bs_setup
fb_bs_start a --sweep-interval 1 --ttl 10 --stale-after 3 --heartbeat-interval 1
fb_bs_start b --sweep-interval 1 --ttl 10 --stale-after 3 --heartbeat-interval 1
A=$FB_BS_URL_a
B=$FB_BS_URL_b
# Each migration file recorded once, though two replicas started on one database.
files=$(ls "$FB_ROOT"/bootstrap-server/migrations/*.sql | wc -l)
fb_assert_eq "$(fb_psql "SELECT count(*) FROM schema_migrations")" "$files" "migrations recorded"
fb_assert_eq "$(fb_psql "SELECT count(DISTINCT name) FROM schema_migrations")" "$files" "migrations applied once"

fb_expect 200 "$(fb_register ann@example.com '{"email":"ann@example.com","socket_addresses":["127.0.0.10"],"port":7300,"repositories":[{"name":"shared"}]}' "$A")" "register on a"
out=$(fb_as bea@example.com "$B/api/bootstrap/discover?repositories=shared")
fb_assert_eq "$(fb_body "$out" | jq -r '.[0].email')" ann@example.com "read on b"
fb_expect 200 "$(fb_as ann@example.com -X POST -H 'Content-Type: application/json' -d '{"email":"ann@example.com"}' "$B/api/bootstrap/heartbeat")" "heartbeat on b"
# A pin made through a registers on a is enforced by b.
mkdir -p "$FB_CERTS/other"
fb_make_selfsigned_client "$FB_CERTS/other" ann@example.com
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$FB_CERTS/ca/ca.crt" \
	--cert "$FB_CERTS/other/ann@example.com.crt" --key "$FB_CERTS/other/ann@example.com.key" "$B/api/bootstrap/peers")
fb_assert_eq "$code" 403 "pin enforced by the other replica"
fb_expect 200 "$(fb_as ann@example.com -X DELETE "$A/api/bootstrap/unregister?email=ann@example.com")" "unregister on a"
fb_expect 404 "$(fb_as ann@example.com -X POST -H 'Content-Type: application/json' -d '{"email":"ann@example.com"}' "$B/api/bootstrap/heartbeat")" "b sees it gone"

# Expired rows are swept by exactly one replica: the counts add up to the rows.
for i in $(seq 1 30); do
	fb_psql "INSERT INTO registrations (email, peer_id, fingerprint, public_certificate, is_broadcasting, expires_at) VALUES ('x$i@example.com', gen_random_uuid(), 'f', 'c', false, now() - interval '1 second')" >/dev/null
done
swept() {
	local sa sb
	sa=$(curl -sS --cacert "$FB_CERTS/ca/ca.crt" "$A/metrics" | awk '/^bootstrap_swept_rows_total/ {print $2}')
	sb=$(curl -sS --cacert "$FB_CERTS/ca/ca.crt" "$B/metrics" | awk '/^bootstrap_swept_rows_total/ {print $2}')
	[ $((sa + sb)) -eq 30 ]
}
fb_wait_for 15 swept || fb_fail "the replicas did not sweep exactly 30 rows between them"
fb_assert_eq "$(fb_psql "SELECT count(*) FROM registrations")" 0 "all expired rows gone"
fb_pass "two replicas share one database"
