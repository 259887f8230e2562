#!/usr/bin/env bash
# make bench: runs every benchmark there is and prints its numbers.
set -euo pipefail
build=${1:-build}
echo "== common library (build/bin/fb-bench)"
"$build/bin/fb-bench"
echo
echo "== peer agent: gossip core, table and sessions (build/bin/fb-agent-bench)"
"$build/bin/fb-agent-bench"
echo
echo "== bootstrap server under load vs pgbench on its own statements (tools/bench-bootstrap.sh)"
"$(dirname "$0")/bench-bootstrap.sh" "$build"
echo
echo "== gossip at scale (tools/bench-gossip.sh; FB_BENCH_SKIP_100K=1 leaves out the 100k-node runs)"
"$(dirname "$0")/bench-gossip.sh" "$build"
echo
echo "== torrents: transfers against aria2c and libtorrent, hashing, seeding (tools/bench-torrent.sh)"
"$(dirname "$0")/bench-torrent.sh" "$build"
echo
echo "== relays: bytes and relay CPU through our relay against direct TLS and strelaysrv (tools/bench-relay.sh)"
"$(dirname "$0")/bench-relay.sh" "$build"
echo
echo "== membership beside Serf: 32 serf agents against 32 peer agents, real processes (tools/bench-serf.sh)"
"$(dirname "$0")/bench-serf.sh" "$build"
