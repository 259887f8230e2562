#!/bin/sh
# tools/oci-no-rlimits.sh - an OCI runtime for podman on hosts whose root lacks
# CAP_SYS_RESOURCE (some VMs and sandboxes): removes process.rlimits from the
# bundle's config.json (and from the process of an exec), so the container keeps the runtime's own limits, then runs
# the real runtime with the same arguments.
#
# Podman writes rlimits into every container (RLIMIT_NOFILE 1048576 and RLIMIT_NPROC
# for root, or the --ulimit values) and crun/runc cannot set them there:
#   Error: crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted: OCI permission denied
# Selected through a containers.conf (docs/operations.md):
#   [engine]
#   runtime = "norlimits"
#   [engine.runtimes]
#   norlimits = ["/path/to/tools/oci-no-rlimits.sh"]
#
# OCI_REAL_RUNTIME: the runtime to run (default runc, which also works with the
# hybrid cgroup v1/v2 layout that crun refuses). Conmon does not pass the caller's
# environment on, so a different default is set by editing this line or by a copy.
set -eu
real=${OCI_REAL_RUNTIME:-/usr/bin/runc}
# strip FILE FILTER : FILE without the rlimits FILTER names.
strip() {
	jq "del($2)" "$1" >"$1.tmp"
	mv "$1.tmp" "$1"
}
# create/run: --bundle DIR (DIR/config.json); exec: --process FILE (a process object).
bundle=
process=
prev=
for a in "$@"; do
	case $prev in
	--bundle | -b) bundle=$a ;;
	--process | -p) process=$a ;;
	esac
	case $a in
	--bundle=*) bundle=${a#--bundle=} ;;
	--process=*) process=${a#--process=} ;;
	esac
	prev=$a
done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
	strip "$bundle/config.json" .process.rlimits
fi
if [ -n "$process" ] && [ -f "$process" ]; then
	strip "$process" .rlimits
fi
exec "$real" "$@"
