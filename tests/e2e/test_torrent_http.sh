#!/usr/bin/env bash
# The torrent HTTP port and the tracker client against real programs on
# loopback: curl reads our web seed (Range, 206, 416, CORS, the preflight),
# aria2c and libtorrent download the file through it and our tracker; our
# tracker client announces to our /announce and to Debian's opentracker
# (bound to one loopback address, TCP only); a tracker answering garbage and
# requests of garbage get clear errors and the server stays up.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

command -v opentracker >/dev/null || fb_fail "opentracker is not installed (tools/install-deps.sh)"
command -v aria2c >/dev/null || fb_fail "aria2c is not installed (tools/install-deps.sh)"
dir=$(fb_tmpdir)
announce="$FB_BUILD/bin/fb-announce"
head -c $((3 * 1024 * 1024 + 12345)) /dev/urandom >"$dir/data.bin"
want=$(sha256sum <"$dir/data.bin" | cut -d' ' -f1)

host=127.0.0.1
"$FB_BUILD/bin/fb-webseed" --host "$host" --port "$(fb_free_port "$host")" --file "$dir/data.bin" \
	--torrent "$dir/data.torrent" --announce --peer 127.0.0.77:6000 >"$dir/ws.out" 2>"$dir/ws.log" &
ws_pid=$!
fb_on_exit "kill $ws_pid"
fb_wait_for 30 grep -q '^ready ' "$dir/ws.out" || fb_fail "fb-webseed did not start: $(cat "$dir/ws.log")"
read -r _ port hash <"$dir/ws.out"
base="http://$host:$port"
seed="$base/seed/$hash/data.bin"

# ---- the web seed, read by curl ----
headers=$(curl -sS -D - -o "$dir/part" -H 'Range: bytes=1000-1999' "$seed")
fb_assert_contains "$headers" "HTTP/1.1 206 " "a Range gets 206"
fb_assert_contains "$headers" "Content-Range: bytes 1000-1999/3158073" "Content-Range"
fb_assert_contains "$headers" "Access-Control-Allow-Origin: *" "CORS"
cmp -s "$dir/part" <(tail -c +1001 "$dir/data.bin" | head -c 1000) || fb_fail "the range's bytes differ"
fb_assert_eq "$(curl -sS "$seed" | sha256sum | cut -d' ' -f1)" "$want" "the whole file without Range"
fb_assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -H 'Range: bytes=99999999-' "$seed")" 416 "past the end"
headers=$(curl -sS -D - -o /dev/null -X OPTIONS -H 'Origin: http://127.0.0.1:1' \
	-H 'Access-Control-Request-Method: GET' -H 'Access-Control-Request-Headers: range' "$seed")
fb_assert_contains "$headers" "HTTP/1.1 204 " "the preflight"
fb_assert_contains "$headers" "Access-Control-Allow-Headers: Range, Cache-Control" "preflight headers"
fb_assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$base/seed/$hash/other.bin")" 404 "unknown file"
fb_pass "curl reads the web seed: 206, 200, 416, 404, CORS and the preflight"

# ---- aria2c downloads through our web seed and tracker ----
timeout 120 aria2c --dir="$dir/aria" --enable-dht=false --enable-dht6=false --bt-enable-lpd=false \
	--enable-peer-exchange=false --listen-port="$(fb_free_port)" --seed-time=0 \
	--file-allocation=none --console-log-level=warn --summary-interval=0 "$dir/data.torrent" \
	>"$dir/aria.log" 2>&1 || fb_fail "aria2c failed: $(tail -5 "$dir/aria.log")"
fb_assert_eq "$(sha256sum <"$dir/aria/data.bin" | cut -d' ' -f1)" "$want" "aria2c's copy"
fb_pass "aria2c downloads the file from our web seed, with our tracker in the .torrent"
timeout 150 /usr/bin/python3 "$FB_ROOT/tests/e2e/lt_webseed.py" "$dir/data.torrent" "$dir/lt" \
	>"$dir/lt.log" 2>&1 || fb_fail "libtorrent failed: $(tail -5 "$dir/lt.log")"
fb_assert_eq "$(sha256sum <"$dir/lt/data.bin" | cut -d' ' -f1)" "$want" "libtorrent's copy"
fb_pass "libtorrent downloads the file from our web seed too"

