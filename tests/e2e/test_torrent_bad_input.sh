#!/usr/bin/env bash
# Bad input to a running agent's torrents, through its CLI and its ports, on
# loopback: malformed .torrent files, bad magnets and missing files get a clear
# error, exit 1 or 2 and nothing written; a peer sending corrupt pieces
# (bt_peer.py) is banned and nothing it sent reaches the disk, then a good
# seeder (libtorrent) completes the file, also when both serve from the start,
# and beside a peer that never answers;
# peers requesting pieces out of range or blocks over 16 KiB, or sending a
# 2 GiB message, lose their session; trackers answering garbage and a web seed
# serving other bytes are logged while the download goes on from the magnet's
# peer; metadata over 8 MiB offered in BEP 9, or not hashing to the info hash,
# is refused. The agent answers after each.
set -euo pipefail
. "$(dirname "$0")/../lib/agent.sh"

/usr/bin/python3 -c 'import libtorrent' 2>/dev/null ||
	fb_fail "python3-libtorrent is not installed (tools/install-deps.sh)"
command -v mktorrent >/dev/null || fb_fail "mktorrent is not installed (tools/install-deps.sh)"
here=$(cd "$(dirname "$0")" && pwd)
lt="/usr/bin/python3 $here/lt_peer.py"
btp="/usr/bin/python3 $here/bt_peer.py"
work=$(fb_tmpdir)

bg() {
	local name=$1
	shift
	"$@" >"$work/$name.out" 2>&1 &
	fb_on_exit "kill $!"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
alive() {
	kill -0 "$FB_AGENT_PID_alice" 2>/dev/null || fb_fail "alice died: $(tail -5 "$log")"
	fb_agent alice status >/dev/null || fb_fail "alice's status does not answer"
}
# in_log TIMEOUT_S TEXT : alice's log gets a line with TEXT (a fixed string).
in_log() {
	fb_wait_for "$1" grep -qF -- "$2" "$log" || fb_fail "alice's log has no '$2': $(tail -8 "$log")"
}
state_of() {
	fb_agent alice torrent list --json | jq -r --arg ih "$1" '.[] | select(.info_hash == $ih) | .state'
}
# benc PATH PY_EXPR : writes the bencoding of a Python value (bt_peer.py's encoder).
benc() {
	/usr/bin/python3 -B -c 'import sys; sys.path.insert(0, sys.argv[1]); from bt_peer import bencode
open(sys.argv[2], "wb").write(bencode(eval(sys.argv[3])))' "$here" "$1" "$2"
}
# ih_of TORRENT : its v1 info hash, as libtorrent reads it.
ih_of() {
	/usr/bin/python3 -c 'import sys, libtorrent as lt; print(lt.torrent_info(sys.argv[1]).info_hashes().v1)' "$1"
}

fb_agent_new alice 127.0.0.2 broadcast alpha
fb_agent_torrent alice
fb_agent_start alice
log=$(fb_agent_home alice)/agent.log
mkdir -p "$work/src"
head -c $((3 * 1024 * 1024 + 5)) /dev/urandom >"$work/src/good.bin"
created=$(fb_agent alice torrent create "$work/src/good.bin" --json) || fb_fail "create: $created"
good_ih=$(jq -r .info_hash <<<"$created")
good_plen=$(jq -r .piece_length <<<"$created")

# ---- malformed .torrent files, bad magnets, a missing file ----
twenty="b'\\x01' * 20"
printf 'd8:announce3:foo4:infod4:name' >"$work/truncated.torrent"
printf 'this is not bencode at all\n' >"$work/garbage.torrent"
: >"$work/empty.torrent"
benc "$work/pieces19.torrent" "{'info': {'name': 'x.bin', 'length': 100, 'piece length': 16384, 'pieces': b'\\x01' * 19}}"
benc "$work/pieces30.torrent" "{'info': {'name': 'x.bin', 'length': 32768, 'piece length': 16384, 'pieces': b'\x01' * 30}}"
benc "$work/pieces40.torrent" "{'info': {'name': 'x.bin', 'length': 100, 'piece length': 16384, 'pieces': b'\x01' * 40}}"
benc "$work/plen0.torrent" "{'info': {'name': 'x.bin', 'length': 100, 'piece length': 0, 'pieces': $twenty}}"
benc "$work/plen32m.torrent" "{'info': {'name': 'x.bin', 'length': 100, 'piece length': 1 << 25, 'pieces': $twenty}}"
benc "$work/dotdot.torrent" "{'info': {'name': 'dir', 'piece length': 16384, 'pieces': $twenty,
	'files': [{'length': 10, 'path': ['..', 'evil.bin']}]}}"
