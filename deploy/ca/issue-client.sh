#!/usr/bin/env bash
# issue-client.sh CA_DIR OUTDIR EMAIL - a TLS client certificate (1 year) whose
# CN and rfc822Name SAN are EMAIL: OUTDIR/EMAIL.key and OUTDIR/EMAIL.crt.
# With --self-signed instead of CA_DIR, the certificate signs itself (pinning mode).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

usage() {
	cat <<USAGE
usage: issue-client.sh [--force] CA_DIR OUTDIR EMAIL
       issue-client.sh [--force] --self-signed OUTDIR EMAIL
Issues a client certificate naming EMAIL (CN and rfc822Name SAN), signed by
CA_DIR/ca.key or by itself: OUTDIR/EMAIL.key (0600) and OUTDIR/EMAIL.crt.
USAGE
}

FORCE=0
self=0
args=()
for a in "$@"; do
	case $a in
	-h | --help) usage; exit 0 ;;
	--force) FORCE=1 ;;
	--self-signed) self=1 ;;
	-*) usage >&2; exit 2 ;;
	*) args+=("$a") ;;
	esac
done
if [ $self = 1 ]; then
	[ ${#args[@]} -eq 2 ] || { usage >&2; exit 2; }
	ca="" out=${args[0]} email=${args[1]}
else
	[ ${#args[@]} -eq 3 ] || { usage >&2; exit 2; }
	ca=${args[0]} out=${args[1]} email=${args[2]}
fi
case $email in
*@*.* | *@localhost) ;;
*) ca_die "'$email' is not an email address" ;;
esac

mkdir -p "$out"
ca_check_new "$out/$email.key" "$out/$email.crt"
tmpl=$(mktemp)
trap 'rm -f "$tmpl"' EXIT
ca_template "$tmpl" "cn = \"$email\"" "email = \"$email\"" "tls_www_client" "signing_key" \
	"expiration_days = 365"
ca_new_key "$out/$email.key"
ca_issue "$out/$email.key" "$out/$email.crt" "$tmpl" "$ca"
echo "client certificate: $out/$email.crt (key $out/$email.key)"
