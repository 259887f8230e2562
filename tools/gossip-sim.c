/*
 * gossip-sim.c - the agent's own gossip engine and peer table (libfb-gossip.a,
 * the code the daemon runs) on a simulated network: virtual time, per-hop
 * latency, loss, churn and partitions, one engine per node.
 *
 * Spread mode follows new announcements through the network and reports how
 * many live nodes hold them, how fast and at what cost in copies. Steady mode
 * measures the standing cost of a converged network: heartbeats, refreshes,
 * anti-entropy, per node and second. Discover mode asks for repositories
 * hosted by a few peers, as the control API's discovery does (the table, then
 * PEER_REQUEST to neighbours and, by key, to the peers of the table nearest
 * the repository's key, then the bootstrap servers), and reports how often
 * and how fast a host is named. Same seed, same output: one random
 * stream drives everything, events are ordered by (time, sequence).
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "control/api_internal.h"
#include "daemon/config.h"
#include "core/engine.h"
#include "core/overlay.h"
#include "fb/identity.h"
#include "fb/log.h"
#include "fb/timeutil.h"
#include "fb/validate.h"

#define T0 1700000000000LL /* the virtual clock's start, wall-clock ms */
#define WARMUP_MS 3000      /* sessions and hellos settle before the first announcement */
#define MAX_ANNOUNCEMENTS 64
#define MAX_HOSTS 16          /* hosts of one looked-up repository */
#define MAX_HOSTED 8          /* looked-up repositories one node hosts */
/* One lookup at a time: the API's wait for gossip answers, then the bootstrap round trip. */
#define LOOKUP_GAP_MS (DISCOVER_WAIT_MS + 500)
/*
 * A dialled session before its hellos: TCP's SYN and SYN-ACK, TLS 1.3's two
 * flights, the client's Finished with the WebSocket Upgrade: the accepting
 * side's session is up; its 101 then brings up the dialling side's.
 */
#define DIAL_PACKETS_ACCEPT 5
/* A lost handshake packet is sent again after TCP's initial RTO, doubled each time (RFC 6298). */
#define DIAL_RTO_MS 1000

struct opts {
	int nodes;
	uint64_t seed;
	bool seed_algorithm;
	bool steady;
	bool discover;
	bool keyed;         /* discover: lookups also ask the peers nearest the key */
	bool push_refreshes; /* the rule before refreshes were pulled (engine pull_refreshes) */
	int64_t settle_s;   /* steady: refresh coverage counts refreshes due this long before the end */
	int hosts;          /* discover: hosts of each looked-up repository */
	double silent_hosts; /* discover: share of lookups whose hosts are silent */
	int lookups;
	int fanout, ttl, neighbours, max_peers;
	double loss, churn;
	int64_t latency_ms;
	int64_t duration_s;
	int announcements;
	bool verify;
	bool json;
	int64_t heartbeat_s, anti_entropy_s, reannounce_s, stale_s, expire_s;
	int64_t partition_at_s, heal_at_s; /* relative to the first announcement; -1: none */
	size_t table_max;
	const char *export_path; /* sessions at the end, JSON Lines, for fb-topology --sim */
	const char *series_path; /* coverage over time, "ms coverage" lines, for plots */
};

/* What the frames delivered during the measurement were, by kind. */
enum kind { K_ANNOUNCE, K_REFRESH, K_DIGEST, K_LIST, K_HEARTBEAT, K_COUNT };
static const char *const kind_names[K_COUNT] = {"announcement", "refresh", "anti_entropy_request",
						 "peer_list_response", "heartbeat"};

struct node {
	struct peertable *t;
	struct engine *e;
	struct cm_identity *id;
	char email[32];
	bool alive;
	bool created;
	int out, in; /* sessions dialled and accepted */
	int *nbs;
	int nnbs, capnbs;
	uint8_t *has; /* per announcement: holds it */
	bool silent;  /* discover: a silent host (its record names it, never an address) */
	int hosted[MAX_HOSTED]; /* discover: the lookups whose repository it hosts */
	int nhosted;
	int64_t refresh_at; /* steady mode: virtual ms of its first re-announcement */
};

enum ev_kind { EV_DELIVER, EV_TICK, EV_JOIN, EV_LOOKUP, EV_LOOKUP_END, EV_DIAL_ACCEPT, EV_DIAL_UP };

struct ev {
	int64_t t;
	uint64_t seq;
	enum ev_kind kind;
	int from, to;
	char *frame;
	size_t len;
};

struct announcement {
	int origin;
	int64_t seq;
	char needle_email[48];
	char needle_seq[32];
	int64_t at_ms;
	long holders;
	int64_t t99_ms; /* -1: not yet */
	long copies;
};

/*
 * How a lookup ended: the agent's discovery path, first source that named a
 * host (random neighbours, or the peers nearest the key). Without the
 * bootstrap servers: up to FOUND_KEY.
 */
enum found { FOUND_NONE, FOUND_TABLE, FOUND_GOSSIP, FOUND_KEY, FOUND_BOOTSTRAP };

struct lookup {
	int hosts[MAX_HOSTS];
	int asker;
	int64_t at_ms;
	int64_t first_ms;  /* first answer after which the asker's table names a host; -1: none */
	int64_t answer_ms; /* virtual ms from the ask to the host named (with the bootstrap path) */
	bool named;        /* some gossip answer named a host, kept by the table or not */
	bool first_key;    /* the answer after which the table named a host came by key */
	bool silent;       /* its hosts are silent */
	enum found found;
	char id[CM_UUID_TEXT_LEN + 1];
	long messages, bytes; /* gossip frames of this lookup (asked, answered), lost ones too */
	long dial_messages, dial_bytes; /* of those, the frames of sessions dialled for it */
	long forwards, forward_bytes;   /* copies of a dialled session's hello passed on */
	long table_size;      /* the asker's entries when it asked */
	int key_asked;        /* peers nearest the key asked */
	int key_holding;      /* of those, the ones whose table kept a host */
	int dials;            /* of those, the ones dialled for the question */
};

/* A table filled for a lookup, and its filler (node indices), removed afterwards. */
struct filled {
	int node;
	int *fill;
	size_t nfill;
};

/*
 * A session the asker dialled to a peer nearest the key, for one question.
 * TCP keeps a session's frames in order: last[] is the latest delivery
 * scheduled each way (0: to the peer, 1: to the asker), a floor for the next.
 */
struct dial {
	int peer;
	bool closed; /* by either side, or at the lookup's end */
	bool asked;  /* the request went */
	int64_t last[2];
};

struct sim {
	struct opts o;
	struct cm_hash_key key; /* every node's tables: from the seed, so runs repeat */
	struct node *nodes;
	int cap;  /* nodes allocated (joiners included) */
	int used; /* nodes created so far */
	long live;
	struct ev *heap;
	size_t nheap, capheap;
	uint64_t evseq;
	uint64_t rng;
	struct engine_rng erng;
	int64_t now; /* virtual ms since T0 */
	struct announcement ann[MAX_ANNOUNCEMENTS];
	int nann;
	int64_t t_announce;
	uint64_t messages, bytes, dropped;
	uint64_t kind_messages[K_COUNT], kind_bytes[K_COUNT]; /* from t_announce on */
	FILE *series;
	int64_t next_sample; /* virtual ms of the next series line */
	bool measuring;      /* t_announce reached */
	struct lookup *lk;   /* discover: one per lookup */
	int active;          /* the lookup under way, or -1 */
	struct filled filled[1 + PEERTABLE_KEY_ASK]; /* the asker's table, then the keyed peers' */
	int nfilled;
	int targets[PEERTABLE_KEY_ASK]; /* the peers nearest the key the lookup under way asks */
	int ntargets;
	struct dial dials[PEERTABLE_KEY_ASK];
	int ndials;
};

static uint64_t
sim_rand(void *ctx)
{
	struct sim *s = ctx;

	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 2685821657736338717ULL;
}

