#!/usr/bin/env bash
# gossip-sim runs the agent's engine on a small simulated network: the JSON it
# prints has the documented fields, the same seed gives the same answer, anti-
# entropy reaches every node where the seed's rule alone does not, and loss,
# churn and a partition still end with everyone holding the news.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

sim() { "$FB_BUILD/bin/gossip-sim" --json "$@" 2>/dev/null; }
fields='.nodes, .coverage, .time_to_99_99_ms, .record_copies_per_node, .messages_per_node_per_s, .bytes_per_node_per_s, .wall_ms, .peak_rss_kb'

out=$(sim --nodes 400 --seed 3)
jq -e "[$fields] | length == 8" <<<"$out" >/dev/null || fb_fail "fields missing: $out"
fb_assert_eq "$(jq -r .coverage <<<"$out")" 1 "flashback reaches every node"
[ "$(jq -r .time_to_99_99_ms <<<"$out")" != null ] || fb_fail "no time to 99.99 %"
again=$(sim --nodes 400 --seed 3)
fb_assert_eq "$(jq -c 'del(.wall_ms, .peak_rss_kb)' <<<"$again")" "$(jq -c 'del(.wall_ms, .peak_rss_kb)' <<<"$out")" "same seed, same output"
fb_pass "spread: $(jq -c '{coverage, time_to_99_99_ms, record_copies_per_node}' <<<"$out")"

# The seed's rule: forward once, no anti-entropy. Over a few seeds it misses someone.
missed=0
for s in 1 2 3 4 5; do
	c=$(sim --nodes 400 --seed "$s" --algorithm seed | jq -r .coverage)
	awk -v c="$c" 'BEGIN { exit !(c < 1) }' && missed=$((missed + 1))
done
[ "$missed" -ge 3 ] || fb_fail "the seed's rule reached everyone in $((5 - missed)) of 5 runs"
fb_pass "the seed's rule alone stalled short of everyone in $missed of 5 runs"

for args in "--loss 0.05" "--churn 0.05" "--partition-at-s 0 --heal-at-s 5"; do
	# shellcheck disable=SC2086
	c=$(sim --nodes 400 --seed 9 --duration-s 90 $args | jq -r .coverage)
	fb_assert_eq "$c" 1 "coverage with $args"
done
fb_pass "loss, churn and a healed partition: everyone got the news"
set +e
"$FB_BUILD/bin/gossip-sim" --nodes 1 >/dev/null 2>&1
fb_assert_eq "$?" 2 "a bad value exits 2"
