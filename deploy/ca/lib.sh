# deploy/ca/lib.sh - shared by the CA scripts (sourced, not run): certtool
# templates and file handling in one place.

ca_die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

# ca_check_new FILE... : refuse to overwrite unless FORCE=1.
ca_check_new() {
	local f
	for f in "$@"; do
		if [ -e "$f" ] && [ "${FORCE:-0}" != 1 ]; then
			ca_die "$f exists (use --force to replace it)"
		fi
	done
}

# ca_new_key FILE : an ECDSA P-256 private key, mode 0600.
ca_new_key() {
	(umask 077 && certtool --generate-privkey --key-type ecdsa --curve secp256r1 \
		--outfile "$1" 2>/dev/null) || ca_die "cannot generate a key in $1"
	chmod 0600 "$1"
}

# ca_issue KEY CERT TEMPLATE [CA_DIR] : self-signed without CA_DIR, else signed by it.
ca_issue() {
	local key=$1 cert=$2 tmpl=$3 ca=${4:-}
	if [ -z "$ca" ]; then
		certtool --generate-self-signed --hash sha256 --load-privkey "$key" \
			--template "$tmpl" --outfile "$cert" 2>/dev/null
	else
		[ -r "$ca/ca.key" ] && [ -r "$ca/ca.crt" ] || ca_die "$ca holds no ca.key/ca.crt"
		certtool --generate-certificate --hash sha256 --load-privkey "$key" \
			--load-ca-privkey "$ca/ca.key" --load-ca-certificate "$ca/ca.crt" \
			--template "$tmpl" --outfile "$cert" 2>/dev/null
	fi || ca_die "certtool could not issue $cert"
	chmod 0644 "$cert"
}

# ca_template FILE LINE... : writes a certtool template with a random serial.
ca_template() {
	local f=$1
	shift
	{
		printf 'serial = %s\n' "$(( ($(od -An -N8 -tu8 /dev/urandom | tr -d ' ') & 0x3fffffffffffffff) + 1 ))"
		printf '%s\n' "$@"
	} >"$f"
}
