#!/usr/bin/env bash
# docker-entrypoint.sh - starts bootstrap-server configured by environment variables.
#
#   docker-entrypoint.sh [FLAG...]          check the files, check the configuration,
#                                           wait for PostgreSQL, exec the server
#   docker-entrypoint.sh healthcheck        GET /healthz on the BOOTSTRAP_LISTEN port
#   docker-entrypoint.sh COMMAND [ARG...]   run COMMAND instead (a shell, for debugging)
#
# The server itself reads DATABASE_URL, BOOTSTRAP_LISTEN, BOOTSTRAP_CERT, BOOTSTRAP_KEY
# and BOOTSTRAP_CLIENT_CA (and libpq its PG* variables). Every other flag can be given
# as BOOTSTRAP_<FLAG> (BOOTSTRAP_ADMIN_FINGERPRINTS=/certs/admins for
# --admin-fingerprints); FLAGs given as arguments come last and win.
#
#   BOOTSTRAP_BIN      the server binary (default: bootstrap-server on PATH)
#   BOOTSTRAP_DB_WAIT  seconds to wait for the database before giving up (default 60;
#                      0: do not wait). Uses pg_isready when installed, else a TCP
#                      connect to the host and port of DATABASE_URL (PGHOST/PGPORT).
#
# Exit status: 2 for a configuration problem, 1 when the database never answered.
set -euo pipefail
# As PID 1 without handlers, the shell would ignore `docker stop` while it waits.
trap 'exit 143' TERM
trap 'exit 130' INT

BIN=${BOOTSTRAP_BIN:-bootstrap-server}
DB_WAIT=${BOOTSTRAP_DB_WAIT:-60}
# Flags without a variable of the server's own, in the order of --help.
FLAG_VARS=(config ttl stale-after sweep-interval heartbeat-interval threads
	max-conns-per-ip max-connections conn-timeout rate-limit rate-limit-per-ip
	feedback-window feedback-min-age feedback-per-ip whitelist admin-fingerprints log-level)

say() {
	printf 'docker-entrypoint: %s\n' "$*" >&2
}

# die STATUS MESSAGE
die() {
	say "$2"
	exit "$1"
}

healthcheck() {
	local listen=${BOOTSTRAP_LISTEN:-127.0.0.1:8443} host port
	port=${listen##*:}
	host=${listen%:*}
	# A wildcard address is reached through loopback of the same family.
	case $host in
	0.0.0.0) host=127.0.0.1 ;;
	'[::]') host='[::1]' ;;
	esac
	exec curl -fsSkg --max-time 5 -o /dev/null "https://$host:$port/healthz"
}

# need_file VARIABLE PATH : the file must exist and be readable by this user.
need_file() {
	[ -e "$2" ] || die 2 "$1=$2: no such file (is the directory mounted into the container?)"
	[ -f "$2" ] || die 2 "$1=$2: not a regular file"
	[ -r "$2" ] ||
		die 2 "$1=$2: not readable by uid $EUID (make it readable by that user on the host)"
}

# has_flag NAME ARG... : true when --NAME or --NAME=... is among the arguments.
has_flag() {
	local name=$1 a
	shift
	for a in "$@"; do
		case $a in --"$name" | --"$name"=*) return 0 ;; esac
	done
	return 1
}

# Sets db_host and db_port from DATABASE_URL (a URI or key=value conninfo) or from
# PGHOST/PGPORT. Only the first host of a list is waited for; an empty host is
# libpq's default socket directory.
db_endpoint() {
	local url=${DATABASE_URL:-} rest word words
	db_host=${PGHOST:-}
	db_port=${PGPORT:-5432}
	case $url in
	postgres://* | postgresql://*)
		rest=${url#*://}
		rest=${rest%%[/?]*}
		rest=${rest##*@}
		rest=${rest%%,*}
		case $rest in
		\[*\]:*) db_host=${rest%%]*} db_host=${db_host#[} db_port=${rest##*]:} ;;
		\[*\]) db_host=${rest#[} db_host=${db_host%]} ;;
		*:*) db_host=${rest%%:*} db_port=${rest##*:} ;;
		?*) db_host=$rest ;;
		esac
		# A socket directory may be percent-encoded in the host part.
		db_host=$(printf '%b' "${db_host//%/\\x}")
		;;
	*=*)
		read -ra words <<<"$url"
		for word in "${words[@]}"; do
			case $word in
			host=*) db_host=${word#host=} db_host=${db_host%%,*} ;;
			port=*) db_port=${word#port=} db_port=${db_port%%,*} ;;
			esac
		done
		;;
	esac
	db_host=${db_host:-/var/run/postgresql}
}

