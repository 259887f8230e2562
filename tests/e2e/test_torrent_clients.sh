#!/usr/bin/env bash
# The agent as a user runs it (peer-agent run, the torrent CLI) against the
# clients people use, on loopback only, DHT, LSD, PEX, UPnP and NAT-PMP off in
# each. Alice seeds with `torrent create`: her tracker lists alice herself, and
# aria2c and libtorrent download with nothing but the .torrent or the magnet it
# wrote (eight libtorrent clients at once; a folder too). Then the clients seed
# and alice downloads: one file from aria2c and libtorrent at once and a folder
# from aria2c, by mktorrent .torrents naming opentracker; libtorrent's file by
# magnet (x.pe, metadata exchange) and by a .torrent naming alice's own
# tracker, and its folder by magnet; silent carol gets a file by magnet without
# announcing or listening; a download from libtorrent cut by a restart of alice
# resumes. Every copy is the original (SHA-256, diff); `torrent list` shows
# each download seeding with progress 1.
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
fb_agent_new carol 127.0.0.13 silent gamma
for n in alice carol; do fb_agent_torrent "$n"; done
for n in alice carol; do fb_agent_start "$n"; done
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

# Eight libtorrent clients at once, the peer wire only: more than alice's unchoke
# slots, so the later ones get their turn as she rotates them.
pids=()
for i in 1 2 3 4 5 6 7 8; do
	mkdir -p "$work/many$i"
	timeout 90 $lt get "$work/nows.torrent" --dest "$work/many$i" --listen "127.0.1.$i" --timeout 80 \
		>"$work/many$i.out" 2>"$work/many$i.err" &
	pids+=($!)
done
for i in 1 2 3 4 5 6 7 8; do
	wait "${pids[i - 1]}" || fb_fail "libtorrent client $i of 8: $(tail -3 "$work/many$i.err")"
	fb_assert_eq "$(sha "$work/many$i/data.bin")" "$want" "client $i's copy"
done
fb_pass "eight libtorrent clients download from alice at once: $(cut -d' ' -f2 "$work"/many*.out | sort -n | tr '\n' ' ')s"

# The magnet `torrent create` printed is enough too (metadata from alice, BEP 9).
magnet=$(jq -r .magnet <<<"$created")
mkdir -p "$work/ltm" "$work/a2m"
timeout 90 $lt get "$magnet" --dest "$work/ltm" --listen 127.0.0.5 --timeout 80 \
	>"$work/ltm.out" 2>"$work/ltm.err" || fb_fail "libtorrent by magnet: $(tail -3 "$work/ltm.err")"
fb_assert_eq "$(sha "$work/ltm/data.bin")" "$want" "libtorrent's copy by magnet"
timeout 90 aria2c "${aria_opts[@]}" --interface=127.0.0.7 --bt-external-ip=127.0.0.7 \
	--listen-port="$(fb_free_port 127.0.0.7)" --seed-time=0 -d "$work/a2m" "$magnet" \
	>"$work/a2m.out" 2>&1 || fb_fail "aria2c by magnet: $(tail -5 "$work/a2m.out")"
fb_assert_eq "$(sha "$work/a2m/data.bin")" "$want" "aria2c's copy by magnet"
fb_pass "libtorrent and aria2c download with the magnet alone: $(cat "$work/ltm.out")"

# ---- a folder: alice creates it, libtorrent downloads it ----
mkdir -p "$work/tree/sub" "$work/lttree"
head -c $((3 * 1024 * 1024 + 1)) /dev/urandom >"$work/tree/a.bin"
head -c 1234567 /dev/urandom >"$work/tree/sub/b.bin"
echo hello >"$work/tree/sub/c.txt"
: >"$work/tree/empty.txt"
created=$(fb_agent alice torrent create "$work/tree" --json) || fb_fail "create of a folder: $created"
tree_created=$created
for f in a.bin sub/b.bin sub/c.txt empty.txt; do
	fb_assert_eq "$(jq -r --arg p "$f" '.files[] | select(.path == $p) | .sha256' <<<"$created")" \
		"$(sha "$work/tree/$f")" "create's sha256 of $f"
done
timeout 90 $lt get "$(jq -r .torrent_file <<<"$created")" --dest "$work/lttree" --listen 127.0.0.5 \
	--timeout 80 >"$work/lttree.out" 2>"$work/lttree.err" || fb_fail "libtorrent, folder: $(tail -3 "$work/lttree.err")"
diff -r "$work/tree" "$work/lttree/tree" || fb_fail "libtorrent's copy of the folder differs"
mkdir -p "$work/a2tree-from-alice"
timeout 90 aria2c "${aria_opts[@]}" --interface=127.0.0.7 --bt-external-ip=127.0.0.7 \
	--listen-port="$(fb_free_port 127.0.0.7)" --seed-time=0 -d "$work/a2tree-from-alice" \
	"$(jq -r .torrent_file <<<"$created")" >"$work/a2tree.out" 2>&1 || fb_fail "aria2c, folder: $(tail -5 "$work/a2tree.out")"
