/* ifaddr.c - interface enumeration (ifaddr.h) over getifaddrs. */
#include "net/ifaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "fb/limits.h"
#include "fb/log.h"
#include "fb/validate.h"

/* The address of i as bytes, or NULL when it is not IPv4/IPv6. */
static const void *
ip_of(const struct ifaddrs *i)
{
	if (i->ifa_addr->sa_family == AF_INET)
		return &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
	if (i->ifa_addr->sa_family == AF_INET6)
		return &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
	return NULL;
}

/* 169.254/16 and fe80::/10. */
static bool
link_local(int family, const unsigned char *b)
{
	return (family == AF_INET && b[0] == 169 && b[1] == 254) ||
	       (family == AF_INET6 && b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

int
ifaddr_list(struct cm_strlist *out)
{
	struct ifaddrs *ifs, *i;

	if (getifaddrs(&ifs) != 0) {
		log_warnx("%s: getifaddrs: %s", __func__, strerror(errno));
		return -1;
	}
	for (i = ifs; i != NULL && out->len < CM_MAX_SOCKET_ADDRESSES; i = i->ifa_next) {
		char buf[INET6_ADDRSTRLEN];
		const void *addr;

		if (i->ifa_addr == NULL || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		if ((addr = ip_of(i)) == NULL || link_local(i->ifa_addr->sa_family, addr))
			continue;
		if (inet_ntop(i->ifa_addr->sa_family, addr, buf, sizeof(buf)) == NULL ||
		    !cm_valid_ip(buf, strlen(buf)))
			continue;
		cm_strlist_append(out, buf);
	}
	freeifaddrs(ifs);
	return 0;
}
