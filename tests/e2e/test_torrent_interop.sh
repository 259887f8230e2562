#!/usr/bin/env bash
# The agent's BitTorrent client (tools/tr-run) against the clients people use,
# on loopback only, with DHT, LSD, PEX, UPnP and NAT-PMP off in each:
# libtorrent and aria2c download what the agent seeds (by magnet with x.pe and
# metadata exchange, and by .torrent), and the agent downloads what they seed
# (libtorrent: .torrent and magnet; aria2c: a mktorrent .torrent). aria2c finds
# the agent through the agent's own tracker, named in the .torrent with its web
# seed; another agent gets the file from that web seed alone. Every copy has
# the SHA-256 of the original.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

dir=$(fb_tmpdir)
tr_run=$FB_BUILD/bin/tr-run
here=$(cd "$(dirname "$0")" && pwd)
lt="/usr/bin/python3 $here/lt_peer.py"
aria_opts=(--enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false
	--summary-interval=0 --console-log-level=warn --file-allocation=none)
mkdir -p "$dir/src"
head -c $((20 * 1024 * 1024 + 4321)) /dev/urandom >"$dir/src/data.bin"
want=$(sha256sum "$dir/src/data.bin" | cut -d' ' -f1)

# bg NAME CMD... : runs CMD in the background, output in $dir/NAME.out/.err, killed at exit.
bg() {
	local name=$1
	shift
	"$@" >"$dir/$name.out" 2>"$dir/$name.err" &
	fb_on_exit "kill $!"
}
field() { sed -n "s/^$2 //p" "$dir/$1.out" | head -n1; }
check_copy() {
	fb_assert_eq "$(sha256sum "$1" | cut -d' ' -f1)" "$want" "SHA-256 of $1"
}

# ---- the agent seeds ----
bg seed "$tr_run" seed "$dir/src/data.bin" --state "$dir/agent-seed" --listen 127.0.0.1 --http 127.0.0.1
fb_wait_for 20 grep -q '^port ' "$dir/seed.out" || fb_fail "the agent did not seed: $(cat "$dir/seed.err")"
port=$(field seed port)
magnet=$(field seed magnet)
torrent=$(field seed torrent)
http=$(field seed http)
fb_assert_contains "$magnet" "x.pe=127.0.0.1:$port" "the magnet names the seeder"
fb_assert_contains "$magnet" "tr=http%3A%2F%2F127.0.0.1%3A$http%2Fannounce" "and its tracker"

mkdir -p "$dir/lt1" "$dir/lt2"
timeout 90 $lt get "$magnet" --dest "$dir/lt1" --listen 127.0.0.5 --timeout 80 >"$dir/lt1.out" 2>"$dir/lt1.err" ||
	fb_fail "libtorrent by magnet: $(tail -3 "$dir/lt1.err")"
check_copy "$dir/lt1/data.bin"
fb_pass "libtorrent downloads by magnet alone (x.pe, metadata exchange): $(field lt1 done)"

timeout 90 $lt get "$torrent" --dest "$dir/lt2" --listen 127.0.0.5 --peer "127.0.0.1:$port" \
	--timeout 80 >"$dir/lt2.out" 2>"$dir/lt2.err" || fb_fail "libtorrent by .torrent: $(tail -3 "$dir/lt2.err")"
check_copy "$dir/lt2/data.bin"
fb_pass "libtorrent downloads by the .torrent: $(field lt2 done)"

mkdir -p "$dir/a2" "$dir/ws"
timeout 90 aria2c "${aria_opts[@]}" --bt-external-ip=127.0.0.7 --interface=127.0.0.7 --seed-time=0 \
	-d "$dir/a2" "$torrent" >"$dir/a2.out" 2>&1 || fb_fail "aria2c: $(tail -5 "$dir/a2.out")"
check_copy "$dir/a2/data.bin"
fb_pass "aria2c downloads by the .torrent, finding the agent through the agent's tracker"

timeout 90 "$tr_run" get "$torrent" --dest "$dir/ws" --state "$dir/agent-ws" --silent \
	--bind 127.0.0.2 --timeout 80 >"$dir/ws.out" 2>"$dir/ws.err" ||
	fb_fail "the agent from the web seed: $(tail -5 "$dir/ws.err")"
check_copy "$dir/ws/data.bin"
fb_pass "a silent agent downloads from the web seed alone: $(field ws done)"

