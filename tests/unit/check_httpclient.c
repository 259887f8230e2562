/* check_httpclient.c - the HTTP client's loop glue: refusals, cancels, its idle connections. */
#include <check.h>
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/httpclient.h"
#include "check_main.h"

static struct event_base *base;
static int calls;
static struct {
	long status;
	bool had_err, too_big;
	char err[256];
	void *arg;
} last;

static void
setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	calls = 0;
	memset(&last, 0, sizeof(last));
}

static void
teardown(void)
{
	event_base_free(base);
}

static void
done(const struct hc_result *r, void *arg)
{
	calls++;
	last.arg = arg;
	last.status = r->status;
	last.had_err = r->err != NULL;
	last.too_big = r->too_big;
	snprintf(last.err, sizeof(last.err), "%s", r->err != NULL ? r->err : "");
	event_base_loopbreak(base);
}

/* A port nothing listens on: bound, then closed. */
static int
dead_port(void)
{
	evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	evutil_closesocket(fd);
	return ntohs(sa.sin_port);
}

static struct hc_request
request(const char *url)
{
	struct hc_request req = {
		.method = "GET",
		.url = url,
		.timeout_ms = 3000,
		.max_answer_bytes = 1024,
	};

	return req;
}

/* Runs the loop until a callback ran or 5 s passed. */
static void
run(void)
{
	struct timeval tv = {5, 0};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

START_TEST(test_hc_start_reports_a_refused_connection_once)
{
	struct hc_client *c = hc_new(base);
	char url[64];
	struct hc_request req;

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", dead_port());
	req = request(url);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(hc_start(c, &req, done, NULL), 0);
	run();
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(last.status, 0);
	ck_assert(last.had_err);
	ck_assert(!last.too_big);
	hc_free(c);
}
END_TEST

START_TEST(test_hc_start_refuses_plain_http)
{
	struct hc_client *c = hc_new(base);
	struct hc_request req = request("http://127.0.0.1:1/x");

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(hc_start(c, &req, done, NULL), 0);
	run();
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(last.status, 0);
	/* curl's words: "Protocol \"http\" not supported or disabled in libcurl". */
	ck_assert_msg(strstr(last.err, "\"http\"") != NULL, "%s", last.err);
	hc_free(c);
}
END_TEST

START_TEST(test_hc_start_allows_plain_http_when_the_request_says_so)
{
	struct hc_client *c = hc_new(base);
	char url[64];
	struct hc_request req;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", dead_port());
	req = request(url);
	req.allow_http = true;
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(hc_start(c, &req, done, NULL), 0);
	run();
	ck_assert_int_eq(calls, 1);
	ck_assert(last.had_err);
	/* It got as far as connecting: refused by the closed port, not by the protocol rule. */
	ck_assert_msg(strstr(last.err, "\"http\"") == NULL, "%s", last.err);
	hc_free(c);
}
END_TEST

START_TEST(test_hc_free_cancels_without_callbacks)
{
	struct hc_client *c = hc_new(base);
	char url[64];
	struct hc_request req;

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", dead_port());
	req = request(url);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(hc_start(c, &req, done, NULL), 0);
	ck_assert_int_eq(hc_start(c, &req, done, NULL), 0);
	hc_free(c);
	run();
	ck_assert_int_eq(calls, 0);
}
END_TEST

START_TEST(test_hc_cancel_drops_only_the_requests_of_its_arg)
{
	struct hc_client *c = hc_new(base);
	char url[64];
	struct hc_request req;
	int a, b;

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", dead_port());
	req = request(url);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(hc_start(c, &req, done, &a), 0);
	ck_assert_int_eq(hc_start(c, &req, done, &b), 0);
	ck_assert_int_eq(hc_start(c, &req, done, &a), 0);
	hc_cancel(c, &a);
	run();
	/* and a little longer, for any callback that should not come */
	event_base_loopexit(base, &(struct timeval){0, 300000});
	event_base_dispatch(base);
	ck_assert_int_eq(calls, 1);
	ck_assert_ptr_eq(last.arg, &b);
	hc_free(c);
}
END_TEST

/* A plain HTTP server that keeps its connections: counts them opened and closed by the client. */
static struct {
	int accepted, closed;
} srv;

static void
srv_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	(void)arg;
	if (end.pos < 0)
		return;
	evbuffer_drain(in, (size_t)end.pos + 4);
	bufferevent_write(bev, answer, sizeof(answer) - 1);
}

static void
srv_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		srv.closed++;
		bufferevent_free(bev);
	}
}

static void
srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);

	(void)l;
	(void)sa;
	(void)len;
	(void)arg;
	ck_assert_ptr_nonnull(bev);
	srv.accepted++;
	bufferevent_setcb(bev, srv_read, NULL, srv_event, NULL);
	bufferevent_enable(bev, EV_READ);
}

/* Runs the loop until the server has seen n connections closed, or a deadline passed. */
static void
run_until_closed(int n)
{
	/* In slices: an earlier run's loopexit may still end one early. */
	for (int ms = 0; ms < HC_IDLE_CLOSE_MS + 2000 && srv.closed < n; ms += 100) {
		event_base_loopexit(base, &(struct timeval){0, 100000});
		event_base_dispatch(base);
	}
}

/* Starts the server on 127.0.0.1; its port into *port. */
static struct evconnlistener *
srv_start(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	struct evconnlistener *l = evconnlistener_new_bind(
		base, srv_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
		(struct sockaddr *)&sa, sizeof(sa));

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	memset(&srv, 0, sizeof(srv));
	return l;
}

START_TEST(test_an_idle_client_closes_its_connection_and_reuses_it_until_then)
{
	struct hc_client *c = hc_new(base);
	int port;
	struct evconnlistener *l = srv_start(&port);
	char url[64];
	struct hc_request req;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	req = request(url);
	req.allow_http = true;
	ck_assert_ptr_nonnull(c);
	for (int i = 1; i <= 2; i++) {
		ck_assert_int_eq(hc_start(c, &req, done, NULL), 0);
		run();
		ck_assert_int_eq(calls, i);
		ck_assert_int_eq(last.status, 200);
	}
	ck_assert_int_eq(srv.accepted, 1);
	ck_assert_int_eq(srv.closed, 0);
	run_until_closed(1);
	ck_assert_int_eq(srv.closed, 1);
	/* and a request after that opens a new one */
	ck_assert_int_eq(hc_start(c, &req, done, NULL), 0);
	run();
	ck_assert_int_eq(last.status, 200);
	ck_assert_int_eq(srv.accepted, 2);
	hc_free(c);
	/* the server's end goes once it sees the close */
	run_until_closed(2);
	ck_assert_int_eq(srv.closed, 2);
	evconnlistener_free(l);
}
END_TEST

START_TEST(test_hc_url_escape_escapes_reserved_bytes)
{
	char *e = hc_url_escape("a b&c=d/é");

	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e, "a%20b%26c%3Dd%2F%C3%A9");
	free(e);
}
END_TEST

FB_CHECK_MAIN(.name = "httpclient", .setup = setup, .teardown = teardown, .timeout_s = 30)
