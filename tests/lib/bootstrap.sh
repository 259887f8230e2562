# tests/lib/bootstrap.sh - run bootstrap-server replicas and talk to them as peers.
#   fb_bs_setup                 PostgreSQL + a server certificate + $FB_CERTS for clients
#   fb_bs_start NAME [FLAGS...] starts a replica; sets FB_BS_URL (and FB_BS_URL_<NAME>)
#   fb_peer EMAIL               makes a self-signed client certificate in $FB_CERTS
#   fb_as EMAIL CURL_ARGS...    curl as EMAIL; prints the body, then "HTTP <status>"

. "$(dirname "${BASH_SOURCE[0]}")/pg.sh"
. "$(dirname "${BASH_SOURCE[0]}")/certs.sh"

fb_bs_setup() {
	fb_pg_start
	FB_CERTS=$(fb_tmpdir)
	fb_make_ca "$FB_CERTS/ca"
	fb_make_server_cert "$FB_CERTS/ca" "$FB_CERTS" server
	export FB_CERTS
}

fb_bs_start() {
	local name=$1 port log pid
	shift
	port=$(fb_free_port 127.0.0.1)
	log="$FB_CERTS/$name.log"
	"$FB_BUILD/bin/bootstrap-server" --listen "127.0.0.1:$port" --database "$DATABASE_URL" \
		--cert "$FB_CERTS/server.crt" --key "$FB_CERTS/server.key" --threads 2 \
		--log-level "${FB_BS_LOG_LEVEL:-info}" "$@" >"$log" 2>&1 &
	pid=$!
	fb_on_exit "kill $pid; wait $pid"
	_fb_up() { kill -0 "$pid" 2>/dev/null || return 2; fb_wait_port 127.0.0.1 "$port" 0.2; }
	fb_wait_for 20 _fb_up && kill -0 "$pid" 2>/dev/null ||
		fb_fail "bootstrap-server $name did not start: $(tail -5 "$log")"
	FB_BS_URL="https://127.0.0.1:$port"
	printf -v "FB_BS_URL_$name" '%s' "$FB_BS_URL"
	printf -v "FB_BS_PID_$name" '%s' "$pid"
	export FB_BS_URL
}

fb_peer() {
	[ -f "$FB_CERTS/$1.crt" ] || fb_make_selfsigned_client "$FB_CERTS" "$1"
}

# fb_as EMAIL ARGS... : curl with EMAIL's certificate against the server's CA.
fb_as() {
	local email=$1
	shift
	fb_peer "$email"
	curl -sS --max-time 10 --cacert "$FB_CERTS/ca/ca.crt" \
		--cert "$FB_CERTS/$email.crt" --key "$FB_CERTS/$email.key" \
		-w '\nHTTP %{http_code}\n' "$@"
}

# fb_anon ARGS... : curl without a client certificate.
fb_anon() {
	curl -sS --max-time 10 --cacert "$FB_CERTS/ca/ca.crt" -w '\nHTTP %{http_code}\n' "$@"
}

# fb_status OUTPUT : the status line fb_as printed. fb_body OUTPUT : the rest.
fb_status() {
	tail -n 1 <<<"$1" | cut -d' ' -f2
}

fb_body() {
	sed '$d' <<<"$1"
}

# fb_register EMAIL JSON_BODY [URL] : POST register as EMAIL.
fb_register() {
	fb_as "$1" -X POST -H 'Content-Type: application/json' -d "$2" \
		"${3:-$FB_BS_URL}/api/bootstrap/register"
}

# fb_expect STATUS OUTPUT MESSAGE : the status, and a JSON error body when >= 400.
fb_expect() {
	local got
	got=$(fb_status "$2")
	[ "$got" = "$1" ] || fb_fail "$3: expected HTTP $1, got $got: $(fb_body "$2" | head -c 300)"
	if [ "$1" -ge 400 ]; then
		fb_valid error.schema.json "$(fb_body "$2")"
	fi
}

# fb_valid REF JSON : JSON validates against proto/REF (REF[] for each array item).
fb_valid() {
	local errs type=${1%.schema.json}
	errs=$("$FB_ROOT/tests/e2e/validate_json.py" "$1" <<<"$2") ||
		fb_fail "answer does not match proto/$1: $errs :: $(head -c 300 <<<"$2")"
	# The codec must read it too: lists the server's SQL builds are held to its tables.
	if "$FB_BUILD/bin/fb-codec" --help 2>&1 | grep -Eq "^decode types:.* $type( |\$)"; then
		errs=$("$FB_BUILD/bin/fb-codec" decode "$type" <<<"$2") ||
			fb_fail "the codec refuses the answer as $type: $errs :: $(head -c 300 <<<"$2")"
	fi
}
