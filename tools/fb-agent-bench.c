/*
 * fb-agent-bench.c - what the agent's gossip core costs: signed announcements
 * verified and applied per second on one core (origins with ECDSA P-256 keys,
 * then with Ed25519 ones), duplicates and known records
 * dropped per second, resident memory per known peer at 10k and 100k table
 * entries, and memory per open TLS + WebSocket session.
 */
#include <event2/event.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/engine.h"
#include "net/transport.h"
#include "fb/codec.h"
#include "fb/identity.h"
#include "fb/timeutil.h"
#include "fb/random.h"
#include "fb/validate.h"

#define ORIGINS 200
#define SEQS 10
#define DUPLICATE_ROUNDS 50 /* the duplicates pass is fast: repeated, so it lasts long enough to time */
#define SHAPE_ENTRIES 2000 /* the request-shape bench: entries of CM_MAX_REPOSITORIES each */
#define SHAPE_REQUESTS 20

/* A fixed key: the bench wants runs that repeat. */
static const struct cm_hash_key bench_key = {0x6265, 0x6e63};

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rng_next(void *ctx)
{
	(void)ctx;
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static struct engine_rng rng = {rng_next, NULL};

/* Resident set size now, in KiB (from /proc/self/statm). */
static long
rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Heap bytes in use: unlike RSS, freed memory that stays mapped does not count. */
static long
heap_bytes(void)
{
	return (long)mallinfo2().uordblks;
}

static void
record_of(struct cm_peer_record *r, const char *email, int64_t seq, int64_t now, int n)
{
	char ip[32], repo[32];

	memset(r, 0, sizeof(*r));
	r->email = strdup(email);
	r->peer_id = strdup("7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f");
	r->seq = seq;
	r->issued_at_ms = now;
	r->is_broadcasting = true;
	snprintf(ip, sizeof(ip), "10.%d.%d.%d", (n >> 16) & 255, (n >> 8) & 255, n & 255);
	cm_strlist_append(&r->socket_addresses, ip);
	r->port = 7443;
	for (int i = 0; i < 4; i++) {
		snprintf(repo, sizeof(repo), "repo-%d-%d", n % 1000, i);
		cm_repolist_append(&r->repositories, repo, NULL);
	}
	r->capabilities.max_peers = 8;
}

static char *
announcement(const struct cm_signed_record *rec, const char *sender)
{
	struct cm_envelope env = {0};
	char id[CM_UUID_TEXT_LEN + 1];
	json_t *j;
	char *s;

	cm_uuid_generate(id);
	env.v = 1;
	env.id = id;
	env.type = CM_MSG_PEER_ANNOUNCEMENT;
	env.ttl = 1; /* applied, not forwarded: this measures receiving */
	env.timestamp_ms = rec->record.issued_at_ms;
	env.sender_email = (char *)sender;
	env.sender_peer_id = "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f";
	env.payload.announcement.origin = *rec;
	j = cm_envelope_encode(&env);
	s = cm_json_dump(j);
	json_decref(j);
	return s;
}

static void
report(const char *what, size_t n, int64_t ms)
{
	printf("%-44s %10.0f /s  (%zu in %lld ms)\n", what, ms > 0 ? n * 1000.0 / ms : 0.0, n,
	       (long long)ms);
}

/*
 * Feeds every frame to the engine from neighbour 1; checks each verdict. The
 * lengths are known first, as the WebSocket layer knows them.
 */
static int64_t
feed(struct engine *e, char **frames, size_t n, enum engine_verdict want, int64_t now)
{
	struct engine_actions out = {0};
	size_t *lens = malloc(n * sizeof(*lens));
	int64_t start;

	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(frames[i]);
	start = cm_time_mono_ms();

	for (size_t i = 0; i < n; i++) {
		enum engine_verdict v = engine_receive(e, 1, frames[i], lens[i], now, &rng, &out);

		if (v != want) {
			fprintf(stderr, "fb-agent-bench: frame %zu: %s, expected %s\n", i,
				engine_verdict_name(v), engine_verdict_name(want));
			exit(1);
		}
		engine_actions_clear(&out);
	}
	start = cm_time_mono_ms() - start;
	free(lens);
	return start;
}

/* Announcements from ORIGINS origins with keys of type: verified and applied, then dropped. */
static int
bench_engine(enum cm_key_type type)
{
	int64_t now = cm_time_wall_ms();
	struct cm_identity *ids[ORIGINS], *nb;
	char **fresh = calloc(ORIGINS * SEQS, sizeof(char *));
	char **again = calloc(ORIGINS * SEQS, sizeof(char *));
	struct peertable_config tc;
	struct engine_config ec;
	struct peertable *t;
	struct engine *e;
	struct engine_actions out = {0};
	struct cm_err err;
	size_t n = 0;
	char email[64];

	printf("preparing %d signed announcements from %d origins (%s keys)...\n", ORIGINS * SEQS,
	       ORIGINS, type == CM_KEY_ED25519 ? "Ed25519" : "ECDSA P-256");
	nb = cm_identity_generate("neighbour@example.com", 30, &err);
	for (int o = 0; o < ORIGINS; o++) {
		snprintf(email, sizeof(email), "origin%d@example.com", o);
		ids[o] = cm_identity_generate_as(email, 30, type, &err);
	}
	/* Interleaved so that every frame carries a higher seq than the one held. */
	for (int s = 1; s <= SEQS; s++) {
		for (int o = 0; o < ORIGINS; o++) {
			struct cm_peer_record r;
			struct cm_signed_record sr;

			record_of(&r, cm_identity_email(ids[o]), s, now, o);
			if (cm_record_sign(&r, ids[o], &sr, &err) != 0)
				return -1;
			fresh[n] = announcement(&sr, "neighbour@example.com");
			again[n] = announcement(&sr, "neighbour@example.com");
			n++;
			cm_peer_record_clear(&r);
			cm_signed_record_clear(&sr);
		}
	}
	peertable_config_default(&tc);
	engine_config_default(&ec);
	/* One neighbour sends everything at one instant: its buckets must not be what is measured. */
	for (int k = 0; k < ENGINE_KIND_COUNT; k++)
		ec.rate[k] = (struct engine_rate){1e12, 1e12};
	ec.rate_bytes_in = ec.rate_answer_bytes = (struct engine_rate){1e15, 1e15};
	t = peertable_new(&tc, &bench_key, "bench@example.com");
	{
		struct cm_identity *self = cm_identity_generate("bench@example.com", 30, &err);
		struct cm_peer_record r;
		struct cm_signed_record sr;
		char *hello;

		e = engine_new(&ec, t, self);
		record_of(&r, "bench@example.com", 1, now, 0);
		engine_set_self(e, &r, now, &rng, &out);
		cm_peer_record_clear(&r);
		engine_neighbour_up(e, 1, true, cm_cert_fingerprint(cm_identity_cert(nb)), now, &rng,
				    &out);
		record_of(&r, "neighbour@example.com", 1, now, 1);
		cm_record_sign(&r, nb, &sr, &err);
		hello = announcement(&sr, "neighbour@example.com");
		engine_receive(e, 1, hello, strlen(hello), now, &rng, &out);
		engine_actions_clear(&out);
		free(hello);
		cm_peer_record_clear(&r);
		cm_signed_record_clear(&sr);
		report("new announcements verified and applied", n, feed(e, fresh, n, ENGINE_ACCEPTED, now));
		{
			int64_t ms = 0;

			for (int r = 0; r < DUPLICATE_ROUNDS; r++)
				ms += feed(e, fresh, n, ENGINE_DUPLICATE, now);
			report("duplicate ids dropped", n * DUPLICATE_ROUNDS, ms);
		}
		report("known records (new ids) dropped", n, feed(e, again, n, ENGINE_DROP_OLD, now));
		engine_free(e);
		cm_identity_free(self);
	}
	peertable_free(t);
	for (size_t i = 0; i < n; i++) {
		free(fresh[i]);
		free(again[i]);
	}
	free(fresh);
	free(again);
	for (int o = 0; o < ORIGINS; o++)
		cm_identity_free(ids[o]);
	cm_identity_free(nb);
	return 0;
}

/* RSS per entry of a table holding n realistic records (certificate, canonical JSON, signature). */
static void
bench_table(size_t n)
{
	struct cm_err err;
	struct cm_identity *id = cm_identity_generate("template@example.com", 30, &err);
	struct peertable_config tc;
	struct peertable *t;
	struct cm_peer_record r;
	struct cm_signed_record tmpl;
	int64_t now = cm_time_wall_ms();
	long before, rss_before;
	char email[64], fp[CM_FINGERPRINT_LEN + 1];

	record_of(&r, "template@example.com", 1, now, 0);
	cm_record_sign(&r, id, &tmpl, &err);
	cm_peer_record_clear(&r);
	peertable_config_default(&tc);
	tc.max_entries = n;
	tc.max_bytes = SIZE_MAX; /* what n entries cost, not what the byte bound lets in */
	before = heap_bytes();
	rss_before = rss_kb();
	t = peertable_new(&tc, &bench_key, "bench@example.com");
	for (size_t i = 0; i < n; i++) {
		struct cm_signed_record s;

		/* Same sizes as a real record; the table does not verify, the engine did. */
		cm_signed_record_copy(&s, &tmpl);
		free(s.record.email);
		snprintf(email, sizeof(email), "peer%zu@example.com", i);
		s.record.email = strdup(email);
		snprintf(fp, sizeof(fp), "%064zx", i);
		peertable_apply(t, &s, fp, now);
		cm_signed_record_clear(&s);
	}
	printf("peer table, %6zu entries: %6.0f bytes per peer in use (%ld KiB RSS growth; record "
	       "%zu B: certificate %zu, canonical %zu)\n",
	       peertable_count(t), (heap_bytes() - before) / (double)n, rss_kb() - rss_before,
	       strlen(tmpl.public_certificate) + strlen(tmpl.canonical) + strlen(tmpl.signature),
	       strlen(tmpl.public_certificate), strlen(tmpl.canonical));
	/* A flood of newcomers into the full table: each one makes room or is refused. */
	{
		int64_t start = cm_time_mono_ms();
		size_t flood = n < 10000 ? n : 10000;

		for (size_t i = 0; i < flood; i++) {
			struct cm_signed_record s;

			cm_signed_record_copy(&s, &tmpl);
			free(s.record.email);
			snprintf(email, sizeof(email), "newcomer%zu@example.com", i);
			s.record.email = strdup(email);
			snprintf(fp, sizeof(fp), "%064zx", n + i);
			peertable_apply(t, &s, fp, now);
			cm_signed_record_clear(&s);
		}
		report("newcomers applied to the full table", flood, cm_time_mono_ms() - start);
	}
	peertable_free(t);
	cm_signed_record_clear(&tmpl);
	cm_identity_free(id);
}

/*
 * The cost of a request's shape: a neighbour's PEER_REQUEST naming
 * CM_MAX_REPOSITORIES repositories against SHAPE_ENTRIES entries that host
 * CM_MAX_REPOSITORIES each, of which one entry matches one name.
 */
static void
bench_request_shape(void)
{
	struct cm_err err;
	struct cm_identity *self = cm_identity_generate("bench@example.com", 30, &err);
	struct cm_identity *nb = cm_identity_generate("neighbour@example.com", 30, &err);
	struct peertable_config tc;
	struct engine_config ec;
	struct peertable *t;
	struct engine *e;
	struct engine_actions out = {0};
	struct cm_peer_record r;
	struct cm_signed_record sr;
	struct cm_envelope env = {0};
	int64_t now = cm_time_wall_ms(), start = 0;
	char email[64], fp[CM_FINGERPRINT_LEN + 1], repo[32], id[CM_UUID_TEXT_LEN + 1], *frame;
	json_t *j;

	peertable_config_default(&tc);
	engine_config_default(&ec);
	t = peertable_new(&tc, &bench_key, "bench@example.com");
	e = engine_new(&ec, t, self);
	record_of(&r, "bench@example.com", 1, now, 0);
	engine_set_self(e, &r, now, &rng, &out);
	cm_peer_record_clear(&r);
	engine_neighbour_up(e, 1, true, cm_cert_fingerprint(cm_identity_cert(nb)), now, &rng, &out);
	record_of(&r, "neighbour@example.com", 1, now, 1);
	cm_record_sign(&r, nb, &sr, &err);
	frame = announcement(&sr, "neighbour@example.com");
	engine_receive(e, 1, frame, strlen(frame), now, &rng, &out);
	free(frame);
	cm_peer_record_clear(&r);
	cm_signed_record_clear(&sr);
	for (int i = 0; i < SHAPE_ENTRIES; i++) {
		snprintf(email, sizeof(email), "host%d@example.com", i);
		record_of(&r, email, 1, now, i);
		cm_repolist_clear(&r.repositories);
		for (int k = 0; k < CM_MAX_REPOSITORIES; k++) {
			snprintf(repo, sizeof(repo), "h%d-%d", i, k);
			cm_repolist_append(&r.repositories, repo, NULL);
		}
		/* The table does not verify (the engine did): a plain copy stands in. */
		memset(&sr, 0, sizeof(sr));
		sr.record = r;
		sr.canonical = "{}";
		sr.public_certificate = "-";
		sr.signature = "-";
		snprintf(fp, sizeof(fp), "%064x", i);
		peertable_apply(t, &sr, fp, now);
		cm_peer_record_clear(&r);
	}
	cm_uuid_generate(id);
	env.v = 1;
	env.id = id;
	env.type = CM_MSG_PEER_REQUEST;
	env.ttl = 1;
	env.timestamp_ms = now;
	env.sender_email = "neighbour@example.com";
	env.sender_peer_id = "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f";
	for (int k = 0; k < CM_MAX_REPOSITORIES; k++) {
		snprintf(repo, sizeof(repo), k == 100 ? "h7-7" : "absent-%d", k);
		cm_strlist_append(&env.payload.request.repositories, repo);
	}
	engine_actions_clear(&out);
	start = cm_time_mono_ms();
	for (int i = 0; i < SHAPE_REQUESTS; i++) {
		cm_uuid_generate(id);
		j = cm_envelope_encode(&env);
		frame = cm_json_dump(j);
		json_decref(j);
		engine_receive(e, 1, frame, strlen(frame), now, &rng, &out);
		engine_actions_clear(&out);
		free(frame);
	}
	printf("PEER_REQUEST of %d repositories, %d entries of %d: %8.2f ms per request\n",
	       CM_MAX_REPOSITORIES, SHAPE_ENTRIES, CM_MAX_REPOSITORIES,
	       (double)(cm_time_mono_ms() - start) / SHAPE_REQUESTS);
	cm_strlist_clear(&env.payload.request.repositories);
	engine_free(e);
	peertable_free(t);
	cm_identity_free(self);
	cm_identity_free(nb);
}

/*
 * Picking whom to evict under a flood: newcomers into a full table of
 * FLOOD_ENTRIES entries hosting CM_MAX_REPOSITORIES repositories each, while
 * we host as many (none of theirs), so every ranking walk weighs each entry.
 */
#define FLOOD_ENTRIES 10000
#define FLOOD_NEWCOMERS 2000

static void
flood_record(struct cm_signed_record *s, const char *email, int64_t now)
{
	char repo[32];

	memset(s, 0, sizeof(*s));
	s->record.email = strdup(email);
	s->record.peer_id = strdup("7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f");
	s->record.seq = 1;
	s->record.issued_at_ms = now;
	s->record.is_broadcasting = true;
	s->record.port = 7443;
	for (int k = 0; k < CM_MAX_REPOSITORIES; k++) {
		snprintf(repo, sizeof(repo), "repo-%d", k);
		cm_repolist_append(&s->record.repositories, repo, NULL);
	}
}

static void
bench_flood_ranking(void)
{
	struct peertable_config tc;
	struct peertable *t;
	struct cm_repolist own = {0};
	int64_t now = cm_time_wall_ms(), start = 0;
	char email[64], fp[CM_FINGERPRINT_LEN + 1], repo[32];
	uint64_t walks = 0;

	for (int k = 0; k < CM_MAX_REPOSITORIES; k++) {
		snprintf(repo, sizeof(repo), "mine-%d", k);
		cm_repolist_append(&own, repo, NULL);
	}
	peertable_config_default(&tc);
	tc.max_entries = FLOOD_ENTRIES;
	tc.max_bytes = SIZE_MAX;
	t = peertable_new(&tc, &bench_key, "bench@example.com");
	peertable_set_own_repositories(t, &own);
	for (int i = 0; i < FLOOD_ENTRIES + FLOOD_NEWCOMERS; i++) {
		struct cm_signed_record s;

		if (i == FLOOD_ENTRIES)
			start = cm_time_mono_ms();
		snprintf(email, sizeof(email), "%s%d@example.com", i < FLOOD_ENTRIES ? "p" : "new",
			 i);
		snprintf(fp, sizeof(fp), "%064x", i);
		flood_record(&s, email, now);
		/* The held ones measured badly: each newcomer ranks above the worst. */
		peertable_apply(t, &s, fp, now + i);
		if (i < FLOOD_ENTRIES)
			peertable_note_rtt(t, email, 1999);
		else if (i == FLOOD_ENTRIES)
			walks = peertable_stats(t)->rankings;
		cm_signed_record_clear(&s);
	}
	printf("flood into %d entries of %d repositories (we host %d): %8.0f newcomers/s "
	       "(%llu rankings)\n",
	       FLOOD_ENTRIES, CM_MAX_REPOSITORIES, CM_MAX_REPOSITORIES,
	       FLOOD_NEWCOMERS * 1000.0 / (double)(cm_time_mono_ms() - start + 1),
	       (unsigned long long)(peertable_stats(t)->rankings - walks));
	peertable_free(t);
	cm_repolist_clear(&own);
}

static int opened;

static void
on_open(struct tp_session *s, void *arg)
{
	(void)s;
	(void)arg;
	opened++;
}

static void
on_close(struct tp_session *s, int code, const char *reason, void *arg)
{
	(void)s;
	(void)code;
	(void)reason;
	(void)arg;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* RSS per session: n client sessions and their n server ends, in one process. */
static int
bench_sessions(int n)
{
	char dir[] = "/tmp/fb-agent-bench-XXXXXX", crt[128], key[128], cmd[160];
	struct cm_err err;
	struct cm_identity *id = cm_identity_generate("bench@example.com", 30, &err);
	struct event_base *base = event_base_new();
	struct tp_callbacks cb = {on_open, NULL, NULL, on_close};
	struct tp_config cfg;
	struct tp_ctx *srv, *cli;
	struct event *tick;
	struct timeval tv = {0, 100000};
	int64_t deadline;
	long before;

	if (mkdtemp(dir) == NULL || id == NULL)
		return -1;
	snprintf(crt, sizeof(crt), "%s/c.crt", dir);
	snprintf(key, sizeof(key), "%s/c.key", dir);
	cm_identity_save(id, key, crt, &err);
	tp_config_default(&cfg);
	cfg.cert_file = crt;
	cfg.key_file = key;
	cfg.max_sessions = (size_t)n + 1; /* and the warm-up session */
	/* The sessions never say hello and all come from one address: the limits must not bite. */
	cfg.max_pending = cfg.max_per_address = cfg.max_per_prefix48 = (size_t)n + 1;
	cfg.accept_rate_per_s = cfg.accept_burst = 1e9;
	cfg.hello_timeout_ms = 120000;
	srv = tp_new(base, &cfg, &cb, NULL);
	cli = tp_new(base, &cfg, &cb, NULL);
	if (srv == NULL || cli == NULL || tp_listen(srv, "127.0.0.1", 0) != 0)
		return -1;
	/* A ticking timer, so each loop turn below returns within 100 ms. */
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	deadline = cm_time_mono_ms() + 60000;
	/* One warm-up session, so library start-up costs are not counted per session. */
	tp_connect(cli, "127.0.0.1", tp_listen_port(srv), NULL, NULL);
	while (opened < 2 && cm_time_mono_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	before = heap_bytes();
	opened = 0;
	for (int i = 0; i < n; i++)
		tp_connect(cli, "127.0.0.1", tp_listen_port(srv), NULL, NULL);
	while (opened < 2 * n && cm_time_mono_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	printf("TLS + WebSocket sessions: %d ends open in one process: %.1f KiB of heap per "
	       "session end\n",
	       opened, (heap_bytes() - before) / 1024.0 / (double)(opened > 0 ? opened : 1));
	tp_free(cli);
	tp_free(srv);
	event_free(tick);
	event_base_free(base);
	cm_identity_free(id);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
			"usage: fb-agent-bench\nMeasures the agent's gossip core: announcements "
			"verified per second, drops per second, memory per peer and per session.\n");
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (bench_engine(CM_KEY_P256) != 0 || bench_engine(CM_KEY_ED25519) != 0)
		return 1;
	bench_request_shape();
	bench_flood_ranking();
	bench_table(10000);
	bench_table(100000);
	return bench_sessions(200) == 0 ? 0 : 1;
}
