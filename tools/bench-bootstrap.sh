#!/usr/bin/env bash
# tools/bench-bootstrap.sh [BUILD] - the bootstrap server under load, against
# pgbench running the very statements the server issues (tools/fb-sql prints
# them from bootstrap-server/src/sql.h) at the same client count, prepared as the
# server prepares them.
#
# A private PostgreSQL holds BENCH_REGISTRATIONS (100k) registrations over
# BENCH_REPOS (10k) repositories. For each mix (health, /healthz: the request
# path without the database; register; heartbeat; discover; BENCH_MIXES picks
# a subset) fb-load drives BENCH_CONCURRENCY (16) connections for
# BENCH_DURATION_S (5) s, then pgbench runs the request's statements as one
# script at as many clients, BENCH_ROUNDS (3) times in turn; medians are
# printed. Heartbeat runs again at BENCH_HIGH_CONCURRENCY (64). Last,
# discover at BENCH_SWEEP_CONCURRENCY (1) connections, then the same while
# the sweeper deletes N expired rows, ROUNDS times: the p99 of the requests
# served during the sweep (fb-load --trace, and the sweeper's log line)
# against the run before.
set -euo pipefail
export FB_BUILD=$(cd "${1:-build}" && pwd)
export FB_TEST_NAME=bench-bootstrap
. "$(dirname "$0")/../tests/lib/bootstrap.sh"

C=${BENCH_CONCURRENCY:-16}
HC=${BENCH_HIGH_CONCURRENCY:-64} # heartbeat once more, with this many connections
SC=${BENCH_SWEEP_CONCURRENCY:-1}  # discover connections before and during the sweep
D=${BENCH_DURATION_S:-5}
ROUNDS=${BENCH_ROUNDS:-3}
N=${BENCH_REGISTRATIONS:-100000}
R=${BENCH_REPOS:-10000}
bin=$(fb_pg_bindir)

fb_bs_setup
fb_bs_start bench --rate-limit 1000000 --rate-limit-per-ip 1000000 --max-conns-per-ip 1024 --sweep-interval 1 --threads "${BENCH_THREADS:-$((2 * $(nproc)))}"
certs=$(fb_tmpdir)
for ((i = 0; i < (C > HC ? C : HC); i++)); do fb_make_selfsigned_client "$certs" "load$i@example.com"; done
cert_pem=$(cat "$certs/load0@example.com.crt")

echo "loading $N registrations over $R repositories..."
psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -v cert="$cert_pem" <<SQL
INSERT INTO registrations (email, peer_id, fingerprint, public_certificate, is_broadcasting,
    socket_addresses, port, repositories, capabilities, expires_at)
SELECT 'pre' || i || '@example.com', gen_random_uuid(), md5(i::text) || md5((-i)::text), :'cert',
    true, ARRAY['10.' || (i / 65536) % 256 || '.' || (i / 256) % 256 || '.' || i % 256], 7443,
    jsonb_build_array(jsonb_build_object('name', 'repo-' || i % $R),
                      jsonb_build_object('name', 'repo-' || (i + 3331) % $R),
                      jsonb_build_object('name', 'repo-' || (i + 7919) % $R)),
    '{"max_peers": 8, "supports_torrent": false, "bandwidth_estimate": 0}', now() + interval '1 hour'
FROM generate_series(1, $N) AS i;
INSERT INTO registration_repositories (name, email)
SELECT DISTINCT 'repo-' || (i + k) % $R, 'pre' || i || '@example.com'
FROM generate_series(1, $N) AS i, unnest(ARRAY[0, 3331, 7919]) AS k;
ANALYZE;
SQL

# load MIX [CONCURRENCY [FB-LOAD OPTIONS...]]
load() {
	"$FB_BUILD/bin/fb-load" --url "$FB_BS_URL" --ca "$FB_CERTS/ca/ca.crt" --certs "$certs" \
		--concurrency "${2:-$C}" --duration-s "$D" --repos "$R" --mix "$1" --json "${@:3}"
}

