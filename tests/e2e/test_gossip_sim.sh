#!/usr/bin/env bash
# gossip-sim runs the agent's engine on a small simulated network: the JSON it
# prints has the documented fields, the same seed gives the same answer, anti-
# entropy reaches every node where the seed's rule alone does not, and loss,
# churn and a partition still end with everyone holding the news; in discover mode
# lookups by key find the single hosts that tables of a tenth of the network miss.
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
set -e

# Steady mode: a converged network's standing cost, by kind. Refreshes go without
# certificates and reach every node; the kinds add up to the total.
dir=$(fb_tmpdir)
out=$(sim --nodes 300 --seed 4 --mode steady --duration-s 30 --reannounce-s 600 --stale-s 1500 --expire-s 1800)
fb_assert_eq "$(jq -r '.mode, .coverage, .messages_per_node_per_s > 0, .bytes_per_node_per_s > 0' <<<"$out" | tr '\n' ' ')" \
	"steady null true true " "steady fields ($out)"
[ "$(jq -r .refreshes <<<"$out")" -gt 0 ] || fb_fail "no refresh in the window: $out"
fb_assert_eq "$(jq -r .refresh_coverage <<<"$out")" 1 "every refresh reached every node"
fb_assert_eq "$(jq -r '.by_kind.announcement.bytes_per_node_per_s' <<<"$out")" 0 "no certificate travels in steady state"
jq -e '([.by_kind[].bytes_per_node_per_s] | add) - .bytes_per_node_per_s | fabs < 1' <<<"$out" >/dev/null ||
	fb_fail "the kinds do not add up: $out"
fb_pass "steady: $(jq -c '{bytes_per_node_per_s, messages_per_node_per_s, refreshes}' <<<"$out")"

# --export feeds fb-topology --sim; --series is coverage every 100 ms, ending at 1.
sim --nodes 500 --seed 5 --export "$dir/s.jsonl" --series "$dir/cov.txt" >/dev/null
fb_assert_eq "$("$FB_BUILD/bin/fb-topology" --sim "$dir/s.jsonl" --json | jq -c '[.nodes, .components]')" '[500,1]' "exported graph"
fb_assert_eq "$(head -1 "$dir/cov.txt")" "0 0.000000" "series starts at the announcement"
fb_assert_eq "$(tail -1 "$dir/cov.txt" | cut -d' ' -f2)" "1.000000" "series ends covered"
fb_pass "export read by fb-topology, coverage series written"

# Discover mode: a table that holds everyone answers every lookup of a repository
# hosted by three peers, silent or not. Without keys, tables of a tenth of the network
# miss most single hosts: the bootstrap servers then find the broadcasting ones but
# never a silent one, though neighbours' answers name some.
out=$(sim --mode discover --nodes 300 --seed 6 --hosts 3 --lookups 40 --silent-hosts 0.5)
fb_assert_eq "$(jq -r '[.discover.broadcasting.success_without_bootstrap, .discover.silent.success_without_bootstrap, .discover.broadcasting.found_table + .discover.silent.found_table] | join(" ")' <<<"$out")" \
	"1 1 40" "k = 3, big tables: every lookup found in the table ($out)"
out=$(sim --mode discover --nodes 400 --seed 6 --hosts 1 --lookups 80 --silent-hosts 0.5 --table-max 40 --keyed 0)
fb_assert_eq "$(jq -r '.discover.broadcasting.success_with_bootstrap' <<<"$out")" 1 "the bootstrap servers find every broadcasting host"
jq -e '.discover.silent | .not_found > 0 and .success_with_bootstrap == .success_without_bootstrap and .success_without_bootstrap < 0.5' <<<"$out" >/dev/null ||
	fb_fail "silent single hosts should go unfound with small tables: $out"
jq -e '[.discover.broadcasting, .discover.silent] | map(.named_not_kept + .found_gossip) | add > 0' <<<"$out" >/dev/null ||
	fb_fail "no neighbour's answer named a host: $out"
again=$(sim --mode discover --nodes 400 --seed 6 --hosts 1 --lookups 80 --silent-hosts 0.5 --table-max 40 --keyed 0)
fb_assert_eq "$(jq -c 'del(.wall_ms, .peak_rss_kb)' <<<"$again")" "$(jq -c 'del(.wall_ms, .peak_rss_kb)' <<<"$out")" "discover: same seed, same output"
fb_pass "discover: $(jq -c '.discover | {table_share, silent: .silent.success_without_bootstrap, broadcasting: .broadcasting.success_with_bootstrap}' <<<"$out")"

# Lookup by key, the same small tables: the peers nearest the repository's key keep
# its hosts, so asking them (over sessions dialled for the question) finds nearly
# every single host without the bootstrap servers, silent ones too; without keys
# most lookups need the servers, and silent hosts go unfound.
dk=(--mode discover --nodes 400 --seed 7 --hosts 1 --lookups 100 --silent-hosts 0.5 --table-max 40)
keyed=$(sim "${dk[@]}" --keyed 1)
plain=$(sim "${dk[@]}" --keyed 0)
jq -e '.discover | .keyed and ([.broadcasting, .silent] | all(.success_without_bootstrap >= 0.95 and .found_key > 0
	and .dials_per_lookup > 0 and .dial_messages_per_lookup > 0 and .time_ms_without_bootstrap.p99 <= 1500))' \
	<<<"$keyed" >/dev/null || fb_fail "by key, small tables should find nearly every host: $keyed"
jq -e '.discover | (.keyed | not) and ([.broadcasting, .silent] | all(.success_without_bootstrap <= 0.6 and .found_key == 0
	and .dials_per_lookup == 0))' <<<"$plain" >/dev/null ||
	fb_fail "without keys, small tables should miss most single hosts: $plain"
again=$(sim "${dk[@]}" --keyed 1)
fb_assert_eq "$(jq -c 'del(.wall_ms, .peak_rss_kb)' <<<"$again")" "$(jq -c 'del(.wall_ms, .peak_rss_kb)' <<<"$keyed")" "keyed: same seed, same output"
fb_pass "discover by key: $(jq -c '.discover | {broadcasting: .broadcasting.success_without_bootstrap, silent: .silent.success_without_bootstrap}' <<<"$keyed") without bootstrap, $(jq -c '.discover | {broadcasting: .broadcasting.success_without_bootstrap, silent: .silent.success_without_bootstrap}' <<<"$plain") without keys"
