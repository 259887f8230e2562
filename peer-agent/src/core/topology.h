/*
 * topology.h - the session graph of a gossip network and its shape: connected
 * components (more than one is a partition), the degree distribution and an
 * estimated diameter. fb-topology and `peer-agent topology` share it.
 *
 * Nodes are emails; an edge is an open session between two of them,
 * undirected, counted once however many times either end reports it.
 * Built for simulator-sized graphs (10^5 nodes, 10^6 sessions): names sit in
 * a hash table, sessions are de-duplicated by a hash set, and breadth-first
 * searches run over compressed adjacency rows, so building and analysing cost
 * O(nodes + sessions), but for the diameter estimate, which is up to
 * TOPOLOGY_BFS_SOURCES searches.
 *
 * Pure: the summary and the DOT graph come back as text for the caller to write.
 */
#ifndef PA_TOPOLOGY_H
#define PA_TOPOLOGY_H

#include <jansson.h>
#include <stdbool.h>

#include "fb/err.h"
#include "fb/hash.h"

#define TOPOLOGY_MAX_NODES (1 << 24)
#define TOPOLOGY_MAX_SESSIONS (1 << 27) /* 2x fits an int: adjacency rows are int-indexed */
#define TOPOLOGY_BFS_SOURCES 64         /* searches behind the diameter estimate */

struct topology;

struct topology_summary {
	int nodes;
	int sessions;
	int components;
	int largest_component; /* nodes in it */
	bool partitioned;      /* more than one component */
	int degree_min;
	int degree_max;
	double degree_avg;
	/*
	 * The largest eccentricity found by searching from up to
	 * TOPOLOGY_BFS_SOURCES nodes spread over the graph: a lower bound of the
	 * largest diameter of any component, exact when every node was a source.
	 */
	int diameter_estimate;
	const int *degree_histogram; /* degree_max + 1 counts; owned by the topology */
};

/*
 * An empty graph, or NULL when out of memory. Names come from other agents
 * (a lister could choose them to collide), so key its tables with a random
 * key (cm_random_hash_key); the key is copied.
 */
struct topology *topology_new(const struct cm_hash_key *key);
void topology_free(struct topology *t);

/*
 * The node named email, added when new. Returns its index (0, 1, ... in the
 * order of first mention), or -1 with err set: not a valid email (so a name
 * never needs quoting in DOT), TOPOLOGY_MAX_NODES reached, or no memory.
 */
int topology_node(struct topology *t, const char *email, struct cm_err *err);

/*
 * The session between nodes a and b. A repeat, in either direction, is the
 * same session and ignored; so is a == b. Returns 0, or -1 with err set
 * (TOPOLOGY_MAX_SESSIONS reached, no memory).
 */
int topology_add_session(struct topology *t, int a, int b, struct cm_err *err);

/*
 * One agent's peer table as `GET /api/v1/peers` answers it: self and every
 * listed peer are nodes, each CONNECTED peer a session with self. Entries
 * without an email are skipped. Returns 0, or -1 with err set (not an array,
 * a bad email, a limit).
 */
int topology_add_peers(struct topology *t, const char *self, const json_t *peers,
		       struct cm_err *err);

/*
 * Computes the shape of the graph as it is now into *out (valid until the
 * next change or topology_free). Returns 0, or -1 with err set (no memory).
 */
int topology_analyse(struct topology *t, struct topology_summary *out, struct cm_err *err);

/*
 * The last analysis as text: one compact JSON object and a newline when json,
 * else two lines for people. Caller frees; NULL before an analysis or without
 * memory.
 */
char *topology_summary_text(const struct topology *t, bool json);

/*
 * The graph as Graphviz DOT, each node's group its component in the last
 * analysis. Caller frees; NULL before an analysis or without memory.
 */
char *topology_dot_text(const struct topology *t);

#endif
