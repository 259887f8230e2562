#!/usr/bin/env bash
# tools/check-pure.sh OBJECT... - fails when a pure object (peer-agent/src/core)
# calls the clock, a random source, the file system, a stream or the network
# itself, from libc or through common's helpers (fb/file.h, fb/random.h, the
# clocks of fb/timeutil.h): those come in as arguments (now_ms, an rng,
# buffers), and text goes out as strings for the caller to write.
set -euo pipefail
forbidden='^(time|clock_gettime|gettimeofday|rand|random|srand|srandom|rand_r|getrandom|getentropy|fopen|open|openat|read|write|socket|connect|bind|accept|accept4|listen|send|recv|sendto|recvfrom|getaddrinfo|getifaddrs|event_[a-z_]*|evbuffer_[a-z_]*|bufferevent_[a-z_]*|evhttp_[a-z_]*|curl_[a-z_]*|wslay_[a-z_]*|gnutls_rnd|fprintf|fputs|fwrite|fputc|puts|printf|perror|cm_file_[a-z_]*|cm_write_all|cm_random_[a-z_]*|cm_uuid_generate|cm_time_wall_ms|cm_time_mono_ms|log_[a-z]*)$'
rc=0
for o in "$@"; do
	bad=$(nm -u "$o" | awk '{print $2}' | sed 's/@.*//' | grep -E "$forbidden" || true)
	if [ -n "$bad" ]; then
		echo "check-pure: $o calls $(echo $bad | tr '\n' ' ')- pass it in instead" >&2
		rc=1
	fi
done
exit $rc
