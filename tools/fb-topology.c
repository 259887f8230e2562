/*
 * fb-topology.c - the shape of a gossip network from its agents' peer tables.
 *
 *   fb-topology [--dot FILE] [--json] EMAIL=PEERS_JSON ...
 *
 * Each argument names an agent and a file holding its `peer-agent peers --json`
 * answer. A session is an edge: the agent and every peer its table shows as
 * CONNECTED. Prints the nodes, edges, connected components (more than one is a
 * partition), the degree distribution and an estimated diameter (the largest
 * eccentricity found by breadth-first search from up to 64 nodes), and writes
 * the graph as Graphviz DOT when asked.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"

#define MAX_INPUT (64 * 1024 * 1024)
#define BFS_SOURCES 64

struct graph {
	char **names;
	int n, cap;
	int (*edges)[2];
	int ne, cape;
};

static int
node_id(struct graph *g, const char *name)
{
	for (int i = 0; i < g->n; i++)
		if (strcmp(g->names[i], name) == 0)
			return i;
	if (g->n == g->cap) {
		g->cap = g->cap == 0 ? 64 : g->cap * 2;
		g->names = realloc(g->names, (size_t)g->cap * sizeof(*g->names));
	}
	g->names[g->n] = strdup(name);
	return g->n++;
}

static void
add_edge(struct graph *g, int a, int b)
{
	if (a > b) {
		int t = a;

		a = b;
		b = t;
	}
	for (int i = 0; i < g->ne; i++)
		if (g->edges[i][0] == a && g->edges[i][1] == b)
			return; /* both ends report the session: one edge */
	if (g->ne == g->cape) {
		g->cape = g->cape == 0 ? 256 : g->cape * 2;
		g->edges = realloc(g->edges, (size_t)g->cape * sizeof(*g->edges));
	}
	g->edges[g->ne][0] = a;
	g->edges[g->ne][1] = b;
	g->ne++;
}

/* Reads one agent's peers --json; returns 0 or -1 with a message on stderr. */
static int
load(struct graph *g, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char email[512];
	struct cm_err err;
	json_t *arr, *p;
	size_t i;
	FILE *f;
	char *buf;
	size_t len;
	int self;

	if (eq == NULL || eq == arg || (size_t)(eq - arg) >= sizeof(email)) {
		fprintf(stderr, "fb-topology: %s: expected EMAIL=FILE\n", arg);
		return -1;
	}
	memcpy(email, arg, (size_t)(eq - arg));
	email[eq - arg] = '\0';
	if ((f = fopen(eq + 1, "r")) == NULL) {
		perror(eq + 1);
		return -1;
	}
	buf = malloc(MAX_INPUT + 1);
	len = buf != NULL ? fread(buf, 1, MAX_INPUT + 1, f) : 0;
	fclose(f);
	if (buf == NULL || len > MAX_INPUT) {
		fprintf(stderr, "fb-topology: %s: larger than %d bytes\n", eq + 1, MAX_INPUT);
		free(buf);
		return -1;
	}
	arr = cm_json_parse(buf, len, MAX_INPUT, &err);
	free(buf);
	if (arr == NULL || !json_is_array(arr)) {
		fprintf(stderr, "fb-topology: %s: %s\n", eq + 1,
			arr == NULL ? err.msg : "not a JSON array of peers");
		json_decref(arr);
		return -1;
	}
	self = node_id(g, email);
	json_array_foreach(arr, i, p) {
		const char *peer = json_string_value(json_object_get(p, "email"));
		const char *state = json_string_value(json_object_get(p, "state"));

		if (peer == NULL)
			continue;
		if (state != NULL && strcmp(state, "CONNECTED") == 0)
			add_edge(g, self, node_id(g, peer));
		else
			node_id(g, peer); /* known, but no session from here */
	}
	json_decref(arr);
	return 0;
}

/* Adjacency in compressed rows: neighbours of i are adj[start[i] .. start[i+1]). */
static void
adjacency(const struct graph *g, int **start, int **adj)
{
	int *deg = calloc((size_t)g->n + 1, sizeof(int));

	*start = calloc((size_t)g->n + 1, sizeof(int));
	*adj = malloc((size_t)(2 * g->ne + 1) * sizeof(int));
	for (int e = 0; e < g->ne; e++) {
		(*start)[g->edges[e][0] + 1]++;
		(*start)[g->edges[e][1] + 1]++;
	}
	for (int i = 0; i < g->n; i++)
		(*start)[i + 1] += (*start)[i];
	for (int e = 0; e < g->ne; e++) {
		int a = g->edges[e][0], b = g->edges[e][1];

		(*adj)[(*start)[a] + deg[a]++] = b;
		(*adj)[(*start)[b] + deg[b]++] = a;
	}
	free(deg);
}

