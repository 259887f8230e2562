/* sweeper.c - the sweeper thread. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "fb/log.h"
#include "server.h"
#include "sweeper.h"

#define SWEEP_BATCH_ROWS 1000

struct bs_sweeper {
	struct bs_server *srv;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
};

static void *
sweeper_main(void *arg)
{
	struct bs_sweeper *sw = arg;
	struct bs_store *st = bs_store_new(sw->srv->cfg->database);
	struct timespec deadline;
	int64_t deleted;

	pthread_mutex_lock(&sw->lock);
	while (!sw->stop) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += sw->srv->cfg->sweep_interval_s;
		while (!sw->stop && pthread_cond_timedwait(&sw->wake, &sw->lock, &deadline) == 0)
			;
		if (sw->stop || st == NULL)
			break;
		pthread_mutex_unlock(&sw->lock);
		int rc = bs_store_sweep(st, SWEEP_BATCH_ROWS, &deleted);
		if (rc != BS_STORE_OK)
			bs_metrics_db_error(&sw->srv->metrics);
		if (deleted > 0) {
			bs_metrics_swept(&sw->srv->metrics, deleted);
			log_info("%s: deleted %lld expired registrations", __func__,
				 (long long)deleted);
		}
		pthread_mutex_lock(&sw->lock);
	}
	pthread_mutex_unlock(&sw->lock);
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
