#!/usr/bin/env bash
# The CA scripts issue certificates that chain, name the email, and refuse to
# overwrite existing files.
set -euo pipefail
. "$(dirname "$0")/../lib/certs.sh"

dir=$(fb_tmpdir)
fb_make_ca "$dir/ca"
fb_make_server_cert "$dir/ca" "$dir" server
fb_make_client_cert "$dir/ca" "$dir" carol@example.com
fb_make_selfsigned_client "$dir/self" carol@example.com

verify() {
	certtool --verify --load-ca-certificate "$dir/ca/ca.crt" --infile "$1" 2>&1 |
		grep -c 'Chain verification output: Verified' || true
}
fb_assert_eq "$(verify "$dir/server.crt")" 1 "server certificate chains to the CA"
fb_assert_eq "$(verify "$dir/carol@example.com.crt")" 1 "client certificate chains to the CA"
fb_assert_eq "$(verify "$dir/self/carol@example.com.crt")" 0 "self-signed does not chain"

info=$(certtool -i --infile "$dir/carol@example.com.crt")
fb_assert_contains "$info" "Subject: CN=carol@example.com" "CN is the email"
fb_assert_contains "$info" "RFC822Name: carol@example.com" "SAN is the email"
fb_assert_eq "$(stat -c %a "$dir/carol@example.com.key")" 600 "key mode"

if "$FB_ROOT/deploy/ca/issue-client.sh" "$dir/ca" "$dir" carol@example.com 2>/dev/null; then
	fb_fail "issue-client overwrote an existing certificate"
fi
fb_pass "CA, server and client certificates"
