# tests/lib/certs.sh - certificates for tests, made by the deploy/ca scripts
# (so the tests exercise what operators run).
#   fb_make_ca DIR                  -> DIR/ca.key, DIR/ca.crt
#   fb_make_server_cert CA DIR NAME -> DIR/NAME.key, DIR/NAME.crt (localhost, 127.0.0.1)
#   fb_make_client_cert CA DIR EMAIL  -> DIR/EMAIL.key, DIR/EMAIL.crt
#   fb_make_selfsigned_client DIR EMAIL -> DIR/EMAIL.key, DIR/EMAIL.crt

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

fb_make_ca() {
	"$FB_ROOT/deploy/ca/make-ca.sh" "$1" "Test CA" >/dev/null || fb_fail "make-ca failed"
}

fb_make_server_cert() {
	"$FB_ROOT/deploy/ca/issue-server.sh" "$1" "$2" "$3" --dns localhost --ip 127.0.0.1 \
		>/dev/null || fb_fail "issue-server failed"
}

fb_make_client_cert() {
	"$FB_ROOT/deploy/ca/issue-client.sh" "$1" "$2" "$3" >/dev/null ||
		fb_fail "issue-client failed"
}

fb_make_selfsigned_client() {
	"$FB_ROOT/deploy/ca/issue-client.sh" --self-signed "$1" "$2" >/dev/null ||
		fb_fail "issue-client --self-signed failed"
}

# fb_fingerprint CERT : lower-case hex SHA-256 of the DER.
fb_fingerprint() {
	certtool --fingerprint --hash sha256 --infile "$1" | tr 'A-F' 'a-f'
}
