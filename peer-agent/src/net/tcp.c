/* tcp.c - TCP listener and dialler on libevent (see tcp.h). */
#include "net/tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "fb/log.h"

#define LISTEN_BACKLOG 128

struct tcp_listener {
	struct evconnlistener *ev;
	int port;
	tcp_accept_fn fn;
	void *arg;
};

int
tcp_addr_parse(const char *ip, int port, struct tcp_addr *out)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		out->len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*in6);
		return 0;
	}
	return -1;
}

int
tcp_socket_new(const struct tcp_addr *peer, const char *bind_ip)
{
	struct tcp_addr b;
	int fd;

	if (bind_ip != NULL && tcp_addr_parse(bind_ip, 0, &b) != 0) {
		log_warnx("%s: %s: not a numeric IP address", __func__, bind_ip);
		return -1;
	}
	if ((fd = socket(peer->ss.ss_family, SOCK_STREAM, 0)) < 0) {
		log_warnx("%s: socket: %s", __func__, strerror(errno));
		return -1;
	}
	if ((bind_ip != NULL && bind(fd, (struct sockaddr *)&b.ss, b.len) != 0) ||
	    evutil_make_socket_nonblocking(fd) != 0) {
		log_warnx("%s: cannot bind to %s: %s", __func__, bind_ip, strerror(errno));
		evutil_closesocket(fd);
		return -1;
	}
	return fd;
}

int
tcp_connect(struct bufferevent *bev, const struct tcp_addr *peer)
{
	return bufferevent_socket_connect(bev, (const struct sockaddr *)&peer->ss, (int)peer->len);
}

void
tcp_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
accept_cb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa, int salen,
	  void *arg)
{
	struct tcp_listener *l = arg;

	(void)ev;
	tcp_nodelay(fd);
	l->fn(fd, sa, (socklen_t)salen, l->arg);
}

struct tcp_listener *
tcp_listener_new(struct event_base *base, const char *host, int port, tcp_accept_fn fn,
		 void *arg)
{
	struct tcp_listener *l;
	struct tcp_addr a;

	if (tcp_addr_parse(host, port, &a) != 0) {
		log_warnx("%s: %s: not a numeric IP address", __func__, host);
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->fn = fn;
	l->arg = arg;
	l->ev = evconnlistener_new_bind(base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
					LISTEN_BACKLOG, (struct sockaddr *)&a.ss, (int)a.len);
	if (l->ev == NULL) {
		log_warnx("%s: cannot listen on %s port %d: %s", __func__, host, port,
			  strerror(errno));
		free(l);
		return NULL;
	}
	a.len = sizeof(a.ss);
	getsockname(evconnlistener_get_fd(l->ev), (struct sockaddr *)&a.ss, &a.len);
	l->port = ntohs(a.ss.ss_family == AF_INET ? ((struct sockaddr_in *)&a.ss)->sin_port
						  : ((struct sockaddr_in6 *)&a.ss)->sin6_port);
	return l;
}

void
tcp_listener_free(struct tcp_listener *l)
{
	if (l == NULL)
		return;
	evconnlistener_free(l->ev);
	free(l);
}

int
tcp_listener_port(const struct tcp_listener *l)
{
	return l->port;
}