static double
sim_unit(struct sim *s)
{
	return (double)(sim_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Events: a binary min-heap on (t, seq). */

static bool
ev_before(const struct ev *a, const struct ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void
ev_push(struct sim *s, struct ev e)
{
	size_t i;

	if (s->nheap == s->capheap) {
		size_t cap = s->capheap == 0 ? 1 << 16 : s->capheap * 2;
		struct ev *h = realloc(s->heap, cap * sizeof(*h));

		if (h == NULL) {
			fprintf(stderr, "gossip-sim: out of memory\n");
			exit(1);
		}
		s->heap = h;
		s->capheap = cap;
	}
	e.seq = s->evseq++;
	i = s->nheap++;
	while (i > 0 && ev_before(&e, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = e;
}

static struct ev
ev_pop(struct sim *s)
{
	struct ev top = s->heap[0], last = s->heap[--s->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && ev_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ev_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->nheap > 0)
		s->heap[i] = last;
	return top;
}

static int64_t
hop_ms(struct sim *s)
{
	/* Uniform around the mean: links differ, and ties between paths break. */
	return (int64_t)((double)s->o.latency_ms * (0.5 + sim_unit(s))) + 1;
}

/* The session dialled for the lookup under way between nodes a and b, or NULL. */
static struct dial *
dial_between(struct sim *s, int a, int b)
{
	int asker;

	if (s->active < 0)
		return NULL;
	asker = s->lk[s->active].asker;
	for (int k = 0; k < s->ndials; k++) {
		struct dial *d = &s->dials[k];

		if ((a == asker && b == d->peer) || (b == asker && a == d->peer))
			return d;
	}
	return NULL;
}

/* Turns a node's engine actions into deliveries. */
static void
dispatch(struct sim *s, int from, struct engine_actions *a)
{
	for (size_t i = 0; i < a->len; i++) {
		struct engine_action *act = &a->items[i];
		int to = (int)act->neighbour - 1;
		struct dial *d = dial_between(s, from, to);
		int64_t at;

		if (act->kind != ENGINE_SEND) {
			/* A close: the session ends on both sides. */
			engine_neighbour_down(s->nodes[from].e, act->neighbour, T0 + s->now);
			if (to >= 0 && to < s->used)
				engine_neighbour_down(s->nodes[to].e, (uint64_t)from + 1, T0 + s->now);
			if (d != NULL)
				d->closed = true;
			continue;
		}
		at = s->now + hop_ms(s);
		/*
		 * A dialled session's frames arrive in the order sent, as TCP
		 * delivers them (a hello before the request behind it). Other
		 * sessions' hellos settle during the warm-up, so it is not needed.
		 */
		if (d != NULL) {
			int way = to != d->peer;

			at = at > d->last[way] ? at : d->last[way];
			d->last[way] = at;
		}
		ev_push(s, (struct ev){.t = at, .kind = EV_DELIVER, .from = from, .to = to,
				       .frame = act->frame, .len = act->frame_len});
		act->frame = NULL; /* the event owns it now */
	}
	engine_actions_clear(a);
}

static void
record_of(struct sim *s, int i, struct cm_peer_record *r, int version)
{
	char ip[32], repo[32];

	memset(r, 0, sizeof(*r));
	r->email = s->nodes[i].email;
	r->peer_id = "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f";
	r->is_broadcasting = !s->nodes[i].silent;
	snprintf(ip, sizeof(ip), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
	if (r->is_broadcasting) {
		cm_strlist_append(&r->socket_addresses, ip);
		r->port = 7443;
	}
	snprintf(repo, sizeof(repo), "repo-%d", i % 1000);
	cm_repolist_append(&r->repositories, repo, NULL);
	for (int k = 0; k < s->nodes[i].nhosted; k++) {
		snprintf(repo, sizeof(repo), "find-%d", s->nodes[i].hosted[k]);
		cm_repolist_append(&r->repositories, repo, NULL);
	}
	if (version > 0) {
		snprintf(repo, sizeof(repo), "news-%d", version);
		cm_repolist_append(&r->repositories, repo, NULL);
	}
	r->capabilities.max_peers = s->o.max_peers;
}

/*
 * self_at: virtual ms at which the node signs its record. Steady mode dates it
 * back so that re-announcements fall uniformly over one interval.
 */
static void
node_create(struct sim *s, int i, int64_t self_at)
{
	struct node *n = &s->nodes[i];
	struct peertable_config tc;
	struct engine_config ec;
	struct engine_actions a = {0};
	struct cm_peer_record r;
	struct cm_err err;

	snprintf(n->email, sizeof(n->email), "n%d@sim.example", i);
	peertable_config_default(&tc);
	tc.max_entries = s->o.table_max;
	tc.stale_ms = s->o.stale_s * 1000;
	tc.expire_ms = s->o.expire_s * 1000;
	tc.heartbeat_ms = s->o.heartbeat_s * 1000;
	engine_config_default(&ec);
	ec.fanout = s->o.fanout;
	ec.ttl = s->o.ttl;
	ec.expire_ms = s->o.expire_s * 1000;
	ec.heartbeat_ms = s->o.heartbeat_s * 1000;
	ec.reannounce_ms = s->o.reannounce_s * 1000;
	ec.anti_entropy_ms = s->o.seed_algorithm ? 0 : s->o.anti_entropy_s * 1000;
	ec.verify_signatures = s->o.verify;
	ec.pull_refreshes = !s->o.push_refreshes;
	if (s->o.verify && (n->id = cm_identity_generate(n->email, 30, &err)) == NULL) {
		fprintf(stderr, "gossip-sim: %s\n", err.msg);
		exit(1);
	}
	n->t = peertable_new(&tc, &s->key, n->email);
	n->e = engine_new(&ec, n->t, n->id);
	n->has = calloc(MAX_ANNOUNCEMENTS, 1);
	if (n->t == NULL || n->e == NULL || n->has == NULL) {
		fprintf(stderr, "gossip-sim: cannot create node %d\n", i);
		exit(1);
	}
	record_of(s, i, &r, 0);
	engine_set_self(n->e, &r, T0 + self_at, &s->erng, &a);
	n->refresh_at = self_at + s->o.reannounce_s * 1000;
	cm_strlist_clear(&r.socket_addresses);
	cm_repolist_clear(&r.repositories);
	engine_actions_clear(&a);
	n->alive = n->created = true;
	s->live++;
	/*
	 * Discover mode runs no timers: its lookups ask a converged, quiet
	 * network (what heartbeats, refreshes and anti-entropy cost is steady
	 * mode's), and its records, older than ae_fresh_ms, would not move.
	 */
	if (!s->o.discover)
		ev_push(s, (struct ev){.t = s->now + (int64_t)(sim_rand(s) % 1000), .kind = EV_TICK,
				       .to = i});
}

static bool
linked(const struct node *n, int j)
{
	for (int k = 0; k < n->nnbs; k++)
		if (n->nbs[k] == j)
			return true;
	return false;
}

static void
add_nb(struct node *n, int j)
{
	if (n->nnbs == n->capnbs) {
		n->capnbs = n->capnbs == 0 ? 16 : n->capnbs * 2;
		n->nbs = realloc(n->nbs, (size_t)n->capnbs * sizeof(*n->nbs));
	}
	n->nbs[n->nnbs++] = j;
}

/* i dials j: a session both sides know, and the hellos that authenticate it. */
static void
connect_nodes(struct sim *s, int i, int j)
{
	struct engine_actions a = {0};

	add_nb(&s->nodes[i], j);
	add_nb(&s->nodes[j], i);
	s->nodes[i].out++;
	s->nodes[j].in++;
	engine_neighbour_up(s->nodes[i].e, (uint64_t)j + 1, false, NULL, T0 + s->now, &s->erng, &a);
	dispatch(s, i, &a);
	engine_neighbour_up(s->nodes[j].e, (uint64_t)i + 1, true, NULL, T0 + s->now, &s->erng, &a);
	dispatch(s, j, &a);
}

struct dial_ctx {
	const struct sim *s;
	int i;
};

/* The index of a node from its email, "n<i>@sim.example" (node_create names them). */
static int
node_of(const struct sim *s, const char *email)
{
	char *end;
	long i = email[0] == 'n' ? strtol(email + 1, &end, 10) : -1;

	if (i < 0 || i >= s->used || end == email + 1 || strcmp(end, "@sim.example") != 0) {
		fprintf(stderr, "gossip-sim: %s is not a node's email\n", email);
		exit(1);
	}
	return (int)i;
}

static bool
sim_linked(void *ctx, const char *email)
{
	const struct dial_ctx *c = ctx;

	return linked(&c->s->nodes[c->i], node_of(c->s, email));
}

/*
 * Node i dials `neighbours` peers as an agent does: the agent's dial policy
 * (overlay) picks among random samples of live peers, as bootstrap servers
 * hand them out, and a peer that accepts no more sessions fails the dial.
 */
static void
dial(struct sim *s, int i)
{
	struct node *n = &s->nodes[i];
	struct overlay_config oc;
	struct overlay *ov;
	struct overlay_dial d[OVERLAY_DIALS_PER_ROUND];
	struct dial_ctx ctx = {s, i};
	int rounds = 50 * s->o.neighbours / OVERLAY_DIALS_PER_ROUND;

	overlay_config_default(&oc);
	oc.neighbours = (size_t)s->o.neighbours;
	if ((ov = overlay_new(&oc, n->email)) == NULL) {
		fprintf(stderr, "gossip-sim: out of memory\n");
		exit(1);
	}
	for (int r = 0; r < rounds && n->out < s->o.neighbours; r++) {
		size_t nd;

		overlay_candidates_clear(ov);
		for (int k = 0; k < OVERLAY_DIALS_PER_ROUND; k++) {
			int j = (int)(sim_rand(s) % (uint64_t)s->used);
			struct cm_peer_record rec;

			/* Servers hand out broadcasting peers only: silent ones take no dials. */
			if (!s->nodes[j].alive || s->nodes[j].silent)
				continue;
			record_of(s, j, &rec, 0);
			overlay_candidate_set(ov, rec.email, &rec.socket_addresses, rec.port, NULL);
			cm_strlist_clear(&rec.socket_addresses);
			cm_repolist_clear(&rec.repositories);
		}
		nd = overlay_plan(ov, n->t, (size_t)n->out, sim_linked, &ctx, s->now, T0 + s->now, d);
		for (size_t k = 0; k < nd; k++) {
			int j = node_of(s, d[k].email);

			if (!s->nodes[j].alive || s->nodes[j].in >= s->o.max_peers)
				overlay_dial_failed(ov, d[k].email, s->now, &s->erng);
			else
				connect_nodes(s, i, j);
		}
	}
	overlay_free(ov);
}

/*
 * A process dies: the kernel closes its sockets, so its neighbours see the
 * sessions end at once (they do not re-dial in this model).
 */
static void
kill_node(struct sim *s, int v)
{
	struct node *n = &s->nodes[v];

	n->alive = false;
	s->live--;
	for (int m = 0; m < n->nnbs; m++)
		engine_neighbour_down(s->nodes[n->nbs[m]].e, (uint64_t)v + 1, T0 + s->now);
}

static bool
partitioned(const struct sim *s, int a, int b)
{
	int64_t rel = s->now - s->t_announce;

	if (s->o.partition_at_s < 0 || rel < s->o.partition_at_s * 1000 ||
	    (s->o.heal_at_s >= 0 && rel >= s->o.heal_at_s * 1000))
		return false;
	return (a & 1) != (b & 1);
}

/* Did node i just come to hold announcement k? Counts and times it. */
static void
check_holds(struct sim *s, int i)
{
	for (int k = 0; k < s->nann; k++) {
		struct announcement *an = &s->ann[k];
		const struct peertable_entry *e;

		if (s->nodes[i].has[k] || i == an->origin)
			continue;
		e = peertable_get(s->nodes[i].t, s->nodes[an->origin].email);
		if (e == NULL || e->rec.record.seq < an->seq)
			continue;
		s->nodes[i].has[k] = 1;
		an->holders++;
		if (an->t99_ms < 0 && (double)(an->holders + 1) >= 0.9999 * (double)s->live)
			an->t99_ms = s->now - an->at_ms;
	}
}

/* Discovery */

/* Node i's own signed record and its certificate's fingerprint, or NULL. */
static const struct cm_signed_record *
self_record(const struct sim *s, int i, char fp[CM_FINGERPRINT_LEN + 1])
{
	const struct cm_signed_record *rec = engine_self(s->nodes[i].e);

	return rec != NULL && engine_record_fingerprint(s->nodes[i].e, rec, fp) == 0 ? rec : NULL;
}

/* Node m's table takes node h's record, as gossip would have brought it. */
static enum peertable_result
hold_record(struct sim *s, int m, int h)
{
	char fp[CM_FINGERPRINT_LEN + 1];
	const struct cm_signed_record *rec = self_record(s, h, fp);

	return rec != NULL ? peertable_apply(s->nodes[m].t, rec, fp, T0 + s->now) : PEERTABLE_ERROR;
}

static bool
hosts_lookup(const struct sim *s, const struct lookup *l, int i)
{
	for (int h = 0; h < s->o.hosts; h++)
		if (l->hosts[h] == i)
			return true;
	return false;
}

/*
 * Each lookup's repository, find-<j>, is hosted by `hosts` random nodes,
 * all silent for a silent_hosts share of the lookups. A node is silent or
 * not for all it hosts: one of the other kind is taken only when none is left.
 */
static void
place_hosts(struct sim *s)
{
	for (int j = 0; j < s->o.lookups; j++) {
		struct lookup *l = &s->lk[j];
		bool silent = sim_unit(s) < s->o.silent_hosts;

		l->silent = silent;
		for (int h = 0; h < s->o.hosts; h++) {
			struct node *n;
			int i;

			for (long tries = 0;; tries++) {
				i = (int)(sim_rand(s) % (uint64_t)s->o.nodes);
				n = &s->nodes[i];
				if (!hosts_lookup(s, l, i) && n->nhosted < MAX_HOSTED &&
				    (n->nhosted == 0 || n->silent == silent || tries > 1000))
					break;
			}
			if (n->nhosted == 0)
				n->silent = silent;
			n->hosted[n->nhosted++] = j;
			l->hosts[h] = i;
		}
	}
}

/*
 * The share of the other peers a converged table holds besides its own
 * neighbours: all of them while they fit, else table_max of them. Which
 * ones is modelled as a random draw per table and peer (entries of equal
 * score are kept first come, so it is the order records arrived in).
 */
static double
table_share(const struct sim *s)
{
	double others = (double)(s->o.nodes - 1);

	return (double)s->o.table_max >= others ? 1.0 : (double)s->o.table_max / others;
}

/*
 * Node i's table full to table_max, as a converged network larger than that
 * leaves it, of random peers' records (of this lookup's hosts only those
 * drawn already): a full table refuses what an answer brings (PEERTABLE_FULL).
 * The filler goes after the lookup, so only the tables of one lookup are full.
 */
static void
fill_table(struct sim *s, int i, const struct lookup *l)
{
	struct peertable *t = s->nodes[i].t;
	struct filled *f = &s->filled[s->nfilled++];

	f->node = i;
	f->nfill = 0;
	if (table_share(s) >= 1)
		return;
	for (long tries = 0;
	     peertable_count(t) < s->o.table_max && tries < 20L * (long)s->o.table_max; tries++) {
		int j = (int)(sim_rand(s) % (uint64_t)s->used);

		if (j == i || hosts_lookup(s, l, j) || peertable_get(t, s->nodes[j].email) != NULL)
			continue;
		if (hold_record(s, i, j) == PEERTABLE_INSERTED)
			f->fill[f->nfill++] = j;
	}
}

/*
 * Hosts of repos node i's table offers, as the control API lists them
 * (ctl_table_infos: peers that left are not offered), only those in only
 * when it is given.
 */
static size_t
hosts_offered(const struct sim *s, int i, const struct cm_strlist *repos,
	      const struct cm_strlist *only)
{
	struct cm_peer_info *infos;
	size_t n, offered = 0;

	if (peertable_snapshot(s->nodes[i].t, (const char *const *)repos->items, repos->len,
			       T0 + s->now, &infos, &n) != 0)
		return 0;
	for (size_t k = 0; k < n; k++) {
		bool keep = only == NULL;

		for (size_t m = 0; only != NULL && m < only->len && !keep; m++)
			keep = strcmp(only->items[m], infos[k].email) == 0;
		offered += keep && infos[k].peer_status != CM_PEER_OFFLINE;
	}
	peertable_info_free(infos, n);
	return offered;
}

/*
 * The bootstrap servers, the last resort: they list the repository's
 * broadcasting hosts, never silent ones. One round trip after waited ms.
 */
static void
lookup_fallback(struct sim *s, struct lookup *l, int64_t waited_ms)
{
	l->found = FOUND_NONE;
	for (int h = 0; h < s->o.hosts; h++)
		if (s->nodes[l->hosts[h]].alive && !s->nodes[l->hosts[h]].silent)
			l->found = FOUND_BOOTSTRAP;
	l->answer_ms = waited_ms + hop_ms(s) + hop_ms(s);
}

/* The lookup's sessions dialled by key close, its filler goes. */
static void
lookup_done(struct sim *s, struct lookup *l)
{
	for (int k = 0; k < s->ndials; k++) {
		int j = s->dials[k].peer;

		engine_neighbour_down(s->nodes[l->asker].e, (uint64_t)j + 1, T0 + s->now);
		engine_neighbour_down(s->nodes[j].e, (uint64_t)l->asker + 1, T0 + s->now);
	}
	for (int f = 0; f < s->nfilled; f++)
		for (size_t k = 0; k < s->filled[f].nfill; k++)
			peertable_remove(s->nodes[s->filled[f].node].t,
					 s->nodes[s->filled[f].fill[k]].email);
	s->nfilled = s->ndials = s->ntargets = 0;
	s->active = -1;
}

static void
lookup_repos(int j, struct cm_strlist *repos)
{
	char repo[32];

	snprintf(repo, sizeof(repo), "find-%d", j);
	cm_strlist_append(repos, repo);
}

static bool
is_target(const struct sim *s, int i)
{
	for (int k = 0; k < s->ntargets; k++)
		if (s->targets[k] == i)
			return true;
	return false;
}

/*
 * The peers of the asker's (filled) table nearest the key of lookup j's
 * repository, as the agent picks them (peertable_nearest), into s->targets.
 */
static void
key_targets(struct sim *s, int j)
{
	const struct peertable_entry *near[PEERTABLE_KEY_ASK];
	char repo[32];
	size_t n;

	snprintf(repo, sizeof(repo), "find-%d", j);
	n = peertable_nearest(s->nodes[s->lk[j].asker].t, repo, T0 + s->now, near, PEERTABLE_KEY_ASK);
	for (size_t k = 0; k < n; k++)
		s->targets[s->ntargets++] = node_of(s, near[k]->rec.record.email);
}

/*
 * What a peer asked by key holds: its table as a converged network leaves
 * it (everyone, or a random share filled to table_max), then the hosts'
 * records, applied as gossip brings them, so that the table's own rules
 * (responsibility for the key, eviction tiers) decide whether it keeps them.
 */
static void
key_table(struct sim *s, struct lookup *l, int i)
{
	bool holding = false;

	fill_table(s, i, l);
	for (int h = 0; h < s->o.hosts; h++) {
		hold_record(s, i, l->hosts[h]);
		holding |= peertable_get(s->nodes[i].t, s->nodes[l->hosts[h]].email) != NULL;
	}
	l->key_holding += holding;
}

/* Virtual ms for n handshake packets one after the other, a lost one sent again. */
static int64_t
handshake_ms(struct sim *s, int n)
{
	int64_t ms = 0;

	for (int k = 0; k < n; k++) {
		ms += hop_ms(s);
		for (int64_t rto = DIAL_RTO_MS; sim_unit(s) < s->o.loss; rto *= 2)
			ms += rto;
	}
	return ms;
}

/*
 * The asker dials peer i for lookup j: the accepting side's session comes up
 * after the handshake's packets, the dialling side's one hop later (the
 * 101), and the accepting side's frames follow that answer.
 */
static void
dial_start(struct sim *s, int j, int i)
{
	struct dial *d = &s->dials[s->ndials];
	int64_t accept = s->now + handshake_ms(s, DIAL_PACKETS_ACCEPT);
	int64_t up = accept + handshake_ms(s, 1);

	*d = (struct dial){.peer = i, .last = {0, up}};
	ev_push(s, (struct ev){.t = accept, .kind = EV_DIAL_ACCEPT, .from = j, .to = s->ndials});
	ev_push(s, (struct ev){.t = up, .kind = EV_DIAL_UP, .from = j, .to = s->ndials});
	s->ndials++;
	s->lk[j].dials++;
}

/* One side of a dialled session comes up (ev: EV_DIAL_ACCEPT or EV_DIAL_UP). */
static void
dial_up(struct sim *s, const struct ev *ev)
{
	struct engine_actions a = {0};
	struct dial *d;
	int asker, me, other;

	if (ev->from != s->active || ev->to >= s->ndials || s->dials[ev->to].closed)
		return;
	d = &s->dials[ev->to];
	asker = s->lk[s->active].asker;
	me = ev->kind == EV_DIAL_UP ? asker : d->peer;
	other = me == asker ? d->peer : asker;
	engine_neighbour_up(s->nodes[me].e, (uint64_t)other + 1, me != asker, NULL, T0 + s->now,
			    &s->erng, &a);
	dispatch(s, me, &a);
}

/*
 * A frame from i reached the asker: once a dialled session's hello has
 * authenticated i, the question goes, under the lookup's request id; once
 * the answer is in, the session closes.
 */
static void
dial_progress(struct sim *s, struct lookup *l, int i, const char *frame)
{
	struct dial *d = dial_between(s, l->asker, i);
	struct engine_actions a = {0};
	struct cm_strlist repos = {0};

	if (d == NULL || d->closed)
		return;
	if (!d->asked && engine_neighbour_email(s->nodes[l->asker].e, (uint64_t)i + 1) != NULL) {
		d->asked = true;
		lookup_repos((int)(l - s->lk), &repos);
		engine_request_to(s->nodes[l->asker].e, &repos, (uint64_t)i + 1, T0 + s->now,
				  &s->erng, l->id, &a);
		dispatch(s, l->asker, &a);
		cm_strlist_clear(&repos);
	} else if (strstr(frame, "\"PEER_LIST_RESPONSE\"") != NULL && strstr(frame, l->id) != NULL) {
		d->closed = true;
		engine_neighbour_down(s->nodes[l->asker].e, (uint64_t)i + 1, T0 + s->now);
		engine_neighbour_down(s->nodes[i].e, (uint64_t)l->asker + 1, T0 + s->now);
	}
}

/*
 * The tables a missed lookup meets: its neighbours' hold each host with
 * the table share (drawn per table and host), those of the peers asked by
 * key are filled and given the hosts (key_table).
 */
static void
draw_tables(struct sim *s, struct lookup *l)
{
	const struct node *n = &s->nodes[l->asker];
	double share = table_share(s);

	for (int h = 0; h < s->o.hosts; h++)
		for (int m = 0; m < n->nnbs; m++)
			if (n->nbs[m] != l->hosts[h] && !is_target(s, n->nbs[m]) &&
			    sim_unit(s) < share)
				hold_record(s, n->nbs[m], l->hosts[h]);
	for (int k = 0; k < s->ntargets; k++)
		key_table(s, l, s->targets[k]);
}

/*
 * Lookup j misses the asker's table: PEER_REQUEST to DISCOVER_ASK random
 * neighbours and, with keys, to the peers nearest the key (over a session
 * up, else one dialled for it), all under one request id. Returns how many
 * were asked or dialled.
 */
static int
lookup_ask(struct sim *s, int j)
{
	struct lookup *l = &s->lk[j];
	struct node *n = &s->nodes[l->asker];
	struct engine_actions a = {0};
	struct cm_strlist repos = {0};
	int asked;

	if (s->o.keyed)
		key_targets(s, j);
	draw_tables(s, l);
	lookup_repos(j, &repos);
	asked = engine_request(n->e, &repos, DISCOVER_ASK, T0 + s->now, &s->erng, l->id, &a);
	for (int k = 0; k < s->ntargets; k++) {
		int i = s->targets[k];

		l->key_asked++;
		if (!linked(n, i))
			dial_start(s, j, i);
		else
			engine_request_to(n->e, &repos, (uint64_t)i + 1, T0 + s->now, &s->erng,
					  l->id, &a);
		asked++;
	}
	dispatch(s, l->asker, &a);
	cm_strlist_clear(&repos);
	return asked;
}

/*
 * Lookup j: a random broadcasting node asks as the control API does
 * (api_discover): its table first, else PEER_REQUEST to DISCOVER_ASK
 * neighbours (and by key) and their answers DISCOVER_WAIT_MS later, else
 * the bootstrap servers. The tables it meets are drawn first (table_share).
 */
static void
lookup_start(struct sim *s, int j)
{
	struct lookup *l = &s->lk[j];
	struct cm_strlist repos = {0};
	double share = table_share(s);

	do
		l->asker = (int)(sim_rand(s) % (uint64_t)s->used);
	while (!s->nodes[l->asker].alive || s->nodes[l->asker].silent ||
	       hosts_lookup(s, l, l->asker));
	l->at_ms = s->now;
	l->first_ms = -1;
	s->active = j;
	for (int h = 0; h < s->o.hosts; h++)
		if (sim_unit(s) < share)
			hold_record(s, l->asker, l->hosts[h]);
	fill_table(s, l->asker, l);
	l->table_size = (long)peertable_count(s->nodes[l->asker].t);
	lookup_repos(j, &repos);
	if (hosts_offered(s, l->asker, &repos, NULL) > 0) {
		l->found = FOUND_TABLE;
		lookup_done(s, l);
	} else if (lookup_ask(s, j) > 0) {
		ev_push(s, (struct ev){.t = s->now + DISCOVER_WAIT_MS, .kind = EV_LOOKUP_END,
				       .to = j});
	} else {
		lookup_fallback(s, l, 0);
		lookup_done(s, l);
	}
	cm_strlist_clear(&repos);
}

/* An answer from i reached the asker: did it name a host, and does its table now hold one? */
static void
lookup_answered(struct sim *s, struct lookup *l, int i, const char *frame)
{
	for (int h = 0; h < s->o.hosts; h++) {
		const char *email = s->nodes[l->hosts[h]].email;
		char needle[48];
		const struct peertable_entry *pe = peertable_get(s->nodes[l->asker].t, email);

		snprintf(needle, sizeof(needle), "\"%s\"", email);
		l->named |= strstr(frame, needle) != NULL;
		if (pe != NULL && !pe->offline && l->first_ms < 0) {
			l->first_ms = s->now - l->at_ms;
			l->first_key = is_target(s, i);
		}
	}
}

/* The API's wait is over: the hosts the answers named, else the bootstrap servers. */
static void
lookup_end(struct sim *s, int j)
{
	struct lookup *l = &s->lk[j];
	struct cm_strlist emails = {0}, repos = {0};

	engine_request_take(s->nodes[l->asker].e, l->id, &emails);
	lookup_repos(j, &repos);
	if (emails.len > 0 && hosts_offered(s, l->asker, &repos, &emails) > 0) {
		l->found = l->first_key ? FOUND_KEY : FOUND_GOSSIP;
		l->answer_ms = l->first_ms >= 0 ? l->first_ms : DISCOVER_WAIT_MS;
	} else {
		lookup_fallback(s, l, DISCOVER_WAIT_MS);
	}
	cm_strlist_clear(&emails);
	cm_strlist_clear(&repos);
	lookup_done(s, l);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Median, 99th percentile and maximum of the answer times of the lookups of
 * one kind (silent hosts or not) found up to `upto`.
 */
static void
print_times(const struct sim *s, bool silent, const char *name, enum found upto)
{
	int64_t *t = calloc((size_t)s->o.lookups + 1, sizeof(*t));
	size_t n = 0;

	for (int j = 0; t != NULL && j < s->o.lookups; j++)
		if (s->lk[j].silent == silent && s->lk[j].found != FOUND_NONE &&
		    s->lk[j].found <= upto)
			t[n++] = s->lk[j].answer_ms;
	printf(",\"%s\":", name);
	if (n == 0) {
		printf("null");
	} else {
		qsort(t, n, sizeof(*t), cmp_i64);
		printf("{\"median\":%lld,\"p99\":%lld,\"max\":%lld}", (long long)t[n / 2],
		       (long long)t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1],
		       (long long)t[n - 1]);
	}
	free(t);
}

/* The share of the lookups of one kind found without the bootstrap servers within ms. */
static double
found_within(const struct sim *s, bool silent, int64_t ms)
{
	long n = 0, found = 0;

	for (int j = 0; j < s->o.lookups; j++) {
		const struct lookup *l = &s->lk[j];

		if (l->silent != silent)
			continue;
		n++;
		found += l->found != FOUND_NONE && l->found <= FOUND_KEY && l->answer_ms <= ms;
	}
	return n > 0 ? (double)found / (double)n : 0;
}

/* The lookups of one kind: hosts broadcasting, or silent (null when there were none). */
static void
report_lookups(const struct sim *s, bool silent)
{
	long by[FOUND_BOOTSTRAP + 1] = {0}, refused = 0, messages = 0, bytes = 0, fallback = 0;
	long dial_messages = 0, dial_bytes = 0, key_asked = 0, key_holding = 0, dials = 0;
	long forwards = 0, forward_bytes = 0;
	long n = 0;
	double table = 0, per;

	for (int j = 0; j < s->o.lookups; j++)
		n += s->lk[j].silent == silent;
	printf(",\"%s\":", silent ? "silent" : "broadcasting");
	if (n == 0) {
		printf("null");
		return;
	}
	per = 1.0 / (double)n;
	for (int j = 0; j < s->o.lookups; j++) {
		const struct lookup *l = &s->lk[j];

		if (l->silent != silent)
			continue;
		by[l->found]++;
		refused += l->named && l->found != FOUND_GOSSIP && l->found != FOUND_KEY;
		messages += l->messages;
		bytes += l->bytes;
		dial_messages += l->dial_messages;
		dial_bytes += l->dial_bytes;
		key_asked += l->key_asked;
		key_holding += l->key_holding;
		dials += l->dials;
		forwards += l->forwards;
		forward_bytes += l->forward_bytes;
		fallback += l->found == FOUND_BOOTSTRAP || l->found == FOUND_NONE;
		table += (double)l->table_size;
	}
	printf("{\"lookups\":%ld,\"asker_table_entries\":%.0f,\"found_table\":%ld,"
	       "\"found_gossip\":%ld,\"found_key\":%ld,\"found_bootstrap\":%ld,\"not_found\":%ld,"
	       "\"named_not_kept\":%ld,"
	       "\"success_without_bootstrap\":%.4f,\"success_with_bootstrap\":%.4f,"
	       "\"success_within_2s_without_bootstrap\":%.4f,"
	       "\"messages_per_lookup\":%.3f,\"messages_per_lookup_with_bootstrap\":%.3f,"
	       "\"gossip_bytes_per_lookup\":%.0f,\"dial_messages_per_lookup\":%.3f,"
	       "\"dial_bytes_per_lookup\":%.0f,\"key_asked_per_lookup\":%.3f,"
	       "\"key_holding_per_lookup\":%.3f,\"dials_per_lookup\":%.3f,"
	       "\"hello_forwards_per_lookup\":%.3f,\"hello_forward_bytes_per_lookup\":%.0f",
	       n, table * per, by[FOUND_TABLE], by[FOUND_GOSSIP], by[FOUND_KEY], by[FOUND_BOOTSTRAP],
	       by[FOUND_NONE], refused,
	       (double)(by[FOUND_TABLE] + by[FOUND_GOSSIP] + by[FOUND_KEY]) * per,
	       (double)(by[FOUND_TABLE] + by[FOUND_GOSSIP] + by[FOUND_KEY] + by[FOUND_BOOTSTRAP]) *
		       per,
	       found_within(s, silent, 2000), (double)messages * per,
	       (double)(messages + 2 * fallback) * per, (double)bytes * per,
	       (double)dial_messages * per, (double)dial_bytes * per, (double)key_asked * per,
	       (double)key_holding * per, (double)dials * per, (double)forwards * per,
	       (double)forward_bytes * per);
	print_times(s, silent, "time_ms_without_bootstrap", FOUND_KEY);
	print_times(s, silent, "time_ms_with_bootstrap", FOUND_BOOTSTRAP);
	printf("}");
}

static void
report_discover(const struct sim *s)
{
	printf(",\"discover\":{\"lookups\":%d,\"hosts\":%d,\"silent_hosts\":%g,"
	       "\"table_share\":%.4f,\"keyed\":%s",
	       s->o.lookups, s->o.hosts, s->o.silent_hosts, table_share(s),
	       s->o.keyed ? "true" : "false");
	report_lookups(s, false);
	report_lookups(s, true);
	printf("}");
}

/*
 * A dialled session's hello is kept by the dialled peer (a session peer's
 * record), so the engine forwards it to every other neighbour: those copies
 * are counted (l: the lookup the session is for), and what they start is
 * not followed. In the network this stands for it ends there: their full
 * tables refuse a record issued more than ae_fresh_ms ago and do not pass
 * it on. The simulated tables hold few records and would keep it, and every
 * dial would walk the whole network (docs/performance.md, "Discovery").
 */
static struct engine_actions *
cut_forwards(struct lookup *l, int partner, struct engine_actions *a)
{
	size_t kept = 0;

	for (size_t i = 0; i < a->len; i++) {
		struct engine_action *act = &a->items[i];

		if (act->kind == ENGINE_SEND && (int)act->neighbour - 1 != partner) {
			l->forwards++;
			l->forward_bytes += (long)act->frame_len;
			free(act->frame);
			continue;
		}
		a->items[kept++] = *act;
	}
	a->len = kept;
	return a;
}

static enum kind
frame_kind(const char *frame)
{
	if (strstr(frame, "\"HEARTBEAT\"") != NULL)
		return K_HEARTBEAT;
	if (strstr(frame, "\"PEER_REQUEST\"") != NULL)
		return K_DIGEST;
	if (strstr(frame, "\"PEER_LIST_RESPONSE\"") != NULL)
		return K_LIST;
	return strstr(frame, "\"public_certificate\"") != NULL ? K_ANNOUNCE : K_REFRESH;
}

static void
deliver(struct sim *s, struct ev *e)
{
	struct node *n = &s->nodes[e->to];
	struct engine_actions a = {0};
	struct lookup *l = s->active >= 0 ? &s->lk[s->active] : NULL;
	bool dialled = dial_between(s, e->from, e->to) != NULL;

	/*
	 * A lookup's request or answer (they carry its id), and every frame of
	 * a session dialled for it: lost ones cost the sender too.
	 */
	if (l != NULL && (dialled || strstr(e->frame, l->id) != NULL)) {
		l->messages++;
		l->bytes += (long)e->len;
		l->dial_messages += dialled;
		l->dial_bytes += dialled ? (long)e->len : 0;
	} else {
		l = NULL;
	}
	if (e->to < 0 || e->to >= s->used || !n->alive || !s->nodes[e->from].alive ||
	    sim_unit(s) < s->o.loss || partitioned(s, e->from, e->to)) {
		s->dropped++;
		return;
	}
	s->messages++;
	s->bytes += e->len;
	if (s->now >= s->t_announce) {
		enum kind k = frame_kind(e->frame);

		s->kind_messages[k]++;
		s->kind_bytes[k] += e->len;
	}
	for (int k = 0; k < s->nann; k++)
		if (s->now >= s->ann[k].at_ms && strstr(e->frame, s->ann[k].needle_email) != NULL &&
		    strstr(e->frame, s->ann[k].needle_seq) != NULL)
			s->ann[k].copies++;
	engine_receive(n->e, (uint64_t)e->from + 1, e->frame, e->len, T0 + s->now, &s->erng, &a);
	/*
	 * Before the measurement the network is taken as converged: sessions come
	 * up and authenticate, but the hellos are not flooded on. Simulating every
	 * node's arrival would cost N^2 messages and tell nothing about the news.
	 */
	if (s->now < s->t_announce)
		engine_actions_clear(&a);
	else if (dialled)
		dispatch(s, e->to, cut_forwards(l, e->from, &a));
	else
		dispatch(s, e->to, &a);
	check_holds(s, e->to);
	if (l != NULL && e->to == l->asker) {
		if (strstr(e->frame, l->id) != NULL)
			lookup_answered(s, l, e->from, e->frame);
		if (dialled)
			dial_progress(s, l, e->from, e->frame);
	}
}

static void
tick(struct sim *s, int i)
{
	struct engine_actions a = {0};
	int64_t next;

	if (!s->nodes[i].alive)
		return;
	next = engine_tick(s->nodes[i].e, T0 + s->now, &s->erng, &a);
	/*
	 * Warm-up exchanges nothing but hellos: a digest answered after the start
	 * would carry the whole neighbourhood of a table that, in the converged
	 * network this stands for, is known to everyone already.
	 */
	if (s->now < s->t_announce)
		engine_actions_clear(&a);
	else
		dispatch(s, i, &a);
	check_holds(s, i);
	ev_push(s, (struct ev){.t = s->now + (next < 1000 ? next : 1000), .kind = EV_TICK, .to = i});
}

static void
announce(struct sim *s, int k)
{
	struct announcement *an = &s->ann[k];
	struct engine_actions a = {0};
	struct cm_peer_record r;
	int i;

	do
		i = (int)(sim_rand(s) % (uint64_t)s->used);
	while (!s->nodes[i].alive);
	record_of(s, i, &r, k + 1);
	engine_set_self(s->nodes[i].e, &r, T0 + s->now, &s->erng, &a);
	cm_strlist_clear(&r.socket_addresses);
	cm_repolist_clear(&r.repositories);
	dispatch(s, i, &a);
	an->origin = i;
	an->seq = engine_self(s->nodes[i].e)->record.seq;
	an->at_ms = s->now;
	an->t99_ms = -1;
	snprintf(an->needle_email, sizeof(an->needle_email), "\"%s\"", s->nodes[i].email);
	snprintf(an->needle_seq, sizeof(an->needle_seq), "\"seq\":%lld", (long long)an->seq);
}

static bool
all_covered(const struct sim *s)
{
	for (int k = 0; k < s->nann; k++)
		if (s->ann[k].holders + 1 < s->live)
			return false;
	return s->nann > 0;
}

/* The worst share of live nodes (origin aside) holding an announcement now. */
static double
worst_coverage(const struct sim *s)
{
	double worst = 1.0;

	for (int k = 0; k < s->nann; k++) {
		long others = s->nodes[s->ann[k].origin].alive ? s->live - 1 : s->live;
		double c = others > 0 ? (double)s->ann[k].holders / (double)others : 1.0;

		worst = c < worst ? c : worst;
	}
	return worst;
}

static void
sample_series(struct sim *s, int64_t upto)
{
	while (s->series != NULL && s->nann > 0 && s->next_sample <= upto) {
		fprintf(s->series, "%lld %.6f\n", (long long)(s->next_sample - s->t_announce),
			worst_coverage(s));
		s->next_sample += 100;
	}
}

#define CHURN_MAX_NODES 2000
#define SEEDED_AGE_MS (10 * 60 * 1000LL) /* how long ago a seeded table took its records */

/* Does node i re-announce within the steady measurement window? */
static bool
refreshes_in_window(const struct sim *s, int i)
{
	return s->nodes[i].refresh_at >= s->t_announce &&
	       s->nodes[i].refresh_at < s->t_announce + s->o.duration_s * 1000;
}

/*
 * Steady mode starts converged: every table holds the record of every node
 * that will re-announce during the window, as gossip would have left it (a
 * refresh is only accepted by a holder). Other records change nothing that
 * is measured, and holding all N per node would need N^2 entries. In a
 * network larger than table_max a table holds its share of them (table_share,
 * a random draw per table and record) and is full: its bound is set to what
 * it holds, so it refuses the others as a full table of table_max would. With
 * churn every table holds every record (hence CHURN_MAX_NODES): a newcomer's
 * hellos pass on its neighbours' records, which must be old news, as they
 * would be.
 */
static long
seed_tables(struct sim *s)
{
	double share = s->o.steady ? table_share(s) : 1.0;
	long seeded = 0;

	for (int i = 0; i < s->used; i++) {
		char fp[CM_FINGERPRINT_LEN + 1];
		const struct cm_signed_record *rec;

		if ((s->o.steady && !refreshes_in_window(s, i)) ||
		    (rec = self_record(s, i, fp)) == NULL)
			continue;
		seeded++;
		/* Held for a while, as in a converged network (not news a digest sends whole). */
		for (int j = 0; j < s->used; j++)
			if (j != i && (share >= 1 || sim_unit(s) < share))
				peertable_apply(s->nodes[j].t, rec, fp, T0 + s->now - SEEDED_AGE_MS);
	}
	for (int j = 0; share < 1 && j < s->used; j++)
		peertable_set_max_entries(s->nodes[j].t, peertable_count(s->nodes[j].t));
	return seeded;
}

/*
 * Of the refreshes due in the window early enough to have spread (10 s before
 * its end), the worst share of live nodes holding the refreshed record (of
 * those holding its origin, when tables are smaller than the network).
 */
static double
refresh_coverage(const struct sim *s, long *counted)
{
	int64_t end = s->t_announce + (s->o.duration_s - s->o.settle_s) * 1000;
	double worst = 1.0;

	*counted = 0;
	for (int i = 0; i < s->used; i++) {
		const struct cm_signed_record *rec = engine_self(s->nodes[i].e);
		long holders = 0, held = 0;

		if (!refreshes_in_window(s, i) || s->nodes[i].refresh_at >= end || rec == NULL)
			continue;
		for (int j = 0; j < s->used; j++) {
			const struct peertable_entry *e;

			if (j == i || !s->nodes[j].alive)
				continue;
			e = peertable_get(s->nodes[j].t, rec->record.email);
			holders += e != NULL && e->rec.record.seq >= rec->record.seq;
			held += e != NULL;
		}
		/* Tables smaller than the network: of those that hold the origin. */
		if (table_share(s) >= 1)
			held = s->live - 1;
		(*counted)++;
		if (held > 0 && (double)holders / (double)held < worst)
			worst = (double)holders / (double)held;
	}
	return worst;
}

/* Every live node's open sessions, one JSON line each (fb-topology --sim). */
static int
export_sessions(const struct sim *s, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "gossip-sim: %s: cannot write\n", path);
		return -1;
	}
	for (int i = 0; i < s->used; i++) {
		const struct node *n = &s->nodes[i];
		bool first = true;

		if (!n->alive)
			continue;
		fprintf(f, "{\"email\":\"%s\",\"sessions\":[", n->email);
		for (int m = 0; m < n->nnbs; m++) {
			if (!s->nodes[n->nbs[m]].alive)
				continue;
			fprintf(f, "%s\"%s\"", first ? "" : ",", s->nodes[n->nbs[m]].email);
			first = false;
		}
		fprintf(f, "]}\n");
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "gossip-sim: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

static int
usage(FILE *f, int rc)
{
	fprintf(f,
		"usage: gossip-sim [--nodes N] [--seed S] [--algorithm flashback|seed]\n"
		"                  [--mode spread|steady|discover] [--fanout F] [--ttl T]\n"
		"                  [--loss P] [--churn P] [--hosts K] [--silent-hosts P]\n"
		"                  [--lookups L] [--keyed 0|1] [--latency-ms MS] [--duration-s S]\n"
		"                  [--refreshes pull|push] [--settle-s S]\n"
		"                  [--announcements K] [--verify real|skip] [--json]\n"
		"                  [--neighbours N] [--max-peers N] [--table-max N]\n"
		"                  [--heartbeat-s S] [--anti-entropy-s S] [--reannounce-s S]\n"
		"                  [--stale-s S] [--expire-s S] [--partition-at-s S --heal-at-s S]\n"
		"                  [--export FILE] [--series FILE]\n"
		"\n"
		"Runs the peer agent's gossip engine on N simulated nodes (virtual time).\n"
		"spread: how far and how fast K new announcements spread (the run stops when every\n"
		"live node holds them, or after --duration-s). steady: the standing cost of a\n"
		"converged network over a --duration-s window, per node and second, by kind, and\n"
		"the worst share of holders a refresh due --settle-s (10) before its end reached;\n"
		"--refreshes push is the rule before refreshes were pulled by anti-entropy.\n"
		"discover: L lookups, one at a time, each for a repository hosted by K random\n"
		"nodes (silent ones for a --silent-hosts share of the lookups), asked by a random\n"
		"broadcasting node as the control API does: its table, PEER_REQUEST to neighbours\n"
		"and (--keyed 1, the default) to the 5 peers of its table nearest the repository's\n"
		"key over a session dialled for it, the bootstrap servers (modelled: they list\n"
		"broadcasting hosts). Tables hold table_max random peers.\n"
		"--algorithm seed is the seed's rule alone (forward once to 3 neighbours, 5 %%\n"
		"duplicate re-forward, no anti-entropy). Loss and churn are fractions 0-1; churn\n"
		"kills that share of nodes when the announcements start and lets as many new ones\n"
		"join during the first half of the run (at most 2,000 nodes: tables start full).\n"
		"--export writes every live node's sessions\n"
		"as JSON Lines for fb-topology --sim; --series writes \"ms coverage\" every 100 ms.\n"
		"Defaults are the agent's (agent.ini). With --json stdout holds one JSON object.\n");
	return rc;
}

/*
 * A whole integer flag value up to max (the option's type); a malformed one
 * sets *bad. Ranges that depend on other flags are checked after parsing.
 */
static int64_t
num(const char *s, int64_t min, int64_t max, bool *bad)
{
	int64_t v = 0;

	if (cm_parse_int(s, min, max, &v) != 0)
		*bad = true;
	return v;
}

/* A fraction flag value (loss, churn); a malformed one sets *bad. */
static double
frac(const char *s, bool *bad)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0')
		*bad = true;
	return v;
}

static int
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"nodes", 1, NULL, 'n'},          {"seed", 1, NULL, 's'},
		{"algorithm", 1, NULL, 'a'},      {"mode", 1, NULL, 'm'},
		{"fanout", 1, NULL, 'f'},         {"ttl", 1, NULL, 't'},
		{"loss", 1, NULL, 'l'},           {"churn", 1, NULL, 'c'},
		{"latency-ms", 1, NULL, 'L'},     {"duration-s", 1, NULL, 'd'},
		{"announcements", 1, NULL, 'k'},  {"verify", 1, NULL, 'v'},
		{"json", 0, NULL, 'j'},           {"neighbours", 1, NULL, 'N'},
		{"max-peers", 1, NULL, 'M'},      {"heartbeat-s", 1, NULL, 'H'},
		{"anti-entropy-s", 1, NULL, 'A'}, {"reannounce-s", 1, NULL, 'R'},
		{"stale-s", 1, NULL, 'S'},        {"expire-s", 1, NULL, 'E'},
		{"partition-at-s", 1, NULL, 'P'}, {"heal-at-s", 1, NULL, 'Q'},
		{"table-max", 1, NULL, 'T'},      {"export", 1, NULL, 'x'},
		{"series", 1, NULL, 'y'},         {"help", 0, NULL, 'h'},
		{"hosts", 1, NULL, 'K'},          {"silent-hosts", 1, NULL, 'Z'},
		{"lookups", 1, NULL, 'U'},       {"keyed", 1, NULL, 'Y'},
		{"refreshes", 1, NULL, 'F'},     {"settle-s", 1, NULL, 'W'},
		{NULL, 0, NULL, 0},
	};
	bool bad = false;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o->nodes = (int)num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 's': o->seed = (uint64_t)num(optarg, 0, INT64_MAX, &bad); break;
		case 'a':
			if (strcmp(optarg, "seed") != 0 && strcmp(optarg, "flashback") != 0)
				return usage(stderr, 2);
			o->seed_algorithm = strcmp(optarg, "seed") == 0;
			break;
		case 'm':
			if (strcmp(optarg, "spread") != 0 && strcmp(optarg, "steady") != 0 &&
			    strcmp(optarg, "discover") != 0)
				return usage(stderr, 2);
			o->steady = strcmp(optarg, "steady") == 0;
			o->discover = strcmp(optarg, "discover") == 0;
			break;
		case 'f': o->fanout = (int)num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 't': o->ttl = (int)num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'l': o->loss = frac(optarg, &bad); break;
		case 'c': o->churn = frac(optarg, &bad); break;
		case 'L': o->latency_ms = num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'd': o->duration_s = num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'k': o->announcements = (int)num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'v':
			if (strcmp(optarg, "real") != 0 && strcmp(optarg, "skip") != 0)
				return usage(stderr, 2);
			o->verify = strcmp(optarg, "real") == 0;
			break;
		case 'j': o->json = true; break;
		case 'N': o->neighbours = (int)num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'M': o->max_peers = (int)num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'H': o->heartbeat_s = num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'A': o->anti_entropy_s = num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'R': o->reannounce_s = num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'S': o->stale_s = num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'E': o->expire_s = num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'P': o->partition_at_s = num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'Q': o->heal_at_s = num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'T': o->table_max = (size_t)num(optarg, 1, INT_MAX, &bad); break;
		case 'x': o->export_path = optarg; break;
		case 'y': o->series_path = optarg; break;
		case 'K': o->hosts = (int)num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'Z': o->silent_hosts = frac(optarg, &bad); break;
		case 'U': o->lookups = (int)num(optarg, INT_MIN, INT_MAX, &bad); break;
		case 'Y': o->keyed = num(optarg, 0, 1, &bad) == 1; break;
		case 'F':
			if (strcmp(optarg, "pull") != 0 && strcmp(optarg, "push") != 0)
				return usage(stderr, 2);
			o->push_refreshes = strcmp(optarg, "push") == 0;
			break;
		case 'W': o->settle_s = num(optarg, 0, INT_MAX, &bad); break;
		case 'h': return usage(stdout, 0) - 1;
		default: return usage(stderr, 2);
		}
	}
	if (o->max_peers < 0)
		o->max_peers = 2 * o->neighbours; /* the agent's default */
	if (bad || optind < argc || o->nodes < 2 || o->fanout < 1 || o->ttl < 1 || o->ttl > CM_MAX_TTL ||
	    o->loss < 0 || o->loss >= 1 || o->churn < 0 || o->churn >= 1 || o->latency_ms < 0 ||
	    o->duration_s < 1 || o->settle_s >= o->duration_s || o->announcements < 1 ||
	    o->announcements > MAX_ANNOUNCEMENTS ||
	    o->neighbours < 1 || o->max_peers < o->neighbours || o->heartbeat_s < 1 ||
	    o->anti_entropy_s < 1 || o->reannounce_s < 1 || o->stale_s < 1 ||
	    o->expire_s <= o->stale_s || o->table_max < 1 ||
	    (o->churn > 0 && o->nodes > CHURN_MAX_NODES) ||
	    (o->steady && (o->churn > 0 || o->partition_at_s >= 0 ||
			   o->expire_s <= o->reannounce_s + o->duration_s)) ||
	    (o->discover &&
	     (o->churn > 0 || o->partition_at_s >= 0 || o->hosts < 1 || o->hosts > MAX_HOSTS ||
	      o->hosts > o->nodes / 4 || o->silent_hosts < 0 || o->silent_hosts > 1 ||
	      o->lookups < 1 ||
	      (int64_t)o->hosts * o->lookups > (int64_t)o->nodes * MAX_HOSTED / 2 ||
	      o->reannounce_s + (int64_t)o->lookups * LOOKUP_GAP_MS / 1000 >= o->stale_s))) {
		fprintf(stderr, "gossip-sim: a value is out of range (--help)\n");
		return 2;
	}
	return 0;
}