benc "$work/slashname.torrent" "{'info': {'name': '../escape.bin', 'length': 10, 'piece length': 16384, 'pieces': $twenty}}"
benc "$work/abspath.torrent" "{'info': {'name': 'dir', 'piece length': 16384, 'pieces': $twenty,
	'files': [{'length': 10, 'path': ['/tmp', 'evil.bin']}]}}"
benc "$work/noinfo.torrent" "{'announce': 'http://127.0.0.1:1/announce'}"
benc "$work/badlen.torrent" "{'info': {'name': 'x.bin', 'length': -5, 'piece length': 16384, 'pieces': $twenty}}"
mkdir -p "$work/dest"
bad=("$work/truncated.torrent" "$work/garbage.torrent" "$work/empty.torrent" "$work/pieces19.torrent"
	"$work/pieces30.torrent" "$work/pieces40.torrent" "$work/plen0.torrent" "$work/plen32m.torrent"
	"$work/dotdot.torrent" "$work/slashname.torrent" "$work/abspath.torrent" "$work/noinfo.torrent"
	"$work/badlen.torrent" "$work/missing.torrent"
	"magnet:?xt=urn:btih:xyz" "magnet:?dn=no-info-hash"
	"magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef0123456"
	"magnet:?xt=urn:sha1:0123456789abcdef0123456789abcdef01234567"
	"magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&x.pe=not-an-address"
	"magnet:" "magnet:?xt=urn:btih:$(printf '%0100d' 0)")
for src in "${bad[@]}"; do
	set +e
	msg=$(fb_agent alice torrent get "$src" --dest "$work/dest" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ "$rc" -eq 1 ] || [ "$rc" -eq 2 ] || fb_fail "torrent get $src: exit $rc (want 1 or 2): $msg"
	[ -n "$msg" ] || fb_fail "torrent get $src: no error message"
	[ -z "$(ls -A "$work/dest")" ] || fb_fail "torrent get $src wrote into --dest: $(ls -A "$work/dest")"
	fb_log "  $(basename "$src"): exit $rc: $msg"
	alive
done
for f in "$work/evil.bin" "$work/escape.bin" /tmp/evil.bin; do
	[ ! -e "$f" ] || fb_fail "a .torrent's path escaped --dest: $f"
done
fb_assert_eq "$(fb_agent alice torrent list --json | jq -r '.[].info_hash')" "$good_ih" "alice's torrents"
fb_pass "${#bad[@]} malformed sources: a clear error, exit 1 or 2, nothing written, alice answers"

# A good magnet into a folder that is not there, or is a file.
: >"$work/a-file"
for d in "$work/no/such/dir" "$work/a-file"; do
	set +e
	msg=$(fb_agent alice torrent get "magnet:?xt=urn:btih:$(printf '%040d' 7)" --dest "$d" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ "$rc" -eq 1 ] || [ "$rc" -eq 2 ] || fb_fail "torrent get --dest $d: exit $rc: $msg"
	[ -n "$msg" ] || fb_fail "torrent get --dest $d: no error message"
	fb_log "  --dest $(basename "$d"): exit $rc: $msg"
done
[ ! -e "$work/no" ] && [ ! -s "$work/a-file" ] || fb_fail "a bad --dest was created or written"
fb_assert_eq "$(fb_agent alice torrent list --json | jq length)" 1 "alice's torrents after bad folders"
alive
fb_pass "a --dest that is missing or a file: a clear error, nothing created"

