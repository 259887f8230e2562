#!/usr/bin/env bash
# The build enforces the layers of docs/architecture.md: each room compiles with
# its own headers only (a forbidden include is an error that names the rule),
# and the pure core calls no clock, random source, file or socket itself.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

dir=$(fb_tmpdir)
cd "$FB_ROOT"

# probe ROOM HEADER : compiles a file that includes HEADER with ROOM's command; prints its errors.
probe() {
	local cc
	cc=$(env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s --no-print-directory BUILD="$FB_BUILD" "room-cc-$1")
	printf '#include %s\nint fb_probe(void);\nint fb_probe(void) { return 0; }\n' "$2" >"$dir/probe.c"
	$cc -c "$dir/probe.c" -o "$dir/probe.o" 2>&1
}

refused() {
	local out
	if out=$(probe "$1" "$2"); then
		fb_fail "$1 may include $2, but it should not"
	fi
	fb_assert_contains "$out" "$1 may not include" "$1 including $2 names the rule"
}
allowed() {
	local out
	out=$(probe "$1" "$2") || fb_fail "$1 may not include $2, but it should: $out"
}

refused core '<event2/event.h>'
refused core '<curl/curl.h>'
refused core '<sys/socket.h>'
refused core '<netinet/in.h>'
refused core '"net/transport.h"'
refused core '"daemon/agent.h"'
refused core '"fb/random.h"'
refused core '"fb/file.h"'
allowed core '"core/peertable.h"'
allowed core '"fb/codec.h"'
refused net '"core/engine.h"'
allowed net '<event2/event.h>'
refused core '"torrent/torrent.h"'
refused net '"torrent/torrent.h"'
refused torrent '"core/engine.h"'
refused torrent '"daemon/agent.h"'
refused torrent '<wslay/wslay.h>'
allowed torrent '<event2/event.h>'
allowed torrent '"net/httpclient.h"'
allowed daemon '"torrent/torrent.h"'
refused core '"relay/relay.h"'
refused net '"relay/relay.h"'
refused torrent '"relay/relay.h"'
refused relay '"core/engine.h"'
refused relay '"torrent/torrent.h"'
refused relay '<curl/curl.h>'
allowed relay '"net/tls.h"'
allowed relay '<gnutls/gnutls.h>'
allowed daemon '"relay/relay.h"'
allowed control '"relay/relay.h"'
refused cli '"relay/relay.h"'
allowed control '"torrent/torrent.h"'
refused cli '"torrent/torrent.h"'
refused cli '<event2/event.h>'
allowed cli '"daemon/agent.h"'
allowed cli '"daemon/doctor.h"'
refused common '<event2/event.h>'
refused server '<event2/event.h>'
refused server '"core/engine.h"'
allowed server '<microhttpd.h>'
# A path relative to the including file would get past the poisoned headers.
rel=$(grep -rn --exclude-dir=node_modules '#include "\.\./' peer-agent bootstrap-server common tools tests || true)
[ -z "$rel" ] || fb_fail "includes by relative path (name the module's header instead): $rel"
fb_pass "each room compiles with only what it may include"

# A core object that reads the clock itself fails the purity check.
cc=$(env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s --no-print-directory BUILD="$FB_BUILD" room-cc-core)
printf '#include <time.h>\nlong fb_probe(void);\nlong fb_probe(void) { return (long)time(NULL); }\n' >"$dir/clock.c"
$cc -c "$dir/clock.c" -o "$dir/clock.o"
if out=$(tools/check-pure.sh "$dir/clock.o" 2>&1); then
	fb_fail "check-pure accepted a core object that calls time()"
fi
fb_assert_contains "$out" "calls time" "check-pure names the call"
# ... and so does one that asks common's helpers for the clock instead.
printf '#include <stdint.h>\nint64_t cm_time_wall_ms(void);\nint64_t fb_probe(void);\nint64_t fb_probe(void) { return cm_time_wall_ms(); }\n' >"$dir/wall.c"
$cc -c "$dir/wall.c" -o "$dir/wall.o"
if out=$(tools/check-pure.sh "$dir/wall.o" 2>&1); then
	fb_fail "check-pure accepted a core object that calls cm_time_wall_ms()"
fi
fb_assert_contains "$out" "calls cm_time_wall_ms" "check-pure names the helper"
tools/check-pure.sh "$FB_BUILD"/peer-agent/src/core/*.o || fb_fail "the core itself is not pure"
# The torrent room's pure modules are held to the same rule.
tools/check-pure.sh "$FB_BUILD"/peer-agent/src/torrent/{wire,picker,choke,metainfo,magnet}.o ||
	fb_fail "the torrent room's pure modules are not pure"
fb_pass "the core and the torrent room's pure modules call no clock, random source, file or socket of their own"
