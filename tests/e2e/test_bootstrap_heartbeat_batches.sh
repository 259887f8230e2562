#!/usr/bin/env bash
# Concurrent heartbeats go to the database in batches (one transaction each)
# and none is lost or counted twice: every 200 the load generator saw is one
# increment of its row's heartbeat count, also when two clients heartbeat the
# same rows at once. Against a locked table they time out together, in
# bounded time. Stopping the server while heartbeats wait for a batch
# answers them and exits cleanly. Also runs fb-load, the benchmark's load
# generator, through every mix it offers.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

fb_bs_setup
fb_bs_start a --rate-limit 1000000 --rate-limit-per-ip 1000000
certs=$(fb_tmpdir)
C=16
for ((i = 0; i < C; i++)); do fb_make_selfsigned_client "$certs" "load$i@example.com"; done
load() { # load URL MIX SECONDS
	"$FB_BUILD/bin/fb-load" --url "$1" --ca "$FB_CERTS/ca/ca.crt" --certs "$certs" \
		--concurrency "$C" --duration-s "$3" --repos 50 --mix "$2" --json
}
metric() { curl -sS --cacert "$FB_CERTS/ca/ca.crt" "$FB_BS_URL_a/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
counted() { fb_psql "SELECT coalesce(sum(heartbeats), 0) FROM registrations WHERE email LIKE 'load%'"; }

# Every mix of the load generator gets only 200s (each run registers its identities first).
for mix in health register discover; do
	out=$(load "$FB_BS_URL_a" "$mix" 1) || fb_fail "fb-load $mix failed: $out"
	[ "$(jq -r '.requests > 0 and .errors == 0 and .non_200 == 0' <<<"$out")" = true ] ||
		fb_fail "fb-load $mix: $out"
done

# Re-registering keeps the count; so the count before the run plus the run's 200s is the count after.
before=$(counted)
batches0=$(metric bootstrap_heartbeat_batches_total)
batched0=$(metric bootstrap_heartbeats_batched_total)
out=$(load "$FB_BS_URL_a" heartbeat 2) || fb_fail "fb-load heartbeat failed: $out"
n=$(jq -r .requests <<<"$out")
[ "$n" -gt 100 ] || fb_fail "too few heartbeats to judge: $out"
after=$(counted)
# fb-load's warm-up registration of each identity counts once more per identity.
fb_assert_eq "$after" $((before + C + n)) "heartbeat count = before + registrations + answered heartbeats"
batches=$(($(metric bootstrap_heartbeat_batches_total) - batches0))
batched=$(($(metric bootstrap_heartbeats_batched_total) - batched0))
fb_assert_eq "$batched" "$n" "every heartbeat went through the batcher"
# 16 clients at once: some batches must have held more than one heartbeat.
[ "$batches" -gt 0 ] && [ "$batches" -lt "$batched" ] ||
	fb_fail "no batching: $batched heartbeats in $batches batches"
echo "$batched heartbeats in $batches batches"

# Two replicas, two clients each heartbeating the same rows: the replicas' batches
# overlap; email order keeps them from deadlocking.
fb_bs_start b --rate-limit 1000000 --rate-limit-per-ip 1000000
before=$(counted)
load "$FB_BS_URL_a" heartbeat 2 >"$certs/a.json" &
pa=$!
load "$FB_BS_URL_b" heartbeat 2 >"$certs/b.json" || fb_fail "fb-load on b failed: $(cat "$certs/b.json")"
wait "$pa" || fb_fail "fb-load on a failed: $(cat "$certs/a.json")"
na=$(jq -r .requests "$certs/a.json")
nb=$(jq -r .requests "$certs/b.json")
fb_assert_eq "$(counted)" $((before + 2 * C + na + nb)) "overlapping batches lose and double nothing"
if grep -qi deadlock "$FB_CERTS/a.log" "$FB_CERTS/b.log"; then
	fb_fail "a deadlock was logged: $(grep -hi -A2 deadlock "$FB_CERTS/a.log" "$FB_CERTS/b.log" | head -6)"
fi

# One batch of mixed heartbeats: a table lock held for 3 s queues them, so
# after it they go out together. Each must get
# its own answer: an email three times counts three times, an unregistered one
# is 404, one sent with another certificate is 403 and counts nothing, and in
# CA mode (replica c: no fingerprints) the same holds.
fb_make_selfsigned_client "$certs/other" load4@example.com
fb_make_selfsigned_client "$certs" ghost@example.com
for e in ca0 ca1 ca2; do fb_make_client_cert "$FB_CERTS/ca" "$certs/ca" "$e@example.com"; done
fb_bs_start c --rate-limit 1000000 --rate-limit-per-ip 1000000 --client-ca "$FB_CERTS/ca/ca.crt"
for e in ca0 ca1; do
	curl -fsS -o /dev/null --cacert "$FB_CERTS/ca/ca.crt" --cert "$certs/ca/$e@example.com.crt" \
		--key "$certs/ca/$e@example.com.key" -X POST -H 'Content-Type: application/json' \
		-d "{\"email\":\"$e@example.com\",\"is_broadcasting\":false,\"repositories\":[{\"name\":\"r\"}]}" \
		"$FB_BS_URL_c/api/bootstrap/register" || fb_fail "registering $e in CA mode"
done
count_of() { fb_psql "SELECT coalesce(sum(heartbeats), 0) FROM registrations WHERE email = '$1@example.com'"; }
for e in load0 load1 load2 load4 ca0 ca1; do printf -v "was_$e" '%s' "$(count_of "$e")"; done
mixed=$(fb_tmpdir)
hb() { # hb OUT URL CERT_DIR EMAIL: the heartbeat's HTTP status into the file OUT
	curl -sS -o /dev/null -w '%{http_code}\n' --max-time 20 --cacert "$FB_CERTS/ca/ca.crt" \
		--cert "$3/$4@example.com.crt" --key "$3/$4@example.com.key" \
		-X POST -H 'Content-Type: application/json' -d "{\"email\":\"$4@example.com\"}" \
		"$2/api/bootstrap/heartbeat" >"$1"
}
batches0=$(metric bootstrap_heartbeat_batches_total)
batched0=$(metric bootstrap_heartbeats_batched_total)
psql "$DATABASE_URL" -qAt -c "BEGIN; LOCK TABLE registrations IN SHARE MODE; SELECT pg_sleep(3); COMMIT" \
	>/dev/null 2>&1 &
locker=$!
sleep 0.5
for k in 1 2 3; do
	for e in load0 load1 load2; do hb "$mixed/$e.$k" "$FB_BS_URL_a" "$certs" "$e" & done
	for e in ca0 ca1; do hb "$mixed/$e.$k" "$FB_BS_URL_c" "$certs/ca" "$e" & done
done
hb "$mixed/ghost" "$FB_BS_URL_a" "$certs" ghost &
hb "$mixed/other" "$FB_BS_URL_a" "$certs/other" load4 &
hb "$mixed/ca2" "$FB_BS_URL_c" "$certs/ca" ca2 &
wait_mixed() { [ "$(cat "$mixed"/* 2>/dev/null | grep -c .)" -eq 18 ]; }
fb_wait_for 20 wait_mixed || fb_fail "mixed heartbeats not answered in 20 s"
wait "$locker" || true
for f in "$mixed"/load* "$mixed"/ca0.* "$mixed"/ca1.*; do
	fb_assert_eq "$(cat "$f")" 200 "heartbeat $(basename "$f") in a mixed batch"
done
fb_assert_eq "$(cat "$mixed/ghost")" 404 "unregistered email in a mixed batch"
fb_assert_eq "$(cat "$mixed/other")" 403 "another certificate in a mixed batch"
fb_assert_eq "$(cat "$mixed/ca2")" 404 "unregistered email in a CA-mode batch"
for e in load0 load1 load2 ca0 ca1; do
	was="was_$e"
	fb_assert_eq "$(count_of "$e")" $((${!was} + 3)) "$e heartbeated three times in one batch"
done
fb_assert_eq "$(count_of load4)" "$was_load4" "a refused heartbeat counts nothing"
batches=$(($(metric bootstrap_heartbeat_batches_total) - batches0))
batched=$(($(metric bootstrap_heartbeats_batched_total) - batched0))
# One batch waits on the lock on a; everything else queued behind it.
[ "$batched" -eq 11 ] && [ "$batches" -le 4 ] ||
	fb_fail "replica a: expected 11 heartbeats in at most 4 batches, got $batched in $batches"

# A locked table: heartbeats time out (statement_timeout, 5 s) and are answered
# 500 together, not retried one by one (which took 5 s more for each).
psql "$DATABASE_URL" -qAt -c "BEGIN; LOCK TABLE registrations; SELECT pg_sleep(25); COMMIT" >/dev/null 2>&1 &
locker=$!
fb_on_exit "kill $locker"
sleep 1
start=$SECONDS
for ((i = 0; i < 6; i++)); do hb "$certs/locked.$i" "$FB_BS_URL_a" "$certs" "load$i" & done
wait_codes() { [ "$(cat "$certs"/locked.* | grep -c .)" -eq 6 ]; }
fb_wait_for 20 wait_codes || fb_fail "heartbeats against a locked table not answered in 20 s"
took=$((SECONDS - start))
[ "$(sort -u "$certs"/locked.*)" = 500 ] || fb_fail "expected 500s, got $(sort "$certs"/locked.* | uniq -c)"
[ "$took" -le 12 ] || fb_fail "answers took $took s: timed-out heartbeats were retried one by one"
# Ends the lock now (killing psql would leave its backend asleep).
fb_psql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(25)%' AND pid <> pg_backend_pid()" >/dev/null
wait "$locker" 2>/dev/null || true

# Stopping under load: queued heartbeats are answered, the server exits 0.
load "$FB_BS_URL_b" heartbeat 3 >/dev/null 2>&1 &
pl=$!
sleep 1
kill -TERM "$FB_BS_PID_b"
rc=0
wait "$FB_BS_PID_b" || rc=$?
wait "$pl" || true
fb_assert_eq "$rc" 0 "server b exit status after SIGTERM under load"
grep -q "stopping" "$FB_CERTS/b.log" || fb_fail "b did not log its stop"
echo "ok"
