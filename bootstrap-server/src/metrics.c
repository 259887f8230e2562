/* metrics.c - counters behind GET /metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* Upper bounds of the latency histogram, in seconds. */
static const double bucket_le[BS_METRICS_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
						     0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

static const char *const refusal_name[BS_REFUSE_COUNT] = {
	[BS_REFUSE_CONNS_PER_IP] = "conns_per_ip",
	[BS_REFUSE_CONNS_TOTAL] = "conns_total",
	[BS_REFUSE_CONNS_PER_IP_503] = "conns_per_ip_503",
	[BS_REFUSE_CONNS_TOTAL_503] = "conns_total_503",
	[BS_REFUSE_RATE_PER_IP] = "rate_per_ip",
	[BS_REFUSE_RATE_PER_NET] = "rate_per_net",
	[BS_REFUSE_RATE_PER_CERT] = "rate_per_cert",
	[BS_REFUSE_FEEDBACK_PER_IP] = "feedback_per_ip",
	[BS_REFUSE_FEEDBACK_PAIR] = "feedback_pair",
	[BS_REFUSE_FEEDBACK_REPORTER] = "feedback_reporter",
	[BS_REFUSE_FEEDBACK_CLAMPED] = "feedback_clamped",
};

void
bs_metrics_init(struct bs_metrics *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
}

void
bs_metrics_destroy(struct bs_metrics *m)
{
	pthread_mutex_destroy(&m->lock);
}

void
bs_metrics_request(struct bs_metrics *m, const char *route, int status, int64_t latency_us)
{
	double s = (double)latency_us / 1e6;
	size_t i;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nseries; i++)
		if (m->series[i].status == status && strcmp(m->series[i].route, route) == 0)
			break;
	if (i == m->nseries && m->nseries < BS_METRICS_MAX_SERIES)
		m->series[m->nseries++] = (struct bs_series){route, status, 0};
	if (i < m->nseries)
		m->series[i].count++;
	for (int b = 0; b < BS_METRICS_BUCKETS; b++)
		if (s <= bucket_le[b])
			m->latency_buckets[b]++;
	m->latency_count++;
	m->latency_sum_s += s;
	pthread_mutex_unlock(&m->lock);
}

void
bs_metrics_swept(struct bs_metrics *m, int64_t rows)
{
	pthread_mutex_lock(&m->lock);
	m->swept_rows += (uint64_t)rows;
	pthread_mutex_unlock(&m->lock);
}

void
bs_metrics_db_error(struct bs_metrics *m)
{
	pthread_mutex_lock(&m->lock);
	m->db_errors++;
	pthread_mutex_unlock(&m->lock);
}

void
bs_metrics_heartbeat_batch(struct bs_metrics *m, size_t n)
{
	pthread_mutex_lock(&m->lock);
	m->heartbeat_batches++;
	m->heartbeats_batched += n;
	pthread_mutex_unlock(&m->lock);
}

bool
bs_metrics_refused(struct bs_metrics *m, enum bs_refusal r, int64_t now_ms, uint64_t *since)
{
	bool log = false;

	pthread_mutex_lock(&m->lock);
	m->refusals[r]++;
	m->unlogged[r]++;
	if (m->unlogged[r] == m->refusals[r] || now_ms - m->logged_ms[r] >= BS_REFUSAL_LOG_INTERVAL_MS) {
		log = true;
		*since = m->unlogged[r];
		m->unlogged[r] = 0;
		m->logged_ms[r] = now_ms;
	}
	pthread_mutex_unlock(&m->lock);
	return log;
}

char *
bs_metrics_render(struct bs_metrics *m, int64_t online, int64_t stale)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	pthread_mutex_lock(&m->lock);
	fprintf(f, "# HELP bootstrap_requests_total HTTP requests by route and status.\n"
		   "# TYPE bootstrap_requests_total counter\n");
	for (size_t i = 0; i < m->nseries; i++)
		fprintf(f, "bootstrap_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
			m->series[i].route, m->series[i].status,
			(unsigned long long)m->series[i].count);
	fprintf(f, "# HELP bootstrap_request_duration_seconds Time to answer a request.\n"
		   "# TYPE bootstrap_request_duration_seconds histogram\n");
	for (int b = 0; b < BS_METRICS_BUCKETS; b++)
		fprintf(f, "bootstrap_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			bucket_le[b], (unsigned long long)m->latency_buckets[b]);
	fprintf(f,
		"bootstrap_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
		"bootstrap_request_duration_seconds_sum %.6f\n"
		"bootstrap_request_duration_seconds_count %llu\n",
		(unsigned long long)m->latency_count, m->latency_sum_s,
		(unsigned long long)m->latency_count);
	fprintf(f,
		"# HELP bootstrap_swept_rows_total Expired registrations deleted by this replica.\n"
		"# TYPE bootstrap_swept_rows_total counter\n"
		"bootstrap_swept_rows_total %llu\n"
		"# HELP bootstrap_db_errors_total Database calls that failed.\n"
		"# TYPE bootstrap_db_errors_total counter\n"
		"bootstrap_db_errors_total %llu\n"
		"# HELP bootstrap_heartbeat_batches_total Transactions the heartbeats went out in.\n"
		"# TYPE bootstrap_heartbeat_batches_total counter\n"
		"bootstrap_heartbeat_batches_total %llu\n"
		"# HELP bootstrap_heartbeats_batched_total Heartbeats sent to the database in batches.\n"
		"# TYPE bootstrap_heartbeats_batched_total counter\n"
		"bootstrap_heartbeats_batched_total %llu\n",
		(unsigned long long)m->swept_rows, (unsigned long long)m->db_errors,
		(unsigned long long)m->heartbeat_batches,
		(unsigned long long)m->heartbeats_batched);
	fprintf(f, "# HELP bootstrap_refusals_total Connections and requests turned away, by limit.\n"
		   "# TYPE bootstrap_refusals_total counter\n");
	for (int r = 0; r < BS_REFUSE_COUNT; r++)
		fprintf(f, "bootstrap_refusals_total{reason=\"%s\"} %llu\n", refusal_name[r],
			(unsigned long long)m->refusals[r]);
	pthread_mutex_unlock(&m->lock);
	fprintf(f,
		"# HELP bootstrap_registrations Unexpired registrations by state (-1: database "
		"unreachable).\n"
		"# TYPE bootstrap_registrations gauge\n"
		"bootstrap_registrations{state=\"online\"} %lld\n"
		"bootstrap_registrations{state=\"stale\"} %lld\n",
		(long long)online, (long long)stale);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
