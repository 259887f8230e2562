#!/usr/bin/env bash
# tools/bench-torrent.sh [BUILD] - BitTorrent on loopback, side by side: a file of
# BENCH_TORRENT_MIB (200) MiB from one client to another, agent -> agent (tr-run),
# aria2c -> aria2c, libtorrent -> libtorrent, agent -> aria2c, aria2c -> agent;
# and hashing BENCH_HASH_MIB (1024) MiB for a torrent (SHA-1 pieces and SHA-256 at
# once) against `openssl dgst -sha1` and `sha256sum`. Each transfer is timed from
# the downloader's start to its exit (the agent's includes the SHA-256 of the
# whole file; aria2c's and libtorrent's their piece checks). DHT, LSD, PEX,
# UPnP and NAT-PMP are off everywhere; aria2c finds its seeder through a small
# open tracker on 127.0.0.1 made here (Debian's opentracker only serves a whitelist).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
mib=${BENCH_TORRENT_MIB:-200}
hash_mib=${BENCH_HASH_MIB:-1024}
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-torrent.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
tr_run=$build/bin/tr-run
lt="/usr/bin/python3 $here/../tests/e2e/lt_peer.py"
aria=(aria2c --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false
	--summary-interval=0 --console-log-level=warn --file-allocation=none)
now() { date +%s.%N; }
rate() { awk -v s="$1" -v e="$2" -v m="$mib" 'BEGIN { printf "%6.2f s  %7.1f MB/s", e - s, m * 1.048576 / (e - s) }'; }
wait_line() { # FILE PATTERN
	for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	echo "bench-torrent: no '$2' in $1" >&2
	return 1
}
bg() { "$@" & pids+=($!); }

cat >"$dir/tracker.py" <<'PY'
import http.server, socket, struct, sys, urllib.parse
swarms = {}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        me = (self.client_address[0], int(q.get("port", ["0"])[0]))
        peers = swarms.setdefault(q.get("info_hash", [""])[0], set())
        peers.add(me)
        comp = b"".join(socket.inet_aton(a) + struct.pack(">H", p) for a, p in peers if (a, p) != me)
        body = b"d8:intervali60e5:peers%d:%se" % (len(comp), comp)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
bg /usr/bin/python3 "$dir/tracker.py" "$dir/tracker.port"
wait_line "$dir/tracker.port" .
announce="http://127.0.0.1:$(cat "$dir/tracker.port")/announce"

mkdir -p "$dir/src"
head -c $((mib << 20)) /dev/urandom >"$dir/src/data.bin"
mktorrent -a "$announce" -o "$dir/mk.torrent" "$dir/src/data.bin" >/dev/null

echo "== ${mib} MiB over loopback"
# agent -> agent
bg "$tr_run" seed "$dir/src/data.bin" --state "$dir/s1" --listen 127.0.0.1 >"$dir/s1.out" 2>/dev/null
wait_line "$dir/s1.out" '^port '
port=$(sed -n 's/^port //p' "$dir/s1.out")
mkdir -p "$dir/d1"
s=$(now)
"$tr_run" get "$(sed -n 's/^torrent //p' "$dir/s1.out")" --dest "$dir/d1" --state "$dir/g1" --silent \
	--bind 127.0.0.2 --peer "127.0.0.1:$port" --timeout 120 >/dev/null 2>&1
echo "agent -> agent            $(rate "$s" "$(now)")"

# agent -> aria2c (the agent's .torrent, the agent named by the tracker)
bg "$tr_run" seed "$dir/src/data.bin" --state "$dir/s1b" --listen 127.0.0.3 >"$dir/s1b.out" 2>/dev/null
wait_line "$dir/s1b.out" '^port '
port=$(sed -n 's/^port //p' "$dir/s1b.out")
mkdir -p "$dir/d2"
# The agent announces only with an HTTP port of its own: the bench's tracker hears of it here.
ih=$(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(bytes.fromhex(sys.argv[1])))' \
	"$(sed -n 's/^info_hash //p' "$dir/s1b.out")")