# ---- a peer sending corrupt pieces: banned, nothing of it on disk; then a good seeder ----
mkdir -p "$work/target" "$work/d1"
head -c $((2 * 1024 * 1024 + 123)) /dev/urandom >"$work/target/target.bin"
mktorrent -l 15 -o "$work/target.torrent" "$work/target/target.bin" >/dev/null
ih=$(ih_of "$work/target.torrent")
bg corrupt $btp serve "$work/target.torrent" --listen 127.0.0.20 --port-file "$work/corrupt.port" --mode corrupt
fb_wait_for 10 test -s "$work/corrupt.port" || fb_fail "bt_peer did not start: $(cat "$work/corrupt.out")"
cport=$(cat "$work/corrupt.port")
fb_agent alice torrent get "magnet:?xt=urn:btih:$ih&x.pe=127.0.0.20:$cport" --dest "$work/d1" --no-wait \
	>/dev/null || fb_fail "torrent get of the magnet failed"
in_log 20 "torrent: banned 127.0.0.20: sent a piece that failed its hash"
grep -qE "torrent $ih: piece [0-9]+ failed its SHA-1 check" "$log" || fb_fail "no failed piece logged"
grep -q '^request ' "$work/corrupt.out" || fb_fail "alice never asked the corrupt peer for a block"
grep -q '^metadata request ' "$work/corrupt.out" || fb_fail "alice did not take the metadata from the peer"
sleep 1
part="no .part"
[ ! -e "$work/d1/target.bin" ] || fb_fail "the final file exists, made of unverified data"
if [ -e "$work/d1/target.bin.part" ]; then
	# Verified pieces only are written: none verified, so the .part holds only zeros.
	nonzero=$(tr -d '\0' <"$work/d1/target.bin.part" | wc -c)
	fb_assert_eq "$nonzero" 0 "non-zero bytes in the .part"
	part="the .part all zeros"
fi
fb_assert_eq "$(state_of "$ih")" downloading "the torrent's state"
fb_assert_eq "$(fb_agent alice torrent list --json | jq -r --arg ih "$ih" '.[] | select(.info_hash == $ih) | .progress')" 0 \
	"progress from corrupt pieces"
# Banned means banned: its new connection to alice is refused at once.
out=$($btp request 127.0.0.2 "$FB_AGENT_TPORT_alice" "$good_ih" --bind 127.0.0.20 --kind valid --file "$work/src/good.bin")
fb_assert_eq "$out" closed "a banned address dialling alice"
alive
fb_pass "the corrupt peer is banned ($(grep -c '^request ' "$work/corrupt.out") blocks asked), nothing it sent is on disk ($part)"

# A good seeder: libtorrent with the same .torrent. A torrent already held takes no
# new peers from a second get, so the download is removed (its .part kept) and added again.
bg ltgood $lt seed "$work/target/target.bin" --listen 127.0.0.21 --torrent-in "$work/target.torrent"
fb_wait_for 30 grep -q '^port ' "$work/ltgood.out" || fb_fail "libtorrent did not seed: $(cat "$work/ltgood.out")"
ltport=$(sed -n 's/^port //p' "$work/ltgood.out")
fb_agent alice torrent remove "$ih" >/dev/null || fb_fail "remove $ih"
timeout 60 "$FB_BUILD/bin/peer-agent" --home "$(fb_agent_home alice)" torrent get \
	"magnet:?xt=urn:btih:$ih&x.pe=127.0.0.20:$cport&x.pe=127.0.0.21:$ltport" --dest "$work/d1" \
	>"$work/d1.get" 2>&1 || fb_fail "the download from libtorrent: $(tail -3 "$work/d1.get"); $(tail -5 "$log")"
fb_assert_eq "$(sha "$work/d1/target.bin")" "$(sha "$work/target/target.bin")" "the copy after the ban"
fb_assert_eq "$(state_of "$ih")" seeding "the torrent's state"
fb_pass "alice completes the file from libtorrent afterwards, SHA-256 equal"

