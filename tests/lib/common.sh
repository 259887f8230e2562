# tests/lib/common.sh - sourced by end-to-end tests: cleanup registry, temp
# dirs, ports, deadlines, assertions. Every wait polls with a deadline.

# Sourced by several helpers: load once, or the cleanup registry would be reset.
[ -n "${_FB_COMMON_LOADED:-}" ] && return 0
_FB_COMMON_LOADED=1

FB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FB_BUILD=${FB_BUILD:-$FB_ROOT/build}
FB_TEST_NAME=${FB_TEST_NAME:-$(basename "$0" .sh)}
_fb_cleanups=()

fb_log() {
	printf '[%s] %s\n' "$FB_TEST_NAME" "$*" >&2
}

fb_fail() {
	fb_log "FAIL: $*"
	exit 1
}

# fb_on_exit CMD... : run CMD at exit (last registered first), even on failure.
fb_on_exit() {
	_fb_cleanups+=("$*")
}

_fb_run_cleanups() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#_fb_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_fb_cleanups[i]}" >/dev/null 2>&1 || true
	done
	exit $rc
}
trap _fb_run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Every temporary directory of the test lives under one root, removed last at exit
# (fb_tmpdir runs in $(...) subshells, where registering a cleanup would be lost).
FB_TMP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/fb-test.XXXXXX")
chmod 0755 "$FB_TMP_ROOT"
fb_on_exit "rm -rf '$FB_TMP_ROOT'"

# fb_tmpdir : a new directory under the test's root; prints its path.
fb_tmpdir() {
	local d
	d=$(mktemp -d "$FB_TMP_ROOT/d.XXXXXX")
	chmod 0755 "$d"
	echo "$d"
}

# fb_free_port [HOST] : a TCP port nobody listens on at HOST (default 127.0.0.1).
# Below the kernel's ephemeral range, so no outgoing connection can take it
# between this check and the server's bind.
fb_free_port() {
	local host=${1:-127.0.0.1} port i low span
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
	span=$((low - 10000))
	((span > 1000)) || span=20000
	for ((i = 0; i < 200; i++)); do
		port=$((10000 + (RANDOM * 32768 + RANDOM) % span))
		if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	fb_fail "no free port on $host"
}

# fb_wait_port HOST PORT TIMEOUT_S : polls until a TCP connect succeeds (at least one try).
fb_wait_port() {
	local host=$1 port=$2 deadline
	deadline=$(($(date +%s%N) / 1000000 + ${3%.*} * 1000 + 1))
	while :; do
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
			return 0
		fi
		(($(date +%s%N) / 1000000 < deadline)) || return 1
		sleep 0.05
	done
}

# fb_wait_for TIMEOUT_S CMD... : polls until CMD succeeds.
fb_wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	while ((SECONDS < deadline)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

fb_assert_eq() {
	[ "$1" = "$2" ] || fb_fail "${3:-values differ}: expected '$2', got '$1'"
}

# fb_assert_contains HAYSTACK NEEDLE [MESSAGE]
fb_assert_contains() {
	case $1 in
	*"$2"*) ;;
	*) fb_fail "${3:-missing text}: '$2' not in '$1'" ;;
	esac
}

fb_pass() {
	fb_log "ok: $*"
}