# ---- our tracker client against our tracker ----
out=$("$announce" "$base/announce" "$hash" 6001 started)
fb_assert_contains "$out" "peer 127.0.0.77 6000" "gossip's seeders are listed"
out=$("$announce" "$base/announce" "$hash" 6002 started)
fb_assert_contains "$out" "peer 127.0.0.1 6001" "an announcer is listed"
"$announce" "$base/announce" "$hash" 6001 stopped >/dev/null
out=$("$announce" "$base/announce" "$hash" 6002)
case $out in *"6001"*) fb_fail "a stopped announcer is still listed: $out" ;; esac
set +e
out=$("$announce" "$base/announce" 0000000000000000000000000000000000000000 6002 started)
rc=$?
set -e
fb_assert_eq "$rc" 3 "an unknown torrent is refused"
fb_assert_eq "$out" "failure unknown torrent" "its failure reason"
fb_pass "our tracker lists announcers and gossip's seeders, forgets stopped ones, refuses unknown torrents"

# ---- our tracker client against opentracker ----
ot="$dir/ot"
mkdir -p "$ot"
chmod 0755 "$ot"
echo "$hash" >"$ot/whitelist.txt"
chmod 0644 "$ot/whitelist.txt"
ot_host=127.0.0.$((RANDOM % 200 + 20))
ot_port=$(fb_free_port "$ot_host")
printf 'listen.tcp %s:%s\ntracker.rootdir %s\ntracker.user nobody\naccess.whitelist /whitelist.txt\n' \
	"$ot_host" "$ot_port" "$ot" >"$dir/ot.conf"
opentracker -f "$dir/ot.conf" >"$dir/ot.log" 2>&1 &
ot_pid=$!
fb_on_exit "kill $ot_pid"
fb_wait_port "$ot_host" "$ot_port" 10 || fb_fail "opentracker did not start: $(cat "$dir/ot.log")"
"$announce" "http://$ot_host:$ot_port/announce" "$hash" 6101 started >/dev/null
out=$("$announce" "http://$ot_host:$ot_port/announce" "$hash" 6102 started)
fb_assert_contains "$out" "peer 127.0.0.1 6101" "opentracker lists the first announcer"
set +e
out=$("$announce" "http://$ot_host:$ot_port/announce" 1111111111111111111111111111111111111111 6102)
rc=$?
set -e
[ "$rc" -ne 0 ] || fb_fail "opentracker's refusal of a hash off its whitelist was taken for an answer: $out"
fb_pass "our tracker client announces to opentracker and reads its compact answer ($out)"

# ---- garbage ----
junk="$dir/junk"
mkdir -p "$junk"
printf '<html>502 Bad Gateway</html>' >"$junk/announce"
junk_port=$(fb_free_port)
(cd "$junk" && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 "$junk_port") >/dev/null 2>&1 &
junk_pid=$!
fb_on_exit "kill $junk_pid"
fb_wait_port 127.0.0.1 "$junk_port" 10 || fb_fail "python3 http.server did not start"
set +e
out=$("$announce" "http://127.0.0.1:$junk_port/announce" "$hash" 6003 started)
rc=$?
set -e
fb_assert_eq "$rc" 1 "a garbage answer is an error"
fb_assert_contains "$out" "tracker answer: not bencode" "the error says why"

exec 3<>"/dev/tcp/$host/$port"
printf '\x16\x03\x01\x02\x01\xff garbage\r\n\r\n' >&3
reply=$(head -c 200 <&3 | head -1 | tr -d '\r')
exec 3>&-
fb_assert_eq "$reply" "HTTP/1.1 400 Bad Request" "garbage gets a 400"
long=$(head -c 20000 /dev/zero | tr '\0' a)
fb_assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -H "X-Long: $long" "$seed")" 431 "a huge header"
fb_assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$base/announce?info_hash=abc&port=1")" 200 "a bad announce is answered"
fb_assert_contains "$(curl -sS "$base/announce?info_hash=abc&port=1")" "failure reason" "with a failure reason"
# 20 idle connections from one address: the default cap (16) holds, the rest are closed at once
closed=$(/usr/bin/python3 - "$host" "$port" <<'PY'
import socket, sys, time
conns = [socket.create_connection((sys.argv[1], int(sys.argv[2]))) for _ in range(20)]
time.sleep(0.5)
closed = 0
for c in conns:
    c.settimeout(0.2)
    try:
        closed += c.recv(1) == b''
    except socket.timeout:
        pass
    except ConnectionError:
        closed += 1
print(closed)
PY
)
fb_assert_eq "$closed" 4 "connections past the per-address cap are closed"
kill -0 "$ws_pid" || fb_fail "the HTTP port died"
fb_assert_eq "$(curl -sS "$seed" | sha256sum | cut -d' ' -f1)" "$want" "still serving after the garbage"
fb_pass "garbage answers and requests get clear errors, connections are capped; the HTTP port stays up"