# A corrupt peer alongside a good one from the start: banned, and the good one finishes.
mkdir -p "$work/mixed" "$work/d4"
head -c $((2 * 1024 * 1024 + 5)) /dev/urandom >"$work/mixed/mixed.bin"
mktorrent -l 15 -o "$work/mixed.torrent" "$work/mixed/mixed.bin" >/dev/null
mih=$(ih_of "$work/mixed.torrent")
bg corrupt2 $btp serve "$work/mixed.torrent" --listen 127.0.0.24 --port-file "$work/corrupt2.port" \
	--mode corrupt --delay 0.05
bg ltmixed $lt seed "$work/mixed/mixed.bin" --listen 127.0.0.25 --torrent-in "$work/mixed.torrent" \
	--upload-rate 1048576
fb_wait_for 10 test -s "$work/corrupt2.port" || fb_fail "bt_peer did not start: $(cat "$work/corrupt2.out")"
fb_wait_for 30 grep -q '^port ' "$work/ltmixed.out" || fb_fail "libtorrent did not seed: $(cat "$work/ltmixed.out")"
timeout 60 "$FB_BUILD/bin/peer-agent" --home "$(fb_agent_home alice)" torrent get \
	"magnet:?xt=urn:btih:$mih&x.pe=127.0.0.24:$(cat "$work/corrupt2.port")&x.pe=127.0.0.25:$(sed -n 's/^port //p' "$work/ltmixed.out")" \
	--dest "$work/d4" >"$work/d4.get" 2>&1 || fb_fail "the mixed download: $(tail -3 "$work/d4.get"); $(tail -5 "$log")"
fb_assert_eq "$(sha "$work/d4/mixed.bin")" "$(sha "$work/mixed/mixed.bin")" "the copy from the mixed swarm"
grep -qF "torrent: banned 127.0.0.24: " "$log" || fb_fail "the corrupt peer among good ones was not banned"
! grep -qF "torrent: banned 127.0.0.25" "$log" || fb_fail "the good seeder was banned: $(grep banned "$log")"
fb_pass "a corrupt peer beside a good seeder: banned, the good one (not banned) completes the file"

# A peer that takes requests and never answers them, beside a good one: its blocks go elsewhere.
mkdir -p "$work/mute" "$work/d6"
head -c $((2 * 1024 * 1024 + 9)) /dev/urandom >"$work/mute/mute.bin"
mktorrent -l 15 -o "$work/mute.torrent" "$work/mute/mute.bin" >/dev/null
bg mute $btp serve "$work/mute.torrent" --listen 127.0.0.28 --port-file "$work/mute.port" --mode mute
bg ltmute $lt seed "$work/mute/mute.bin" --listen 127.0.0.29 --torrent-in "$work/mute.torrent" --upload-rate 1048576
fb_wait_for 10 test -s "$work/mute.port" || fb_fail "bt_peer did not start: $(cat "$work/mute.out")"
fb_wait_for 30 grep -q '^port ' "$work/ltmute.out" || fb_fail "libtorrent did not seed: $(cat "$work/ltmute.out")"
timeout 60 "$FB_BUILD/bin/peer-agent" --home "$(fb_agent_home alice)" torrent get \
	"magnet:?xt=urn:btih:$(ih_of "$work/mute.torrent")&x.pe=127.0.0.28:$(cat "$work/mute.port")&x.pe=127.0.0.29:$(sed -n 's/^port //p' "$work/ltmute.out")" \
	--dest "$work/d6" >"$work/d6.get" 2>&1 || fb_fail "the download beside a mute peer: $(tail -3 "$work/d6.get"); $(tail -5 "$log")"
fb_assert_eq "$(sha "$work/d6/mute.bin")" "$(sha "$work/mute/mute.bin")" "the copy beside a mute peer"
grep -q '^request ' "$work/mute.out" || fb_fail "alice never asked the mute peer"
fb_pass "a peer that never answers ($(grep -c '^request ' "$work/mute.out") requests) does not stall the download"

# ---- peers requesting what they may not have ----
for kind in out-of-range big-block beyond-piece huge-message have-out-of-range; do
	out=$($btp request 127.0.0.2 "$FB_AGENT_TPORT_alice" "$good_ih" --bind 127.0.0.30 --kind "$kind" \
		--piece-length "$good_plen")
	fb_assert_eq "$out" closed "alice's answer to a request $kind"
	alive
