/*
 * topology.c - the session graph and its shape (see topology.h).
 *
 * Names map to node indices and node pairs to sessions in two fb/map.h maps
 * (kept at most half full, so a probe is a step or two). Sessions are kept in
 * the order they were first reported, which is the order DOT lists them in.
 */
#include "core/topology.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fb/buf.h"
#include "fb/codec.h"
#include "fb/map.h"
#include "fb/validate.h"

#define FIRST_SLOTS 64

/* Map values may not be NULL: a node or session index i is stored as i + 1. */
#define INDEX_VALUE(i) ((void *)(uintptr_t)((i) + 1))
#define VALUE_INDEX(v) ((int)((uintptr_t)(v) - 1))

struct session {
	int a, b; /* a < b */
};

struct topology {
	char **names; /* by node index; owned */
	int n, names_cap;
	struct cm_map *by_name; /* email (names[i]) -> INDEX_VALUE(i) */

	struct session *sessions;
	int ns, sessions_cap;
	struct cm_map *by_pair; /* a << 32 | b -> INDEX_VALUE(session) */

	/* The last analysis, valid while analysed; a change clears the flag. */
	bool analysed;
	struct topology_summary sum;
	int *start, *adj; /* neighbours of i: adj[start[i] .. start[i + 1]) */
	int *component;   /* by node */
	int *histogram;
};

/* *arr with room for twice *cap elements (64 at first). Returns the new array or NULL. */
static void *
grow(void *arr, int *cap, size_t elem_bytes)
{
	int want = *cap == 0 ? FIRST_SLOTS : *cap * 2;
	void *p = realloc(arr, (size_t)want * elem_bytes);

	if (p != NULL)
		*cap = want;
	return p;
}

struct topology *
topology_new(const struct cm_hash_key *key)
{
	struct topology *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->by_name = cm_map_new(CM_MAP_STR, key)) == NULL ||
	    (t->by_pair = cm_map_new(CM_MAP_U64, key)) == NULL) {
		topology_free(t);
		return NULL;
	}
	return t;
}

static void
analysis_clear(struct topology *t)
{
	free(t->start);
	free(t->adj);
	free(t->component);
	free(t->histogram);
	t->start = t->adj = t->component = t->histogram = NULL;
	t->analysed = false;
}

void
topology_free(struct topology *t)
{
	if (t == NULL)
		return;
	analysis_clear(t);
	for (int i = 0; i < t->n; i++)
		free(t->names[i]);
	free(t->names);
	cm_map_free(t->by_name);
	free(t->sessions);
	cm_map_free(t->by_pair);
	free(t);
}

int
topology_node(struct topology *t, const char *email, struct cm_err *err)
{
	void *known = cm_map_get(t->by_name, email);
	char **names, *copy;

	if (known != NULL)
		return VALUE_INDEX(known);
	if (!cm_valid_email(email, strlen(email))) {
		cm_err_set(err, "not a valid email address");
		return -1;
	}
	if (t->n == TOPOLOGY_MAX_NODES) {
		cm_err_set(err, "more than %d nodes", TOPOLOGY_MAX_NODES);
		return -1;
	}
	if (t->n == t->names_cap) {
		if ((names = grow(t->names, &t->names_cap, sizeof(*names))) == NULL)
			goto nomem;
		t->names = names;
	}
	if ((copy = strdup(email)) == NULL)
		goto nomem;
	if (cm_map_put(t->by_name, copy, INDEX_VALUE(t->n)) != 0) {
		free(copy);
		goto nomem;
	}
	t->names[t->n] = copy;
	t->analysed = false;
	return t->n++;
nomem:
	cm_err_set(err, "out of memory");
	return -1;
}

int
topology_add_session(struct topology *t, int a, int b, struct cm_err *err)
{
	struct session *sessions;
	uint64_t key;

	if (a < 0 || b < 0 || a >= t->n || b >= t->n) {
		cm_err_set(err, "no node %d or %d", a, b);
		return -1;
	}
	if (a == b)
		return 0; /* a session with oneself joins nothing */
	if (a > b) {
		int swap = a;

		a = b;
		b = swap;
	}
	key = (uint64_t)a << 32 | (uint64_t)b;
	if (cm_map_get_u64(t->by_pair, key) != NULL)
		return 0; /* both ends report the session: one edge */
	if (t->ns == TOPOLOGY_MAX_SESSIONS) {
		cm_err_set(err, "more than %d sessions", TOPOLOGY_MAX_SESSIONS);
		return -1;
	}
	if (t->ns == t->sessions_cap) {
		if ((sessions = grow(t->sessions, &t->sessions_cap, sizeof(*sessions))) == NULL)
			goto nomem;
		t->sessions = sessions;
	}
	if (cm_map_put_u64(t->by_pair, key, INDEX_VALUE(t->ns)) != 0)
		goto nomem;
	t->sessions[t->ns].a = a;
	t->sessions[t->ns].b = b;
	t->ns++;
	t->analysed = false;
	return 0;
nomem:
	cm_err_set(err, "out of memory");
	return -1;
}

