#!/usr/bin/env bash
# make run: a private PostgreSQL, a bootstrap server with its own CA, and a few
# peers registering and discovering each other over mutual TLS on loopback.
# With a terminal it keeps running until Ctrl-C; without one it stops after the demo.
set -euo pipefail
export FB_BUILD=$(cd "${1:-build}" && pwd)
export FB_TEST_NAME=demo
. "$(dirname "$0")/../tests/lib/bootstrap.sh"

step() { printf '\n== %s\n' "$*"; }
show() { fb_body "$1" | jq "${2:-.}"; }

step "starting PostgreSQL 15 (private cluster on 127.0.0.1)"
fb_bs_setup
echo "database: $DATABASE_URL"
step "starting bootstrap-server (pinning mode)"
fb_bs_start demo
echo "bootstrap server: $FB_BS_URL   (log: $FB_CERTS/demo.log)"

step "alice and bob broadcast; carol registers silently (no address leaves her machine)"
fb_register alice@example.com '{"email":"alice@example.com","socket_addresses":["127.0.0.2"],"port":7443,"repositories":[{"name":"photos","description":"Holiday photos"},{"name":"music"}]}' >/dev/null
out=$(fb_register bob@example.com '{"email":"bob@example.com","socket_addresses":["127.0.0.3"],"port":7443,"repositories":[{"name":"photos"}]}')
echo "bob registered; the server handed him these bootstrap peers:"
show "$out" '[.bootstrap_peers[] | {email, socket_addresses, port}]'
fb_register carol@example.com '{"email":"carol@example.com","is_broadcasting":false,"repositories":[{"name":"photos"}]}' >/dev/null
fb_as bob@example.com -X POST -H 'Content-Type: application/json' -d '{"email":"alice@example.com","latency_ms":12}' "$FB_BS_URL/api/bootstrap/feedback" >/dev/null

step "carol discovers who hosts 'photos' (best score first)"
show "$(fb_as carol@example.com "$FB_BS_URL/api/bootstrap/discover?repositories=photos")" \
	'[.[] | {email, socket_addresses, port, availability_score, performance_score}]'
step "what the database holds for carol: no address, no port"
fb_psql "SELECT email, is_broadcasting, socket_addresses, coalesce(port::text, '-') FROM registrations ORDER BY email"
step "metrics"
curl -sS --cacert "$FB_CERTS/ca/ca.crt" "$FB_BS_URL/metrics" | grep -E '^bootstrap_(requests_total|registrations)'

if [ -t 0 ]; then
	step "running; try it yourself (Ctrl-C stops everything and removes the temp files):"
	echo "curl --cacert $FB_CERTS/ca/ca.crt --cert $FB_CERTS/alice@example.com.crt --key $FB_CERTS/alice@example.com.key '$FB_BS_URL/api/bootstrap/discover?repositories=photos'"
	while sleep 3600; do :; done
fi
step "demo done; stopping"
