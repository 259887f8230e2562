#!/usr/bin/env bash
# tools/bench-gossip.sh [BUILD] - the gossip-sim figures of docs/performance.md.
#
# Spread: 1k, 10k and 100k nodes for both algorithms (coverage over time plotted),
# 5 % loss at 1k, 10k and 100k, 5 % churn at 1k, the anti-entropy interval, the
# fan-out and the TTL at 10k, the session graph of 10k nodes, signature checks on at
# 1k. Steady: the standing cost per node at 1k, 2k, 5k, 10k and 100k, refreshes pushed
# (the rule before) and pulled side by side, and the formula of pushed refreshes.
# Discover: 1,000 lookups of a repository hosted by 1, 3 or 10 peers (half the lookups' hosts silent) at 10k nodes with the
# default table (it holds everyone), at 10k with tables of 1,000 (a tenth of the
# network, as 10,000 of 100k), and at 100k with the default table, without lookup
# by key; then with 5 % loss, without and with keys side by side, at 10k with tables
# of 1,000 (k = 1, 3, 10) and at 100k with the default table (k = 1).
# Results (JSON) go to BUILD/bench/gossip, plots to docs/img (gnuplot).
# FB_BENCH_SKIP_100K=1 leaves the 100k runs out: five minutes for each of the three
# 100k discover runs without keys, sixteen for the two by key, and nine for each of
# the two steady runs, which peak at about 17 GiB.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$build/bench/gossip"
img="$root/docs/img"
mkdir -p "$out" "$img"
sim="$build/bin/gossip-sim"

# run NAME ARGS...: one simulation, its JSON kept (and its coverage series for spread runs).
run() {
	local name=$1
	shift
	"$sim" --json --series "$out/$name.series" "$@" >"$out/$name.json" 2>"$out/$name.log"
}

spread_row() {
	jq -r '[.nodes, .algorithm, .fanout, .anti_entropy_s, .loss, .churn, .verify,
		(.coverage * 100 | . * 1000 | round / 1000 | tostring + " %"),
		(if .time_to_99_99_ms == null then "never" else (.time_to_99_99_ms / 1000 | tostring + " s") end),
		.record_copies_per_node, (.wall_ms / 1000 | tostring + " s"),
		(.peak_rss_kb / 1024 | round | tostring + " MiB")] | "| " + join(" | ") + " |"' "$out/$1.json"
}

sizes=(1000 10000)
[ -n "${FB_BENCH_SKIP_100K:-}" ] || sizes+=(100000)
echo "Spread: one new announcement through a converged network (agent defaults unless named)."
echo
echo "| nodes | algorithm | fan-out | AE s | loss | churn | verify | coverage | to 99.99 % | copies/node | wall | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
	run "spread-$n-flashback" --nodes "$n"
	spread_row "spread-$n-flashback"
	# The seed's rule stalls within seconds and never covers everyone: 10 s is plenty.
	run "spread-$n-seed" --nodes "$n" --algorithm seed --duration-s 10
	spread_row "spread-$n-seed"
done
for n in "${sizes[@]}"; do
	[ "$n" -ge 10000 ] || continue
	run "spread-$n-loss" --nodes "$n" --loss 0.05
	spread_row "spread-$n-loss"
done
# Churn starts from full tables (N^2 records), so it runs at 1,000 nodes.
run spread-1000-churn --nodes 1000 --churn 0.05
spread_row spread-1000-churn
run spread-1000-loss --nodes 1000 --loss 0.05
spread_row spread-1000-loss
for ae in 2 3 5 10; do
	run "spread-10000-ae$ae" --nodes 10000 --anti-entropy-s "$ae"
	spread_row "spread-10000-ae$ae"
done
for f in 2 4 5; do
	run "spread-10000-f$f" --nodes 10000 --fanout "$f"
	spread_row "spread-10000-f$f"
done
for t in 4 6 8; do
	run "spread-10000-ttl$t" --nodes 10000 --ttl "$t"
	spread_row "spread-10000-ttl$t" | sed "s/^| 10000 |/| 10000 (ttl $t) |/"