int
topology_add_peers(struct topology *t, const char *self, const json_t *peers, struct cm_err *err)
{
	struct cm_peer_linklist l;
	struct cm_err e;
	int me, peer, rc = -1;

	if (!json_is_array(peers)) {
		cm_err_set(err, "not a JSON array of peers");
		return -1;
	}
	if (cm_peer_linklist_decode(peers, &l, &e) != 0) {
		cm_err_set(err, "%s", e.msg);
		return -1;
	}
	if ((me = topology_node(t, self, &e)) < 0) {
		cm_err_set(err, "the agent's email: %s", e.msg);
		goto end;
	}
	for (size_t i = 0; i < l.len; i++) {
		const struct cm_peer_link *p = &l.items[i];

		if (p->email == NULL)
			continue;
		if ((peer = topology_node(t, p->email, &e)) < 0) {
			cm_err_set(err, "[%zu].email: %s", i, e.msg);
			goto end;
		}
		/* Any other state is a peer known from here, with no session from here. */
		if (p->state != NULL && strcmp(p->state, "CONNECTED") == 0 &&
		    topology_add_session(t, me, peer, err) != 0)
			goto end;
	}
	rc = 0;
end:
	cm_peer_linklist_clear(&l);
	return rc;
}

/* Fills start and adj from the sessions; fill is scratch space for n ints. */
static void
adjacency_build(struct topology *t, int *fill)
{
	for (int e = 0; e < t->ns; e++) {
		t->start[t->sessions[e].a + 1]++;
		t->start[t->sessions[e].b + 1]++;
	}
	for (int i = 0; i < t->n; i++) {
		t->start[i + 1] += t->start[i];
		fill[i] = t->start[i];
	}
	for (int e = 0; e < t->ns; e++) {
		int a = t->sessions[e].a, b = t->sessions[e].b;

		t->adj[fill[a]++] = b;
		t->adj[fill[b]++] = a;
	}
}

static int
degrees_count(struct topology *t)
{
	struct topology_summary *s = &t->sum;

	s->degree_min = s->degree_max = 0;
	for (int i = 0; i < t->n; i++) {
		int d = t->start[i + 1] - t->start[i];

		if (i == 0 || d < s->degree_min)
			s->degree_min = d;
		if (d > s->degree_max)
			s->degree_max = d;
	}
	if ((t->histogram = calloc((size_t)s->degree_max + 1, sizeof(int))) == NULL)
		return -1;
	for (int i = 0; i < t->n; i++)
		t->histogram[t->start[i + 1] - t->start[i]]++;
	s->degree_histogram = t->histogram;
	s->degree_avg = t->n > 0 ? 2.0 * t->ns / t->n : 0.0;
	return 0;
}

/* Labels every node reachable from src with label; returns how many there are. */
static int
component_label(struct topology *t, int src, int label, int *queue)
{
	int head = 0, tail = 0;

	t->component[src] = label;
	queue[tail++] = src;
	while (head < tail) {
		int u = queue[head++];

		for (int k = t->start[u]; k < t->start[u + 1]; k++) {
			if (t->component[t->adj[k]] < 0) {
				t->component[t->adj[k]] = label;
				queue[tail++] = t->adj[k];
			}
		}
	}
	return tail;
}

/* The eccentricity of src within its component. */
static int
eccentricity(const struct topology *t, int src, int *dist, int *queue)
{
	int head = 0, tail = 0, far = 0;

	for (int i = 0; i < t->n; i++)
		dist[i] = -1;
	dist[src] = 0;
	queue[tail++] = src;
	while (head < tail) {
		int u = queue[head++];

		if (dist[u] > far)
			far = dist[u];
		for (int k = t->start[u]; k < t->start[u + 1]; k++) {
			if (dist[t->adj[k]] < 0) {
				dist[t->adj[k]] = dist[u] + 1;
				queue[tail++] = t->adj[k];
			}
		}
	}
	return far;
}