# The statements of one request, with literals and pgbench variables for $n.
email="('load' || :n::text || '@example.com')"
fp=$(fb_fingerprint "$certs/load0@example.com.crt")
sql() {
	local text k
	text=$("$FB_BUILD/bin/fb-sql" "$1")
	shift
	# Highest numbers first, so $1 does not eat the start of $10 and $11.
	for ((k = $#; k >= 1; k--)); do
		text=${text//\$$k/${!k}}
	done
	printf '%s;\n' "$text"
}
scripts=$(fb_tmpdir)
esc_pem=${cert_pem//\'/\'\'}
{
	echo "\\set n random(0, $((C - 1)))"
	sql pin-read "$email"
	sql whitelist-check "'$fp'"
	sql register "$email" "'7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f'" "'$fp'" "'$esc_pem'" "'t'" \
		"'{10.9.0.1}'" "'7443'" "'[{\"name\": \"repo-1\"}, {\"name\": \"repo-2\"}, {\"name\": \"repo-3\"}]'" \
		"'{\"max_peers\": 8, \"supports_torrent\": false, \"bandwidth_estimate\": 0}'" "'3600'" \
		"'{repo-1,repo-2,repo-3}'"
	sql pin-insert "$email" "'$fp'"
	sql list-sample "'900'" "'20'" "$email" "NULL"
} >"$scripts/register.sql"
# Client i heartbeats load<i>'s row, as fb-load's connection i does.
{
	echo '\set n :client_id'
	sql heartbeat-pinned "$email" "'3600'" "'$fp'"
} >"$scripts/heartbeat.sql"
{
	echo "\\set n random(0, $((C - 1)))"
	echo "\\set r random(0, $((R - 1)))"
	sql pin-read "$email"
	sql list-scored "'900'" "'20'" "NULL" "('{repo-' || :r::text || '}')" "'30'"
} >"$scripts/discover.sql"

metric() { curl -sS --cacert "$FB_CERTS/ca/ca.crt" "$FB_BS_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# pgbench's heartbeats must update rows as the server's do, so the rows they
# name carry the script's fingerprint (a row pinned to another certificate is
# an index lookup that updates nothing). fb-load's registrations put the
# real fingerprints back before the server is measured again.
match_fingerprints() {
	fb_psql "UPDATE registrations SET fingerprint = '$fp' WHERE email LIKE 'load%' OR email IN
		(SELECT 'pre' || g || '@example.com' FROM generate_series(1, $1) AS g)" >/dev/null
}

# pgbench_pipelined B: statements per second of the heartbeat statement sent
# as the server sends it: B rows to a pipelined transaction, client i taking
# rows pre<i*B+1> to pre<i*B+B> in order.
pgbench_pipelined() {
	{
		echo '\startpipeline'
		for ((row = 1; row <= $1; row++)); do
			sql heartbeat-pinned "('pre' || (:client_id * $1 + $row)::text || '@example.com')" "'3600'" "'$fp'"
		done
		echo '\endpipeline'
	} >"$scripts/heartbeat-pipelined.sql"
	pgbench_tps heartbeat-pipelined | awk -v b="$1" '{ printf "%.0f", $1 * b }'
}

# pgbench_tps SCRIPT [CLIENTS]
pgbench_tps() {
	"$bin/pgbench" -n -M prepared -c "${2:-$C}" -j 2 -T "$D" -f "$scripts/$1.sql" "$DATABASE_URL" 2>&1 |
		awk '/^tps = / { print $3 }'
}

# median NUMBERS...
median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# span NUMBERS...: "lowest-highest".
span() {
	printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'
}

# measure MIX CONNS NOTE: ROUNDS alternating pairs of fb-load and pgbench (the
# machine's speed drifts by tens of per cent from minute to minute; a pair
# sees the same machine); prints the medians, and the range of the ratios.
measure() {
	local mix=$1 conns=$2 note=$3 r out tps rps=() tpss=() p50=() p99=() ratios=()
	for ((r = 0; r < ROUNDS; r++)); do
		out=$(load "$mix" "$conns")
		rps+=("$(jq -r .req_per_s <<<"$out")")
		p50+=("$(jq -r .p50_ms <<<"$out")")
		p99+=("$(jq -r .p99_ms <<<"$out")")
		# health (/healthz) touches no database: the request path alone, nothing to compare.
		[[ $mix == health ]] && continue
		[[ $mix == heartbeat ]] && match_fingerprints $((conns * 64)) # 64: BS_BATCH_MAX
		tps=$(pgbench_tps "$mix" "$conns")
		tpss+=("$tps")
		ratios+=("$(awk -v a="${rps[r]}" -v b="$tps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')")
	done
	printf '%-10s %12.0f %10.2f %10.2f ' "$mix" "$(median "${rps[@]}")" "$(median "${p50[@]}")" \
		"$(median "${p99[@]}")"
	if [[ $mix == health ]]; then
		printf '%14s %8s %s\n' - - "$note"
	else
		printf '%14.0f %8.2f %s %s\n' "$(median "${tpss[@]}")" "$(median "${ratios[@]}")" \
			"$(span "${ratios[@]}")" "$note"
	fi
}

printf '\n%-10s %12s %10s %10s %14s %8s %s\n' mix "server req/s" "p50 ms" "p99 ms" "pgbench tps" ratio \
	"(medians of $ROUNDS rounds; ratio range)"
for mix in ${BENCH_MIXES:-health register heartbeat discover}; do
	batches0=$(metric bootstrap_heartbeat_batches_total)
	batched0=$(metric bootstrap_heartbeats_batched_total)
	measure "$mix" "$C" ""
	[[ $mix == heartbeat ]] || continue
	# The server sends heartbeats in pipelined batches: pgbench the same, for the record.
	batches=$(($(metric bootstrap_heartbeat_batches_total) - batches0))
	batched=$(($(metric bootstrap_heartbeats_batched_total) - batched0))
	b=$(awk -v a="$batched" -v n="$batches" 'BEGIN { b = n > 0 ? int(a / n + 0.5) : 1; print (b < 1 ? 1 : b) }')
	printf '%-10s   mean batch %s (%s heartbeats in %s transactions); pgbench with batches of %s: %s statements/s\n' \
		"" "$(awk -v a="$batched" -v n="$batches" 'BEGIN { printf "%.1f", (n > 0 ? a / n : 0) }')" \
		"$batched" "$batches" "$b" "$(pgbench_pipelined "$b")"
	# Many agents at once: the server's batches grow while its heartbeats
	# keep one database connection; pgbench has one backend per client.
	measure heartbeat "$HC" "($HC connections, $HC pgbench clients)"
done
# Latency without queueing, one client at a time; then the same while the
# sweeper (every 1 s, batched) deletes N expired rows, taking the requests that
# ended during the sweep (its log line gives its end and length). ROUNDS
# alternating pairs, each sweep against the run just before it.
sweep_log=$FB_CERTS/bench.log
trace=$scripts/trace
base=() base_p50=() base_rps=() swp=() swp_p50=() swp_rps=() swp_n=() ratios=() swept=() took=() left=()
unfinished=0
expired_rows() { fb_psql "SELECT count(*) FROM registrations WHERE expires_at <= now()"; }
sweep_done() { [ "$(expired_rows)" = 0 ]; }
for ((r = 0; r < ROUNDS; r++)); do
	out=$(load discover "$SC")
	base+=("$(jq -r .p99_ms <<<"$out")")
	base_p50+=("$(jq -r .p50_ms <<<"$out")")
	base_rps+=("$(jq -r .req_per_s <<<"$out")")
	# One transaction: the sweeper must not take the rows before their repositories exist.
	psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -v cert="$cert_pem" <<SQL
BEGIN;
INSERT INTO registrations (email, peer_id, fingerprint, public_certificate, is_broadcasting,
    socket_addresses, port, repositories, capabilities, expires_at)
SELECT 'old$r-' || i || '@example.com', gen_random_uuid(), md5(i::text) || md5(i::text), :'cert', true,
    ARRAY['10.200.' || (i / 256) % 256 || '.' || i % 256], 7443,
    jsonb_build_array(jsonb_build_object('name', 'repo-' || i % $R)), NULL, now() - interval '1 second'
FROM generate_series(1, $N) AS i;
INSERT INTO registration_repositories (name, email)
SELECT 'repo-' || i % $R, 'old$r-' || i || '@example.com' FROM generate_series(1, $N) AS i;
COMMIT;
SQL
	lines0=$(wc -l <"$sweep_log")
	# Three times as long as other runs, so the whole sweep falls within it.
	D=$((3 * D)) load discover "$SC" --trace "$trace" >/dev/null
	left+=("$(expired_rows)")
	# "TIME INFO  sweep: deleted N expired registrations in B batches, T ms": the
	# sweep ran from TIME - T to TIME (one sweep, or the first to the last).
	window=$(tail -n +$((lines0 + 1)) "$sweep_log" | awk '/ deleted [0-9]+ expired registrations in / {
		cmd = "date -d " $1 " +%s%3N"; cmd | getline end; close(cmd)
		if (!n++ || end - $(NF - 1) < from) from = end - $(NF - 1)
		if (end > to) to = end
		rows += $(NF - 7)
	} END { printf "%d %.0f %.0f\n", rows, from, to }')
	read -r rows from to <<<"$window"
	swept+=("$rows")
	took+=($((to - from)))
	# A sweep that outlasted the run is not measured; the next round starts clean.
	if [[ ${left[-1]} != 0 || $rows != "$N" ]]; then
		unfinished=$((unfinished + 1))
		fb_wait_for 120 sweep_done || fb_fail "the sweeper did not delete $N expired rows in 120 s"
		continue
	fi
	# p50 and p99 as fb-load takes them: the value at rank floor(p * (n - 1)).
	stats=$(awk -v from="$from" -v to="$to" '$1 >= from && $1 <= to { print $2 }' "$trace" | sort -g |
		awk '{ v[NR - 1] = $1 } END { n = NR; if (!n) { print 0, 0, 0; exit }
			print n, v[int(0.5 * (n - 1))] / 1000, v[int(0.99 * (n - 1))] / 1000 }')
	read -r n p50 p99 <<<"$stats"
	swp_n+=("$n")
	swp_p50+=("$p50")
	swp+=("$p99")
	swp_rps+=("$(awk -v n="$n" -v ms=$((to - from)) 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }')")
	ratios+=("$(awk -v a="$p99" -v b="${base[-1]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')")
done
list() { local IFS=/; echo "$*"; }
if ((SC == 1)); then who="one client"; else who="$SC connections"; fi
printf '%-10s %12.0f %10.2f %10.2f   %s%s\n' discover \
	"$(median "${base_rps[@]}")" "$(median "${base_p50[@]}")" "$(median "${base[@]}")" "$who" \
	"$( ((SC > 1)) || echo ': service time, no queueing')"
((unfinished < ROUNDS)) || fb_fail "no sweep fit in a $((3 * D)) s run"
printf '%-10s %12.0f %10.2f %10.2f   %s, the requests served while the sweeper deleted\n' \
	discover "$(median "${swp_rps[@]}")" "$(median "${swp_p50[@]}")" "$(median "${swp[@]}")" "$who"
printf '%-10s %12s %10s %10s   %s expired rows in %s ms (%s requests; %s left): p99 x%s (%s)\n' \
	"" "" "" "" "$(list "${swept[@]}")" "$(list "${took[@]}")" "$(list "${swp_n[@]}")" \
	"$(list "${left[@]}")" "$(median "${ratios[@]}")" "$(span "${ratios[@]}")"
((unfinished == 0)) || echo "($unfinished of $ROUNDS sweeps outlasted their run and are not counted)"
echo "(concurrency $C unless said, $D s per run, $N registrations over $R repositories, $(nproc) cores," \
	"load generator, server and PostgreSQL on the same cores)"
