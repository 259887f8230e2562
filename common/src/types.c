/* types.c - names, lists and lifetimes of the wire objects. */
#include <stdlib.h>
#include <string.h>

#include "fb/types.h"

const char *
cm_msg_type_name(enum cm_msg_type t)
{
	switch (t) {
	case CM_MSG_PEER_ANNOUNCEMENT:
		return "PEER_ANNOUNCEMENT";
	case CM_MSG_PEER_REQUEST:
		return "PEER_REQUEST";
	case CM_MSG_PEER_LIST_RESPONSE:
		return "PEER_LIST_RESPONSE";
	case CM_MSG_HEARTBEAT:
		return "HEARTBEAT";
	}
	return NULL;
}

const char *
cm_peer_status_name(enum cm_peer_status s)
{
	switch (s) {
	case CM_PEER_ONLINE:
		return "online";
	case CM_PEER_STALE:
		return "stale";
	case CM_PEER_OFFLINE:
		return "offline";
	}
	return NULL;
}

const char *
cm_peer_state_name(enum cm_peer_state s)
{
	switch (s) {
	case CM_STATE_DISCOVERED:
		return "DISCOVERED";
	case CM_STATE_CONNECTED:
		return "CONNECTED";
	case CM_STATE_STALE:
		return "STALE";
	}
	return NULL;
}

const char *
cm_peer_source_name(enum cm_peer_source s)
{
	switch (s) {
	case CM_SOURCE_NONE:
		return NULL;
	case CM_SOURCE_TABLE:
		return "table";
	case CM_SOURCE_GOSSIP:
		return "gossip";
	case CM_SOURCE_BOOTSTRAP:
		return "bootstrap";
	case CM_SOURCE_RELAY:
		return "relay";
	}
	return NULL;
}

const char *
cm_torrent_state_name(enum cm_torrent_state s)
{
	switch (s) {
	case CM_TORRENT_CHECKING:
		return "checking";
	case CM_TORRENT_DOWNLOADING:
		return "downloading";
	case CM_TORRENT_SEEDING:
		return "seeding";
	case CM_TORRENT_PAUSED:
		return "paused";
	case CM_TORRENT_ERROR:
		return "error";
	}
	return NULL;
}

const char *
cm_relay_service_name(enum cm_relay_service s)
{
	switch (s) {
	case CM_RELAY_GOSSIP:
		return "gossip";
	case CM_RELAY_TORRENT:
		return "torrent";
	}
	return NULL;
}

int
cm_relay_service_parse(const char *name, enum cm_relay_service *out)
{
	for (enum cm_relay_service s = CM_RELAY_GOSSIP; s <= CM_RELAY_TORRENT; s++)
		if (strcmp(name, cm_relay_service_name(s)) == 0) {
			*out = s;
			return 0;
		}
	return -1;
}

int
cm_strlist_append(struct cm_strlist *l, const char *s)
{
	char **items, *copy;

	if ((copy = strdup(s)) == NULL)
		return -1;
	if ((items = realloc(l->items, (l->len + 1) * sizeof(*items))) == NULL) {
		free(copy);
		return -1;
	}
	items[l->len++] = copy;
	l->items = items;
	return 0;
}

