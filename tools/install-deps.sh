#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing.
# Quick and silent when everything is present.
set -euo pipefail

PACKAGES=(
	build-essential pkg-config clang clang-format
	libgnutls28-dev gnutls-bin libjansson-dev uuid-dev
	libmicrohttpd-dev libpq-dev postgresql postgresql-client
	libevent-dev libwslay-dev libcurl4-gnutls-dev libinih-dev
	check libsubunit-dev
	python3 python3-jsonschema python3-yaml
	curl jq iproute2 procps
	nodejs node-ws tshark
	gnuplot-nox
	aria2 opentracker mktorrent chromium
	python3-libtorrent openssl
	syncthing-relaysrv
	# bench-serf: Debian's serf, nftables counters per address, serf's RPC (msgpack).
	serf nftables python3-msgpack
	# test_container_deploy: podman-compose; runc where crun cannot run; CNI with
	# dnsname for the service names; debootstrap for a base image without a registry.
	podman podman-compose runc debootstrap iptables
	containernetworking-plugins golang-github-containernetworking-plugin-dnsname
	# man pages, make deb and its checks.
	scdoc debhelper lintian systemd man-db bash-completion
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
# npm: Debian's package, unless a nodejs build that carries its own npm is installed.
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]} (run as root or install them)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# The package enables a public relay (the pool, UPnP) at boot; the relay
# benchmark runs its own on loopback and needs only the binary.
if [[ " ${missing[*]} " == *" syncthing-relaysrv "* ]] && [ -d /run/systemd/system ]; then
	systemctl disable --now syncthing-relaysrv.service || true
fi
