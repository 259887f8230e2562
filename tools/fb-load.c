/*
 * fb-load.c - a load generator for the bootstrap server: mutual TLS,
 * keep-alive, fixed concurrency (one connection and one identity each).
 * Prints requests per second and latency percentiles.
 *
 *   fb-load --url URL --ca CA --certs DIR --concurrency C --mix register|heartbeat|discover|health
 *           [--duration-s S] [--repos N] [--json] [--trace FILE]
 *
 * Identity i is DIR/load<i>@example.com.crt and .key (self-signed is fine in
 * pinning mode). Every identity registers once before measuring. health asks
 * /healthz: the cost of the request path itself, without the database.
 *
 * It speaks HTTP/1.1 over GnuTLS on non-blocking sockets with one epoll loop:
 * the load generator shares the machine with the server and PostgreSQL, so
 * each request costs it one TLS record each way and about three system calls.
 * Answers must carry Content-Length (the server's always do).
 *
 * --trace FILE writes a line per answered request, "END_MS LATENCY_US": when
 * it ended (wall clock, ms since the epoch, to match server log times) and
 * how long it took, so a benchmark can take the requests of one period.
 */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fb/timeutil.h"
#include "fb/validate.h"

#define ANSWER_MAX (1024 * 1024) /* bytes of one answer, headers included */
#define READ_AHEAD 16384         /* bytes read from the socket at once */
#define IO_TIMEOUT_MS 10000

enum mix { MIX_REGISTER, MIX_HEARTBEAT, MIX_DISCOVER, MIX_HEALTH };

struct slot {
	int index, fd;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	char email[64];
	char req[2048];
	size_t req_len;
	char *in;
	size_t in_len;
	char ahead[READ_AHEAD]; /* socket bytes GnuTLS has not asked for yet */
	size_t ahead_pos, ahead_len;
	int64_t started_us;
	bool active;
};

struct run {
	char host[256], port[8];
	const char *ca, *certs;
	int concurrency, repos;
	int64_t duration_ms;
	enum mix mix;
	bool json;
	int64_t *lat_us, *end_us; /* end_us: monotonic, kept only for --trace */
	size_t nlat, caplat;
	const char *trace;
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

/* Splits https://HOST:PORT (HOST may be [v6]) into r->host and r->port. */
static int
parse_url(struct run *r, const char *url)
{
	const char *h, *end, *colon;
	size_t n;

	if (strncmp(url, "https://", 8) != 0)
		return -1;
	h = url + 8;
	if (*h == '[') {
		if ((end = strchr(h, ']')) == NULL)
			return -1;
		h++;
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strrchr(h, ':');
		end = colon != NULL ? colon : h + strlen(h);
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= sizeof(r->host))
		return -1;
	memcpy(r->host, h, n);
	r->host[n] = '\0';
	snprintf(r->port, sizeof(r->port), "%s", colon != NULL ? colon + 1 : "443");
	return strchr(r->port, '/') != NULL ? -1 : 0;
}

/* Writes slot s's next request (mode: the run's mix, or register for warm-up). */
static void
prepare(struct run *r, struct slot *s, enum mix mode)
{
	char body[1024];
	int i = s->index, n = 0;

	body[0] = '\0';
	switch (mode) {
	case MIX_REGISTER:
		n = snprintf(body, sizeof(body),
			     "{\"email\":\"%s\",\"socket_addresses\":[\"10.9.%d.%d\"],\"port\":7443,"
			     "\"repositories\":[{\"name\":\"repo-%d\"},{\"name\":\"repo-%d\"},"
			     "{\"name\":\"repo-%d\"}]}",
			     s->email, (i >> 8) & 255, i & 255, i % r->repos, (i + 1) % r->repos,
			     (i + 2) % r->repos);
		break;
	case MIX_HEARTBEAT:
		n = snprintf(body, sizeof(body), "{\"email\":\"%s\"}", s->email);
		break;
	case MIX_DISCOVER:
	case MIX_HEALTH:
		break;
	}
	if (mode == MIX_DISCOVER)
		s->req_len = (size_t)snprintf(
			s->req, sizeof(s->req),
			"GET /api/bootstrap/discover?repositories=repo-%d&limit=20 HTTP/1.1\r\n"
			"Host: %s\r\n\r\n",
			(int)(rnd(r) % (uint64_t)r->repos), r->host);
	else if (mode == MIX_HEALTH)
		s->req_len = (size_t)snprintf(s->req, sizeof(s->req),
					      "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", r->host);
	else
		s->req_len = (size_t)snprintf(
			s->req, sizeof(s->req),
			"POST /api/bootstrap/%s HTTP/1.1\r\nHost: %s\r\n"
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			mode == MIX_REGISTER ? "register" : "heartbeat", r->host, n, body);
	s->in_len = 0;
}

/* Waits until fd is ready for events (POLLIN/POLLOUT); false on timeout. */
static bool
wait_fd(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};

