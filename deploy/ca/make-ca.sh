#!/usr/bin/env bash
# make-ca.sh OUTDIR [NAME] - creates a certificate authority (ECDSA P-256, 10 years)
# as OUTDIR/ca.key (0600) and OUTDIR/ca.crt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

usage() {
	cat <<USAGE
usage: make-ca.sh [--force] OUTDIR [NAME]
Creates a CA for Flashback: OUTDIR/ca.key (private, 0600) and OUTDIR/ca.crt.
NAME is the CA's common name (default "Flashback CA"). Give ca.crt to the
bootstrap server as --client-ca to require client certificates issued by it.
USAGE
}

FORCE=0
args=()
for a in "$@"; do
	case $a in
	-h | --help) usage; exit 0 ;;
	--force) FORCE=1 ;;
	-*) usage >&2; exit 2 ;;
	*) args+=("$a") ;;
	esac
done
[ ${#args[@]} -ge 1 ] && [ ${#args[@]} -le 2 ] || { usage >&2; exit 2; }
out=${args[0]}
name=${args[1]:-Flashback CA}

mkdir -p "$out"
ca_check_new "$out/ca.key" "$out/ca.crt"
tmpl=$(mktemp)
trap 'rm -f "$tmpl"' EXIT
ca_template "$tmpl" "cn = \"$name\"" "ca" "cert_signing_key" "crl_signing_key" \
	"expiration_days = 3650"
ca_new_key "$out/ca.key"
ca_issue "$out/ca.key" "$out/ca.crt" "$tmpl"
echo "CA: $out/ca.crt (key $out/ca.key)"
