#!/usr/bin/env bash
# fb-topology reads agents' `peers --json` answers: sessions (CONNECTED) are the
# edges; it counts components (a partition is more than one), degrees and an
# estimated diameter, and writes Graphviz DOT. With --sim it reads a simulator's
# JSON Lines export instead, refuses a bad line by its number, and copes with
# 100,000 nodes. peer-agent topology, with no agent running, fails clearly.
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
fb_pass "a bad peers file fails with the reason"

# --sim: a simulator export, one JSON line per live node. a-b-c-d with a
# triangle a-b-c, e-f apart (f lists e twice), g alone; every session is listed
# by both ends, and counted once.
sim() { printf '{"email":"%s@sim.example","sessions":[%s]}\n' "$1" "$2"; }
s() { local out= n; for n; do out+="${out:+,}\"$n@sim.example\""; done; echo "$out"; }
{
	sim a "$(s b c)"
	sim b "$(s a c)"
	sim c "$(s a b d)"
	sim d "$(s c)"
	echo
	sim e "$(s f)"
	sim f "$(s e e)"
	echo '{"email":"g@sim.example","sessions":[],"round":12}'
} >"$dir/sim.jsonl"
out=$("$FB_BUILD/bin/fb-topology" --json --sim "$dir/sim.jsonl" --dot "$dir/sim.dot")
fb_assert_eq "$out" '{"nodes":7,"edges":5,"components":3,"largest_component":4,"partitioned":true,"degree_min":0,"degree_avg":1.429,"degree_max":3,"diameter_estimate":2,"degree_histogram":[1,3,2,1]}' \
	"graph of the crafted export"
fb_assert_eq "$(grep -c -- ' -- ' "$dir/sim.dot")" 5 "one DOT edge per session of the export"
fb_pass "--sim: a session listed by both ends (or twice) is one edge; the partition is seen"

# Bad exports fail, exit 1, naming the line.
sim_fails() { # FILE EXPECTED_TEXT
	local err rc
	set +e
	err=$("$FB_BUILD/bin/fb-topology" --sim "$1" 2>&1 >/dev/null)
	rc=$?
	set -e
	fb_assert_eq "$rc" 1 "$2: exit code"
	fb_assert_contains "$err" "$2" "the error names the line and the reason"
}
{ sim a "$(s b)"; sim b "$(s a)"; echo '{"email":"c@sim.example","sessions":[' ; } >"$dir/bad1.jsonl"
sim_fails "$dir/bad1.jsonl" "line 3: document: invalid JSON"
{ sim a "$(s b)"; echo '{"email":"b@sim.example","sessions":["a@sim.example",7]}'; } >"$dir/bad2.jsonl"
sim_fails "$dir/bad2.jsonl" "line 2: sessions[1]: not a string"
{ sim a '"not an email"'; } >"$dir/bad3.jsonl"
sim_fails "$dir/bad3.jsonl" "line 1: sessions[0]: not a valid email address"
{ sim a "$(s b)"; sim b "$(s a)"; sim a "$(s b)"; } >"$dir/bad4.jsonl"
sim_fails "$dir/bad4.jsonl" "line 3: the node of line 1 again"
{ sim a "$(s b)"; printf '{"email":"b@sim.example","sessions":["'; head -c 1100000 /dev/zero | tr '\0' x; echo '"]}'; } >"$dir/bad5.jsonl"
sim_fails "$dir/bad5.jsonl" "line 2: longer than 1048576 bytes"
echo '[1,2]' >"$dir/bad6.jsonl"
sim_fails "$dir/bad6.jsonl" "line 1: not a JSON object"
set +e
"$FB_BUILD/bin/fb-topology" --sim "$dir/sim.jsonl" a@x.example="$dir/a" 2>/dev/null
rc=$?
set -e
fb_assert_eq "$rc" 2 "--sim with EMAIL=FILE arguments is a usage error"
"$FB_BUILD/bin/fb-topology" --help | grep -q -- '--sim FILE' || fb_fail "--help does not describe --sim"
fb_pass "bad exports are refused with the line number; --sim and EMAIL=FILE do not mix"

# A simulator-sized export: 100,000 nodes in a ring, each with sessions to its 7
# next nodes and one random chord to a node a quarter to half the ring away (no
# two chords coincide, none is a ring session), plus a triangle apart.
awk -v n=100000 'BEGIN {
	srand(7)
	for (i = 0; i < n; i++) {
		for (k = 1; k <= 7; k++)
			link(i, (i + k) % n)
		link(i, (i + int(n / 4) + int(rand() * int(n / 4))) % n)
	}
	link(n, n + 1); link(n + 1, n + 2); link(n + 2, n)
	for (i = 0; i < n + 3; i++)
		printf "{\"email\":\"n%d@sim.example\",\"sessions\":[%s]}\n", i, s[i]
}
function link(a, b) {
	s[a] = s[a] (s[a] != "" ? "," : "") "\"n" b "@sim.example\""
	s[b] = s[b] (s[b] != "" ? "," : "") "\"n" a "@sim.example\""
}' >"$dir/big.jsonl"
out=$("$FB_BUILD/bin/fb-topology" --json --sim "$dir/big.jsonl")
fb_assert_eq "$(jq -c '[.nodes, .edges, .components, .largest_component, .partitioned]' <<<"$out")" \
	'[100003,800003,2,100000,true]' "graph of the large export"
fb_pass "--sim at scale: $(jq -c '{nodes, edges, degree_avg, diameter_estimate}' <<<"$out")"

# peer-agent topology asks running agents: one that is not running is a clear
# failure (exit 1), naming the agent's home.
pa="$FB_BUILD/bin/peer-agent"
home="$dir/agent"
"$pa" init --home "$home" --email t@x.example >/dev/null
printf '[api]\nlisten = 127.0.0.1:%s\n' "$(fb_free_port)" >>"$home/agent.ini"
set +e
err=$("$pa" topology --json "$home" 2>&1 >/dev/null)
rc=$?
set -e
fb_assert_eq "$rc" 1 "peer-agent topology with no agent running"
fb_assert_contains "$err" "cannot reach the agent" "says the agent is not running"
fb_assert_contains "$err" "no peer table from $home" "and whose table is missing"
set +e
"$pa" topology --home "$home" "$home" 2>/dev/null
rc=$?
set -e
fb_assert_eq "$rc" 2 "homes both as arguments and with --home is a usage error"
"$pa" --help | grep -q 'topology \[--dot FILE\]' || fb_fail "peer-agent --help lacks topology"
fb_pass "peer-agent topology without a running agent fails, exit 1, naming the home"