/* The agent's defaults, from the same code that reads agent.ini. */
static void
agent_defaults(struct opts *o)
{
	struct pa_config pc;

	pa_config_default(&pc);
	*o = (struct opts){.nodes = 1000, .seed = 1, .fanout = pc.fanout, .ttl = pc.ttl,
			   .neighbours = pc.neighbours, .max_peers = -1, .latency_ms = 50,
			   .duration_s = 60, .announcements = 1, .heartbeat_s = pc.heartbeat_s,
			   .anti_entropy_s = pc.anti_entropy_s, .reannounce_s = pc.reannounce_s,
			   .stale_s = pc.stale_s, .expire_s = pc.expire_s, .table_max = pc.table_max,
			   .partition_at_s = -1, .heal_at_s = -1, .hosts = 3, .lookups = 1000,
			   .keyed = true, .settle_s = 10};
	pa_config_clear(&pc);
}

/* Before the measurement: churn strikes, the network counts as converged, the news starts. */
static void
start_measurement(struct sim *s, long joiners)
{
	/* Churn strikes as the news starts: these nodes die without a word. */
	for (long killed = 0; killed < joiners;) {
		int v = (int)(sim_rand(s) % (uint64_t)s->o.nodes);

		if (s->nodes[v].alive) {
			kill_node(s, v);
			killed++;
		}
	}
	if (s->o.steady || joiners > 0)
		fprintf(stderr, "gossip-sim: %ld records seeded, %.4g of them in each table\n",
			seed_tables(s), s->o.steady ? table_share(s) : 1.0);
	/* Converged: every neighbour pair has exchanged what it had. */
	for (int i = 0; i < s->used; i++)
		for (int m = 0; m < s->nodes[i].nnbs; m++) {
			int j = s->nodes[i].nbs[m];

			engine_assume_synced(s->nodes[i].e, (uint64_t)j + 1,
					     peertable_version(s->nodes[j].t));
		}
	if (s->o.steady || s->o.discover)
		return;
	for (int k = 0; k < s->o.announcements; k++)
		announce(s, k);
	s->nann = s->o.announcements;
	s->next_sample = s->t_announce;
}

