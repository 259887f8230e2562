/*
 * metrics.h - Prometheus counters of the bootstrap server: requests by route
 * and status, a latency histogram, swept rows, database errors and heartbeat
 * batches. Gauges that live in the database (registrations online/stale) are
 * read at scrape time by the route.
 */
#ifndef BS_METRICS_H
#define BS_METRICS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define BS_METRICS_MAX_SERIES 128
#define BS_METRICS_BUCKETS 12

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
 * Prometheus text exposition of the counters plus the two gauges given.
 * Caller frees the string; NULL on allocation failure.
 */
char *bs_metrics_render(struct bs_metrics *m, int64_t online, int64_t stale);

#endif
