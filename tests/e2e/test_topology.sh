#!/usr/bin/env bash
# fb-topology reads agents' `peers --json` answers: sessions (CONNECTED) are the
# edges; it counts components (a partition is more than one), degrees and an
# estimated diameter, and writes Graphviz DOT.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

dir=$(fb_tmpdir)
peer() { printf '{"email":"%s","state":"%s"}' "$1" "$2"; }
# a - b - c in a line, d - e apart, f known to e only through gossip.
echo "[$(peer b@x.example CONNECTED)]" >"$dir/a"
echo "[$(peer a@x.example CONNECTED),$(peer c@x.example CONNECTED)]" >"$dir/b"
echo "[$(peer b@x.example CONNECTED),$(peer a@x.example DISCOVERED)]" >"$dir/c"
echo "[$(peer e@x.example CONNECTED)]" >"$dir/d"
echo "[$(peer d@x.example CONNECTED),$(peer f@x.example STALE)]" >"$dir/e"
out=$("$FB_BUILD/bin/fb-topology" --json --dot "$dir/g.dot" a@x.example="$dir/a" b@x.example="$dir/b" \
	c@x.example="$dir/c" d@x.example="$dir/d" e@x.example="$dir/e")
fb_assert_eq "$(jq -c '[.nodes, .edges, .components, .largest_component, .partitioned, .diameter_estimate, .degree_max]' <<<"$out")" \
	'[6,3,3,3,true,2,2]' "graph of the crafted tables ($out)"
fb_assert_eq "$(jq -c .degree_histogram <<<"$out")" '[1,4,1]' "degree histogram"
grep -q '"a@x.example" -- "b@x.example"' "$dir/g.dot" || fb_fail "DOT lacks an edge: $(cat "$dir/g.dot")"
fb_assert_eq "$(grep -c -- ' -- ' "$dir/g.dot")" 3 "one DOT edge per session"
fb_pass "components, partition, degrees, diameter and DOT from crafted tables"

echo '{"not":"a list"}' >"$dir/bad"
set +e
err=$("$FB_BUILD/bin/fb-topology" x@x.example="$dir/bad" 2>&1)
rc=$?
set -e
fb_assert_eq "$rc" 1 "a bad input file fails"
fb_assert_contains "$err" "not a JSON array" "and says why"
