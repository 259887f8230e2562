#!/usr/bin/env bash
# The agent as a user runs it (peer-agent run, the torrent CLI) against the
# clients people use, on loopback only, DHT, LSD, PEX, UPnP and NAT-PMP off in
# each. Alice seeds with `torrent create`: its tracker lists alice herself, and
# aria2c and libtorrent download with nothing but the .torrent it wrote. Then
# the clients seed and alice downloads: aria2c's file by a mktorrent .torrent
# naming opentracker, libtorrent's by magnet (x.pe, metadata exchange) and by a
# .torrent naming alice's own tracker. Every copy has the original's SHA-256;
# `torrent list` shows each download seeding with progress 1.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

for c in aria2c opentracker mktorrent; do
	command -v "$c" >/dev/null || fb_fail "$c is not installed (tools/install-deps.sh)"
done
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null ||
	fb_fail "python3-libtorrent is not installed (tools/install-deps.sh)"
here=$(cd "$(dirname "$0")" && pwd)
lt="/usr/bin/python3 $here/lt_peer.py"
aria_opts=(--enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false
	--summary-interval=0 --console-log-level=warn --file-allocation=none --check-certificate=false)
work=$(fb_tmpdir)

# bg NAME CMD... : runs CMD in the background, output in $work/NAME.out, killed at exit.
bg() {
	local name=$1
	shift
	"$@" >"$work/$name.out" 2>&1 &
	fb_on_exit "kill $!"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
# seeding IH : alice's `torrent list` has IH seeding, every piece verified.
seeding() {
	fb_agent alice torrent list --json |
		jq -e --arg ih "$1" '.[] | select(.info_hash == $ih and .state == "seeding" and .progress == 1)'
}
# lt_hash TORRENT : the v1 info hash of a .torrent, as libtorrent reads it.
lt_hash() {
	/usr/bin/python3 -c 'import sys, libtorrent as lt; print(lt.torrent_info(sys.argv[1]).info_hashes().v1)' "$1"
}
# agent_get NAME SOURCE : alice downloads SOURCE into $work/NAME; prints nothing, fails the test.
agent_get() {
	mkdir -p "$work/$1"
	timeout 90 "$FB_BUILD/bin/peer-agent" --home "$(fb_agent_home alice)" torrent get "$2" \
		--dest "$work/$1" >"$work/$1.get" 2>&1 ||
		fb_fail "alice's torrent get $2: $(tail -3 "$work/$1.get"); log: $(tail -5 "$log")"
}

fb_agent_new alice 127.0.0.2 broadcast alpha
fb_agent_torrent alice
fb_agent_start alice
log=$(fb_agent_home alice)/agent.log
mkdir -p "$work/src"
head -c $((16 * 1024 * 1024 + 4321)) /dev/urandom >"$work/src/data.bin"
want=$(sha "$work/src/data.bin")

# ---- alice seeds; her tracker and the .torrent are all the clients get ----
created=$(fb_agent alice torrent create "$work/src/data.bin" --json) || fb_fail "create: $created"
fb_valid 'torrent.schema.json#/$defs/created' "$created"
ih=$(jq -r .info_hash <<<"$created")
torrent=$(jq -r .torrent_file <<<"$created")
tracker="http://127.0.0.2:$FB_AGENT_HPORT_alice/announce"
fb_assert_eq "$(jq -r .sha256 <<<"$created")" "$want" "create's sha256"
fb_assert_eq "$(lt_hash "$torrent")" "$ih" "libtorrent reads the .torrent's info hash"
trackers=$(/usr/bin/python3 -c 'import sys, libtorrent as lt
print(" ".join(t.url for t in lt.torrent_info(sys.argv[1]).trackers()))' "$torrent")
fb_assert_eq "$trackers" "$tracker" "the .torrent names alice's tracker"
out=$("$FB_BUILD/bin/fb-announce" "$tracker" "$ih" 6999 started 50 127.0.0.9) ||
	fb_fail "announce to alice's tracker: $out"
fb_assert_contains "$out" "peer 127.0.0.2 $FB_AGENT_TPORT_alice" "alice's tracker lists alice"
"$FB_BUILD/bin/fb-announce" "$tracker" "$ih" 6999 stopped 50 127.0.0.9 >/dev/null
fb_pass "alice seeds $ih; the .torrent names her tracker, which lists her ($(tr '\n' ' ' <<<"$out"))"

# aria2c would take it all from the web seed: a copy of the .torrent without
# url-list (outside info, so the same info hash) leaves it the tracker and the peer wire.
/usr/bin/python3 -c 'import sys, libtorrent as lt
d = lt.bdecode(open(sys.argv[1], "rb").read())
del d[b"url-list"]
open(sys.argv[2], "wb").write(lt.bencode(d))' "$torrent" "$work/nows.torrent"
fb_assert_eq "$(lt_hash "$work/nows.torrent")" "$ih" "the copy's info hash"
mkdir -p "$work/a2"
timeout 90 aria2c "${aria_opts[@]}" --interface=127.0.0.7 --bt-external-ip=127.0.0.7 \
	--listen-port="$(fb_free_port 127.0.0.7)" --seed-time=0 -d "$work/a2" "$work/nows.torrent" \
	>"$work/a2.out" 2>&1 || fb_fail "aria2c: $(tail -5 "$work/a2.out")"
fb_assert_eq "$(sha "$work/a2/data.bin")" "$want" "aria2c's copy"
fb_wait_for 10 grep -q "torrent $ih: peer 127.0.0.7:" "$log" ||
	fb_fail "aria2c never spoke the peer wire with alice: $(grep 127.0.0.7 "$log")"
fb_pass "aria2c downloads by the peer wire, finding alice through her tracker"

mkdir -p "$work/lt"
timeout 90 $lt get "$torrent" --dest "$work/lt" --listen 127.0.0.5 --timeout 80 \
	>"$work/lt.out" 2>"$work/lt.err" || fb_fail "libtorrent: $(tail -3 "$work/lt.err")"
fb_assert_eq "$(sha "$work/lt/data.bin")" "$want" "libtorrent's copy"
fb_pass "libtorrent downloads with alice's .torrent as written (tracker, web seed): $(cat "$work/lt.out")"

# ---- aria2c seeds a mktorrent .torrent naming opentracker; alice downloads ----
ot_host=127.0.0.$((RANDOM % 100 + 100))
ot_port=$(fb_free_port "$ot_host")
mkdir -p "$work/a2s" "$work/ot"
chmod 0755 "$work/ot"
head -c $((9 * 1024 * 1024 + 77)) /dev/urandom >"$work/a2s/aria.bin"
mktorrent -l 18 -a "http://$ot_host:$ot_port/announce" -o "$work/mk.torrent" "$work/a2s/aria.bin" >/dev/null
mk_ih=$(lt_hash "$work/mk.torrent")
echo "$mk_ih" >"$work/ot/whitelist.txt"
chmod 0644 "$work/ot/whitelist.txt"
printf 'listen.tcp %s:%s\ntracker.rootdir %s\ntracker.user nobody\naccess.whitelist /whitelist.txt\n' \
	"$ot_host" "$ot_port" "$work/ot" >"$work/ot.conf"
bg ot opentracker -f "$work/ot.conf"
fb_wait_port "$ot_host" "$ot_port" 10 || fb_fail "opentracker did not start: $(cat "$work/ot.out")"
a2port=$(fb_free_port 127.0.0.8)
bg a2seed aria2c "${aria_opts[@]}" --interface=127.0.0.8 --bt-external-ip=127.0.0.8 \
	--listen-port="$a2port" --seed-ratio=0.0 --seed-time=600 -V -d "$work/a2s" "$work/mk.torrent"
# aria2c announces once its check is done: wait until opentracker counts one seeder.
q=$(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(bytes.fromhex(sys.argv[1])))' "$mk_ih")
announced() { curl -sf "http://$ot_host:$ot_port/scrape?info_hash=$q" | grep -q '8:completei[1-9]'; }
fb_wait_for 30 announced || fb_fail "aria2c did not announce to opentracker: $(tail -5 "$work/a2seed.out")"
agent_get a2get "$work/mk.torrent"
fb_assert_eq "$(sha "$work/a2get/aria.bin")" "$(sha "$work/a2s/aria.bin")" "alice's copy of aria2c's file"
seeding "$mk_ih" >/dev/null || fb_fail "not seeding: $(fb_agent alice torrent list --json)"
fb_pass "alice downloads aria2c's file through opentracker and seeds it: $(tail -1 "$work/a2get.get")"

# ---- libtorrent seeds; alice downloads by magnet (metadata exchange) and by .torrent ----
# (the mktorrent .torrent names no web seed: libtorrent is the only source)
mkdir -p "$work/lts"
head -c $((7 * 1024 * 1024 + 999)) /dev/urandom >"$work/lts/lt.bin"
bg ltseed $lt seed "$work/lts/lt.bin" --listen 127.0.0.6 --torrent-out "$work/lt.torrent"
fb_wait_for 30 grep -q '^info_hash ' "$work/ltseed.out" || fb_fail "libtorrent did not seed: $(cat "$work/ltseed.out")"
ltport=$(sed -n 's/^port //p' "$work/ltseed.out")
lt_ih=$(sed -n 's/^info_hash //p' "$work/ltseed.out")
agent_get ltmagnet "magnet:?xt=urn:btih:$lt_ih&x.pe=127.0.0.6:$ltport"
fb_assert_eq "$(sha "$work/ltmagnet/lt.bin")" "$(sha "$work/lts/lt.bin")" "alice's copy by magnet"
seeding "$lt_ih" >/dev/null || fb_fail "not seeding: $(fb_agent alice torrent list --json)"
grep -q "torrent $lt_ih: metadata known" "$log" || fb_fail "no metadata exchange in alice's log"
fb_pass "alice downloads from libtorrent by magnet (x.pe, metadata exchange) and seeds it"

# Alice's tracker tracks what alice holds: she takes the .torrent first, libtorrent
# announces to her tracker when it starts seeding, and they find each other.
mktorrent -l 16 -a "$tracker" -o "$work/mk-lt.torrent" "$work/lts/lt.bin" >/dev/null
mklt_ih=$(lt_hash "$work/mk-lt.torrent")
mkdir -p "$work/lttorrent"
fb_agent alice torrent get "$work/mk-lt.torrent" --dest "$work/lttorrent" --no-wait --json >"$work/lttorrent.json" ||
	fb_fail "torrent get --no-wait: $(cat "$work/lttorrent.json")"
fb_valid 'torrent.schema.json#/$defs/status' "$(cat "$work/lttorrent.json")"
bg ltseed2 $lt seed "$work/lts/lt.bin" --listen 127.0.0.4 --torrent-in "$work/mk-lt.torrent"
fb_wait_for 60 seeding "$mklt_ih" || fb_fail "not seeding: $(fb_agent alice torrent list --json); $(tail -5 "$log")"
fb_assert_eq "$(sha "$work/lttorrent/lt.bin")" "$(sha "$work/lts/lt.bin")" "alice's copy by .torrent"
fb_valid 'torrent.schema.json#/$defs/statusList' "$(fb_agent alice torrent list --json)"
fb_pass "alice downloads from libtorrent by a .torrent naming her own tracker and seeds it"

kill -0 "$FB_AGENT_PID_alice" || fb_fail "alice died"
fb_assert_eq "$(fb_agent alice torrent list --json | jq '[.[] | select(.state == "seeding")] | length')" 4 \
	"torrents alice seeds"
fb_pass "alice seeds her own torrent and the three she downloaded, and answers still"