static void
print_kinds(const struct sim *s, double per)
{
	printf(",\"by_kind\":{");
	for (int k = 0; k < K_COUNT; k++)
		printf("%s\"%s\":{\"messages_per_node_per_s\":%.3f,\"bytes_per_node_per_s\":%.1f}",
		       k > 0 ? "," : "", kind_names[k], (double)s->kind_messages[k] * per,
		       (double)s->kind_bytes[k] * per);
	printf("}");
}

static void
report(struct sim *s, int64_t wall0)
{
	double coverage = 1.0, copies = 0, t99 = -1, per, msgs = 0, bytes = 0, measured_s;
	uint64_t rate_limited = 0;
	struct rusage ru;

	for (int k = 0; k < s->nann; k++) {
		copies += (double)s->ann[k].copies / (double)(s->live > 0 ? s->live : 1);
		if (s->ann[k].t99_ms < 0)
			t99 = -2;
		else if (t99 != -2 && (double)s->ann[k].t99_ms > t99)
			t99 = (double)s->ann[k].t99_ms;
	}
	if (s->nann > 0) {
		coverage = worst_coverage(s);
		copies /= s->nann;
	}
	measured_s = (double)(s->now - s->t_announce) / 1000.0;
	per = 1.0 / ((double)(s->live > 0 ? s->live : 1) * (measured_s > 0 ? measured_s : 1));
	for (int k = 0; k < K_COUNT; k++) {
		msgs += (double)s->kind_messages[k];
		bytes += (double)s->kind_bytes[k];
	}
	/* Honest gossip must stay under the engine's rate limits: this says whether it did. */
	for (int i = 0; i < s->o.nodes; i++)
		if (s->nodes[i].created)
			rate_limited += engine_stats(s->nodes[i].e)->verdicts[ENGINE_DROP_RATE];
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"nodes\":%d,\"algorithm\":\"%s\",\"mode\":\"%s\",\"seed\":%llu,\"fanout\":%d,"
	       "\"ttl\":%d,\"neighbours\":%d,\"max_peers\":%d,\"table_max\":%zu,\"loss\":%g,"
	       "\"churn\":%g,\"latency_ms\":%lld,\"heartbeat_s\":%lld,\"anti_entropy_s\":%lld,"
	       "\"reannounce_s\":%lld,\"stale_s\":%lld,\"expire_s\":%lld,\"announcements\":%d,"
	       "\"verify\":\"%s\",\"live_nodes\":%ld",
	       s->o.nodes, s->o.seed_algorithm ? "seed" : "flashback",
	       s->o.steady ? "steady" : s->o.discover ? "discover" : "spread",
	       (unsigned long long)s->o.seed, s->o.fanout,
	       s->o.ttl, s->o.neighbours, s->o.max_peers, s->o.table_max, s->o.loss, s->o.churn,
	       (long long)s->o.latency_ms, (long long)s->o.heartbeat_s,
	       s->o.seed_algorithm ? 0LL : (long long)s->o.anti_entropy_s,
	       (long long)s->o.reannounce_s, (long long)s->o.stale_s, (long long)s->o.expire_s,
	       s->nann, s->o.verify ? "real" : "skip", s->live);
	if (s->o.steady) {
		long counted;
		double rc = refresh_coverage(s, &counted);

		printf(",\"coverage\":null,\"time_to_99_99_ms\":null,\"record_copies_per_node\":null,"
		       "\"refreshes\":%ld,\"refresh_coverage\":%.6f,"
		       "\"messages_per_node_per_s\":%.3f,\"bytes_per_node_per_s\":%.1f",
		       counted, rc, msgs * per, bytes * per);
	} else if (s->o.discover) {
		printf(",\"coverage\":null,\"time_to_99_99_ms\":null,"
		       "\"record_copies_per_node\":null,\"messages_per_node_per_s\":null,"
		       "\"bytes_per_node_per_s\":null");
		report_discover(s);
	} else {
		printf(",\"coverage\":%.6f,\"time_to_99_99_ms\":", coverage);
		if (t99 < 0)
			printf("null");
		else
			printf("%.0f", t99);
		printf(",\"record_copies_per_node\":%.3f,\"messages_per_node_per_s\":null,"
		       "\"bytes_per_node_per_s\":null",
		       copies);
	}
	print_kinds(s, per);
	printf(",\"messages\":%llu,\"bytes\":%llu,\"dropped\":%llu,\"rate_limited\":%llu,"
	       "\"virtual_ms\":%lld,\"wall_ms\":%lld,\"peak_rss_kb\":%ld}\n",
	       (unsigned long long)s->messages, (unsigned long long)s->bytes,
	       (unsigned long long)s->dropped, (unsigned long long)rate_limited,
	       (long long)(s->now - s->t_announce),
	       (long long)(cm_time_mono_ms() - wall0), ru.ru_maxrss);
}

