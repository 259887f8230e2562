#!/usr/bin/env bash
# tools/bench-torrent.sh [BUILD] - the torrent figures of docs/performance.md.
#
# Transfers: one random file of BENCH_TORRENT_MIB MiB (200) on loopback, seeder on
# 127.0.77.2, downloader on 127.0.77.3: agent -> agent, aria2c -> aria2c,
# libtorrent -> libtorrent, the agent to and from each of them, and the agent's
# engine alone (tools/tr-run) both sides; interleaved (all eight, then again,
# BENCH_PAIRS times: 3). "agent" is the daemon (`peer-agent run`, [torrent] listen
# and http_listen) driven by its CLI: `torrent create` on the seeder, `torrent get
# FILE.torrent` on the downloader. A run's time goes from the start of the
# downloader (its CLI for the agent; the daemon already runs) to the file complete
# and verified (the agent: its final name, given once every piece and the SHA-256
# are checked; aria2c: its completion hook; libtorrent: its exit once every piece
# is checked); the seeder is up and seeding before. CPU seconds and peak RSS of each side.
# Hashing: a BENCH_HASH_MIB MiB file (1024), in the page cache, through `peer-agent
# torrent create` and tr-run (SHA-1 per piece and SHA-256 of the file in one read)
# against `openssl dgst -sha1`, `openssl dgst -sha256`, `sha256sum`, `sha1sum`,
# interleaved.
# Seeding: the daemon's RSS while it seeds BENCH_SEED_TORRENTS torrents (10) of
# BENCH_SEED_MIB MiB (20), idle and while one downloader pulls all of them at once.
#
# Files live in a private folder under /dev/shm (tmpfs; BENCH_TORRENT_DIR to
# change), so the disk is not what is measured; results (JSON lines, logs) go to
# BUILD/bench/torrent. Third-party clients run with DHT, LSD, PEX, UPnP and
# NAT-PMP off, no encryption required, and talk to loopback only; the agents have
# no bootstrap server and meet no one by gossip.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
mib=${BENCH_TORRENT_MIB:-200}
pairs=${BENCH_PAIRS:-3}
hash_mib=${BENCH_HASH_MIB:-1024}
seed_n=${BENCH_SEED_TORRENTS:-10}
seed_mib=${BENCH_SEED_MIB:-20}
tr_run=$build/bin/tr-run
agent_bin=$build/bin/peer-agent
py=(/usr/bin/python3 "$here/bench-torrent.py")
out=$build/bench/torrent
seeder_ip=127.0.77.2
getter_ip=127.0.77.3
tracker_ip=127.0.77.1
aria=(aria2c --enable-dht=false --enable-dht6=false --bt-enable-lpd=false
	--enable-peer-exchange=false --bt-require-crypto=false --file-allocation=none
	--summary-interval=0 --console-log-level=warn --download-result=hide)