char *
cm_join(const char *const *items, size_t n, const char *sep)
{
	size_t len = 1, seplen = strlen(sep), at = 0;
	char *out;

	for (size_t i = 0; i < n; i++)
		len += strlen(items[i]) + (i > 0 ? seplen : 0);
	if ((out = malloc(len)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(items[i]);

		if (i > 0) {
			memcpy(out + at, sep, seplen);
			at += seplen;
		}
		memcpy(out + at, items[i], l);
		at += l;
	}
	out[at] = '\0';
	return out;
}

void
cm_strlist_clear(struct cm_strlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->len = 0;
}

int
cm_repolist_append(struct cm_repolist *l, const char *name, const char *description)
{
	struct cm_repository *items, r = {0};

	if ((r.name = strdup(name)) == NULL)
		goto err;
	if (description != NULL && (r.description = strdup(description)) == NULL)
		goto err;
	if ((items = realloc(l->items, (l->len + 1) * sizeof(*items))) == NULL)
		goto err;
	items[l->len++] = r;
	l->items = items;
	return 0;
err:
	free(r.name);
	free(r.description);
	return -1;
}

void
cm_repolist_clear(struct cm_repolist *l)
{
	for (size_t i = 0; i < l->len; i++) {
		free(l->items[i].name);
		free(l->items[i].description);
	}
	free(l->items);
	l->items = NULL;
	l->len = 0;
}

int
cm_torrentlist_append(struct cm_torrentlist *l, const char *info_hash, const char *name,
		      int64_t size, const char *sha256)
{
	struct cm_torrent_summary *items, t = {.size = size};

	if ((t.info_hash = strdup(info_hash)) == NULL || (t.name = strdup(name)) == NULL ||
	    (t.sha256 = strdup(sha256)) == NULL)
		goto err;
	if ((items = realloc(l->items, (l->len + 1) * sizeof(*items))) == NULL)
		goto err;
	items[l->len++] = t;
	l->items = items;
	return 0;
err:
	free(t.info_hash);
	free(t.name);
	free(t.sha256);
	return -1;
}

void
cm_torrentlist_clear(struct cm_torrentlist *l)
{
	for (size_t i = 0; i < l->len; i++) {
		free(l->items[i].info_hash);
		free(l->items[i].name);
		free(l->items[i].sha256);
	}
	free(l->items);
	l->items = NULL;
	l->len = 0;
}

void
cm_register_request_clear(struct cm_register_request *r)
{
	free(r->email);
	free(r->peer_id);
	cm_strlist_clear(&r->socket_addresses);
	cm_repolist_clear(&r->repositories);
	memset(r, 0, sizeof(*r));
}

void
cm_heartbeat_request_clear(struct cm_heartbeat_request *r)
{
	free(r->email);
	r->email = NULL;
}

void
cm_feedback_request_clear(struct cm_feedback_request *r)
{
	free(r->email);
	memset(r, 0, sizeof(*r));
}

void
cm_bootstrap_peer_clear(struct cm_bootstrap_peer *p)
{
	free(p->email);
	free(p->peer_id);
	free(p->public_certificate);
	cm_strlist_clear(&p->socket_addresses);
	cm_repolist_clear(&p->repositories);
	memset(p, 0, sizeof(*p));
}

void
cm_bootstrap_peerlist_clear(struct cm_bootstrap_peerlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		cm_bootstrap_peer_clear(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->len = 0;
}

void
cm_register_response_clear(struct cm_register_response *r)
{
	free(r->status);
	free(r->peer_id);
	cm_bootstrap_peerlist_clear(&r->bootstrap_peers);
	memset(r, 0, sizeof(*r));
}

void
cm_peer_record_clear(struct cm_peer_record *r)
{
	free(r->email);
	free(r->peer_id);
	cm_strlist_clear(&r->socket_addresses);
	cm_repolist_clear(&r->repositories);
	cm_torrentlist_clear(&r->torrents);
	cm_strlist_clear(&r->relays);
	memset(r, 0, sizeof(*r));
}

void
cm_admin_registrationlist_clear(struct cm_admin_registrationlist *l)
{
	for (size_t i = 0; i < l->len; i++) {
		cm_bootstrap_peer_clear(&l->items[i].peer);
		free(l->items[i].fingerprint);
	}
	free(l->items);
	l->items = NULL;
	l->len = 0;
}

void
cm_whitelist_entry_clear(struct cm_whitelist_entry *w)
{
	free(w->fingerprint);
	free(w->note);
	memset(w, 0, sizeof(*w));
}

void
cm_whitelist_clear(struct cm_whitelist *l)
{
	for (size_t i = 0; i < l->len; i++)
		cm_whitelist_entry_clear(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->len = 0;
}

void
cm_signed_record_clear(struct cm_signed_record *s)
{
	cm_peer_record_clear(&s->record);
	free(s->public_certificate);
	free(s->signature);
	free(s->canonical);
	memset(s, 0, sizeof(*s));
}

void
cm_signed_recordlist_clear(struct cm_signed_recordlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		cm_signed_record_clear(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->len = 0;
}

void
cm_peer_info_clear(struct cm_peer_info *p)
{
	free(p->email);
	free(p->peer_id);
	free(p->public_certificate);
	cm_strlist_clear(&p->socket_addresses);
	cm_repolist_clear(&p->repositories);
	cm_torrentlist_clear(&p->torrents);
	cm_strlist_clear(&p->reachable_via);
	free(p->via);
	memset(p, 0, sizeof(*p));
}

void
cm_envelope_clear(struct cm_envelope *e)
{
	free(e->id);
	free(e->sender_email);
	free(e->sender_peer_id);
	switch (e->type) {
	case CM_MSG_PEER_ANNOUNCEMENT:
		cm_signed_record_clear(&e->payload.announcement.origin);
		break;
	case CM_MSG_PEER_REQUEST:
		cm_strlist_clear(&e->payload.request.repositories);
		free(e->payload.request.digest.bloom);
		free(e->payload.request.torrent_search.info_hash);
		break;
	case CM_MSG_PEER_LIST_RESPONSE:
		free(e->payload.list_response.request_id);
		cm_signed_recordlist_clear(&e->payload.list_response.peers);
		cm_signed_recordlist_clear(&e->payload.list_response.refreshes);
		break;
	case CM_MSG_HEARTBEAT:
		break;
	}
	memset(e, 0, sizeof(*e));
}

/* strdup that passes NULL through; *ok turns false on allocation failure. */
static char *
dup_opt(const char *s, bool *ok)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*ok = false;
	return d;
}

int
cm_peer_record_copy(struct cm_peer_record *dst, const struct cm_peer_record *r)
{
	bool ok = true;

	*dst = *r;
	dst->email = dup_opt(r->email, &ok);
	dst->peer_id = dup_opt(r->peer_id, &ok);
	memset(&dst->socket_addresses, 0, sizeof(dst->socket_addresses));
	memset(&dst->repositories, 0, sizeof(dst->repositories));
	memset(&dst->torrents, 0, sizeof(dst->torrents));
	memset(&dst->relays, 0, sizeof(dst->relays));
	for (size_t i = 0; ok && i < r->socket_addresses.len; i++)
		ok = cm_strlist_append(&dst->socket_addresses, r->socket_addresses.items[i]) == 0;
	for (size_t i = 0; ok && i < r->repositories.len; i++)
		ok = cm_repolist_append(&dst->repositories, r->repositories.items[i].name,
					r->repositories.items[i].description) == 0;
	for (size_t i = 0; ok && i < r->torrents.len; i++)
		ok = cm_torrentlist_append(&dst->torrents, r->torrents.items[i].info_hash,
					   r->torrents.items[i].name, r->torrents.items[i].size,
					   r->torrents.items[i].sha256) == 0;
	for (size_t i = 0; ok && i < r->relays.len; i++)
		ok = cm_strlist_append(&dst->relays, r->relays.items[i]) == 0;
	if (!ok) {
		cm_peer_record_clear(dst);
		return -1;
	}
	return 0;
}

int
cm_signed_record_copy(struct cm_signed_record *dst, const struct cm_signed_record *src)
{
	bool ok = true;

	memset(dst, 0, sizeof(*dst));
	if (cm_peer_record_copy(&dst->record, &src->record) != 0)
		return -1;
	dst->public_certificate = dup_opt(src->public_certificate, &ok);
	dst->signature = dup_opt(src->signature, &ok);
	dst->canonical = dup_opt(src->canonical, &ok);
	if (!ok) {
		cm_signed_record_clear(dst);
		return -1;
	}
	return 0;
}

const char *
cm_relay_op_name(enum cm_relay_op op)
{
	static const char *const names[] = {"reserve", "reserved", "connect", "invite", "join",
					    "decline", "joined",   "ping",    "pong",   "error"};

	return (unsigned)op < sizeof(names) / sizeof(names[0]) ? names[op] : NULL;
}
