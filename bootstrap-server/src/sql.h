/*
 * sql.h - the statements the bootstrap server sends to PostgreSQL on its hot
 * paths, named so that tools can replay exactly them (make bench runs them in
 * pgbench to compare the server's throughput with the database's own).
 * Parameters are $1..$n as the functions in store.c pass them.
 */
#ifndef BS_SQL_H
#define BS_SQL_H

#include "fb/score.h"

#define PEER_JSON_BASE                                                                             \
	"'email', r.email, 'peer_id', r.peer_id, 'socket_addresses', "                             \
	"to_jsonb(r.socket_addresses),"                                                            \
	" 'port', r.port, 'repositories', r.repositories,"                                         \
	" 'public_certificate', r.public_certificate"
#define AVAILABILITY_SQL(hb)                                                                       \
	"LEAST(100.0, 100.0 * r.heartbeats / (floor(extract(epoch FROM now() - r.window_start) "   \
	"/ " hb ") + 1))"
#define PERFORMANCE_SQL                                                                            \
	"CASE WHEN f.latency_ms IS NULL THEN NULL ELSE GREATEST(0.0, LEAST(100.0, 100.0 * (1 - "   \
	"(ln(GREATEST(f.latency_ms, 10.0)) - ln(10.0)) / (ln(2000.0) - ln(10.0))))) END"
/*
 * Feedback: a peer without any starts from the latency of performance 50
 * (sqrt(10 x 2000) ms), what ranking assumes for it; within one window its
 * mean stays within a factor BS_FEEDBACK_STEP_SQL of where the window began,
 * so the score moves by at most 100 x ln(1.25) / ln(200) = 4.2 points per window.
 */
#define BS_FEEDBACK_PRIOR_SQL "141.42::double precision"
#define BS_FEEDBACK_STEP_SQL "1.25::double precision"

/* The pin of an email: read it; or insert it if absent and read whichever won ($1 email, $2
 * fingerprint). */
#define BS_SQL_PIN_READ "SELECT fingerprint FROM pins WHERE email = $1"
#define BS_SQL_PIN_INSERT                                                                          \
	"WITH ins AS (INSERT INTO pins (email, fingerprint) VALUES ($1, $2) "                      \
	"ON CONFLICT (email) DO NOTHING RETURNING fingerprint) "                                   \
	"SELECT fingerprint FROM ins UNION ALL "                                                   \
	"SELECT fingerprint FROM pins WHERE email = $1"

/*
 * One statement: upsert the row, drop repositories no longer hosted, add new
 * ones. A row that had expired starts over (new availability window).
 * $1 email, $2 peer_id, $3 fingerprint, $4 certificate, $5 is_broadcasting,
 * $6 addresses, $7 port, $8 repositories (jsonb), $9 capabilities (jsonb),
 * $10 ttl_s, $11 repository names.
 */
#define BS_SQL_REGISTER                                                                            \
	"WITH up AS ("                                                                             \
	" INSERT INTO registrations AS r (email, peer_id, fingerprint, public_certificate,"        \
	"  is_broadcasting, socket_addresses, port, repositories, capabilities, expires_at)"       \
	" VALUES ($1, $2::uuid, $3, $4, $5::boolean, $6::text[], $7::integer, $8::jsonb,"          \
	"  $9::jsonb, now() + make_interval(secs => $10::bigint))"                                 \
	" ON CONFLICT (email) DO UPDATE SET peer_id = EXCLUDED.peer_id,"                           \
	"  fingerprint = EXCLUDED.fingerprint,"                                                    \
	"  public_certificate = EXCLUDED.public_certificate,"                                      \
	"  is_broadcasting = EXCLUDED.is_broadcasting,"                                            \
	"  socket_addresses = EXCLUDED.socket_addresses, port = EXCLUDED.port,"                    \
	"  repositories = EXCLUDED.repositories, capabilities = EXCLUDED.capabilities,"            \
	"  expires_at = EXCLUDED.expires_at, last_heartbeat = now(),"                              \
	"  registered_at = CASE WHEN r.expires_at <= now() THEN now()"                             \
	"   ELSE r.registered_at END,"                                                             \
	"  window_start = CASE WHEN r.expires_at <= now() THEN now()"                              \
	"   ELSE r.window_start END,"                                                              \
	"  heartbeats = CASE WHEN r.expires_at <= now() THEN 1 ELSE r.heartbeats + 1 END"          \
	" RETURNING expires_at),"                                                                  \
	" del AS (DELETE FROM registration_repositories"                                           \
	"  WHERE email = $1 AND NOT (name = ANY($11::text[]))),"                                   \
	" ins AS (INSERT INTO registration_repositories (name, email)"                             \
	"  SELECT DISTINCT n, $1 FROM unnest($11::text[]) AS n ON CONFLICT DO NOTHING)"            \
	" SELECT (extract(epoch FROM expires_at) * 1000)::bigint FROM up"