mkdir -p "$out"
rm -f "$out"/*.jsonl "$out"/*.out "$out"/*.err "$out"/*.log
work=$(mktemp -d "${BENCH_TORRENT_DIR:-/dev/shm}/fb-bench-torrent.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	# The logs stay for a look after a failure.
	cp "$work"/*.out "$work"/*.err "$work"/*.log "$out/" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "bench-torrent: $*" >&2
	exit 1
}
# wait_for SECONDS CMD...: until CMD succeeds, every 50 ms.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}
listening() { ss -Hltn "src $1:$2" | grep -q .; }
free_port() {
	/usr/bin/python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$1"
}
field() { sed -n "s/^$2 //p" "$1" | head -n1; }
# stop PID: ends a process this script started and waits for it.
stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# agent_start NAME IP: a fresh broadcasting agent (no bootstrap server) with a
# peer-wire and an HTTP port on IP; sets agent_pid and agent_tport.
agent_start() {
	local name=$1 ip=$2 home=$work/$1 api
	"$agent_bin" init --home "$home" --email "$name@bench.example" >/dev/null ||
		fail "peer-agent init $name"
	api=$(free_port 127.0.0.1)
	agent_tport=$(free_port "$ip")
	cat >"$home/agent.ini" <<-EOF
		[identity]
		email = $name@bench.example
		[gossip]
		broadcasting = true
		listen = $ip:$(free_port "$ip")
		advertise = $ip
		bind = $ip
		[api]
		listen = 127.0.0.1:$api
		[torrent]
		listen = $ip:$agent_tport
		http_listen = $ip:$(free_port "$ip")
	EOF
	"$agent_bin" run --home "$home" --log-level "${BENCH_AGENT_LOG_LEVEL:-warn}" >"$work/$name.log" 2>&1 &
	agent_pid=$!
	pids+=("$agent_pid")
	wait_for 20 listening 127.0.0.1 "$api" || fail "peer-agent $name: $(tail -3 "$work/$name.log")"
}
agent() {
	local name=$1
	shift
	"$agent_bin" --home "$work/$name" "$@"
}
# agent_stop NAME PID: stops it and forgets its folder.
agent_stop() {
	stop "$2"
	cp "$work/$1.log" "$out/" 2>/dev/null || true
	rm -rf "${work:?}/$1"
}

echo "Machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1))," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; aria2c $(aria2c --version | head -n1 | cut -d' ' -f3)," \
	"libtorrent $(/usr/bin/python3 -c 'import libtorrent; print(libtorrent.__version__)'), $(openssl version | cut -d' ' -f1-2)."
echo

src=$work/src
mkdir -p "$src"
head -c $((mib << 20)) /dev/urandom >"$src/data.bin"
want=$(sha256sum "$src/data.bin" | cut -d' ' -f1)
bytes=$((mib << 20))

# The .torrent the third-party seeders use, made by the agent's engine (no tracker in it).
"$tr_run" seed "$src/data.bin" --state "$work/mk" >"$work/mk.out" 2>"$work/mk.err" &
mk=$!
wait_for 60 grep -qs '^torrent ' "$work/mk.out" || fail "tr-run did not create: $(tail -3 "$work/mk.err")"
stop "$mk"
torrent=$work/data.torrent
cp "$(field "$work/mk.out" torrent)" "$torrent"
info_hash=$(field "$work/mk.out" info_hash)
piece_length=$(/usr/bin/python3 -c 'import libtorrent as lt,sys; print(lt.torrent_info(sys.argv[1]).piece_length())' "$torrent")

# The tracker aria2c needs to find an aria2c seeder (aria2c takes no peer address),
# and the agent too (a .torrent naming it): opentracker, with our info hash on its
# access list. It reads the list as nobody inside its own folder (chroot), hence a
# folder anyone may read.
# shellcheck disable=SC2046 # one argument per byte
ih_url=$(printf '%%%s' $(fold -w2 <<<"$info_hash"))
tracker_ok() {
	curl -sf "http://$tracker_ip:$tracker_port/announce?info_hash=$ih_url&peer_id=-BENCH-0000000000000&port=1&left=0&compact=1&event=stopped" |
		grep -aq '^d8:complete'
}
mkdir -m 755 "$work/tracker"
echo "$info_hash" >"$work/tracker/whitelist.txt"
chmod 644 "$work/tracker/whitelist.txt"
# tracker_start: a fresh opentracker for each transfer, so that no run meets the
# stale entries of the runs before it; data-ot.torrent names it.
tracker_start() {
	tracker_port=$(free_port "$tracker_ip")
	opentracker -i "$tracker_ip" -p "$tracker_port" -P "$tracker_port" -d "$work/tracker" \
		-w whitelist.txt -u nobody >"$work/opentracker.log" 2>&1 &
	tracker_pid=$!
	pids+=("$tracker_pid")
	wait_for 10 tracker_ok || fail "opentracker: $(cat "$work/opentracker.log")"
	announce=http://$tracker_ip:$tracker_port/announce
	"${py[@]}" retrack "$torrent" "$announce" "$work/data-ot.torrent"
}
# seeded_at_tracker: the aria2c seeder has announced (a scrape counts one complete).
seeded_at_tracker() {
	curl -sf "http://$tracker_ip:$tracker_port/scrape?info_hash=$ih_url" | grep -aq 'completei[1-9]'
}

# seed KIND RUN: starts a seeder of data.bin; sets seed_pid, seed_port and
# seed_torrent (the .torrent a downloader uses).
seed() {
	local kind=$1 run=$2 log=$work/$2.seed
	seed_torrent=$torrent
	case $kind in
	agent)
		agent_start "$run-seeder" "$seeder_ip"
		seed_pid=$agent_pid
		seed_port=$agent_tport
		agent "$run-seeder" torrent create "$src/data.bin" --json >"$log.out" 2>"$log.err" ||
			fail "torrent create: $(cat "$log.err")"
		# Its .torrent names its own tracker, which lists it.
		seed_torrent=$(jq -r .torrent_file "$log.out")
		;;
	tr-run)
		"$tr_run" seed "$src/data.bin" --state "$work/$run.seed-state" --listen "$seeder_ip" \
			>"$log.out" 2>"$log.err" &
		seed_pid=$!
		pids+=("$seed_pid")
		wait_for 60 grep -qs '^port ' "$log.out" || fail "tr-run seeder: $(tail -3 "$log.err")"
		seed_port=$(field "$log.out" port)
		seed_torrent=$(field "$log.out" torrent)
		;;
	aria2c)
		seed_port=$(free_port "$seeder_ip")
		"${aria[@]}" --interface="$seeder_ip" --listen-port="$seed_port" \
			--bt-seed-unverified=true --seed-ratio=0.0 --seed-time=600 --bt-tracker="$announce" \
			-d "$src" "$torrent" >"$log.out" 2>&1 &
		seed_pid=$!
		pids+=("$seed_pid")
		wait_for 30 listening "$seeder_ip" "$seed_port" || fail "aria2c seeder: $(tail -3 "$log.out")"
		wait_for 30 seeded_at_tracker || fail "the aria2c seeder did not announce"
		seed_torrent=$work/data-ot.torrent
		;;
	libtorrent)
		# Announced to opentracker, where the agent finds it.
		"${py[@]}" lt-seed "$work/data-ot.torrent" --save "$src" --listen "$seeder_ip" \
			>"$log.out" 2>"$log.err" &
		seed_pid=$!
		pids+=("$seed_pid")
		wait_for 30 grep -qs '^port ' "$log.out" || fail "libtorrent seeder: $(tail -3 "$log.err")"
		seed_port=$(field "$log.out" port)
		seed_torrent=$work/data-ot.torrent
		;;
	esac
}

# aria2c's completion hook (GID, file count, path): marks the file done.
# shellcheck disable=SC2016 # $3 is the hook's
printf '#!/bin/sh\n: >"$3.done"\n' >"$work/aria2c-done.sh"
chmod +x "$work/aria2c-done.sh"

# get KIND RUN NAME PAIR: downloads from the running seeder, measured; appends a JSON line.
get() {
	local kind=$1 run=$2 name=$3 pair=$4 dest=$work/$2.dest log=$work/$2.get
	local m=("${py[@]}" measure --out "$work/$run.json" --seeder-pid "$seed_pid")
	mkdir -p "$dest"
	case $kind in
	agent)
		agent_start "$run-getter" "$getter_ip"
		# Done when the file has its final name: the agent renames it once every
		# piece and the SHA-256 are verified (the CLI sees it at its next poll).
		"${m[@]}" --getter-pid "$agent_pid" --done-file "$dest/data.bin" -- \
			"$agent_bin" --home "$work/$run-getter" torrent get "$seed_torrent" --dest "$dest" \
			>"$log.out" 2>"$log.err" || fail "$name: $(tail -3 "$log.err")"
		agent_stop "$run-getter" "$agent_pid"
		;;
	tr-run)
		"${m[@]}" --done-file "$dest/data.bin" -- "$tr_run" get "$seed_torrent" --dest "$dest" \
			--state "$work/$run.get-state" --silent --bind "$getter_ip" \
			--peer "$seeder_ip:$seed_port" --timeout 300 >"$log.out" 2>"$log.err" ||
			fail "$name: $(tail -3 "$log.err")"
		;;
	aria2c)
		# Done when aria2c runs its completion hook (every piece checked); it
		# exits about two seconds later, after telling the tracker.
		"${m[@]}" --done-file "$dest/data.bin.done" -- "${aria[@]}" --interface="$getter_ip" \
			--listen-port="$(free_port "$getter_ip")" --seed-time=0 --bt-tracker="$announce" \
			--on-bt-download-complete="$work/aria2c-done.sh" -d "$dest" "$seed_torrent" \
			>"$log.out" 2>&1 || fail "$name: $(tail -3 "$log.out")"
		;;
	libtorrent)
		"${m[@]}" -- "${py[@]}" lt-get "$torrent" --dest "$dest" --listen "$getter_ip" \
			--peer "$seeder_ip:$seed_port" --timeout 300 >"$log.out" 2>"$log.err" ||
			fail "$name: $(tail -3 "$log.err")"
		;;
	esac
	[ "$(sha256sum "$dest/data.bin" | cut -d' ' -f1)" = "$want" ] || fail "$name: SHA-256 differs"
	jq -c --arg name "$name" --argjson pair "$pair" --argjson bytes "$bytes" \
		'. + {name: $name, pair: $pair, bytes: $bytes}' "$work/$run.json" >>"$out/transfers.jsonl"
	rm -rf "$dest" "$work/$run.get-state"
}

transfers=("agent agent" "aria2c aria2c" "libtorrent libtorrent" "agent aria2c" "aria2c agent"
	"agent libtorrent" "libtorrent agent" "tr-run tr-run")
for pair in $(seq 1 "$pairs"); do
	for t in "${transfers[@]}"; do
		read -r from to <<<"$t"
		run="$from-$to-$pair"
		name="$from → $to"
		[ "$from" != tr-run ] || name="agent → agent, the engine alone (tr-run)"
		tracker_start
		seed "$from" "$run"
		get "$to" "$run" "$name" "$pair"
		if [ "$from" = agent ]; then
			agent_stop "$run-seeder" "$seed_pid"
		else
			stop "$seed_pid"
		fi
		stop "$tracker_pid"
		rm -rf "$work/$run.seed-state"
	done
done
echo "Transfers of $mib MiB ($bytes bytes, pieces of $((piece_length / 1024)) KiB), loopback," \
	"files on tmpfs; medians of $pairs interleaved runs (range):"
echo
"${py[@]}" summary transfers "$out/transfers.jsonl"
rm -f "$src/data.bin"

# ---- hashing ----
hash_file=$work/hash/data.bin
mkdir -p "$work/hash"
head -c $((hash_mib << 20)) /dev/urandom >"$hash_file"
cat "$hash_file" >/dev/null
hashed() {
	jq -c --arg name "$1" --argjson pair "$pair" '. + {name: $name, pair: $pair}' \
		"$work/h.json" >>"$out/hashing.jsonl"
}
for pair in $(seq 1 "$pairs"); do
	# The daemon's creation: the CLI returns once the .torrent is written.
	agent_start hasher "$seeder_ip"
	"${py[@]}" measure --out "$work/h.json" --getter-pid "$agent_pid" -- \
		"$agent_bin" --home "$work/hasher" torrent create "$hash_file" --json >"$work/hash.out" ||
		fail "torrent create: $(cat "$work/hash.out")"
	hashed "peer-agent torrent create"
	agent_stop hasher "$agent_pid"
	# The engine alone: done when its .torrent is written (seeding starts then).
	"${py[@]}" measure --out "$work/h.json" --done-glob "$work/hash-state-$pair/*.torrent" \
		--kill-when-done -- "$tr_run" seed "$hash_file" --state "$work/hash-state-$pair" \
		>"$work/hash.out" 2>"$work/hash.err" || fail "tr-run create: $(tail -3 "$work/hash.err")"
	hashed "tr-run seed (the engine alone)"
	rm -rf "$work/hash-state-$pair"
	for tool in "openssl dgst -sha1" "openssl dgst -sha256" "sha256sum" "sha1sum"; do
		# shellcheck disable=SC2086 # the tool's words
		"${py[@]}" measure --out "$work/h.json" -- $tool "$hash_file" >/dev/null || fail "$tool failed"
		hashed "$tool"
	done
done
echo
echo "Hashing $hash_mib MiB from the page cache, medians of $pairs interleaved runs (range):"
echo
"${py[@]}" summary hashing "$out/hashing.jsonl" "$((hash_mib << 20))"
rm -rf "$work/hash"

# ---- seeding many torrents ----
many=$work/many-files
mkdir -p "$many"
for i in $(seq 1 "$seed_n"); do
	head -c $((seed_mib << 20)) /dev/urandom >"$many/file$i.bin"
done
agent_start many "$seeder_ip"
seed_pid=$agent_pid
for i in $(seq 1 "$seed_n"); do
	agent many torrent create "$many/file$i.bin" --json >"$work/many-$i.out" ||
		fail "torrent create $i: $(cat "$work/many-$i.out")"
done
seeding_all() {
	[ "$(agent many torrent list --json | jq '[.[] | select(.state == "seeding")] | length')" -ge "$seed_n" ]
}
wait_for 60 seeding_all || fail "not all $seed_n seeding: $(agent many torrent list)"
sleep 2
idle=$("${py[@]}" rss "$seed_pid")
agent_start many-getter "$getter_ip"
mkdir -p "$work/many.dest"
# One downloader pulls all of them at once: one `torrent get` each, side by side.
cat >"$work/get-all.sh" <<-EOF
	for t in "\$@"; do
		"$agent_bin" --home "$work/many-getter" torrent get "\$t" --dest "$work/many.dest" >/dev/null &
	done
	rc=0
	for t in "\$@"; do wait -n || rc=1; done
	exit \$rc
EOF
torrents=()
for i in $(seq 1 "$seed_n"); do torrents+=("$(jq -r .torrent_file "$work/many-$i.out")"); done
"${py[@]}" measure --out "$work/many.json" --seeder-pid "$seed_pid" --getter-pid "$agent_pid" \
	--sample-rss "$seed_pid" -- bash "$work/get-all.sh" "${torrents[@]}" \
	>"$work/many.get.out" 2>"$work/many.get.err" ||
	fail "get from the $seed_n-torrent seeder: $(tail -3 "$work/many.get.err")"
for i in $(seq 1 "$seed_n"); do
	cmp -s "$many/file$i.bin" "$work/many.dest/file$i.bin" || fail "file$i.bin differs"
done
after=$("${py[@]}" rss "$seed_pid")
echo
echo "The agent seeding $seed_n torrents of $seed_mib MiB: RSS idle $idle; while one" \
	"downloader pulls all $seed_n at once: $(jq -r '"\(.sampled_rss_kib / 1024 | . * 10 | round / 10) MiB at most (sampled every 5 ms over the \(.seconds) s until its last torrent get returned)"' "$work/many.json");" \
	"after it $after; peak since start (VmHWM, hashing included)" \
	"$(jq -r '.seed_rss_kib / 1024 | . * 10 | round / 10' "$work/many.json") MiB; the downloader's peak" \
	"$(jq -r '.dl_rss_kib / 1024 | . * 10 | round / 10' "$work/many.json") MiB; target ≤ 64 MiB."
agent_stop many-getter "$agent_pid"
agent_stop many "$seed_pid"
echo
echo "Load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
