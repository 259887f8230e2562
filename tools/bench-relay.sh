#!/usr/bin/env bash
# tools/bench-relay.sh [BUILD] - bytes through one relay on loopback, and the
# relay's CPU per MiB, against a direct connection and Syncthing's relay.
#
# One endpoint (A) pushes BENCH_RELAY_MIB MiB (256) one way to another (B),
# both in one process on one event loop (build/bin/relay-bench), mutual TLS
# with identity certificates (ECDSA P-256, GnuTLS) end to end in every mode:
#   direct     A and B over one TCP connection, no relay (relay-bench direct);
#   ours       through a relay process (relay-bench serve: rl_listen on
#              127.0.0.1, no rate or byte caps): B reserves, A opens a circuit;
#              outer TLS to the relay on both connections until joined, then
#              bare TCP that the relay copies, inner TLS 1.3 end to end,
#              and the relay room's socketpair between each end and its
#              consumer (relay-bench pair);
#   syncthing  through strelaysrv (Syncthing Relay Protocol v1; no pool, no
#              status server, no rate limits, keys in a temp folder): the
#              protocol mode (TLS) by tools/bench-relay.py, then the session
#              connections (plain TCP, as the protocol has them) handed to
#              relay-bench fds, which runs the same TLS ends as direct over them.
# Interleaved: direct, ours, syncthing, then again, BENCH_RELAY_ROUNDS times (5);
# each relay is a fresh process per round. Relay CPU: user + system time of the
# relay process (/proc/PID/stat) from just before the endpoints start to just
# after they are done, per MiB moved; relay RSS: its VmHWM after the round.
# Endpoints CPU: relay-bench's own user + system time from the first byte
# written to the last one read, both ends together, per MiB. MiB/s: over the
# same span. Results (JSON lines, logs) go to BUILD/bench/relay.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
mib=${BENCH_RELAY_MIB:-256}
rounds=${BENCH_RELAY_ROUNDS:-5}
modes=${BENCH_RELAY_MODES:-direct ours syncthing}
tool=$build/bin/relay-bench
py=(/usr/bin/python3 "$here/bench-relay.py")
out=$build/bench/relay
mkdir -p "$out"
rm -f "$out"/*.jsonl "$out"/*.log
work=$(mktemp -d /tmp/fb-bench-relay.XXXXXX)
relay_pid=
cleanup() {
	[ -z "$relay_pid" ] || kill "$relay_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	cp "$work"/*.log "$out/" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "bench-relay: $*" >&2
	exit 1
}
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
hz=$(getconf CLK_TCK)
# cpu_ms PID: user + system time of the process so far (all its threads).
cpu_ms() { sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$hz" '{ print ($12 + $13) * 1000 / hz }'; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
stop_relay() {
	kill "$relay_pid" 2>/dev/null || true
	wait "$relay_pid" 2>/dev/null || true
	relay_pid=
}

# record MODE ROUND RESULT_FILE [RELAY_CPU_MS RELAY_HWM_KIB]: one JSON line.
record() {
	local f=$3
	printf '{"mode":"%s","round":%d,"bytes":%s,"seconds":%s,"mib_s":%s,"cpu_ms":%s,"setup_ms":%s,"relay_cpu_ms":%s,"relay_hwm_kib":%s}\n' \
		"$1" "$2" "$(field "$f" bytes)" "$(field "$f" seconds)" "$(field "$f" mib_s)" \
		"$(field "$f" cpu_ms)" "$(field "$f" setup_ms)" "${4:-null}" "${5:-null}" >>"$out/rounds.jsonl"
}

run_direct() {
	"$tool" direct "$mib" >"$work/r.out" 2>"$work/direct.log" || fail "direct: $(tail -3 "$work/direct.log")"
	record direct "$1" "$work/r.out"
}

run_ours() {
	local port fp before after
	"$tool" serve >"$work/serve.out" 2>"$work/ours-relay.log" &
	relay_pid=$!
	wait_for 20 grep -qs '^fingerprint ' "$work/serve.out" || fail "relay-bench serve: $(tail -3 "$work/ours-relay.log")"
	port=$(field "$work/serve.out" port)
	fp=$(field "$work/serve.out" fingerprint)
	before=$(cpu_ms "$relay_pid")
	"$tool" pair "$port" "$fp" "$mib" >"$work/r.out" 2>"$work/ours.log" || fail "pair: $(tail -3 "$work/ours.log")"
	after=$(cpu_ms "$relay_pid")
	record ours "$1" "$work/r.out" "$((after - before))" "$(hwm_kib "$relay_pid")"
	stop_relay
}

run_syncthing() {
	local port before after
	port=$(free_port 127.0.0.1)
	rm -rf "$work/st-keys"
	mkdir "$work/st-keys"
	strelaysrv -listen "127.0.0.1:$port" -protocol tcp4 -pools="" -status-srv="" -global-rate 0 \
		-per-session-rate 0 -keys "$work/st-keys" >"$work/syncthing-relay.log" 2>&1 &
	relay_pid=$!
	wait_for 20 listening 127.0.0.1 "$port" || fail "strelaysrv: $(tail -3 "$work/syncthing-relay.log")"
	before=$(cpu_ms "$relay_pid")
	"${py[@]}" st-pair 127.0.0.1 "$port" "$work/certs" "$mib" "$tool" >"$work/r.out" 2>"$work/syncthing.log" ||
		fail "syncthing pair: $(tail -3 "$work/syncthing.log")"
	after=$(cpu_ms "$relay_pid")
	record syncthing "$1" "$work/r.out" "$((after - before))" "$(hwm_kib "$relay_pid")"
	stop_relay
}

command -v strelaysrv >/dev/null || fail "strelaysrv missing (Debian package syncthing-relaysrv; tools/install-deps.sh)"
mkdir "$work/certs"
"$tool" certs "$work/certs" || fail "relay-bench certs"

echo "Machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1))," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; $(strelaysrv -version | cut -d' ' -f1-2)," \
	"GnuTLS $(pkg-config --modversion gnutls), Python $(/usr/bin/python3 -c 'import platform; print(platform.python_version())')."
for round in $(seq 1 "$rounds"); do
	for m in $modes; do
		"run_$m" "$round"
	done
done
echo
echo "$mib MiB one way, loopback, TLS end to end (GnuTLS, both ends in one process);" \
	"medians of $rounds interleaved rounds (min–max):"
echo
"${py[@]}" summary "$out/rounds.jsonl"
echo
echo "direct: one TLS session, A client and B server, no relay. ours: A and B each hold a" \
	"connection to the relay, TLS until joined and then bare TCP, which the relay copies between," \
	"inner TLS 1.3 end to end," \
	"and a socketpair between each end and its consumer. syncthing: plain TCP session" \
	"connections, which strelaysrv copies between, the same TLS ends as direct inside." \
	"Endpoints CPU: both ends together (one process)."
echo
echo "Load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
