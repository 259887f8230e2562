/*
 * tcp.h - TCP on libevent: a listener, and the steps of dialling out, on
 * numeric IPv4/IPv6 addresses only (no resolver can block the loop). Every
 * socket is non-blocking and has Nagle off: gossip is small messages that
 * should leave at once.
 */
#ifndef PA_TCP_H
#define PA_TCP_H

#include <sys/socket.h>

struct bufferevent;
struct event_base;
struct tcp_listener;

struct tcp_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Parses a numeric IPv4 or IPv6 address and a port. Returns 0 or -1. */
int tcp_addr_parse(const char *ip, int port, struct tcp_addr *out);

/* A non-blocking socket for peer's family, bound to bind_ip when non-NULL. -1 on failure (logged). */
int tcp_socket_new(const struct tcp_addr *peer, const char *bind_ip);
/* Starts connecting bev (made on a tcp_socket_new socket); its event callback says how it went. */
int tcp_connect(struct bufferevent *bev, const struct tcp_addr *peer);
/* Turns Nagle off on a connected socket. */
void tcp_nodelay(int fd);

/* Called with each accepted socket, which it then owns, and the peer's address. */
typedef void (*tcp_accept_fn)(int fd, const struct sockaddr *peer, socklen_t peer_len, void *arg);

/* Listens on host:port (port 0: any free one). NULL on failure (logged). */
struct tcp_listener *tcp_listener_new(struct event_base *base, const char *host, int port,
				      tcp_accept_fn fn, void *arg);
void tcp_listener_free(struct tcp_listener *l);
/* The port actually bound. */
int tcp_listener_port(const struct tcp_listener *l);

#endif