done
in_log 5 "peer 127.0.0.30:"
grep -qE "peer 127\.0\.0\.30:[0-9]+ closed: .*out of range" "$log" || fb_fail "no log line for out of range: $(grep 127.0.0.30 "$log")"
grep -qE "peer 127\.0\.0\.30:[0-9]+ closed: .*block of 32768 bytes" "$log" || fb_fail "no log line for the big block: $(grep 127.0.0.30 "$log")"
grep -qE "peer 127\.0\.0\.30:[0-9]+ closed: .*beyond piece" "$log" || fb_fail "no log line for beyond the piece: $(grep 127.0.0.30 "$log")"
out=$($btp request 127.0.0.2 "$FB_AGENT_TPORT_alice" "$good_ih" --bind 127.0.0.31 --kind valid --file "$work/src/good.bin")
fb_assert_eq "$out" "block ok" "a fair request after them"
fb_assert_eq "$(grep -cE "peer 127\.0\.0\.30:[0-9]+ closed: " "$log")" 5 "sessions of 127.0.0.30 closed"
fb_log "  $(grep -E "peer 127\.0\.0\.30:[0-9]+ closed: " "$log" | sed 's/.*closed: //' | tr '\n' ';')"
fb_pass "out-of-range, 32 KiB and piece-crossing requests, a 2 GiB message and a have past the end close the session with a log line; alice still serves"

# ---- trackers answering garbage and a lying web seed, beside a good peer ----
mkdir -p "$work/junk/html" "$work/junk/peers5" "$work/junk/deep" "$work/junk/huge" "$work/lts" "$work/d2"
printf '<html>502 Bad Gateway</html>' >"$work/junk/html/announce"
printf 'd8:intervali60e5:peers5:abcdee' >"$work/junk/peers5/announce"
{ head -c 100000 /dev/zero | tr '\0' l; head -c 100000 /dev/zero | tr '\0' e; } >"$work/junk/deep/announce"
head -c $((20 * 1024 * 1024)) /dev/zero | tr '\0' x >"$work/junk/huge/announce"
jport=$(fb_free_port 127.0.0.1)
(cd "$work/junk" && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 "$jport") >/dev/null 2>&1 &
fb_on_exit "kill $!"
fb_wait_port 127.0.0.1 "$jport" 10 || fb_fail "python3 http.server did not start"
head -c $((3 * 1024 * 1024 + 7)) /dev/urandom >"$work/lts/other.bin"
bg lying $btp webseed "$work/lts/other.bin" --listen 127.0.0.27 --port-file "$work/lying.port"
fb_wait_for 10 test -s "$work/lying.port" || fb_fail "the lying web seed did not start: $(cat "$work/lying.out")"
# At 1 MiB/s, so the trackers' answers come while alice downloads.
bg ltseed $lt seed "$work/lts/other.bin" --listen 127.0.0.22 --torrent-out "$work/other.torrent" \
	--upload-rate 1048576
fb_wait_for 30 grep -q '^info_hash ' "$work/ltseed.out" || fb_fail "libtorrent did not seed: $(cat "$work/ltseed.out")"
oport=$(sed -n 's/^port //p' "$work/ltseed.out")
oih=$(sed -n 's/^info_hash //p' "$work/ltseed.out")
magnet="magnet:?xt=urn:btih:$oih&x.pe=127.0.0.22:$oport&ws=http%3A%2F%2F127.0.0.27%3A$(cat "$work/lying.port")%2F"
for j in html peers5 deep huge; do
	magnet+="&tr=http%3A%2F%2F127.0.0.1%3A$jport%2F$j%2Fannounce"
done
timeout 60 "$FB_BUILD/bin/peer-agent" --home "$(fb_agent_home alice)" torrent get "$magnet" --dest "$work/d2" \
	>"$work/d2.get" 2>&1 || fb_fail "the download past garbage: $(tail -3 "$work/d2.get"); $(tail -5 "$log")"
