#!/usr/bin/env bash
# Pinning mode: a swarm of throw-away certificates reports the worst latency
# about one peer. Fresh certificates (registered a moment ago, or never) do
# not count at all; registered ones old enough do, but the peer's
# performance_score moves by a bounded amount per window however many
# report; a reporter counts once per window; an address has a cap of
# reports; latencies beyond the codec's bound are refused. Refusals are
# counted and logged. And an address is one vote however many certificates
# report from it: 25 certificates behind one address against 3 honest
# reporters on 3 others cannot lower the score at all.
set -euo pipefail
. "$(dirname "$0")/../lib/bootstrap.sh"

MIN_AGE=3
SWARM=25
fb_bs_setup
fb_bs_start a --feedback-min-age "$MIN_AGE"
J='Content-Type: application/json'

register() { # EMAIL [BROADCASTING_JSON_TAIL]
	fb_register "$1" "{\"email\":\"$1\",\"is_broadcasting\":false,\"repositories\":[]}"
}
report() { # REPORTER LATENCY [URL]
	fb_as "$1" -X POST -H "$J" -d "{\"email\":\"target@example.com\",\"latency_ms\":$2}" \
		"${3:-$FB_BS_URL_a}/api/bootstrap/feedback"
}
report_from() { # SOURCE_ADDRESS REPORTER TARGET LATENCY
	fb_as "$2" --interface "$1" -X POST -H "$J" \
		-d "{\"email\":\"$3\",\"latency_ms\":$4}" "$FB_BS_URL_a/api/bootstrap/feedback"
}
score() { # [TARGET]
	fb_body "$(fb_as honest@example.com "$FB_BS_URL_a/api/bootstrap/discover?repositories=photos")" |
		jq -r --arg t "${1:-target@example.com}" '.[] | select(.email == $t) | .performance_score'
}
metric() {
	curl -sS --cacert "$FB_CERTS/ca/ca.crt" "$FB_BS_URL_a/metrics" |
		awk -v m="bootstrap_refusals_total{reason=\"$1\"}" '$1 == m { print $2 }'
}

fb_expect 200 "$(fb_register target@example.com '{"email":"target@example.com","socket_addresses":["127.0.0.5"],"port":7000,"repositories":[{"name":"photos"}]}')" "register the target"
fb_expect 200 "$(register honest@example.com)" "register the honest reporter"
fb_expect 200 "$(fb_register voted@example.com '{"email":"voted@example.com","socket_addresses":["127.0.0.6"],"port":7000,"repositories":[{"name":"photos"}]}')" "register the voted-on target"
for i in 1 2 3; do
	fb_expect 200 "$(register "voter$i@example.com")" "register honest voter $i"
done
# Sleepers: certificates the attacker registered earlier, old enough by round 2.
for ((i = 0; i < SWARM; i++)); do
	fb_expect 200 "$(register "sleeper$i@example.com")" "register sleeper $i"
done
sleep $((MIN_AGE + 1))
fb_expect 200 "$(report honest@example.com 20)" "an honest, registered reporter"
s0=$(score)
fb_log "score after the honest report: $s0"
awk -v s="$s0" 'BEGIN { exit !(s > 50) }' || fb_fail "a 20 ms report did not lift the score: $s0"

# Round 1: fresh certificates, registered just now or never.
for ((i = 0; i < SWARM; i++)); do
	[ $((i % 5)) -eq 0 ] || fb_expect 200 "$(register "fresh$i@example.com")" "register fresh $i"
	out=$(report "fresh$i@example.com" 600000)
	fb_expect 403 "$out" "fresh certificate $i"
	fb_assert_eq "$(fb_body "$out" | jq -r .code)" reporter_not_eligible "fresh $i refused as a reporter"
done
s1=$(score)
fb_assert_eq "$s1" "$s0" "$SWARM fresh certificates do not move the score"

# Round 2: registered long enough; each counts, the score moves a bounded step.
for ((i = 0; i < SWARM; i++)); do
	fb_expect 200 "$(report "sleeper$i@example.com" 600000)" "sleeper $i"
done
s2=$(score)
fb_log "score after $SWARM old-enough reporters said 600000 ms: $s2"
awk -v a="$s0" -v b="$s2" 'BEGIN { exit !(a - b < 9 && b > 45) }' ||
	fb_fail "$SWARM reporters moved the score from $s0 to $s2 (bound: 4.2 either way of the window's start)"
fb_expect 429 "$(report sleeper0@example.com 600000)" "a reporter counts once per window"

# Latencies past the codec's bound never reach the mean, however written.
for v in 600001 9223372036854775807 9223372036854775808 1e30 -1 12.5; do
	fb_expect 400 "$(report honest@example.com "$v")" "latency $v"
done
fb_assert_eq "$(score)" "$s2" "refused latencies leave the score alone"

# Per address: a replica with a cap of 5 reports a window from one address.
fb_bs_start b --feedback-min-age "$MIN_AGE" --feedback-per-ip 5
codes=""
for ((i = 0; i < 7; i++)); do
	codes="$codes $(fb_status "$(report "sleeper$i@example.com" 600000 "$FB_BS_URL_b")")"
done
fb_assert_eq "$codes" " 200 200 200 200 200 429 429" "feedback-per-ip caps one address"
awk -v b="$(score)" 'BEGIN { exit !(b > 45) }' || fb_fail "the score left its bound: $(score)"

# One address, many certificates: 3 honest reporters on 3 addresses say 20 ms,
# then the $SWARM sleepers, all behind 127.0.0.20, say 600000 ms. Each address
# is one vote and the mean follows the votes' median: the swarm is one vote
# against three, and the score does not fall.
for i in 1 2 3; do
	fb_expect 200 "$(report_from "127.0.0.1$i" "voter$i@example.com" voted@example.com 20)" "honest voter $i"
done
v0=$(score voted@example.com)
fb_log "voted-on score after 3 honest addresses: $v0"
for ((i = 0; i < SWARM; i++)); do
	fb_expect 200 "$(report_from 127.0.0.20 "sleeper$i@example.com" voted@example.com 600000)" "swarm report $i"
done
v1=$(score voted@example.com)
fb_log "voted-on score after $SWARM certificates behind one address said 600000 ms: $v1"
awk -v a="$v0" -v b="$v1" 'BEGIN { exit !(b >= a && a > 50) }' ||
	fb_fail "$SWARM certificates behind one address moved the score from $v0 to $v1"

[ "$(metric feedback_reporter)" -ge "$SWARM" ] || fb_fail "fresh reporters not counted: $(metric feedback_reporter)"
[ "$(metric feedback_clamped)" -ge 1 ] || fb_fail "clamped reports not counted"
[ "$(metric feedback_pair)" -ge 1 ] || fb_fail "repeated reports not counted"
grep -q "feedback refused from fresh0@example.com (127.0.0.1): not registered with this certificate for $MIN_AGE s" \
	"$FB_CERTS/a.log" || fb_fail "no log line for a fresh reporter"
grep -q "feedback about target@example.com at its bound" "$FB_CERTS/a.log" ||
	fb_fail "no log line for the bounded move"
grep -q "feedback refused from 127.0.0.1: over 5 reports per 300 s" "$FB_CERTS/b.log" ||
	fb_fail "no log line for the per-address cap"
fb_pass "score $s0 -> $s1 after $SWARM fresh certificates, -> $s2 after $SWARM registered ones; $v0 -> $v1 after $SWARM behind one address against 3"
