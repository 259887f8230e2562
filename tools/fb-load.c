/*
 * fb-load.c - a load generator for the bootstrap server: mutual TLS,
 * keep-alive, fixed concurrency (one connection and one identity each),
 * libcurl multi. Prints requests per second and latency percentiles.
 *
 *   fb-load --url URL --ca CA --certs DIR --concurrency C --mix register|heartbeat|discover
 *           [--duration-s S] [--repos N] [--json]
 *
 * Identity i is DIR/load<i>@example.com.crt and .key (self-signed is fine in
 * pinning mode). heartbeat registers every identity once before measuring.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fb/validate.h"

enum mix { MIX_REGISTER, MIX_HEARTBEAT, MIX_DISCOVER };

struct slot {
	CURL *easy;
	int index;
	char email[64];
	char crt[512], key[512];
	char body[1024];
	char url[1024];
	int64_t started_us;
	bool warmup;
};

struct run {
	const char *url, *ca, *certs;
	int concurrency, repos;
	int64_t duration_ms;
	enum mix mix;
	bool json;
	CURLM *multi;
	struct curl_slist *headers;
	int64_t *lat_us;
	size_t nlat, caplat;
	long errors, non200;
	uint64_t rng;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t
rnd(struct run *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 2685821657736338717ULL;
}

static size_t
discard(char *d, size_t s, size_t n, void *a)
{
	(void)d;
	(void)a;
	return s * n;
}

/* Sets up the next request of slot s (mode: the run's mix, or register for warm-up). */
static void
prepare(struct run *r, struct slot *s, enum mix mode)
{
	int i = s->index;

	curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
	switch (mode) {
	case MIX_REGISTER:
		snprintf(s->url, sizeof(s->url), "%s/api/bootstrap/register", r->url);
		snprintf(s->body, sizeof(s->body),
			 "{\"email\":\"%s\",\"socket_addresses\":[\"10.9.%d.%d\"],\"port\":7443,"
			 "\"repositories\":[{\"name\":\"repo-%d\"},{\"name\":\"repo-%d\"},"
			 "{\"name\":\"repo-%d\"}]}",
			 s->email, (i >> 8) & 255, i & 255, i % r->repos, (i + 1) % r->repos,
			 (i + 2) % r->repos);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
		break;
	case MIX_HEARTBEAT:
		snprintf(s->url, sizeof(s->url), "%s/api/bootstrap/heartbeat", r->url);
		snprintf(s->body, sizeof(s->body), "{\"email\":\"%s\"}", s->email);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
		break;
	case MIX_DISCOVER:
		snprintf(s->url, sizeof(s->url),
			 "%s/api/bootstrap/discover?repositories=repo-%d&limit=20", r->url,
			 (int)(rnd(r) % (uint64_t)r->repos));
		break;
	}
	curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
	s->started_us = now_us();
	curl_multi_add_handle(r->multi, s->easy);
}

static void
record(struct run *r, int64_t us)
{
	if (r->nlat == r->caplat) {
		size_t cap = r->caplat == 0 ? 65536 : r->caplat * 2;
		int64_t *l = realloc(r->lat_us, cap * sizeof(*l));

		if (l == NULL)
			return;
		r->lat_us = l;
		r->caplat = cap;
	}
	r->lat_us[r->nlat++] = us;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const struct run *r, double p)
{
	size_t i;

	if (r->nlat == 0)
		return 0;
	i = (size_t)(p * (double)(r->nlat - 1));
	return (double)r->lat_us[i] / 1000.0;
}

/* Drives every slot until deadline_us (or, in warm-up, until each did one request). */
static void
drive(struct run *r, struct slot *slots, bool warmup, int64_t deadline_us)
{
	int running = 0, pending = r->concurrency;

	for (int i = 0; i < r->concurrency; i++) {
		slots[i].warmup = warmup;
		prepare(r, &slots[i], warmup ? MIX_REGISTER : r->mix);
	}
	while (pending > 0) {
		CURLMsg *m;
		int left;

		curl_multi_perform(r->multi, &running);
		while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
			struct slot *s;
			long status = 0;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			curl_multi_remove_handle(r->multi, m->easy_handle);
			if (!warmup) {
				if (m->data.result != CURLE_OK)
					r->errors++;
				else if (status != 200)
					r->non200++;
				else
					record(r, now_us() - s->started_us);
			}
			if (warmup || now_us() >= deadline_us)
				pending--;
			else
				prepare(r, s, r->mix);
		}
		if (pending > 0)
			curl_multi_poll(r->multi, NULL, 0, 100, NULL);
	}
}

