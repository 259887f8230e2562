/* sweeper.c - the sweeper thread. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "fb/log.h"
#include "fb/timeutil.h"
#include "server.h"
#include "sweeper.h"

#define SWEEP_BATCH_ROWS 1000
#define SWEEP_MAX_BATCHES 10000 /* 10 million rows a sweep; the next sweep goes on */
#define SWEEP_REST_PER_WORK 4    /* ms of rest per ms of batch: a fifth of one core */

struct bs_sweeper {
	struct bs_server *srv;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
};

/* Sleeps ms (monotonic) unless stopped first. Returns false when stopping. */
static bool
rest(struct bs_sweeper *sw, int64_t ms)
{
	struct timespec deadline;
	bool go_on;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&sw->lock);
	while (!sw->stop && pthread_cond_timedwait(&sw->wake, &sw->lock, &deadline) == 0)
		;
	go_on = !sw->stop;
	pthread_mutex_unlock(&sw->lock);
	return go_on;
}

/*
 * One sweep, if no other replica is sweeping. Deleting a mass expiry's rows
 * back to back would take a whole core from a busy server for seconds, so
 * after each full batch the thread rests four times as long as the batch
 * took. Reads never return expired rows, so a slower sweep costs nothing but
 * time (100k rows: about 7 s on two cores).
 */
static void
sweep(struct bs_sweeper *sw, struct bs_store *st)
{
	int64_t t0 = cm_time_mono_ms(), deleted = 0, n, took_ms;
	int batches = 0, rc;
	bool locked;

	rc = bs_store_sweep_lock(st, &locked);
	if (rc == BS_STORE_OK && locked) {
		while (batches < SWEEP_MAX_BATCHES) {
			int64_t b0 = cm_time_mono_ms();

			rc = bs_store_sweep_batch(st, SWEEP_BATCH_ROWS, &n);
			deleted += n;
			batches++;
			if (rc != BS_STORE_OK || n < SWEEP_BATCH_ROWS ||
			    !rest(sw, (cm_time_mono_ms() - b0) * SWEEP_REST_PER_WORK))
				break;
		}
		bs_store_sweep_unlock(st);
	}
	if (rc != BS_STORE_OK)
		bs_metrics_db_error(&sw->srv->metrics);
	if (deleted > 0) {
		took_ms = cm_time_mono_ms() - t0;
		bs_metrics_swept(&sw->srv->metrics, deleted);
		log_info("%s: deleted %lld expired registrations in %d batches, %lld ms", __func__,
			 (long long)deleted, batches, (long long)took_ms);
	}
}

static void *
sweeper_main(void *arg)
{
	struct bs_sweeper *sw = arg;
	struct bs_store *st = bs_store_new(sw->srv->cfg->database);

	while (st != NULL && rest(sw, sw->srv->cfg->sweep_interval_s * 1000))
		sweep(sw, st);
	bs_store_free(st);
	return NULL;
}

struct bs_sweeper *
bs_sweeper_start(struct bs_server *s)
{
	struct bs_sweeper *sw = calloc(1, sizeof(*sw));
	pthread_condattr_t attr;

	if (sw == NULL)
		return NULL;
	sw->srv = s;
	pthread_mutex_init(&sw->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&sw->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&sw->thread, NULL, sweeper_main, sw) != 0) {
		pthread_cond_destroy(&sw->wake);
		pthread_mutex_destroy(&sw->lock);
		free(sw);
		return NULL;
	}
	return sw;
}

void
bs_sweeper_stop(struct bs_sweeper *sw)
{
	if (sw == NULL)
		return;
	pthread_mutex_lock(&sw->lock);
	sw->stop = true;
	pthread_cond_signal(&sw->wake);
	pthread_mutex_unlock(&sw->lock);
	pthread_join(sw->thread, NULL);
	pthread_cond_destroy(&sw->wake);
	pthread_mutex_destroy(&sw->lock);
	free(sw);
}