curl -s --interface 127.0.0.3 "$announce?info_hash=$ih&port=$port" >/dev/null
s=$(now)
"${aria[@]}" --interface=127.0.0.7 --seed-time=0 --bt-tracker="$announce" \
	--bt-external-ip=127.0.0.7 -d "$dir/d2" "$(sed -n 's/^torrent //p' "$dir/s1b.out")" >/dev/null 2>&1
echo "agent -> aria2c           $(rate "$s" "$(now)")"

# aria2c -> aria2c
mkdir -p "$dir/a2s" "$dir/d3"
ln "$dir/src/data.bin" "$dir/a2s/data.bin"
bg "${aria[@]}" --interface=127.0.0.8 --bt-external-ip=127.0.0.8 --listen-port=6997 --seed-ratio=0.0 \
	--seed-time=600 -V -d "$dir/a2s" "$dir/mk.torrent" >/dev/null 2>&1
for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.8/6997) 2>/dev/null && break; sleep 0.1; done
sleep 1 # its first announce
s=$(now)
"${aria[@]}" --interface=127.0.0.9 --bt-external-ip=127.0.0.9 --listen-port=6996 --seed-time=0 \
	-d "$dir/d3" "$dir/mk.torrent" >/dev/null 2>&1
echo "aria2c -> aria2c          $(rate "$s" "$(now)")"

# aria2c -> agent
mkdir -p "$dir/d4"
s=$(now)
"$tr_run" get "$dir/mk.torrent" --dest "$dir/d4" --state "$dir/g4" --silent --bind 127.0.0.2 \
	--peer 127.0.0.8:6997 --timeout 120 >/dev/null 2>&1
echo "aria2c -> agent           $(rate "$s" "$(now)")"

# libtorrent -> libtorrent
mkdir -p "$dir/lts" "$dir/d5"
ln "$dir/src/data.bin" "$dir/lts/data.bin"
bg $lt seed "$dir/lts/data.bin" --listen 127.0.0.6 --torrent-out "$dir/lt.torrent" >"$dir/lts.out" 2>/dev/null
wait_line "$dir/lts.out" '^info_hash '
ltport=$(sed -n 's/^port //p' "$dir/lts.out")
s=$(now)
$lt get "$dir/lt.torrent" --dest "$dir/d5" --listen 127.0.0.5 --peer "127.0.0.6:$ltport" >/dev/null 2>&1
echo "libtorrent -> libtorrent  $(rate "$s" "$(now)")"

# libtorrent -> agent
mkdir -p "$dir/d6"
s=$(now)
"$tr_run" get "$dir/lt.torrent" --dest "$dir/d6" --state "$dir/g6" --silent --bind 127.0.0.2 \
	--peer "127.0.0.6:$ltport" --timeout 120 >/dev/null 2>&1
echo "libtorrent -> agent       $(rate "$s" "$(now)")"
want=$(sha256sum <"$dir/src/data.bin")
for d in d1 d2 d3 d4 d5 d6; do
	[ "$(sha256sum <"$dir/$d/data.bin")" = "$want" ] || echo "bench-torrent: $d differs" >&2
done
rm -rf "$dir"/d* "$dir/src" "$dir/a2s" "$dir/lts"

echo "== hashing ${hash_mib} MiB (torrent create: SHA-1 per piece and SHA-256 of the file in one pass)"
head -c $((hash_mib << 20)) /dev/urandom >"$dir/h.bin"
cat "$dir/h.bin" >/dev/null
s=$(now)
"$tr_run" seed "$dir/h.bin" --state "$dir/hs" >"$dir/hs.out" 2>/dev/null &
hp=$!
wait_line "$dir/hs.out" '^seconds '
kill $hp
echo "agent create              $(sed -n 's/^seconds //p' "$dir/hs.out") s"
s=$(now); openssl dgst -sha1 "$dir/h.bin" >/dev/null; e=$(now)
echo "openssl dgst -sha1        $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }') s"
s=$(now); openssl dgst -sha256 "$dir/h.bin" >/dev/null; e=$(now)
echo "openssl dgst -sha256      $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }') s"
s=$(now); sha256sum "$dir/h.bin" >/dev/null; e=$(now)
echo "sha256sum                 $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }') s"
