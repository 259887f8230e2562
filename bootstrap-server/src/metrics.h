/*
 * metrics.h - Prometheus counters of the bootstrap server: requests by route
 * and status, a latency histogram, swept rows, database errors and heartbeat
 * batches. Gauges that live in the database (registrations online/stale) are
 * read at scrape time by the route.
 */
#ifndef BS_METRICS_H
#define BS_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BS_METRICS_MAX_SERIES 128
#define BS_METRICS_BUCKETS 12
/* A refusal's log line at most this often per reason; the line counts the rest. */
#define BS_REFUSAL_LOG_INTERVAL_MS 10000

/* Why the server turned a client away (the reason label of bootstrap_refusals_total). */
enum bs_refusal {
	BS_REFUSE_CONNS_PER_IP,     /* --max-conns-per-ip: refused at accept */
	BS_REFUSE_CONNS_TOTAL,      /* --max-connections: refused at accept */
	BS_REFUSE_CONNS_PER_IP_503, /* just over --max-conns-per-ip: answered 503 */
	BS_REFUSE_CONNS_TOTAL_503,  /* just over --max-connections: answered 503 */
	BS_REFUSE_RATE_PER_IP,      /* --rate-limit-per-ip */
	BS_REFUSE_RATE_PER_NET,     /* --rate-limit-per-net */
	BS_REFUSE_RATE_PER_CERT,    /* --rate-limit */
	BS_REFUSE_FEEDBACK_PER_IP,  /* --feedback-per-ip */
	BS_REFUSE_FEEDBACK_PAIR,    /* one report per reporter and peer per window */
	BS_REFUSE_FEEDBACK_REPORTER, /* not a registered peer, or younger than --feedback-min-age */
	BS_REFUSE_FEEDBACK_CLAMPED, /* taken, but the score's move per window was bounded */
	BS_REFUSE_COUNT
};

struct bs_series {
	const char *route; /* static string */
	int status;
	uint64_t count;
};

struct bs_metrics {
	pthread_mutex_t lock;
	struct bs_series series[BS_METRICS_MAX_SERIES];
	size_t nseries;
	uint64_t latency_buckets[BS_METRICS_BUCKETS]; /* cumulative counts by upper bound */
	uint64_t latency_count;
	double latency_sum_s;
	uint64_t swept_rows;
	uint64_t db_errors;
	uint64_t heartbeat_batches, heartbeats_batched;
	uint64_t refusals[BS_REFUSE_COUNT];
	uint64_t unlogged[BS_REFUSE_COUNT]; /* refusals since the reason's last log line */
	int64_t logged_ms[BS_REFUSE_COUNT]; /* when that line was */
};

void bs_metrics_init(struct bs_metrics *m);
void bs_metrics_destroy(struct bs_metrics *m);

/* route must be a string that outlives m (a literal). */
void bs_metrics_request(struct bs_metrics *m, const char *route, int status, int64_t latency_us);
void bs_metrics_swept(struct bs_metrics *m, int64_t rows);
void bs_metrics_db_error(struct bs_metrics *m);
/* One transaction of n heartbeats (batcher.h). */
void bs_metrics_heartbeat_batch(struct bs_metrics *m, size_t n);

/*
 * Counts one refusal at now_ms (a monotonic clock). True when the caller
 * should log it: the first of a reason, then at most once per
 * BS_REFUSAL_LOG_INTERVAL_MS; *since is then the refusals the line stands
 * for (this one and those not logged before it).
 */
bool bs_metrics_refused(struct bs_metrics *m, enum bs_refusal r, int64_t now_ms,
			uint64_t *since);

/*
 * Prometheus text exposition of the counters plus the two gauges given.
 * Caller frees the string; NULL on allocation failure.
 */
char *bs_metrics_render(struct bs_metrics *m, int64_t online, int64_t stale);

#endif