	return poll(&p, 1, IO_TIMEOUT_MS) == 1;
}

/* Sends the prepared request; the socket is non-blocking, so EAGAIN waits for room. */
static int
send_request(struct slot *s)
{
	size_t off = 0;

	s->started_us = now_us();
	while (off < s->req_len) {
		ssize_t n = gnutls_record_send(s->tls, s->req + off, s->req_len - off);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			if (!wait_fd(s->fd, POLLOUT))
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/*
 * Parses the len bytes at p, after leading blanks, as an integer in
 * [min, max] with the project's checked parser; -1 when they are not one.
 */
static int64_t
parse_field(const char *p, size_t len, int64_t min, int64_t max)
{
	char buf[24];
	int64_t v;

	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return cm_parse_int(buf, min, max, &v) == 0 ? v : -1;
}

/*
 * Reads what TLS has for s; returns 1 when a whole answer is in (*status
 * set), 0 when more is needed, -1 on error or close.
 */
static int
read_answer(struct slot *s, int *status)
{
	for (;;) {
		ssize_t n;
		char *end;

		if (s->in_len == ANSWER_MAX)
			return -1;
		n = gnutls_record_recv(s->tls, s->in + s->in_len, ANSWER_MAX - s->in_len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			return 0;
		if (n <= 0)
			return -1;
		s->in_len += (size_t)n;
		s->in[s->in_len] = '\0';
		if ((end = strstr(s->in, "\r\n\r\n")) == NULL)
			continue;
		const char *cl = strcasestr(s->in, "\r\nContent-Length:"), *cl_end;
		size_t head = (size_t)(end + 4 - s->in);
		int64_t body, code;

		if (cl == NULL || cl > end || strncmp(s->in, "HTTP/1.1 ", 9) != 0 ||
		    (code = parse_field(s->in + 9, 3, 100, 599)) < 0)
			return -1;
		cl += 17;
		cl_end = strstr(cl, "\r\n");
		if ((body = parse_field(cl, (size_t)(cl_end - cl), 0, ANSWER_MAX)) < 0 ||
		    head + (size_t)body > ANSWER_MAX)
			return -1;
		if (s->in_len < head + (size_t)body)
			continue;
		if (s->in_len > head + (size_t)body)
			return -1; /* nothing was asked for after this answer */
		*status = (int)code;
		return 1;
	}
}

/* Blocking exchange used while setting up: sends the request and reads its answer. */
static int
exchange(struct slot *s, int *status)
{
	int rc;

	if (send_request(s) != 0)
		return -1;
	while ((rc = read_answer(s, status)) == 0)
		if (!wait_fd(s->fd, POLLIN))
			return -1;
	return rc == 1 ? 0 : -1;
}

/*
 * GnuTLS asks for a record's 5-byte header, then for its body: two system
 * calls per record. Reading what the socket has at once makes it one.
 */
static ssize_t
pull_ahead(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	struct slot *s = ptr;
	size_t n;

	if (s->ahead_pos == s->ahead_len) {
		ssize_t got = recv(s->fd, s->ahead, sizeof(s->ahead), 0);

		if (got <= 0) {
			gnutls_transport_set_errno(s->tls, got < 0 ? errno : 0);
			return got;
		}
		s->ahead_pos = 0;
		s->ahead_len = (size_t)got;
	}
	n = s->ahead_len - s->ahead_pos < len ? s->ahead_len - s->ahead_pos : len;
	memcpy(data, s->ahead + s->ahead_pos, n);
	s->ahead_pos += n;
	return (ssize_t)n;
}

/* Connects slot s, with its identity, and completes the TLS handshake. */
static int
slot_connect(struct run *r, struct slot *s)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char crt[512], key[512];
	int one = 1, rc;

	snprintf(crt, sizeof(crt), "%s/%s.crt", r->certs, s->email);
	snprintf(key, sizeof(key), "%s/%s.key", r->certs, s->email);
	if (gnutls_certificate_allocate_credentials(&s->cred) < 0 ||
	    gnutls_certificate_set_x509_trust_file(s->cred, r->ca, GNUTLS_X509_FMT_PEM) <= 0 ||
	    gnutls_certificate_set_x509_key_file(s->cred, crt, key, GNUTLS_X509_FMT_PEM) < 0) {
		fprintf(stderr, "fb-load: cannot load %s, %s or %s\n", r->ca, crt, key);
		return -1;
	}
	if (getaddrinfo(r->host, r->port, &hints, &ai) != 0 || ai == NULL) {
		fprintf(stderr, "fb-load: cannot resolve %s\n", r->host);
		return -1;
	}
	s->fd = socket(ai->ai_family, SOCK_STREAM, 0);
	rc = s->fd >= 0 ? connect(s->fd, ai->ai_addr, ai->ai_addrlen) : -1;
	freeaddrinfo(ai);
	if (rc != 0) {
		fprintf(stderr, "fb-load: cannot connect to %s:%s: %s\n", r->host, r->port,
			strerror(errno));
		return -1;
	}
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	/* Send our certificate even though the server names other issuers (pinning mode). */
	gnutls_init(&s->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_FORCE_CLIENT_CERT);
	gnutls_set_default_priority(s->tls);
	gnutls_credentials_set(s->tls, GNUTLS_CRD_CERTIFICATE, s->cred);
	gnutls_session_set_verify_cert(s->tls, r->host, 0);
	gnutls_transport_set_int(s->tls, s->fd);
	while ((rc = gnutls_handshake(s->tls)) < 0) {
		if (gnutls_error_is_fatal(rc) ||
		    !wait_fd(s->fd, gnutls_record_get_direction(s->tls) ? POLLOUT : POLLIN)) {
			fprintf(stderr, "fb-load: TLS handshake with %s:%s: %s\n", r->host, r->port,
				gnutls_strerror(rc));
			return -1;
		}
	}
	/* After the handshake, which may want the pull timeout a plain pull function lacks. */
	gnutls_transport_set_ptr2(s->tls, s, (gnutls_transport_ptr_t)(intptr_t)s->fd);
	gnutls_transport_set_pull_function(s->tls, pull_ahead);
	return 0;
}

static void
record(struct run *r, int64_t started_us)
{
	int64_t end = now_us();

	if (r->nlat == r->caplat) {
		size_t cap = r->caplat == 0 ? 65536 : r->caplat * 2;
		int64_t *l = realloc(r->lat_us, cap * sizeof(*l)), *e;

		if (l == NULL)
			return;
		r->lat_us = l;
		if (r->trace != NULL) {
			if ((e = realloc(r->end_us, cap * sizeof(*e))) == NULL)
				return;
			r->end_us = e;
		}
		r->caplat = cap;
	}
	if (r->trace != NULL)
		r->end_us[r->nlat] = end;
	r->lat_us[r->nlat++] = end - started_us;
}

/* Writes --trace: wall_now_ms and mono_now_us are one instant on both clocks. */
static int
write_trace(const struct run *r, int64_t wall_now_ms, int64_t mono_now_us)
{
	FILE *f = fopen(r->trace, "w");

	if (f == NULL) {
		fprintf(stderr, "fb-load: %s: %s\n", r->trace, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < r->nlat; i++)
		fprintf(f, "%.3f %lld\n", (double)wall_now_ms - (double)(mono_now_us - r->end_us[i]) / 1000.0,
			(long long)r->lat_us[i]);
	if (fclose(f) != 0) {
		fprintf(stderr, "fb-load: %s: %s\n", r->trace, strerror(errno));
		return -1;
	}
	return 0;
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

/* Keeps every slot busy until deadline_us; a slot that fails stops (counted as an error). */
static void
drive(struct run *r, struct slot *slots, int64_t deadline_us)
{
	struct epoll_event ev[64];
	int ep = epoll_create1(0), active = 0;

	for (int i = 0; i < r->concurrency; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = &slots[i]};

		prepare(r, &slots[i], r->mix);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, slots[i].fd, &e) != 0 || send_request(&slots[i]) != 0) {
			r->errors++;
			continue;
		}
		slots[i].active = true;
		active++;
	}
	while (active > 0) {
		int n = epoll_wait(ep, ev, 64, IO_TIMEOUT_MS);

		if (n <= 0) {
			r->errors += active; /* nothing answered for IO_TIMEOUT_MS */
			break;
		}
		for (int k = 0; k < n; k++) {
			struct slot *s = ev[k].data.ptr;
			int status = 0, rc = read_answer(s, &status);

			if (rc == 0)
				continue;
			if (rc < 0)
				r->errors++;
			else if (status != 200)
				r->non200++;
			else
				record(r, s->started_us);
			if (rc > 0 && now_us() < deadline_us) {
				prepare(r, s, r->mix);
				if (send_request(s) == 0)
					continue;
				r->errors++;
			}
			s->active = false;
			active--;
			epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
		}
	}
	close(ep);
}

static int
usage(FILE *f, int rc)
{
	fprintf(f, "usage: fb-load --url URL --ca CA --certs DIR --concurrency C --mix "
		   "register|heartbeat|discover|health [--duration-s S] [--repos N] [--json]\n"
		   "               [--trace FILE]\n");
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
		{"trace", required_argument, NULL, 't'},      {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct run r = {.concurrency = 8, .repos = 10000, .duration_ms = 10000,
			.rng = 88172645463325252ULL};
	struct slot *slots = NULL;
	const char *mix = "discover", *url = NULL;
	int64_t start, elapsed, n = 0;
	int o, rc = 1;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u': url = optarg; break;
		case 'a': r.ca = optarg; break;
		case 'c': r.certs = optarg; break;
		case 'n':
			if (cm_parse_int(optarg, 1, 4096, &n) != 0)
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
		case 't': r.trace = optarg; break;
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
	else if (strcmp(mix, "health") == 0)
		r.mix = MIX_HEALTH;
	else
		return usage(stderr, 2);
	if (url == NULL || parse_url(&r, url) != 0 || r.ca == NULL || r.certs == NULL)
		return usage(stderr, 2);
	gnutls_global_init();
	if ((slots = calloc((size_t)r.concurrency, sizeof(*slots))) == NULL)
		goto end;
	for (int i = 0; i < r.concurrency; i++)
		slots[i].fd = -1;
	/* Every identity connects and registers once: heartbeats need a registration. */
	for (int i = 0; i < r.concurrency; i++) {
		struct slot *s = &slots[i];
		int status = 0;

		s->index = i;
		snprintf(s->email, sizeof(s->email), "load%d@example.com", i);
		if ((s->in = malloc(ANSWER_MAX + 1)) == NULL || slot_connect(&r, s) != 0)
			goto end;
		prepare(&r, s, MIX_REGISTER);
		if (exchange(s, &status) != 0 || status != 200) {
			fprintf(stderr, "fb-load: registering %s: %s %d\n", s->email,
				status != 0 ? "HTTP" : "no answer", status);
			goto end;
		}
	}
	start = now_us();
	drive(&r, slots, start + r.duration_ms * 1000);
	elapsed = now_us() - start;
	if (r.trace != NULL && write_trace(&r, cm_time_wall_ms(), now_us()) != 0)
		goto end;
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
	rc = r.errors > 0 || r.non200 > 0 ? 1 : 0;
end:
	for (int i = 0; slots != NULL && i < r.concurrency; i++) {
		if (slots[i].tls != NULL)
			gnutls_deinit(slots[i].tls);
		if (slots[i].cred != NULL)
			gnutls_certificate_free_credentials(slots[i].cred);
		if (slots[i].fd >= 0)
			close(slots[i].fd);
		free(slots[i].in);
	}
	free(slots);
	free(r.lat_us);
	free(r.end_us);
	gnutls_global_deinit();
	return rc;
}
