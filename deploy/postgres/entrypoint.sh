#!/bin/bash
# postgres-entrypoint.sh - the first start initialises PGDATA with the superuser
# POSTGRES_USER (default postgres), password POSTGRES_PASSWORD (required) and the
# database POSTGRES_DB (default POSTGRES_USER); every start then runs the server on
# all interfaces, password (scram-sha-256) authentication over TCP. Arguments are
# passed to postgres (-c name=value ...).
set -euo pipefail

# Started as root: the volume and the socket directory get to the postgres user,
# then this script runs again as that user.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 0700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set for the first start}"
	user=${POSTGRES_USER:-postgres}
	db=${POSTGRES_DB:-$user}
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 \
		--auth-local=trust --auth-host=scram-sha-256 >/dev/null
	rm -f "$pwfile"
	# initdb allows loopback only; the other containers come from the network.
	echo 'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
	if [ "$db" != postgres ]; then
		printf 'CREATE DATABASE "%s"\n' "${db//\"/\"\"}" |
			postgres --single -D "$PGDATA" postgres >/dev/null
	fi
	echo "postgres-entrypoint: initialised $PGDATA (user $user, database $db)" >&2
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