/*
 * Static, so everything stays reachable until exit: the process ends without
 * freeing node by node (20 million allocations, 10 s at 100k nodes); the
 * kernel takes the memory back at once.
 */
static struct sim s;

int
main(int argc, char **argv)
{
	int64_t wall0 = cm_time_mono_ms(), end;
	long joiners;
	int rc;

	agent_defaults(&s.o);
	if ((rc = parse(argc, argv, &s.o)) != 0)
		return rc < 0 ? 0 : rc;
	log_set_level(LOG_LVL_WARN);
	if (s.o.series_path != NULL && (s.series = fopen(s.o.series_path, "w")) == NULL) {
		fprintf(stderr, "gossip-sim: %s: cannot write\n", s.o.series_path);
		return 1;
	}
	s.rng = s.o.seed * 0x9E3779B97F4A7C15ULL + 1;
	s.key = (struct cm_hash_key){s.rng, ~s.rng};
	s.erng.next = sim_rand;
	s.erng.ctx = &s;
	s.t_announce = WARMUP_MS;
	joiners = (long)floor(s.o.churn * s.o.nodes);
	s.cap = s.o.nodes + (int)joiners;
	s.nodes = calloc((size_t)s.cap, sizeof(*s.nodes));
	s.active = -1;
	if (s.o.discover) {
		s.lk = calloc((size_t)s.o.lookups, sizeof(*s.lk));
		for (int f = 0; f < 1 + PEERTABLE_KEY_ASK; f++)
			if ((s.filled[f].fill = calloc(s.o.table_max + 1, sizeof(int))) == NULL)
				s.nodes = NULL;
		if (s.nodes == NULL || s.lk == NULL) {
			fprintf(stderr, "gossip-sim: out of memory\n");
			return 1;
		}
		place_hosts(&s);
	}
	for (int i = 0; i < s.o.nodes; i++) {
		int64_t at = 0;

		/*
		 * Records signed so that re-announcements fall evenly over one
		 * interval: steady mode's refreshes, and in discover mode the share
		 * of records a digest asks for (issued in the last ae_fresh_ms).
		 */
		if (s.o.steady || s.o.discover)
			at = s.t_announce - s.o.reannounce_s * 1000 +
			     (int64_t)(sim_rand(&s) % (uint64_t)(s.o.reannounce_s * 1000));
		node_create(&s, i, at);
	}
	s.used = s.o.nodes;
	for (int i = 0; i < s.o.nodes; i++)
		dial(&s, i);
	fprintf(stderr, "gossip-sim: %d nodes connected; warming up\n", s.o.nodes);
	end = s.t_announce + s.o.duration_s * 1000;
	/* Lookups one after the other, the first as the measurement starts. */
	for (int j = 0; s.o.discover && j < s.o.lookups; j++)
		ev_push(&s, (struct ev){.t = s.t_announce + (int64_t)j * LOOKUP_GAP_MS,
					.kind = EV_LOOKUP, .to = j});
	if (s.o.discover)
		end = s.t_announce + (int64_t)s.o.lookups * LOOKUP_GAP_MS;
	for (long j = 0; j < joiners; j++)
		ev_push(&s, (struct ev){.t = s.t_announce + (int64_t)(sim_rand(&s) %
								     (uint64_t)(s.o.duration_s * 500 + 1)),
					.kind = EV_JOIN, .to = s.o.nodes + (int)j});
	while (s.nheap > 0) {
		struct ev e = ev_pop(&s);

		if (e.t > end) {
			free(e.frame);
			s.now = end;
			break;
		}
		sample_series(&s, e.t - 1);
		s.now = e.t;
		if (!s.measuring && s.now >= s.t_announce) {
			s.measuring = true;
			fprintf(stderr, "gossip-sim: warm-up done after %lld ms of wall time\n",
				(long long)(cm_time_mono_ms() - wall0));
			start_measurement(&s, joiners);
		}
		if (e.kind == EV_DELIVER)
			deliver(&s, &e);
		else if (e.kind == EV_TICK)
			tick(&s, e.to);
		else if (e.kind == EV_LOOKUP)
			lookup_start(&s, e.to);
		else if (e.kind == EV_LOOKUP_END)
			lookup_end(&s, e.to);
		else if (e.kind == EV_DIAL_ACCEPT || e.kind == EV_DIAL_UP)
			dial_up(&s, &e);
		else {
			node_create(&s, e.to, s.now);
			s.used = e.to + 1 > s.used ? e.to + 1 : s.used;
			dial(&s, e.to);
		}
		free(e.frame);
		if (s.nann > 0 && joiners == 0 && all_covered(&s))
			break;
	}
	sample_series(&s, s.now);
	if (s.series != NULL && s.nann > 0)
		fprintf(s.series, "%lld %.6f\n", (long long)(s.now - s.t_announce), worst_coverage(&s));
	report(&s, wall0);
	rc = 0;
	if (s.series != NULL && fclose(s.series) != 0)
		rc = 1;
	if (s.o.export_path != NULL && export_sessions(&s, s.o.export_path) != 0)
		rc = 1;
	return rc;
}