db_probe() {
	if [ ${#probe[@]} -gt 0 ]; then
		"${probe[@]}"
		return
	fi
	# shellcheck disable=SC2016 # $0 and $1 belong to the inner shell
	case $db_host in
	/*) [ -S "$db_host/.s.PGSQL.$db_port" ] ;;
	*) timeout 3 "$BASH" -c 'exec 3<>"/dev/tcp/$0/$1"' "$db_host" "$db_port" 2>/dev/null ;;
	esac
}

# The server applies its migrations at start and exits when the database is down,
# so it is started only once the database answers.
wait_for_db() {
	local deadline=$((SECONDS + DB_WAIT)) rc where waited=0
	[ "$DB_WAIT" -gt 0 ] || return 0
	probe=()
	if command -v pg_isready >/dev/null 2>&1; then
		probe=(pg_isready -q -t 3)
		if [ -n "${DATABASE_URL:-}" ]; then
			probe+=(-d "$DATABASE_URL")
		fi
		where="the database (pg_isready)"
	else
		db_endpoint
		where="$db_host port $db_port"
	fi
	while :; do
		rc=0
		db_probe || rc=$?
		[ $rc -eq 0 ] && break
		# pg_isready 3: it could not even try (a malformed conninfo); the server will say why.
		if [ ${#probe[@]} -gt 0 ] && [ $rc -eq 3 ]; then
			return 0
		fi
		[ $waited = 1 ] || say "waiting up to $DB_WAIT s for $where"
		waited=1
		((SECONDS < deadline)) ||
			die 1 "$where did not accept connections within $DB_WAIT s (BOOTSTRAP_DB_WAIT)"
		sleep 1
	done
	[ $waited = 0 ] || say "$where accepts connections"
}

case ${1:-} in
healthcheck) healthcheck ;;
--help | --version) exec "$BIN" "$1" ;;
'' | -*) ;;
*) exec "$@" ;;
esac

command -v "$BIN" >/dev/null 2>&1 || die 2 "$BIN: not found (set BOOTSTRAP_BIN)"
[[ $DB_WAIT =~ ^[0-9]+$ ]] || die 2 "BOOTSTRAP_DB_WAIT=$DB_WAIT: expected a number of seconds"

flags=()
for name in "${FLAG_VARS[@]}"; do
	var=${name//-/_}
	var=BOOTSTRAP_${var^^}
	if [ -n "${!var:-}" ]; then
		flags+=("--$name" "${!var}")
	fi
done

# The certificate and key may also come from flags or a config file; otherwise the
# variables are required.
if ! has_flag config "$@" && [ -z "${BOOTSTRAP_CONFIG:-}" ]; then
	has_flag cert "$@" || [ -n "${BOOTSTRAP_CERT:-}" ] ||
		die 2 "BOOTSTRAP_CERT is not set (the server's certificate, PEM)"
	has_flag key "$@" || [ -n "${BOOTSTRAP_KEY:-}" ] ||
		die 2 "BOOTSTRAP_KEY is not set (the server's private key, PEM)"
fi
for var in BOOTSTRAP_CERT BOOTSTRAP_KEY BOOTSTRAP_CLIENT_CA BOOTSTRAP_CONFIG \
	BOOTSTRAP_WHITELIST BOOTSTRAP_ADMIN_FINGERPRINTS; do
	[ -z "${!var:-}" ] || need_file "$var" "${!var}"
done

# Configuration errors are reported at once, not after waiting for the database.
"$BIN" "${flags[@]}" "$@" --check-config || exit $?
wait_for_db
exec "$BIN" "${flags[@]}" "$@"
