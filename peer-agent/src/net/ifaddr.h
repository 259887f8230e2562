/*
 * ifaddr.h - the host's own addresses: what an agent advertises when
 * agent.ini says `advertise = auto`.
 */
#ifndef PA_IFADDR_H
#define PA_IFADDR_H

#include "fb/types.h"

/*
 * Appends the addresses of the interfaces that are up, but loopback and
 * link-local ones (they reach no peer beyond the link), at most
 * CM_MAX_SOCKET_ADDRESSES in all. Returns 0, or -1 when the interfaces cannot
 * be listed (logged).
 */
int ifaddr_list(struct cm_strlist *out);

#endif
