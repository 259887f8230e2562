#!/usr/bin/env bash
# A silent (non-broadcasting) peer: no address is stored anywhere in the
# database, it appears in no listing, and sending addresses is refused.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

fb_bs_setup
fb_bs_start a
U=$FB_BS_URL
SILENT_IP=198.51.100.77

fb_expect 200 "$(fb_register loud@example.com '{"email":"loud@example.com","socket_addresses":["127.0.0.5"],"port":7000,"repositories":[{"name":"shared"}]}')" "broadcasting peer"
out=$(fb_register quiet@example.com "{\"email\":\"quiet@example.com\",\"is_broadcasting\":false,\"socket_addresses\":[\"$SILENT_IP\"],\"repositories\":[{\"name\":\"shared\"}]}")
fb_expect 400 "$out" "silent registration with addresses"
fb_assert_eq "$(fb_psql "SELECT count(*) FROM registrations WHERE email = 'quiet@example.com'")" 0 \
	"rejected registration wrote nothing"
fb_expect 200 "$(fb_register quiet@example.com '{"email":"quiet@example.com","is_broadcasting":false,"repositories":[{"name":"shared"}]}')" "silent registration"

dump=$(pg_dump -a "$DATABASE_URL")
fb_assert_contains "$dump" "quiet@example.com" "the silent row exists"
if grep -q "$SILENT_IP" <<<"$dump"; then
	fb_fail "the silent peer's address reached the database"
fi
fb_assert_eq "$(fb_psql "SELECT cardinality(socket_addresses) || ',' || coalesce(port::text, 'none') FROM registrations WHERE email = 'quiet@example.com'")" "0,none" "no address, no port"

# The database itself refuses an address on a silent row.
if fb_psql "UPDATE registrations SET socket_addresses = '{10.0.0.1}' WHERE email = 'quiet@example.com'" 2>/dev/null; then
	fb_fail "the CHECK constraint let an address onto a silent row"
fi

for path in "api/bootstrap/peers" "api/bootstrap/discover?repositories=shared" "api/relay/broadcast/list"; do
	out=$(fb_as loud@example.com "$U/$path")
	fb_expect 200 "$out" "$path"
	if fb_body "$out" | jq -e 'map(.email) | index("quiet@example.com")' >/dev/null; then
		fb_fail "$path lists the silent peer"
	fi
done
out=$(fb_register other@example.com '{"email":"other@example.com","socket_addresses":["127.0.0.6"],"port":7001,"repositories":[]}')
if fb_body "$out" | jq -e '.bootstrap_peers | map(.email) | index("quiet@example.com")' >/dev/null; then
	fb_fail "a register answer's sample holds the silent peer"
fi
out=$(fb_as loud@example.com "$U/api/relay/broadcast/lookup?email=quiet@example.com")
fb_expect 200 "$out" "legacy lookup of a silent peer"
fb_assert_eq "$(fb_body "$out" | jq -c '[.socket_addresses, has("port")]')" '[[],false]' "lookup shows no address"
fb_pass "silent peers leave no address behind"
