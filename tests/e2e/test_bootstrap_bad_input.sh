#!/usr/bin/env bash
# A corpus of bad requests: each gets its exact status and a JSON error, the
# database is unchanged, and the server keeps serving.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

fb_bs_setup
fb_bs_start a --rate-limit 1000 --rate-limit-per-ip 1000
U=$FB_BS_URL
J='Content-Type: application/json'
fb_expect 200 "$(fb_register eve@example.com '{"email":"eve@example.com","socket_addresses":["127.0.0.7"],"port":7100,"repositories":[{"name":"x"}]}')" "baseline"
# pg_dump's \restrict lines carry a random key per run: leave them out.
snapshot() { pg_dump -a "$DATABASE_URL" | grep -v -e '^--' -e '^$' -e '^\\restrict' -e '^\\unrestrict'; }
before=$(snapshot)

dir=$(fb_tmpdir)
head -c 70000 /dev/zero | tr '\0' 'a' >"$dir/70k"
head -c 2000000 /dev/zero | tr '\0' ' ' >"$dir/2m"
long=$(head -c 300 /dev/zero | tr '\0' 'n')

reg() { fb_as eve@example.com -X POST -H "$J" --data-binary "$1" "$U/api/bootstrap/register"; }
check() { fb_expect "$1" "$2" "$3"; }

check 400 "$(reg '{"email":"eve@example.com","socket_addresses":["127.0.0.7"],"port":7100,"repositories":[{"name":"x"}')" "truncated JSON"
check 400 "$(reg 'not json at all')" "invalid JSON"
check 400 "$(reg '[]')" "array instead of object"
check 400 "$(reg '{"email":"eve@example.com","email":"eve@example.com","port":1,"repositories":[]}')" "duplicate key"
check 400 "$(reg '{"email":5,"port":1,"repositories":[]}')" "wrong type"
check 400 "$(reg '{"email":"eve@example.com","socket_addresses":["127.0.0.7"],"port":7100.0,"repositories":[]}')" "real for an integer"
check 400 "$(reg '{"email":"eve@example.com","socket_addresses":["127.0.0.7"],"port":0,"repositories":[]}')" "port 0"
check 400 "$(reg '{"email":"eve@example.com","socket_addresses":["127.0.0.7"],"port":70000,"repositories":[]}')" "port 70000"
check 400 "$(reg '{"email":"eve@example.com","socket_addresses":["999.1.1.1"],"port":1,"repositories":[]}')" "invalid IP"
check 400 "$(reg '{"email":"eve@example.com","socket_addresses":["example.com"],"port":1,"repositories":[]}')" "host name instead of IP"
check 400 "$(reg "{\"email\":\"eve@example.com\",\"socket_addresses\":[\"127.0.0.7\"],\"port\":1,\"repositories\":[{\"name\":\"$long\"}]}")" "huge repository name"
addrs=$(printf '"10.0.0.%d",' $(seq 1 17))
check 400 "$(reg "{\"email\":\"eve@example.com\",\"socket_addresses\":[${addrs%,}],\"port\":1,\"repositories\":[]}")" "17 addresses"
repos=$(for i in $(seq 1 257); do printf '{"name":"r%d"},' "$i"; done)
check 400 "$(reg "{\"email\":\"eve@example.com\",\"socket_addresses\":[\"127.0.0.7\"],\"port\":1,\"repositories\":[${repos%,}]}")" "257 repositories"
check 400 "$(reg '{"email":"eve@example.com","socket_addresses":[],"port":1,"repositories":[]}')" "broadcasting without an address"
check 413 "$(fb_as eve@example.com -X POST -H "$J" --data-binary @"$dir/70k" "$U/api/bootstrap/register")" "70 KB body"
check 413 "$(fb_as eve@example.com -X POST -H "$J" -H 'Transfer-Encoding: chunked' --data-binary @"$dir/2m" "$U/api/bootstrap/register")" "2 MB chunked body"
check 415 "$(fb_as eve@example.com -X POST -H 'Content-Type: text/plain' -d '{}' "$U/api/bootstrap/register")" "wrong content type"
check 405 "$(fb_as eve@example.com -X GET "$U/api/bootstrap/register")" "wrong method"
allow=$(fb_as eve@example.com -i -X PUT "$U/api/bootstrap/peers" | tr -d '\r' | grep -i '^Allow:')
fb_assert_eq "$allow" "Allow: GET" "405 names the allowed method"
check 404 "$(fb_as eve@example.com "$U/api/bootstrap/nothing")" "unknown path"
check 400 "$(fb_as eve@example.com "$U/api/bootstrap/peers?limit=0")" "limit 0"
check 400 "$(fb_as eve@example.com "$U/api/bootstrap/peers?limit=abc")" "limit not a number"
check 400 "$(fb_as eve@example.com "$U/api/bootstrap/discover")" "discover without repositories"
check 400 "$(fb_as eve@example.com "$U/api/bootstrap/discover?repositories=a,,b")" "empty repository name"
check 400 "$(fb_as eve@example.com -X DELETE "$U/api/bootstrap/unregister")" "unregister without email"
check 400 "$(fb_as eve@example.com -X POST -H "$J" -d '{"email":"eve@example.com","latency_ms":-5}' "$U/api/bootstrap/feedback")" "negative latency"
check 400 "$(fb_as eve@example.com -X POST -H "$J" -d '{"email":"eve@example.com","latency_ms":5}' "$U/api/bootstrap/feedback")" "feedback about oneself"
big_header=$(head -c 17000 /dev/zero | tr '\0' 'h')
check 431 "$(fb_as eve@example.com -H "X-Big: $big_header" "$U/api/bootstrap/peers")" "17 KB of headers"

fb_assert_eq "$(snapshot)" "$before" "no rejected request changed the database"
fb_expect 200 "$(fb_as eve@example.com "$U/api/bootstrap/peers")" "still serving"
fb_pass "bad input answered with JSON errors, nothing changed"