diff -r "$work/tree" "$work/a2tree-from-alice/tree" || fb_fail "aria2c's copy of the folder differs"
fb_pass "libtorrent and aria2c download a folder alice created (4 files, one empty): $(cat "$work/lttree.out")"

# ---- aria2c seeds mktorrent .torrents (a file, a folder) naming opentracker; alice downloads ----
ot_host=127.0.0.$((RANDOM % 100 + 100))
ot_port=$(fb_free_port "$ot_host")
mkdir -p "$work/a2s" "$work/ot"
chmod 0755 "$work/ot"
head -c $((9 * 1024 * 1024 + 77)) /dev/urandom >"$work/a2s/aria.bin"
mktorrent -l 22 -a "http://$ot_host:$ot_port/announce" -o "$work/mk.torrent" "$work/a2s/aria.bin" >/dev/null
mk_ih=$(lt_hash "$work/mk.torrent")
mkdir -p "$work/a2s/tree2/deep/er"
head -c 777777 /dev/urandom >"$work/a2s/tree2/one.bin"
head -c 2222222 /dev/urandom >"$work/a2s/tree2/deep/er/two.bin"
mktorrent -l 15 -a "http://$ot_host:$ot_port/announce" -o "$work/mk-tree.torrent" "$work/a2s/tree2" >/dev/null
mktree_ih=$(lt_hash "$work/mk-tree.torrent")
printf '%s\n%s\n' "$mk_ih" "$mktree_ih" >"$work/ot/whitelist.txt"
chmod 0644 "$work/ot/whitelist.txt"
printf 'listen.tcp %s:%s\ntracker.rootdir %s\ntracker.user nobody\naccess.whitelist /whitelist.txt\n' \
	"$ot_host" "$ot_port" "$work/ot" >"$work/ot.conf"
bg ot opentracker -f "$work/ot.conf"
fb_wait_port "$ot_host" "$ot_port" 10 || fb_fail "opentracker did not start: $(cat "$work/ot.out")"
a2port=$(fb_free_port 127.0.0.8)
bg a2seed aria2c "${aria_opts[@]}" --interface=127.0.0.8 --bt-external-ip=127.0.0.8 \
	--listen-port="$a2port" --seed-ratio=0.0 --seed-time=600 --max-upload-limit=1M -V -d "$work/a2s" \
	"$work/mk.torrent" "$work/mk-tree.torrent"
# libtorrent seeds the file too: alice gets both from opentracker, each at 1 MiB/s.
bg ltmk $lt seed "$work/a2s/aria.bin" --listen 127.0.0.10 --torrent-in "$work/mk.torrent" --upload-rate 1048576
# Each announces once its check is done: wait until opentracker counts the seeders.
announced() {
	local q
	q=$(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(bytes.fromhex(sys.argv[1])))' "$1")
	curl -sf "http://$ot_host:$ot_port/scrape?info_hash=$q" | grep -q "8:completei[$2-9]"
}
fb_wait_for 30 announced "$mk_ih" 2 || fb_fail "aria2c and libtorrent did not both announce: $(tail -5 "$work/a2seed.out")"
fb_wait_for 30 announced "$mktree_ih" 1 || fb_fail "aria2c did not announce its folder: $(tail -5 "$work/a2seed.out")"
agent_get a2get "$work/mk.torrent"
fb_assert_eq "$(sha "$work/a2get/aria.bin")" "$(sha "$work/a2s/aria.bin")" "alice's copy of aria2c's file"
seeding "$mk_ih" >/dev/null || fb_fail "not seeding: $(fb_agent alice torrent list --json)"
# Once complete alice closes her sessions with the seeders: each is logged.
for ip in 127.0.0.8 127.0.0.10; do
	fb_wait_for 10 grep -q "torrent $mk_ih: peer $ip:" "$log" ||
		fb_fail "no session with $ip: $(grep -F "$mk_ih" "$log")"
done
fb_pass "alice downloads a file (4 MiB pieces) from aria2c and libtorrent at once, found through opentracker"

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
bg ltseed2 $lt seed "$work/lts/lt.bin" --listen 127.0.0.12 --torrent-in "$work/mk-lt.torrent"
fb_wait_for 60 seeding "$mklt_ih" || fb_fail "not seeding: $(fb_agent alice torrent list --json); $(tail -5 "$log")"
fb_assert_eq "$(sha "$work/lttorrent/lt.bin")" "$(sha "$work/lts/lt.bin")" "alice's copy by .torrent"
fb_valid 'torrent.schema.json#/$defs/statusList' "$(fb_agent alice torrent list --json)"
fb_pass "alice downloads from libtorrent by a .torrent naming her own tracker and seeds it"