int
topology_analyse(struct topology *t, struct topology_summary *out, struct cm_err *err)
{
	struct topology_summary *s = &t->sum;
	size_t n = (size_t)t->n;
	int *dist, *queue, sources, rc = -1;

	analysis_clear(t);
	/* One extra element each, so an empty graph allocates too. */
	t->start = calloc(n + 1, sizeof(int));
	t->adj = malloc((2 * (size_t)t->ns + 1) * sizeof(int));
	t->component = malloc((n + 1) * sizeof(int));
	dist = malloc((n + 1) * sizeof(int));
	queue = malloc((n + 1) * sizeof(int));
	if (t->start == NULL || t->adj == NULL || t->component == NULL || dist == NULL ||
	    queue == NULL)
		goto end;
	adjacency_build(t, dist);
	if (degrees_count(t) != 0)
		goto end;
	s->nodes = t->n;
	s->sessions = t->ns;
	s->components = s->largest_component = 0;
	for (int i = 0; i < t->n; i++)
		t->component[i] = -1;
	for (int i = 0; i < t->n; i++) {
		if (t->component[i] < 0) {
			int size = component_label(t, i, s->components++, queue);

			if (size > s->largest_component)
				s->largest_component = size;
		}
	}
	s->partitioned = s->components > 1;
	/* Eccentricities from spread-out sources bound the diameter from below. */
	sources = t->n < TOPOLOGY_BFS_SOURCES ? t->n : TOPOLOGY_BFS_SOURCES;
	s->diameter_estimate = 0;
	for (int k = 0; k < sources; k++) {
		int e = eccentricity(t, (int)((long long)k * t->n / sources), dist, queue);

		if (e > s->diameter_estimate)
			s->diameter_estimate = e;
	}
	t->analysed = true;
	*out = *s;
	rc = 0;
end:
	free(dist);
	free(queue);
	if (rc != 0) {
		analysis_clear(t);
		cm_err_set(err, "out of memory");
	}
	return rc;
}

/* Topology text is bounded by its graph (TOPOLOGY_MAX_NODES, _SESSIONS), not by a cap of its own. */
#define TEXT_MAX ((size_t)SIZE_MAX / 2)

/* text when ok, else NULL with text freed: the end of building a text piece by piece. */
static char *
text_done(char *text, bool ok)
{
	if (ok)
		return text;
	free(text);
	return NULL;
}

char *
topology_summary_text(const struct topology *t, bool json)
{
	const struct topology_summary *s = &t->sum;
	/* Three decimals are plenty for an average degree and read the same everywhere. */
	struct cm_topology_summary sum = {
		.nodes = s->nodes,
		.edges = s->sessions,
		.components = s->components,
		.largest_component = s->largest_component,
		.partitioned = s->partitioned,
		.degree_min = s->degree_min,
		.degree_avg = round(s->degree_avg * 1000) / 1000,
		.degree_max = s->degree_max,
		.diameter_estimate = s->diameter_estimate,
	};
	char *text = NULL, *line;
	size_t len = 0;
	bool ok;

	if (!t->analysed)
		return NULL;
	if (!json) {
		ok = cm_buf_printf(&text, &len, TEXT_MAX,
				   "nodes %d, sessions %d, components %d (largest %d)%s\n", s->nodes,
				   s->sessions, s->components, s->largest_component,
				   s->partitioned ? ": PARTITIONED" : "") == 0 &&
		     cm_buf_printf(&text, &len, TEXT_MAX,
				   "degree min %d, average %.2f, max %d; diameter at least %d\n",
				   s->degree_min, s->degree_avg, s->degree_max,
				   s->diameter_estimate) == 0;
		return text_done(text, ok);
	}
	/* One spare slot: degree_max is -1 in a graph without nodes. */
	if ((sum.degree_histogram.items = calloc((size_t)(s->degree_max + 2), sizeof(int64_t))) ==
	    NULL)
		return NULL;
	for (int d = 0; d <= s->degree_max; d++)
		sum.degree_histogram.items[sum.degree_histogram.len++] = s->degree_histogram[d];
	line = cm_topology_summary_text(&sum);
	ok = line != NULL && cm_buf_printf(&text, &len, TEXT_MAX, "%s\n", line) == 0;
	free(line);
	free(sum.degree_histogram.items);
	return text_done(text, ok);
}

char *
topology_dot_text(const struct topology *t)
{
	char *text = NULL;
	size_t len = 0;
	bool ok;

	if (!t->analysed)
		return NULL;
	ok = cm_buf_printf(&text, &len, TEXT_MAX, "graph gossip {\n") == 0;
	for (int i = 0; ok && i < t->n; i++)
		ok = cm_buf_printf(&text, &len, TEXT_MAX, "  \"%s\" [group=%d];\n", t->names[i],
				   t->component[i]) == 0;
	for (int e = 0; ok && e < t->ns; e++)
		ok = cm_buf_printf(&text, &len, TEXT_MAX, "  \"%s\" -- \"%s\";\n",
				   t->names[t->sessions[e].a], t->names[t->sessions[e].b]) == 0;
	ok = ok && cm_buf_printf(&text, &len, TEXT_MAX, "}\n") == 0;
	return text_done(text, ok);
}