# ---- libtorrent seeds ----
mkdir -p "$dir/lts"
cp "$dir/src/data.bin" "$dir/lts/"
bg ltseed $lt seed "$dir/lts/data.bin" --listen 127.0.0.6 --torrent-out "$dir/lt.torrent"
fb_wait_for 30 grep -q '^info_hash ' "$dir/ltseed.out" || fb_fail "libtorrent did not seed: $(cat "$dir/ltseed.err")"
ltport=$(field ltseed port)
mkdir -p "$dir/g1" "$dir/g2"
timeout 90 "$tr_run" get "$dir/lt.torrent" --dest "$dir/g1" --state "$dir/agent-g1" --silent \
	--bind 127.0.0.2 --peer "127.0.0.6:$ltport" --timeout 80 >"$dir/g1.out" 2>"$dir/g1.err" ||
	fb_fail "the agent from libtorrent by .torrent: $(tail -5 "$dir/g1.err")"
check_copy "$dir/g1/data.bin"
fb_pass "the agent downloads libtorrent's (hybrid v1+v2) .torrent: $(field g1 done)"

timeout 90 "$tr_run" get "magnet:?xt=urn:btih:$(field ltseed info_hash)&x.pe=127.0.0.6:$ltport" \
	--dest "$dir/g2" --state "$dir/agent-g2" --silent --bind 127.0.0.2 --timeout 80 \
	>"$dir/g2.out" 2>"$dir/g2.err" || fb_fail "the agent from libtorrent by magnet: $(tail -5 "$dir/g2.err")"
check_copy "$dir/g2/data.bin"
fb_pass "the agent downloads from libtorrent by magnet (metadata exchange): $(field g2 done)"

# ---- aria2c seeds ----
mkdir -p "$dir/a2s" "$dir/g3"
cp "$dir/src/data.bin" "$dir/a2s/"
mktorrent -a "http://127.0.0.1:$http/announce" -o "$dir/mk.torrent" "$dir/a2s/data.bin" >/dev/null
a2port=$(fb_free_port 127.0.0.8)
bg a2seed aria2c "${aria_opts[@]}" --bt-external-ip=127.0.0.8 --interface=127.0.0.8 \
	--listen-port="$a2port" --seed-ratio=0.0 --seed-time=600 -V -d "$dir/a2s" "$dir/mk.torrent"
fb_wait_port 127.0.0.8 "$a2port" 30 || fb_fail "aria2c did not listen: $(cat "$dir/a2seed.out")"
timeout 90 "$tr_run" get "$dir/mk.torrent" --dest "$dir/g3" --state "$dir/agent-g3" --silent \
	--bind 127.0.0.2 --peer "127.0.0.8:$a2port" --timeout 80 >"$dir/g3.out" 2>"$dir/g3.err" ||
	fb_fail "the agent from aria2c: $(tail -5 "$dir/g3.err")"
check_copy "$dir/g3/data.bin"
fb_pass "the agent downloads from aria2c (mktorrent's .torrent): $(field g3 done)"

# ---- folders (multi-file; libtorrent's hybrid torrents carry BEP 47 padding files) ----
mkdir -p "$dir/folder/sub" "$dir/mf1" "$dir/mf2"
head -c 3000000 /dev/urandom >"$dir/folder/a.bin"
head -c 100 /dev/urandom >"$dir/folder/sub/b.txt"
head -c 5000000 /dev/urandom >"$dir/folder/sub/c.bin"
sums() { (cd "$1" && find . -type f | sort | xargs sha256sum); }
bg ltfolder $lt seed "$dir/folder" --listen 127.0.0.6 --torrent-out "$dir/folder.torrent"
fb_wait_for 30 grep -q '^info_hash ' "$dir/ltfolder.out" || fb_fail "libtorrent did not seed the folder"
timeout 90 "$tr_run" get "$dir/folder.torrent" --dest "$dir/mf1" --state "$dir/agent-mf1" --silent \
	--bind 127.0.0.2 --peer "127.0.0.6:$(field ltfolder port)" --timeout 80 >"$dir/mf1.out" \
	2>"$dir/mf1.err" || fb_fail "the agent from libtorrent, a folder: $(tail -5 "$dir/mf1.err")"
fb_assert_eq "$(sums "$dir/mf1/folder")" "$(sums "$dir/folder")" "the folder's files"
[ ! -e "$dir/mf1/folder/.pad" ] || fb_fail "padding files were written"
fb_pass "the agent downloads a folder from libtorrent, padding files left out"

bg seedfolder "$tr_run" seed "$dir/folder" --state "$dir/agent-folder" --listen 127.0.0.3
fb_wait_for 20 grep -q '^port ' "$dir/seedfolder.out" || fb_fail "the agent did not seed the folder"
timeout 90 $lt get "$(field seedfolder magnet)" --dest "$dir/mf2" --listen 127.0.0.5 --timeout 80 \
	>"$dir/mf2.out" 2>"$dir/mf2.err" || fb_fail "libtorrent, the agent's folder: $(tail -3 "$dir/mf2.err")"
fb_assert_eq "$(sums "$dir/mf2/folder")" "$(sums "$dir/folder")" "the folder's files"
fb_pass "libtorrent downloads a folder the agent created, by magnet"