# ---- silent carol downloads from libtorrent by magnet: she never announces nor listens ----
mkdir -p "$work/rec" "$work/carol"
rport=$(fb_free_port 127.0.0.1)
(cd "$work/rec" && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 "$rport") >/dev/null 2>"$work/rec.log" &
fb_on_exit "kill $!"
fb_wait_port 127.0.0.1 "$rport" 10 || fb_fail "the recording tracker did not start"
timeout 90 "$FB_BUILD/bin/peer-agent" --home "$(fb_agent_home carol)" torrent get \
	"magnet:?xt=urn:btih:$lt_ih&tr=http%3A%2F%2F127.0.0.1%3A$rport%2Fannounce&x.pe=127.0.0.6:$ltport" \
	--dest "$work/carol" >"$work/carol.get" 2>&1 || fb_fail "carol's get: $(tail -3 "$work/carol.get")"
fb_assert_eq "$(sha "$work/carol/lt.bin")" "$(sha "$work/lts/lt.bin")" "carol's copy"
sleep 2
! grep -q "GET /announce" "$work/rec.log" || fb_fail "silent carol announced: $(grep announce "$work/rec.log")"
# Her process's listening sockets (other tests may use 127.0.0.13): the control API only.
listening=$(ss -Hltnp | grep "pid=$FB_AGENT_PID_carol," | awk '{print $4}' | grep -vx "127.0.0.1:$FB_AGENT_API_carol" || true)
[ -z "$listening" ] || fb_fail "silent carol listens on $listening"
fb_pass "silent carol downloads from libtorrent by magnet without announcing or listening"

kill -0 "$FB_AGENT_PID_alice" || fb_fail "alice died"
fb_assert_eq "$(fb_agent alice torrent list --json | jq '[.[] | select(.state == "seeding")] | length')" 5 \
	"torrents alice seeds"
fb_pass "alice seeds her two torrents and the three she downloaded, and answers still"

# ---- a download cut by a restart of alice resumes from what is on disk ----
mkdir -p "$work/slow" "$work/resume"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$work/slow/big.bin"
bg ltslow $lt seed "$work/slow/big.bin" --listen 127.0.0.9 --torrent-out "$work/slow.torrent" --upload-rate 2097152
fb_wait_for 30 grep -q '^info_hash ' "$work/ltslow.out" || fb_fail "libtorrent did not seed: $(cat "$work/ltslow.out")"
rih=$(sed -n 's/^info_hash //p' "$work/ltslow.out")
fb_agent alice torrent get "magnet:?xt=urn:btih:$rih&x.pe=127.0.0.9:$(sed -n 's/^port //p' "$work/ltslow.out")" \
	--dest "$work/resume" --no-wait >/dev/null || fb_fail "torrent get --no-wait"
partway() {
	fb_agent alice torrent list --json | jq -e --arg ih "$rih" '.[] | select(.info_hash == $ih and .progress >= 0.25)'
}
fb_wait_for 30 partway || fb_fail "no progress: $(fb_agent alice torrent list --json)"
fb_agent_stop alice
fb_agent_start alice
fb_wait_for 40 seeding "$rih" || fb_fail "not complete after the restart: $(fb_agent alice torrent list --json |
	jq -c --arg ih "$rih" '.[] | select(.info_hash == $ih) | {state, progress, peers, downloaded}'); $(grep -F "$rih" "$log" | tail -3)"
fb_assert_eq "$(sha "$work/resume/big.bin")" "$(sha "$work/slow/big.bin")" "the resumed copy"
checked=$(grep -F "torrent $rih: checked, " "$log" | tail -1)
[[ $checked =~ checked,\ ([1-9][0-9]*)\ of ]] || fb_fail "the restart kept nothing: $checked"
fb_pass "a download cut by a restart resumes (${checked#*: }) and completes"

# ---- folders: the answers' contract, and a folder downloaded by the agent ----
fb_valid 'torrent.schema.json#/$defs/created' "$tree_created"
agent_get a2tree "$work/mk-tree.torrent"
diff -r "$work/a2s/tree2" "$work/a2tree/tree2" || fb_fail "alice's copy of aria2c's folder differs"
seeding "$mktree_ih" >/dev/null || fb_fail "not seeding: $(fb_agent alice torrent list --json)"
fb_valid 'torrent.schema.json#/$defs/statusList' "$(fb_agent alice torrent list --json)"
fb_pass "alice downloads aria2c's folder (mktorrent, nested paths) and seeds it"

bg ltseedtree $lt seed "$work/tree" --listen 127.0.0.11 --torrent-out "$work/lttree.torrent"
fb_wait_for 30 grep -q '^info_hash ' "$work/ltseedtree.out" || fb_fail "libtorrent did not seed: $(cat "$work/ltseedtree.out")"
agent_get lttreeget "magnet:?xt=urn:btih:$(sed -n 's/^info_hash //p' "$work/ltseedtree.out")&x.pe=127.0.0.11:$(sed -n 's/^port //p' "$work/ltseedtree.out")"
diff -r "$work/tree" "$work/lttreeget/tree" || fb_fail "alice's copy of libtorrent's folder differs"
fb_pass "alice downloads a folder from libtorrent by magnet (metadata exchange, padding files)"
