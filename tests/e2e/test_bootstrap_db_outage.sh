#!/usr/bin/env bash
# PostgreSQL goes away under load: requests get 503 + Retry-After instead of
# hanging (heartbeats, which go through the batcher, too), /readyz fails; when
# it returns, service resumes without a restart, and every registration that
# was answered 200 is in the database.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

fb_bs_setup
fb_bs_start a --rate-limit 1000 --rate-limit-per-ip 1000
U=$FB_BS_URL
dir=$(fb_tmpdir)
body() { printf '{"email":"%s","socket_addresses":["127.0.0.11"],"port":7400,"repositories":[{"name":"r"}]}' "$1"; }
for i in $(seq 1 20); do fb_peer "p$i@example.com"; done

# Writers: register peers over and over through the outage and note every 200.
writer() {
	local i=$1 n=0 code
	while [ ! -e "$dir/stop" ] && [ $n -lt 2000 ]; do
		code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$FB_CERTS/ca/ca.crt" \
			--cert "$FB_CERTS/p$i@example.com.crt" --key "$FB_CERTS/p$i@example.com.key" \
			-X POST -H 'Content-Type: application/json' -d "$(body "p$i@example.com")" \
			"$U/api/bootstrap/register" || true)
		echo "$code" >>"$dir/codes.$i"
		[ "$code" = 200 ] && echo "p$i@example.com" >>"$dir/acked"
		n=$((n + 1))
	done
}
writers=()
for i in $(seq 1 4); do
	writer "$i" &
	writers+=($!)
done
fb_on_exit "touch '$dir/stop'; wait ${writers[*]}"
fb_wait_for 10 test -s "$dir/acked" || fb_fail "no registration before the outage"

fb_pg_stop
out=$(fb_as p9@example.com -i "$U/api/bootstrap/peers")
fb_assert_contains "$out" "HTTP/1.1 503" "503 while the database is down"
fb_assert_contains "$(tr -d '\r' <<<"$out")" "Retry-After: 5" "Retry-After on 503"
hb() { fb_as "$1" -i -X POST -H 'Content-Type: application/json' -d "{\"email\":\"$1\"}" "$U/api/bootstrap/heartbeat"; }
out=$(hb p1@example.com)
fb_assert_contains "$out" "HTTP/1.1 503" "heartbeat (batched) gets 503 while the database is down"
fb_assert_contains "$(tr -d '\r' <<<"$out")" "Retry-After: 5" "Retry-After on the heartbeat's 503"
fb_expect 503 "$(fb_anon "$U/readyz")" "readyz fails"
fb_expect 200 "$(fb_anon "$U/healthz")" "healthz still answers"
sleep 1

fb_pg_restart_stopped
fb_wait_for 20 test "$(fb_status "$(fb_anon "$U/readyz")")" = 200 || fb_fail "readyz did not recover"
fb_expect 200 "$(fb_register p10@example.com "$(body p10@example.com)")" "register after recovery"
fb_assert_contains "$(hb p10@example.com)" "HTTP/1.1 200" "heartbeat after recovery (the batcher reconnected)"
touch "$dir/stop"
wait "${writers[@]}"
grep -qx 503 "$dir"/codes.* || fb_fail "the writers never saw a 503 during the outage"
for email in $(sort -u "$dir/acked"); do
	[ "$(fb_psql "SELECT count(*) FROM registrations WHERE email = '$email'")" = 1 ] ||
		fb_fail "acknowledged registration of $email lost"
done
fb_pass "$(sort -u "$dir/acked" | wc -l) acknowledged registrations kept across the outage"
