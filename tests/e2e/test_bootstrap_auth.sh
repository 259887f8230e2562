#!/usr/bin/env bash
# Client identity: no certificate 401, email mismatch 403, pinning, CA mode, admin.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

fb_bs_setup
J='Content-Type: application/json'
reg() { printf '{"email":"%s","socket_addresses":["127.0.0.9"],"port":9000,"repositories":[{"name":"r"}]}' "$1"; }

# --- pinning mode, with alice as administrator ---
fb_peer alice@example.com
fb_peer admin@example.com
fb_fingerprint "$FB_CERTS/admin@example.com.crt" >"$FB_CERTS/admins"
fb_bs_start pin --admin-fingerprints "$FB_CERTS/admins"
U=$FB_BS_URL

fb_expect 401 "$(fb_anon "$U/api/bootstrap/peers")" "read without a certificate"
fb_expect 401 "$(fb_anon -X POST -H "$J" -d "$(reg alice@example.com)" "$U/api/bootstrap/register")" \
	"register without a certificate"
fb_expect 403 "$(fb_register alice@example.com "$(reg bob@example.com)")" "register someone else's email"
fb_expect 200 "$(fb_register alice@example.com "$(reg alice@example.com)")" "first registration pins"
fb_assert_eq "$(fb_psql "SELECT fingerprint FROM pins WHERE email = 'alice@example.com'")" \
	"$(fb_fingerprint "$FB_CERTS/alice@example.com.crt")" "pinned fingerprint"

# Another certificate for the same email: refused everywhere, reads included.
mkdir -p "$FB_CERTS/other"
fb_make_selfsigned_client "$FB_CERTS/other" alice@example.com
impostor() {
	curl -sS --max-time 10 --cacert "$FB_CERTS/ca/ca.crt" --cert "$FB_CERTS/other/alice@example.com.crt" \
		--key "$FB_CERTS/other/alice@example.com.key" -w '\nHTTP %{http_code}\n' "$@"
}
fb_expect 403 "$(impostor -X POST -H "$J" -d "$(reg alice@example.com)" "$U/api/bootstrap/register")" \
	"register with another certificate"
fb_expect 403 "$(impostor "$U/api/bootstrap/peers")" "read with another certificate"
fb_expect 403 "$(impostor -X DELETE "$U/api/bootstrap/unregister?email=alice@example.com")" \
	"unregister with another certificate"
hb='{"email":"alice@example.com"}'
fb_expect 403 "$(impostor -X POST -H "$J" -d "$hb" "$U/api/bootstrap/heartbeat")" \
	"heartbeat with another certificate"
fb_expect 200 "$(fb_as alice@example.com -X POST -H "$J" -d "$hb" "$U/api/bootstrap/heartbeat")" \
	"heartbeat with the pinned certificate"
fb_assert_eq "$(fb_psql "SELECT count(*) FROM registrations")" 1 "the registration survived"

# Admin: only listed fingerprints; pin reset lets the new certificate in.
fb_expect 403 "$(fb_as alice@example.com "$U/api/admin/registrations")" "non-admin"
out=$(fb_as admin@example.com "$U/api/admin/registrations")
fb_expect 200 "$out" "admin list"
fb_assert_eq "$(fb_body "$out" | jq -r '.[0].state')" online "admin sees the state"
fb_expect 200 "$(fb_as admin@example.com -X DELETE "$U/api/admin/pins/alice@example.com")" "pin reset"
fb_expect 404 "$(fb_as admin@example.com -X DELETE "$U/api/admin/pins/alice@example.com")" "no pin left"
fb_expect 200 "$(impostor -X POST -H "$J" -d "$(reg alice@example.com)" "$U/api/bootstrap/register")" \
	"new certificate after the reset"
fb_expect 403 "$(fb_register alice@example.com "$(reg alice@example.com)")" "old certificate now refused"
fb_expect 403 "$(fb_as alice@example.com -X POST -H "$J" -d "$hb" "$U/api/bootstrap/heartbeat")" \
	"old certificate's heartbeat refused"
fb_expect 200 "$(impostor -X POST -H "$J" -d "$hb" "$U/api/bootstrap/heartbeat")" \
	"the new certificate's heartbeat"

# Whitelist through the admin API: once it has entries, only they register as bootstrap.
fb_peer erin@example.com
fp=$(fb_fingerprint "$FB_CERTS/erin@example.com.crt")
fb_expect 200 "$(fb_as admin@example.com -X POST -H "$J" -d "{\"fingerprint\":\"$fp\",\"note\":\"erin\"}" "$U/api/admin/whitelist")" "whitelist add"
fb_expect 200 "$(fb_register erin@example.com "$(reg erin@example.com)")" "whitelisted registers"
out=$(fb_register frank@example.com "$(reg frank@example.com)")
fb_expect 403 "$out" "not whitelisted"
fb_assert_eq "$(fb_body "$out" | jq -r .error)" "Not whitelisted as bootstrap node" "seed's message"
fb_assert_eq "$(fb_psql "SELECT count(*) FROM registrations WHERE email = 'frank@example.com'")" 0 "nothing stored"
fb_expect 200 "$(fb_register frank@example.com '{"email":"frank@example.com","is_broadcasting":false,"repositories":[]}')" \
	"a silent registration needs no whitelist"
out=$(fb_as admin@example.com "$U/api/admin/whitelist")
fb_assert_eq "$(fb_body "$out" | jq -r '.[0].note')" erin "whitelist list"
fb_expect 200 "$(fb_as admin@example.com -X DELETE "$U/api/admin/whitelist?fingerprint=$fp")" "whitelist remove"
fb_expect 404 "$(fb_as admin@example.com -X DELETE "$U/api/admin/whitelist?fingerprint=$fp")" "already removed"

# --- CA mode ---
fb_make_client_cert "$FB_CERTS/ca" "$FB_CERTS/issued" grace@example.com
fb_bs_start ca --client-ca "$FB_CERTS/ca/ca.crt"
U=$FB_BS_URL
issued() {
	curl -sS --max-time 10 --cacert "$FB_CERTS/ca/ca.crt" --cert "$FB_CERTS/issued/grace@example.com.crt" \
		--key "$FB_CERTS/issued/grace@example.com.key" -w '\nHTTP %{http_code}\n' "$@"
}
fb_expect 200 "$(issued -X POST -H "$J" -d "$(reg grace@example.com)" "$U/api/bootstrap/register")" \
	"CA-issued certificate registers"
fb_expect 403 "$(fb_as alice@example.com "$U/api/bootstrap/peers")" "self-signed refused in CA mode"
fb_expect 403 "$(issued -X POST -H "$J" -d "$(reg alice@example.com)" "$U/api/bootstrap/register")" \
	"CA mode still checks the email"
# CA mode heartbeats: the batch statement without a fingerprint; 404 once unregistered.
ghb='{"email":"grace@example.com"}'
out=$(issued -X POST -H "$J" -d "$ghb" "$U/api/bootstrap/heartbeat")
fb_expect 200 "$out" "heartbeat in CA mode"
fb_valid status.schema.json "$(fb_body "$out")"
fb_expect 200 "$(issued -X DELETE "$U/api/bootstrap/unregister?email=grace@example.com")" "unregister in CA mode"
fb_expect 404 "$(issued -X POST -H "$J" -d "$ghb" "$U/api/bootstrap/heartbeat")" \
	"heartbeat after unregistering, CA mode"
fb_pass "401/403, pinning, admin, whitelist and CA mode"
