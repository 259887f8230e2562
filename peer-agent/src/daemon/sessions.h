/*
 * sessions.h - the agent's sessions by transport id: whom each one is with
 * and how it came about, in the common map (fb/map.h), so the per-frame
 * lookup costs O(1) however many sessions are open.
 */
#ifndef PA_SESSIONS_H
#define PA_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/hash.h"
#include "fb/types.h"
#include "fb/validate.h"

struct tp_session;

struct link {
	uint64_t id;
	struct tp_session *s;
	char *email; /* outbound: whom we dialled; inbound: NULL until the hello */
	char *via;   /* the relay carrying this session (docs/protocol.md section 7), or NULL */
	bool outbound;
	bool opened;
	int64_t last_feedback_ms;
	int64_t last_ping_ms; /* monotonic; 0: not pinged yet */
	/*
	 * A session dialled to ask by key (agent_ask_by_key): the PEER_REQUEST
	 * to send under query_id once the peer said hello, and when to close
	 * the session (monotonic ms; 0: not a lookup's, or kept as a neighbour).
	 */
	struct cm_strlist query_repos;
	char query_id[CM_UUID_TEXT_LEN + 1];
	int64_t query_until_ms;
};

struct sessions;

/* An empty map hashed under key (copied). NULL on failure. */
struct sessions *sessions_new(const struct cm_hash_key *key);
void sessions_free(struct sessions *m);

struct link *sessions_get(const struct sessions *m, uint64_t id);

/* A new record for id (email copied, may be NULL); NULL when out of memory. */
struct link *sessions_add(struct sessions *m, uint64_t id, struct tp_session *s,
			  const char *email, bool outbound);
void sessions_remove(struct sessions *m, uint64_t id);
size_t sessions_count(const struct sessions *m);

/* Iteration: start *cursor at 0; NULL at the end. Adding or removing ends it. */
struct link *sessions_next(const struct sessions *m, size_t *cursor);

#endif
