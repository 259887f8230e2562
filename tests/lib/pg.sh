# tests/lib/pg.sh - a private PostgreSQL cluster for one test.
# fb_pg_start exports FB_PG_HOST, FB_PG_PORT, FB_PG_DB, FB_PG_USER, FB_PG_DIR and
# DATABASE_URL, and stops the cluster at exit. As root, the server runs as the
# postgres user (initdb refuses root).

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

fb_pg_bindir() {
	local d
	for d in "$(pg_config --bindir 2>/dev/null)" /usr/lib/postgresql/15/bin; do
		[ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
	done
	fb_fail "PostgreSQL server binaries not found (package postgresql)"
}

# Runs a command as the cluster's owner.
_fb_pg_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

fb_pg_start() {
	local bin dir
	bin=$(fb_pg_bindir)
	dir=$(fb_tmpdir)
	FB_PG_PORT=$(fb_free_port 127.0.0.1)
	FB_PG_HOST=127.0.0.1
	FB_PG_DB=flashback
	FB_PG_USER=postgres
	FB_PG_DIR=$dir
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	_fb_pg_as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 \
		--no-sync >"$dir/initdb.log" 2>&1 || fb_fail "initdb failed: $(tail -3 "$dir/initdb.log")"
	fb_on_exit "_fb_pg_as_owner '$bin/pg_ctl' -D '$dir/data' -m immediate -w stop"
	# A port found free can be taken before the server binds it: try a few.
	for attempt in 1 2 3; do
		if _fb_pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o \
			"-c listen_addresses=127.0.0.1 -k $dir -p $FB_PG_PORT -c fsync=off -c full_page_writes=off -c max_connections=200" \
			start >/dev/null; then
			break
		fi
		grep -q 'could not create any TCP/IP sockets' "$dir/server.log" && [ "$attempt" -lt 3 ] ||
			fb_fail "PostgreSQL did not start: $(tail -3 "$dir/server.log")"
		FB_PG_PORT=$(fb_free_port 127.0.0.1)
	done
	fb_wait_for 30 "$bin/pg_isready" -h 127.0.0.1 -p "$FB_PG_PORT" ||
		fb_fail "PostgreSQL not ready"
	psql -h 127.0.0.1 -p "$FB_PG_PORT" -U postgres -qAt -c "CREATE DATABASE $FB_PG_DB" postgres ||
		fb_fail "cannot create the database"
	DATABASE_URL="postgresql://postgres@127.0.0.1:$FB_PG_PORT/$FB_PG_DB"
	export FB_PG_HOST FB_PG_PORT FB_PG_DB FB_PG_USER FB_PG_DIR DATABASE_URL
}

# fb_pg_stop / fb_pg_restart : for fault tests.
fb_pg_stop() {
	_fb_pg_as_owner "$(fb_pg_bindir)/pg_ctl" -D "$FB_PG_DIR/data" -m fast -w stop >/dev/null
}

fb_pg_restart_stopped() {
	_fb_pg_as_owner "$(fb_pg_bindir)/pg_ctl" -D "$FB_PG_DIR/data" -l "$FB_PG_DIR/server.log" \
		-w -t 30 -o \
		"-c listen_addresses=127.0.0.1 -k $FB_PG_DIR -p $FB_PG_PORT -c fsync=off -c max_connections=200" \
		start >/dev/null
}

# fb_psql SQL : runs SQL on the test database, unaligned, tuples only.
fb_psql() {
	psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -c "$1"
}
