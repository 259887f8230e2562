#!/usr/bin/env bash
# tools/debian-image.sh TARBALL [NAME]
#
# A Debian bookworm root file system from Debian packages alone (debootstrap
# --variant=minbase), for building the images of deploy/ where no container registry
# is reachable. Writes TARBALL (an uncompressed tar of the root) and, with NAME,
# imports it as that image with podman (or docker when podman is absent):
#
#   tools/debian-image.sh build/container/debian-bookworm.tar flashback-debian:bookworm
#   podman build --build-arg BASE_IMAGE=flashback-debian:bookworm -f deploy/Dockerfile .
#
# TARBALL is kept and reused while its key (suite, mirror, variant, extra packages)
# is unchanged: TARBALL.key holds the key it was made with.
#
#   DEBIAN_MIRROR  the mirror (default: the first URIs/deb line of /etc/apt/sources.list*
#                  naming this suite, else http://deb.debian.org/debian)
#   DEBIAN_SUITE   default bookworm
#   DEBIAN_INCLUDE comma-separated packages beyond minbase (default: none)
set -euo pipefail

tarball=${1:?usage: debian-image.sh TARBALL [NAME]}
name=${2:-}
suite=${DEBIAN_SUITE:-bookworm}
include=${DEBIAN_INCLUDE:-}

say() {
	printf 'debian-image: %s\n' "$*" >&2
}

# The host's own mirror: it is the one known to be reachable.
host_mirror() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v s="$suite" '
			$1 == "deb" && $3 == s && $2 ~ /^https?:/ { print $2; exit }
			$1 == "URIs:" { uri = $2 }
			$1 == "Suites:" && uri != "" { for (i = 2; i <= NF; i++) if ($i == s) { print uri; exit } }
			/^$/ { uri = "" }' "$f"
	done | head -n 1
}
mirror=${DEBIAN_MIRROR:-$(host_mirror)}
mirror=${mirror:-http://deb.debian.org/debian}

key="suite=$suite mirror=$mirror variant=minbase include=$include"
if [ -s "$tarball" ] && [ "$(cat "$tarball.key" 2>/dev/null)" = "$key" ]; then
	say "reusing $tarball ($key)"
else
	command -v debootstrap >/dev/null || { say "debootstrap is not installed"; exit 1; }
	[ "$(id -u)" -eq 0 ] || { say "debootstrap needs root"; exit 1; }
	mkdir -p "$(dirname "$tarball")"
	root=$(mktemp -d "$(dirname "$tarball")/root.XXXXXX")
	trap 'rm -rf "$root"' EXIT
	say "debootstrap $suite from $mirror"
	debootstrap --variant=minbase ${include:+--include="$include"} "$suite" "$root" "$mirror" \
		>"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
	rm -f "$root.log"
	# As in debian:*-slim: no package lists or downloaded packages in the image,
	# the Dockerfiles run apt-get update themselves.
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
		"$root"/var/log/*.log
	tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	printf '%s\n' "$key" >"$tarball.key"
fi

[ -n "$name" ] || exit 0
if command -v podman >/dev/null; then
	engine=podman
else
	engine=docker
fi
# A new import is a new image ID, which would void the layer cache of every build on
# it: the image is imported again only when its label says another tarball.
sum=$(sha256sum "$tarball" | cut -c1-64)
have=$("$engine" image inspect --format '{{index .Config.Labels "org.flashback.rootfs"}}' "$name" 2>/dev/null || true)
if [ "$have" = "$sum" ]; then
	say "$name is already $tarball ($engine)"
	exit 0
fi
"$engine" import --change 'CMD ["/bin/bash"]' --change "LABEL org.flashback.rootfs=$sum" \
	"$tarball" "$name" >"$tarball.import.log" 2>&1 || { cat "$tarball.import.log" >&2; exit 1; }
rm -f "$tarball.import.log"
say "imported $tarball as $name ($engine)"