done
run spread-1000-verify --nodes 1000 --verify real
spread_row spread-1000-verify
run spread-1000-skip --nodes 1000
"$sim" --nodes 10000 --export "$out/graph-10000.jsonl" >/dev/null 2>&1
echo
echo "The session graph of 10,000 nodes (fb-topology --sim):" \
	"$("$build/bin/fb-topology" --sim "$out/graph-10000.jsonl" --json |
		jq -c '{components, degree_min, degree_avg, degree_max, diameter_estimate}')"
echo
echo "Signature checks at 1,000 nodes: $(jq -r .wall_ms "$out/spread-1000-verify.json") ms with" \
	"real ECDSA (key generation included) vs $(jq -r .wall_ms "$out/spread-1000-skip.json") ms skipped;" \
	"same coverage ($(jq -r .coverage "$out/spread-1000-verify.json") vs $(jq -r .coverage "$out/spread-1000-skip.json"))."

echo
echo "Steady: standing cost of a converged network, per node and second: refreshes pushed on"
echo "(the rule before) and pulled by anti-entropy, bare (this version), side by side. 60 s"
echo "windows, refresh coverage 30 s after; at 100k, tables of 10,000 hold a tenth of the"
echo "network (refresh coverage: of the tables holding the origin), 20 s windows, 10 s after."
echo
echo "| nodes | refreshes | msgs/s | bytes/s | refresh B/s | anti-entropy B/s (request + list) | heartbeat B/s | refreshes seen | refresh coverage | wall | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
steady_runs=("1000 60 30" "2000 60 30" "5000 60 30" "10000 60 30")
[ -n "${FB_BENCH_SKIP_100K:-}" ] || steady_runs+=("100000 20 10")
for nds in "${steady_runs[@]}"; do
	read -r n d settle <<<"$nds"
	for r in push pull; do
		"$sim" --json --mode steady --nodes "$n" --duration-s "$d" --settle-s "$settle" \
			--refreshes "$r" >"$out/steady-$n-$r.json" 2>"$out/steady-$n-$r.log"
		jq -r --arg r "$r" '[.nodes, $r, (.messages_per_node_per_s * 100 | round / 100),
			(.bytes_per_node_per_s | round), (.by_kind.refresh.bytes_per_node_per_s | round),
			((.by_kind.anti_entropy_request.bytes_per_node_per_s + .by_kind.peer_list_response.bytes_per_node_per_s) | round),
			(.by_kind.heartbeat.bytes_per_node_per_s | round), .refreshes, .refresh_coverage,
			(.wall_ms / 1000 | tostring + " s"), (.peak_rss_kb / 1024 | round | tostring + " MiB")] |
			"| " + join(" | ") + " |"' "$out/steady-$n-$r.json"
	done
done

