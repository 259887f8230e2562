#!/usr/bin/env bash
# tools/bench-gossip.sh [BUILD] - the gossip-sim figures of docs/performance.md:
# spread at 1k and 10k nodes for both algorithms, the anti-entropy interval at 10k,
# and (BENCH_SIM_100K=1, about five minutes) 100k nodes.
set -euo pipefail
build=${1:-build}
sim() { "$build/bin/gossip-sim" --json "$@" 2>/dev/null; }
row() {
	jq -r '[.nodes, .algorithm, .anti_entropy_s, (.coverage * 100 | tostring + " %"),
		(if .time_to_99_99_ms == null then "never" else (.time_to_99_99_ms | tostring + " ms") end),
		.record_copies_per_node, (.wall_ms | tostring + " ms"), (.peak_rss_kb | tostring + " KiB")] | @tsv'
}
printf 'nodes\talgorithm\tAE s\tcoverage\tto 99.99 %%\tcopies/node\twall\tpeak RSS\n'
for n in 1000 10000; do
	for a in flashback seed; do sim --nodes "$n" --algorithm "$a" | row; done
done
for ae in 5 3 2; do sim --nodes 10000 --anti-entropy-s "$ae" | row; done
if [ -n "${BENCH_SIM_100K:-}" ]; then
	sim --nodes 100000 | row
fi