static int
usage(FILE *f, int rc)
{
	fprintf(f, "usage: fb-load --url URL --ca CA --certs DIR --concurrency C --mix "
		   "register|heartbeat|discover [--duration-s S] [--repos N] [--json]\n");
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"url", required_argument, NULL, 'u'},        {"ca", required_argument, NULL, 'a'},
		{"certs", required_argument, NULL, 'c'},      {"concurrency", required_argument, NULL, 'n'},
		{"mix", required_argument, NULL, 'm'},        {"duration-s", required_argument, NULL, 'd'},
		{"repos", required_argument, NULL, 'r'},      {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0},
	};
	struct run r = {.concurrency = 8, .repos = 10000, .duration_ms = 10000,
			.rng = 88172645463325252ULL};
	struct slot *slots;
	const char *mix = "discover";
	int64_t start, elapsed, n = 0;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u': r.url = optarg; break;
		case 'a': r.ca = optarg; break;
		case 'c': r.certs = optarg; break;
		case 'n':
			if (cm_parse_int(optarg, 1, INT_MAX, &n) != 0)
				return usage(stderr, 2);
			r.concurrency = (int)n;
			break;
		case 'm': mix = optarg; break;
		case 'd':
			if (cm_parse_int(optarg, 0, INT_MAX, &n) != 0)
				return usage(stderr, 2);
			r.duration_ms = n * 1000;
			break;
		case 'r':
			if (cm_parse_int(optarg, 1, INT_MAX, &n) != 0)
				return usage(stderr, 2);
			r.repos = (int)n;
			break;
		case 'j': r.json = true; break;
		case 'h': return usage(stdout, 0);
		default: return usage(stderr, 2);
		}
	}
	if (strcmp(mix, "register") == 0)
		r.mix = MIX_REGISTER;
	else if (strcmp(mix, "heartbeat") == 0)
		r.mix = MIX_HEARTBEAT;
	else if (strcmp(mix, "discover") == 0)
		r.mix = MIX_DISCOVER;
	else
		return usage(stderr, 2);
	if (r.url == NULL || r.ca == NULL || r.certs == NULL || r.concurrency < 1 || r.repos < 1)
		return usage(stderr, 2);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r.multi = curl_multi_init();
	curl_multi_setopt(r.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)r.concurrency);
	r.headers = curl_slist_append(NULL, "Content-Type: application/json");
	slots = calloc((size_t)r.concurrency, sizeof(*slots));
	for (int i = 0; i < r.concurrency; i++) {
		struct slot *s = &slots[i];

		s->index = i;
		snprintf(s->email, sizeof(s->email), "load%d@example.com", i);
		snprintf(s->crt, sizeof(s->crt), "%s/%s.crt", r.certs, s->email);
		snprintf(s->key, sizeof(s->key), "%s/%s.key", r.certs, s->email);
		s->easy = curl_easy_init();
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
		curl_easy_setopt(s->easy, CURLOPT_CAINFO, r.ca);
		curl_easy_setopt(s->easy, CURLOPT_SSLCERT, s->crt);
		curl_easy_setopt(s->easy, CURLOPT_SSLKEY, s->key);
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, r.headers);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 10000L);
		curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
	}
	/* Every identity registers once: heartbeats need a registration, and TLS is set up. */
	drive(&r, slots, true, 0);
	start = now_us();
	drive(&r, slots, false, start + r.duration_ms * 1000);
	elapsed = now_us() - start;
	qsort(r.lat_us, r.nlat, sizeof(*r.lat_us), cmp64);
	if (r.json)
		printf("{\"mix\":\"%s\",\"concurrency\":%d,\"requests\":%zu,\"errors\":%ld,"
		       "\"non_200\":%ld,\"req_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n",
		       mix, r.concurrency, r.nlat, r.errors, r.non200,
		       r.nlat * 1e6 / (double)elapsed, pct(&r, 0.50), pct(&r, 0.99));
	else
		printf("%-10s c=%-3d %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (%zu ok, %ld "
		       "errors, %ld not 200)\n",
		       mix, r.concurrency, r.nlat * 1e6 / (double)elapsed, pct(&r, 0.50),
		       pct(&r, 0.99), r.nlat, r.errors, r.non200);
	for (int i = 0; i < r.concurrency; i++)
		curl_easy_cleanup(slots[i].easy);
	free(slots);
	free(r.lat_us);
	curl_slist_free_all(r.headers);
	curl_multi_cleanup(r.multi);
	curl_global_cleanup();
	return r.errors > 0 || r.non200 > 0 ? 1 : 0;
}