# The formula of pushed refreshes, from the 10k run's own constants: what does not
# grow with N (heartbeats, anti-entropy) plus copies x N / reannounce_s x bytes per refresh.
formula=$(jq -r '
	(.by_kind.refresh) as $r | (.by_kind.refresh.messages_per_node_per_s) as $m |
	($r.bytes_per_node_per_s / $m) as $size | ($m / (.nodes / .reannounce_s)) as $copies |
	(.bytes_per_node_per_s - $r.bytes_per_node_per_s) as $fixed |
	"\($fixed) \($copies) \($size) \(.reannounce_s)"' "$out/steady-10000-push.json")
read -r fixed copies size reannounce <<<"$formula"
echo
printf 'Formula of pushed refreshes (constants measured at 10k): bytes/node/s = %.0f + %.2f x N / %s x %.0f\n' \
	"$fixed" "$copies" "$reannounce" "$size"
for n in 1000 10000 100000; do
	awk -v f="$fixed" -v c="$copies" -v s="$size" -v r="$reannounce" -v n="$n" \
		'BEGIN { printf "  N = %6d: %8.0f bytes/node/s (formula)\n", n, f + c * n / r * s }'
done
{
	for nds in "${steady_runs[@]}"; do
		read -r n _ <<<"$nds"
		echo "$n $(jq -r .bytes_per_node_per_s "$out/steady-$n-push.json") $(jq -r .bytes_per_node_per_s "$out/steady-$n-pull.json")"
	done
} >"$out/steady.dat"

echo
echo "Discover: 1,000 lookups each, a random broadcasting node asks for a repository hosted by k random"
echo "peers (half the lookups' hosts silent), as the control API does: table, PEER_REQUEST to 3"
echo "neighbours (answers taken after 1.5 s), bootstrap servers (they list broadcasting hosts only);"
echo "no lookup by key (--keyed 0)."
echo
echo "| nodes | table_max | share held | k | hosts | from table | from gossip | named, not kept | found without bootstrap | found with bootstrap | time, median / p99 (with bootstrap) | gossip msgs/lookup | wall | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
discover_runs=("10000 10000" "10000 1000")
[ -n "${FB_BENCH_SKIP_100K:-}" ] || discover_runs+=("100000 10000")
: >"$out/discover.dat"
for nt in "${discover_runs[@]}"; do
	read -r n tmax <<<"$nt"
	for k in 1 3 10; do
		name="discover-$n-t$tmax-k$k"
		"$sim" --json --mode discover --nodes "$n" --table-max "$tmax" --hosts "$k" --silent-hosts 0.5 \
			--lookups 1000 --keyed 0 >"$out/$name.json" 2>"$out/$name.log"
		jq -r '. as $r | .discover as $d | ["broadcasting", "silent"][] as $kind | $d[$kind] |
			[$r.nodes, $r.table_max, $d.table_share, $d.hosts, $kind, .found_table, .found_gossip,
			 .named_not_kept, (.success_without_bootstrap * 1000 | round / 10 | tostring + " %"),
			 (.success_with_bootstrap * 1000 | round / 10 | tostring + " %"),
			 (if .time_ms_with_bootstrap == null then "–" else
				"\(.time_ms_with_bootstrap.median) / \(.time_ms_with_bootstrap.p99) ms" end),
			 .messages_per_lookup, ($r.wall_ms / 1000 | tostring + " s"),
			 ($r.peak_rss_kb / 1024 | round | tostring + " MiB")] |
			"| " + (map(tostring) | join(" | ")) + " |"' "$out/$name.json"
		jq -r '"\(.nodes) \(.table_max) \(.discover.hosts) \(.discover.broadcasting.success_without_bootstrap) \(.discover.broadcasting.success_with_bootstrap) \(.discover.silent.success_with_bootstrap)"' \
			"$out/$name.json" >>"$out/discover.dat"
	done
done

echo
echo "Discover by key: the same lookups with 5 % loss, without keys (--keyed 0) and with them (--keyed 1:"
echo "also the 3 peers of the asker's table nearest the repository's key, over a session dialled for the"
echo "question when there is none), the two runs of each row one after the other."
echo
echo "| nodes | table_max | k | keyed | hosts | from table | from gossip | by key | found without bootstrap | within 2 s | time without bootstrap, median / p99 / max | msgs/lookup | bytes/lookup | dials/lookup | asked by key, holding a host | hello copies passed on/lookup | wall | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
keyed_runs=("10000 1000 1" "10000 1000 3" "10000 1000 10")
[ -n "${FB_BENCH_SKIP_100K:-}" ] || keyed_runs+=("100000 10000 1")
for ntk in "${keyed_runs[@]}"; do
	read -r n tmax k <<<"$ntk"
	for keyed in 0 1; do
		name="discover-keyed-$n-t$tmax-k$k-keyed$keyed"
		"$sim" --json --mode discover --nodes "$n" --table-max "$tmax" --hosts "$k" --silent-hosts 0.5 \
			--lookups 1000 --loss 0.05 --keyed "$keyed" >"$out/$name.json" 2>"$out/$name.log"
		jq -r '. as $r | .discover as $d | ["broadcasting", "silent"][] as $kind | $d[$kind] |
			[$r.nodes, $r.table_max, $d.hosts, $d.keyed, $kind, .found_table, .found_gossip, .found_key,
			 (.success_without_bootstrap * 1000 | round / 10 | tostring + " %"),
			 (.success_within_2s_without_bootstrap * 1000 | round / 10 | tostring + " %"),
			 (if .time_ms_without_bootstrap == null then "–" else
				"\(.time_ms_without_bootstrap.median) / \(.time_ms_without_bootstrap.p99) / \(.time_ms_without_bootstrap.max) ms" end),
			 .messages_per_lookup, .gossip_bytes_per_lookup, .dials_per_lookup,
			 "\(.key_asked_per_lookup), \(.key_holding_per_lookup)", .hello_forwards_per_lookup,
			 ($r.wall_ms / 1000 | tostring + " s"), ($r.peak_rss_kb / 1024 | round | tostring + " MiB")] |
			"| " + (map(tostring) | join(" | ")) + " |"' "$out/$name.json"
	done
done

if ! command -v gnuplot >/dev/null; then
	echo "gnuplot not found: plots not drawn (apt-get install gnuplot-nox)"
	exit 0
fi
cov_plot=""
for n in "${sizes[@]}"; do
	for a in flashback seed; do
		cov_plot+="${cov_plot:+, }'$out/spread-$n-$a.series' using (\$1/1000):(\$2*100) with lines lw 2 title '$a, $n nodes'"
	done
done
# Discovery: per configuration, found without the bootstrap servers, and silent hosts with them.
disc_plot=""
for nt in "${discover_runs[@]}"; do
	read -r n tmax <<<"$nt"
	awk -v n="$n" -v t="$tmax" '$1 == n && $2 == t' "$out/discover.dat" >"$out/discover-$n-t$tmax.dat"
	disc_plot+="${disc_plot:+, }'$out/discover-$n-t$tmax.dat' using 3:(\$4*100) with linespoints lw 2 pt 7 title '$n nodes, table $tmax: no bootstrap server'"
	disc_plot+=", '$out/discover-$n-t$tmax.dat' using 3:(\$6*100) with linespoints lw 2 dt 2 pt 6 title '$n nodes, table $tmax: silent hosts, with one'"
done
loss100k=""
[ -n "${FB_BENCH_SKIP_100K:-}" ] ||
	loss100k=", '$out/spread-100000-loss.series' using (\$1/1000):(\$2*100) with lines lw 2 title '100k, 5 % loss'"
gnuplot <<EOF
set terminal pngcairo size 900,500 noenhanced
set output '$img/gossip-coverage.png'
set title 'One new announcement: share of live nodes holding it (agent defaults)'
set xlabel 'seconds after the announcement'
set ylabel '% of live nodes'
set xrange [0:8]
set yrange [0:101]
set key bottom right
set grid
plot $cov_plot
set output '$img/gossip-coverage-tail.png'
set title 'The tail: anti-entropy completes, the seed rule stalls (dashed: 99.99 %)'
set yrange [95:100.05]
plot $cov_plot, 99.99 with lines dt 2 lc rgb 'black' notitle
set output '$img/gossip-loss-churn.png'
set title 'Loss and churn: 10,000 and 100,000 nodes with 5 % loss, 1,000 nodes with 5 % churn'
set xrange [0:40]
set yrange [0:101]
plot '$out/spread-10000-flashback.series' using (\$1/1000):(\$2*100) with lines lw 2 title '10k, no loss', \
     '$out/spread-10000-loss.series' using (\$1/1000):(\$2*100) with lines lw 2 title '10k, 5 % loss', \
     '$out/spread-1000-churn.series' using (\$1/1000):(\$2*100) with lines lw 2 title '1k, 5 % churn (joiners over 30 s)'$loss100k
set output '$img/gossip-cost.png'
unset xrange
set title 'Standing cost per node (steady mode) against network size (at 100k tables hold a tenth)'
set xlabel 'nodes'
set ylabel 'bytes received per node per second'
set logscale xy
set xrange [800:120000]
set yrange [500:100000]
set key top left
plot '$out/steady.dat' using 1:2 with linespoints lw 2 pt 7 title 'refreshes pushed on (before)', \
     '$out/steady.dat' using 1:3 with linespoints lw 2 pt 5 title 'refreshes pulled, bare', \
     $fixed + $copies * x / $reannounce * $size with lines dt 2 lw 2 title 'formula of pushed refreshes, tables holding everyone', \
     2000 with lines dt 3 lc rgb 'red' title 'target at 100k'
set output '$img/gossip-discover.png'
unset logscale
set logscale x
set title 'Discovery today: share of 1,000 lookups that name a host, by hosts of the repository'
set xlabel 'hosts of the repository (k)'
set ylabel '% of lookups'
set xrange [0.8:12]
set yrange [0:105]
set xtics (1, 3, 10)
set key at graph 0.02, 0.9 left top
plot $disc_plot, 100 * (1 - 0.9 ** x) with lines dt 3 lc rgb 'black' title 'a tenth held: 1 - 0.9^k'
EOF
echo
echo "plots: docs/img/gossip-coverage.png gossip-coverage-tail.png gossip-loss-churn.png gossip-cost.png gossip-discover.png"
