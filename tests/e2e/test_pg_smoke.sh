#!/usr/bin/env bash
# A private PostgreSQL cluster starts on loopback, answers queries, and is gone
# after the test (the runner checks for leftovers).
set -euo pipefail
. "$(dirname "$0")/../lib/pg.sh"

fb_pg_start
fb_psql "CREATE TABLE t (id int PRIMARY KEY, v text)"
fb_psql "INSERT INTO t VALUES (1, 'flashback')"
fb_assert_eq "$(fb_psql "SELECT v FROM t WHERE id = 1")" "flashback" "row read back"
fb_assert_eq "$(fb_psql "SHOW listen_addresses")" "127.0.0.1" "listens on loopback only"
fb_assert_eq "$(fb_psql "SHOW server_version_num" | cut -c1-2)" "15" "PostgreSQL 15"
fb_pass "cluster on port $FB_PG_PORT answered"
