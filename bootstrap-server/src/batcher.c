/* batcher.c - the heartbeat batching thread. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "batcher.h"

/*
 * One thread and one connection: while a batch is in the database, the next
 * one gathers. A second thread sending batches of half the size on a second
 * connection cost more (more transactions, more wake-ups on the cores the
 * workers need) than the overlap gained: 14,500 against 16,800 heartbeats/s
 * at 16 connections (docs/performance.md). One backend running batches of up
 * to BS_BATCH_MAX is far from what a replica's heartbeats need.
 */
struct bs_batcher {
	struct bs_store *store; /* the thread's own connection */
	pthread_t thread;
	bool started;
	struct bs_store_timing timing;
	struct bs_metrics *metrics;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct bs_batcher_job *head, *tail; /* FIFO */
	bool stop;
	bool joined;
};

int
bs_batcher_job_set(struct bs_batcher_job *job, const char *email, const char *fingerprint)
{
	size_t n = strlen(email), f = fingerprint != NULL ? strlen(fingerprint) : 0;

	if (n >= sizeof(job->email) || f >= sizeof(job->fingerprint))
		return -1;
	memcpy(job->email, email, n + 1);
	if (fingerprint != NULL)
		memcpy(job->fingerprint, fingerprint, f + 1);
	job->hb = (struct bs_store_heartbeat){.email = job->email,
					      .fingerprint = fingerprint != NULL ? job->fingerprint
										 : NULL};
	return 0;
}

/* Takes up to BS_BATCH_MAX jobs off the queue (lock held) into batch; returns how many. */
static size_t
take(struct bs_batcher *b, struct bs_batcher_job **batch)
{
	size_t n = 0;

	while (b->head != NULL && n < BS_BATCH_MAX) {
		batch[n++] = b->head;
		b->head = b->head->next;
	}
	if (b->head == NULL)
		b->tail = NULL;
	return n;
}

static void *
batcher_main(void *arg)
{
	struct bs_batcher *b = arg;
	struct bs_batcher_job *batch[BS_BATCH_MAX];
	struct bs_store_heartbeat *hb[BS_BATCH_MAX];
	size_t n;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		while (b->head == NULL && !b->stop)
			pthread_cond_wait(&b->wake, &b->lock);
		if ((n = take(b, batch)) == 0)
			break; /* stopping, and nothing left */
		pthread_mutex_unlock(&b->lock);
		for (size_t i = 0; i < n; i++)
			hb[i] = &batch[i]->hb;
		bs_store_heartbeats(b->store, hb, n, &b->timing);
		bs_metrics_heartbeat_batch(b->metrics, n);
		/* done may end the job's life (the request is answered): nothing touches it after. */
		for (size_t i = 0; i < n; i++)
			batch[i]->done(batch[i]);
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

struct bs_batcher *
bs_batcher_new(const char *conninfo, const struct bs_store_timing *t, struct bs_metrics *m)
{
	struct bs_batcher *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->timing = *t;
	b->metrics = m;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->wake, NULL);
	if ((b->store = bs_store_new(conninfo)) == NULL ||
	    pthread_create(&b->thread, NULL, batcher_main, b) != 0) {
		bs_batcher_free(b);
		return NULL;
	}
	b->started = true;
	return b;
}

int
bs_batcher_submit(struct bs_batcher *b, struct bs_batcher_job *job, void (*before)(void *),
		  void *arg)
{
	pthread_mutex_lock(&b->lock);
	if (b->stop) {
		pthread_mutex_unlock(&b->lock);
		return -1;
	}
	before(arg);
	job->next = NULL;
	if (b->tail != NULL)
		b->tail->next = job;
	else
		b->head = job;
	b->tail = job;
	pthread_cond_signal(&b->wake);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

void
bs_batcher_stop(struct bs_batcher *b)
{
	if (b == NULL || b->joined)
		return;
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_broadcast(&b->wake);
	pthread_mutex_unlock(&b->lock);
	if (b->started)
		pthread_join(b->thread, NULL);
	b->joined = true;
}

void
bs_batcher_free(struct bs_batcher *b)
{
	if (b == NULL)
		return;
	bs_batcher_stop(b);
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->lock);
	bs_store_free(b->store);
	free(b);
}