fb_assert_eq "$(sha "$work/d2/other.bin")" "$(sha "$work/lts/other.bin")" "the copy"
at_done=$(grep -nF "torrent $oih: every piece verified" "$log" | cut -d: -f1)
for j in html peers5 deep huge; do
	in_log 10 "torrent $oih: tracker http://127.0.0.1:$jport/$j/announce: "
	at=$(grep -nF "torrent $oih: tracker http://127.0.0.1:$jport/$j/announce: " "$log" | head -1 | cut -d: -f1)
	((at < at_done)) || fb_fail "the $j answer came only after the download: $(grep -F "$oih" "$log")"
	fb_log "  tracker $j: $(sed -n "${at}p" "$log" | sed 's/.*announce: //')"
done
grep -qE "torrent $oih: web seed http://127\.0\.0\.27:[0-9]+/ sent piece [0-9]+ that failed its hash" "$log" ||
	fb_fail "the lying web seed was not caught: $(grep -F "$oih" "$log" | tail -5); $(head -3 "$work/lying.out")"
! grep -qF "banned 127.0.0.22" "$log" || fb_fail "the good peer was banned"
fb_pass "four garbage tracker answers are logged, the lying web seed's piece refused, during a download the peer completes"

# ---- metadata over 8 MiB offered in BEP 9 ----
mkdir -p "$work/d3"
bg big $btp serve "$work/target.torrent" --listen 127.0.0.23 --port-file "$work/big.port" --mode big-metadata
fb_wait_for 10 test -s "$work/big.port" || fb_fail "bt_peer did not start: $(cat "$work/big.out")"
# Same info hash as before, so alice must forget that torrent first.
fb_agent alice torrent remove "$ih" >/dev/null
fb_agent alice torrent get "magnet:?xt=urn:btih:$ih&x.pe=127.0.0.23:$(cat "$work/big.port")" --dest "$work/d3" \
	--no-wait >/dev/null || fb_fail "torrent get of the magnet failed"
in_log 20 "closed: metadata_size 9437184 (at most 8388608)"
grep -q "^closed" "$work/big.out" || fb_fail "the session with the peer is still open"
! grep -q '^metadata request' "$work/big.out" || fb_fail "alice asked for the oversize metadata"
fb_assert_eq "$(fb_agent alice torrent list --json | jq -c --arg ih "$ih" '.[] | select(.info_hash == $ih) | [.size, .torrent_file, .sha256]')" \
	'[0,null,null]' "the torrent's size, .torrent and SHA-256 (metadata unknown)"
[ -z "$(ls -A "$work/d3")" ] || fb_fail "something was written: $(ls -A "$work/d3")"
alive
fb_pass "metadata_size 9 MiB is refused, the session closed, nothing written, alice answers"

# ---- metadata that does not hash to the info hash ----
mkdir -p "$work/lie" "$work/d5"
head -c 100000 /dev/urandom >"$work/lie/lie.bin"
mktorrent -o "$work/lie.torrent" "$work/lie/lie.bin" >/dev/null
lih=$(ih_of "$work/lie.torrent")
bg liar $btp serve "$work/lie.torrent" --listen 127.0.0.26 --port-file "$work/liar.port" --mode lying-metadata
fb_wait_for 10 test -s "$work/liar.port" || fb_fail "bt_peer did not start: $(cat "$work/liar.out")"
fb_agent alice torrent get "magnet:?xt=urn:btih:$lih&x.pe=127.0.0.26:$(cat "$work/liar.port")" --dest "$work/d5" \
	--no-wait >/dev/null || fb_fail "torrent get of the magnet failed"
in_log 20 "torrent $lih: the metadata received does not match the info hash"
in_log 5 "torrent: banned 127.0.0.26: "
fb_assert_eq "$(fb_agent alice torrent list --json | jq -r --arg ih "$lih" '.[] | select(.info_hash == $ih) | .torrent_file')" null \
	"the torrent's .torrent (metadata unknown)"
[ -z "$(ls -A "$work/d5")" ] || fb_fail "something was written: $(ls -A "$work/d5")"
alive
fb_pass "metadata not hashing to the info hash is refused and its sender banned, nothing written"
