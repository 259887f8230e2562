#!/usr/bin/env bash
# issue-server.sh CA_DIR OUTDIR NAME [--dns D]... [--ip I]... - a TLS server
# certificate (1 year) for a bootstrap server: OUTDIR/NAME.key and OUTDIR/NAME.crt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

usage() {
	cat <<USAGE
usage: issue-server.sh [--force] CA_DIR OUTDIR NAME [--dns NAME]... [--ip ADDRESS]...
Issues a server certificate signed by CA_DIR/ca.key: OUTDIR/NAME.key and
OUTDIR/NAME.crt. Without --dns/--ip the names are localhost and 127.0.0.1.
USAGE
}

FORCE=0
args=()
sans=()
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--force) FORCE=1 ;;
	--dns) [ $# -ge 2 ] || { usage >&2; exit 2; }; sans+=("dns_name = \"$2\""); shift ;;
	--ip) [ $# -ge 2 ] || { usage >&2; exit 2; }; sans+=("ip_address = \"$2\""); shift ;;
	-*) usage >&2; exit 2 ;;
	*) args+=("$1") ;;
	esac
	shift
done
[ ${#args[@]} -eq 3 ] || { usage >&2; exit 2; }
ca=${args[0]} out=${args[1]} name=${args[2]}
[ ${#sans[@]} -gt 0 ] || sans=('dns_name = "localhost"' 'ip_address = "127.0.0.1"')

mkdir -p "$out"
ca_check_new "$out/$name.key" "$out/$name.crt"
tmpl=$(mktemp)
trap 'rm -f "$tmpl"' EXIT
ca_template "$tmpl" "cn = \"$name\"" "${sans[@]}" "tls_www_server" "signing_key" \
	"encryption_key" "expiration_days = 365"
ca_new_key "$out/$name.key"
ca_issue "$out/$name.key" "$out/$name.crt" "$tmpl" "$ca"
echo "server certificate: $out/$name.crt (key $out/$name.key)"