/*
 * A heartbeat ($1 email, $2 ttl_s), of the rows matching extra; past 24 h the
 * availability window restarts at 12 h with half the count.
 */
#define BS_SQL_HEARTBEAT_WHERE(extra)                                                              \
	"UPDATE registrations SET last_heartbeat = now(),"                                         \
	" expires_at = now() + make_interval(secs => $2::bigint),"                                 \
	" heartbeats = CASE WHEN window_start < now() - interval '24 hours'"                       \
	"  THEN heartbeats / 2 + 1 ELSE heartbeats + 1 END,"                                       \
	" window_start = CASE WHEN window_start < now() - interval '24 hours'"                     \
	"  THEN now() - interval '12 hours' ELSE window_start END"                                 \
	" WHERE email = $1 AND expires_at > now()" extra                                           \
	" RETURNING (extract(epoch FROM expires_at) * 1000)::bigint"

#define BS_SQL_HEARTBEAT BS_SQL_HEARTBEAT_WHERE("")
/* Pinning mode: only the certificate the row was registered with ($3). */
#define BS_SQL_HEARTBEAT_PINNED BS_SQL_HEARTBEAT_WHERE(" AND fingerprint = $3")

/* The conditions of an online broadcasting registration ($1 stale_after_s, $3 email to leave out or
 * NULL). */
#define BS_SQL_ONLINE                                                                              \
	" r.is_broadcasting AND r.expires_at > now()"                                              \
	" AND r.last_heartbeat > now() - make_interval(secs => $1::bigint)"                        \
	" AND ($3::text IS NULL OR r.email <> $3)"

/*
 * Discover: online broadcasting hosts of any of the repositories $4 (not
 * NULL), best score first ($2 limit, $5 heartbeat_interval_s). The join starts
 * from the repository index, so the cost follows the number of hosts, not the
 * size of the table; the JSON is built for the rows returned only.
 */
#define BS_SQL_LIST_SCORED                                                                         \
	"SELECT json_build_object(" PEER_JSON_BASE                                                 \
	", 'availability_score', round(r.a::numeric, 3),"                                          \
	" 'performance_score', round(r.p::numeric, 3))::text FROM ("                               \
	" SELECT r.*, s.a, s.p, " CM_SCORE_SQL("s.a", "COALESCE(s.p, 50.0)") " AS score"           \
	" FROM (SELECT DISTINCT rr.email FROM registration_repositories rr"                        \
	"  WHERE rr.name = ANY($4::text[])) m"                                                     \
	" JOIN registrations r ON r.email = m.email"                                               \
	" LEFT JOIN feedback f ON f.email = r.email,"                                              \
	" LATERAL (SELECT " AVAILABILITY_SQL(                                                      \
	    "$5::bigint") " AS a, " PERFORMANCE_SQL " AS p) s"                                     \
	                  " WHERE" BS_SQL_ONLINE                                                   \
	                  " ORDER BY score DESC, r.email LIMIT $2::bigint) r"                      \
	                  " ORDER BY r.score DESC, r.email"

/*
 * A random sample of online broadcasting registrations ($2 limit; $4
 * repositories or NULL): an index range of sample_key from a random point,
 * wrapping around to the start when the range runs short.
 */
#define BS_SQL_LIST_SAMPLE                                                                         \
	"WITH k AS MATERIALIZED (SELECT random() AS v),"                                           \
	" pick AS ((SELECT r.email, r.sample_key FROM registrations r"                             \
	"  WHERE r.sample_key >= (SELECT v FROM k) AND" BS_SQL_ONLINE BS_SQL_IN_REPOS              \
	"  ORDER BY r.sample_key LIMIT $2::bigint)"                                                \
	" UNION ALL (SELECT r.email, r.sample_key + 1 FROM registrations r"                        \
	"  WHERE r.sample_key < (SELECT v FROM k) AND" BS_SQL_ONLINE BS_SQL_IN_REPOS               \
	"  ORDER BY r.sample_key LIMIT $2::bigint))"                                               \
	"SELECT json_strip_nulls(json_build_object(" PEER_JSON_BASE "))::text"                     \
	" FROM (SELECT email FROM pick ORDER BY sample_key LIMIT $2::bigint) p"                    \
	" JOIN registrations r ON r.email = p.email"

#define BS_SQL_IN_REPOS                                                                            \
	" AND ($4::text[] IS NULL OR r.email IN (SELECT rr.email FROM"                             \
	" registration_repositories rr WHERE rr.name = ANY($4::text[])))"

/*
 * Before a broadcasting registration: how many whitelist entries the table
 * holds, and whether $1 (a fingerprint) is one (admins change it at run time).
 */
#define BS_SQL_WHITELIST_CHECK                                                                     \
	"SELECT (SELECT count(*) FROM whitelist),"                                                 \
	" EXISTS (SELECT 1 FROM whitelist WHERE fingerprint = $1)"

#endif