/* BFS from src; returns the eccentricity within its component. comp marks visited nodes. */
static int
bfs(const struct graph *g, const int *start, const int *adj, int src, int *dist, int *queue)
{
	int head = 0, tail = 0, far = 0;

	for (int i = 0; i < g->n; i++)
		dist[i] = -1;
	dist[src] = 0;
	queue[tail++] = src;
	while (head < tail) {
		int u = queue[head++];

		if (dist[u] > far)
			far = dist[u];
		for (int k = start[u]; k < start[u + 1]; k++) {
			if (dist[adj[k]] < 0) {
				dist[adj[k]] = dist[u] + 1;
				queue[tail++] = adj[k];
			}
		}
	}
	return far;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"dot", 1, NULL, 'd'}, {"json", 0, NULL, 'j'}, {"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *dot = NULL;
	bool json = false;
	struct graph g = {0};
	int *start, *adj, *dist, *queue, *comp, ncomp = 0, largest = 0, diameter = 0;
	int mindeg = 0, maxdeg = 0, c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': dot = optarg; break;
		case 'j': json = true; break;
		case 'h':
			printf("usage: fb-topology [--dot FILE] [--json] EMAIL=PEERS_JSON ...\n"
			       "Builds the session graph from agents' `peer-agent peers --json` answers\n"
			       "and reports components, degrees and an estimated diameter.\n");
			return 0;
		default: return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: fb-topology [--dot FILE] [--json] EMAIL=PEERS_JSON ...\n");
		return 2;
	}
	for (int i = optind; i < argc; i++)
		if (load(&g, argv[i]) != 0)
			return 1;
	adjacency(&g, &start, &adj);
	dist = malloc((size_t)g.n * sizeof(int));
	queue = malloc((size_t)g.n * sizeof(int));
	comp = malloc((size_t)g.n * sizeof(int));
	for (int i = 0; i < g.n; i++)
		comp[i] = -1;
	for (int i = 0; i < g.n; i++) {
		int size = 0;

		if (comp[i] >= 0)
			continue;
		bfs(&g, start, adj, i, dist, queue);
		for (int j = 0; j < g.n; j++)
			if (dist[j] >= 0) {
				comp[j] = ncomp;
				size++;
			}
		if (size > largest)
			largest = size;
		ncomp++;
	}
	/* Eccentricities from spread-out sources bound the diameter from below. */
	for (int s = 0; s < g.n && s < BFS_SOURCES; s++) {
		int src = (int)((long)s * g.n / (g.n < BFS_SOURCES ? g.n : BFS_SOURCES));
		int e = bfs(&g, start, adj, src, dist, queue);

		if (e > diameter)
			diameter = e;
	}
	for (int i = 0; i < g.n; i++) {
		int d = start[i + 1] - start[i];

		if (i == 0 || d < mindeg)
			mindeg = d;
		if (d > maxdeg)
			maxdeg = d;
	}
	if (json) {
		printf("{\"nodes\":%d,\"edges\":%d,\"components\":%d,\"largest_component\":%d,"
		       "\"partitioned\":%s,\"degree_min\":%d,\"degree_avg\":%.3f,\"degree_max\":%d,"
		       "\"diameter_estimate\":%d,\"degree_histogram\":[",
		       g.n, g.ne, ncomp, largest, ncomp > 1 ? "true" : "false", mindeg,
		       g.n > 0 ? 2.0 * g.ne / g.n : 0.0, maxdeg, diameter);
		for (int d = 0; d <= maxdeg; d++) {
			int count = 0;

			for (int i = 0; i < g.n; i++)
				count += start[i + 1] - start[i] == d;
			printf("%s%d", d > 0 ? "," : "", count);
		}
		printf("]}\n");
	} else {
		printf("nodes %d, sessions %d, components %d (largest %d)%s\n", g.n, g.ne, ncomp,
		       largest, ncomp > 1 ? ": PARTITIONED" : "");
		printf("degree min %d, average %.2f, max %d; diameter at least %d\n", mindeg,
		       g.n > 0 ? 2.0 * g.ne / g.n : 0.0, maxdeg, diameter);
	}
	if (dot != NULL) {
		FILE *f = fopen(dot, "w");

		if (f == NULL) {
			perror(dot);
			return 1;
		}
		fprintf(f, "graph gossip {\n");
		for (int i = 0; i < g.n; i++)
			fprintf(f, "  \"%s\" [group=%d];\n", g.names[i], comp[i]);
		for (int e = 0; e < g.ne; e++)
			fprintf(f, "  \"%s\" -- \"%s\";\n", g.names[g.edges[e][0]],
				g.names[g.edges[e][1]]);
		fprintf(f, "}\n");
		fclose(f);
	}
	for (int i = 0; i < g.n; i++)
		free(g.names[i]);
	free(g.names);
	free(g.edges);
	free(start);
	free(adj);
	free(dist);
	free(queue);
	free(comp);
	return 0;
}
