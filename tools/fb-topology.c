/*
 * fb-topology.c - the shape of a gossip network from its agents' peer tables,
 * or from a simulator's export.
 *
 *   fb-topology [--dot FILE] [--json] EMAIL=PEERS_JSON ...
 *   fb-topology [--dot FILE] [--json] --sim FILE
 *
 * Each EMAIL=PEERS_JSON argument names an agent and a file holding its
 * `peer-agent peers --json` answer: the agent has a session with every peer
 * its table shows as CONNECTED. A simulator export is JSON Lines, one line
 * per live node: {"email":"n0@sim.example","sessions":["n5@sim.example"]}.
 * Either way a session is one edge, however many times it is listed. The
 * analysis (components, degrees, estimated diameter, DOT) is
 * peer-agent/src/core/topology.c, which `peer-agent topology` runs on live agents.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/topology.h"
#include "fb/codec.h"
#include "fb/random.h"
#include "fb/file.h"
#include "fb/limits.h"

#define MAX_INPUT (64 * 1024 * 1024)
/* A node has a few dozen sessions: a line of 1 MiB is far past any real one. */
#define SIM_MAX_LINE_BYTES (1024 * 1024)
#define SIM_MAX_FILE_BYTES (1024LL * 1024 * 1024)
#define SIM_READ_BYTES (2 * SIM_MAX_LINE_BYTES + 2)

#define USAGE \
	"usage: fb-topology [--dot FILE] [--json] EMAIL=PEERS_JSON ...\n" \
	"       fb-topology [--dot FILE] [--json] --sim FILE\n"

/* Reads one agent's peers --json; returns 0 or -1 with a message on stderr. */
static int
load_peers_file(struct topology *t, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char email[CM_MAX_EMAIL + 1];
	struct cm_err err;
	json_t *arr = NULL;
	char *buf = NULL;
	size_t len;
	int rc = -1;

	if (eq == NULL || eq == arg || (size_t)(eq - arg) >= sizeof(email)) {
		fprintf(stderr, "fb-topology: %s: expected EMAIL=FILE\n", arg);
		return -1;
	}
	memcpy(email, arg, (size_t)(eq - arg));
	email[eq - arg] = '\0';
	if (cm_file_read(eq + 1, MAX_INPUT, &buf, &len, &err) != 0) {
		fprintf(stderr, "fb-topology: %s\n", err.msg);
		return -1;
	}
	if ((arr = cm_json_parse(buf, len, MAX_INPUT, &err)) == NULL ||
	    topology_add_peers(t, email, arr, &err) != 0) {
		fprintf(stderr, "fb-topology: %s: %s\n", eq + 1, err.msg);
		goto end;
	}
	rc = 0;
end:
	json_decref(arr);
	free(buf);
	return rc;
}

/* A JSON Lines file, read in large blocks; lines are handed out in place. */
struct lines {
	FILE *f;
	char *buf; /* SIM_READ_BYTES */
	size_t start, end; /* unread bytes: buf[start .. end) */
	long long total_bytes;
	long number; /* of the line last handed out */
	bool eof;
};

/*
 * The next line, without its newline, in *line and *len (valid until the next
 * call). Returns 1, 0 at the end of the file, or -1 with err set: a line over
 * SIM_MAX_LINE_BYTES, a file over SIM_MAX_FILE_BYTES, a read error.
 */
static int
lines_next(struct lines *r, char **line, size_t *len, struct cm_err *err)
{
	char *nl;
	size_t got;

	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		/* Without a newline in twice the limit, the line is too long: stop there. */
		if (nl != NULL || (r->eof && r->start < r->end) ||
		    r->end - r->start > SIM_MAX_LINE_BYTES) {
			*line = r->buf + r->start;
			*len = nl != NULL ? (size_t)(nl - *line) : r->end - r->start;
			r->start += *len + (nl != NULL);
			r->number++;
			break;
		}
		if (r->eof)
			return 0;
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
		if ((got = fread(r->buf + r->end, 1, SIM_READ_BYTES - r->end, r->f)) == 0) {
			if (ferror(r->f)) {
				cm_err_set(err, "line %ld: read error", r->number + 1);
				return -1;
			}
			r->eof = true;
		}
		r->end += got;
		if ((r->total_bytes += (long long)got) > SIM_MAX_FILE_BYTES) {
			cm_err_set(err, "larger than %lld bytes", SIM_MAX_FILE_BYTES);
			return -1;
		}
	}
	if (*len > SIM_MAX_LINE_BYTES) {
		cm_err_set(err, "line %ld: longer than %d bytes", r->number, SIM_MAX_LINE_BYTES);
		return -1;
	}
	return 1;
}

/*
 * One node's line: {"email": E, "sessions": [E1, ...]}; other members are
 * ignored. Returns the node's index, or -1 with err set.
 */
static int
sim_add_node(struct topology *t, const char *line, size_t len, struct cm_err *err)
{
	json_t *j, *sessions, *s;
	const char *email;
	struct cm_err e;
	int self, peer, rc = -1;
	size_t i;

	if ((j = cm_json_parse(line, len, SIM_MAX_LINE_BYTES, err)) == NULL)
		return -1;
	email = json_string_value(json_object_get(j, "email"));
	sessions = json_object_get(j, "sessions");
	if (!json_is_object(j)) {
		cm_err_set(err, "not a JSON object");
		goto end;
	}
	if (email == NULL) {
		cm_err_set(err, "email: missing or not a string");
		goto end;
	}
	if (!json_is_array(sessions)) {
		cm_err_set(err, "sessions: missing or not an array");
		goto end;
	}
	if ((self = topology_node(t, email, &e)) < 0) {
		cm_err_set(err, "email: %s", e.msg);
		goto end;
	}
	json_array_foreach(sessions, i, s) {
		if (json_string_value(s) == NULL) {
			cm_err_set(err, "sessions[%zu]: not a string", i);
			goto end;
		}
		if ((peer = topology_node(t, json_string_value(s), &e)) < 0) {
			cm_err_set(err, "sessions[%zu]: %s", i, e.msg);
			goto end;
		}
		if (peer == self) {
			cm_err_set(err, "sessions[%zu]: a session with the node itself", i);
			goto end;
		}
		if (topology_add_session(t, self, peer, err) != 0)
			goto end;
	}
	rc = self;
end:
	json_decref(j);
	return rc;
}

/* Reads a simulator export; returns 0 or -1 with a message on stderr. */
static int
load_sim(struct topology *t, const char *path)
{
	struct lines r = {0};
	struct cm_err err;
	long *line_of = NULL; /* by node: the line that listed its sessions, 0 for none */
	int line_of_cap = 0, node, got, rc = -1;
	size_t len;
	char *line;

	if ((r.f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "fb-topology: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((r.buf = malloc(SIM_READ_BYTES)) == NULL) {
		fprintf(stderr, "fb-topology: out of memory\n");
		goto end;
	}
	while ((got = lines_next(&r, &line, &len, &err)) == 1) {
		if (len == 0)
			continue;
		if ((node = sim_add_node(t, line, len, &err)) < 0) {
			fprintf(stderr, "fb-topology: %s: line %ld: %s\n", path, r.number, err.msg);
			goto end;
		}
		if (node >= line_of_cap) {
			int cap = line_of_cap == 0 ? 1024 : line_of_cap;
			long *grown;

			while (cap <= node)
				cap *= 2;
			if ((grown = realloc(line_of, (size_t)cap * sizeof(*line_of))) == NULL) {
				fprintf(stderr, "fb-topology: out of memory\n");
				goto end;
			}
			memset(grown + line_of_cap, 0, (size_t)(cap - line_of_cap) * sizeof(*grown));
			line_of = grown;
			line_of_cap = cap;
		}
		if (line_of[node] != 0) {
			fprintf(stderr, "fb-topology: %s: line %ld: the node of line %ld again\n", path,
				r.number, line_of[node]);
			goto end;
		}
		line_of[node] = r.number;
	}
	if (got < 0) {
		fprintf(stderr, "fb-topology: %s: %s\n", path, err.msg);
		goto end;
	}
	rc = 0;
end:
	free(line_of);
	free(r.buf);
	fclose(r.f);
	return rc;
}

static void
help(void)
{
	printf(USAGE
	       "Builds the session graph of a gossip network and reports its components (more\n"
	       "than one is a partition), degrees and an estimated diameter.\n"
	       "\n"
	       "  EMAIL=PEERS_JSON  an agent and a file with its `peer-agent peers --json`\n"
	       "                    answer: each CONNECTED peer is a session\n"
	       "  --sim FILE        a simulator export, JSON Lines, one line per live node:\n"
	       "                    {\"email\":\"n0@sim.example\",\"sessions\":[\"n5@sim.example\"]}\n"
	       "                    (lines up to %d bytes, files up to %lld bytes)\n"
	       "  --dot FILE        also write the graph as Graphviz DOT\n"
	       "  --json            one JSON object instead of two lines of text\n"
	       "  --help\n"
	       "\n"
	       "A session listed by both ends, or twice, is one edge.\n"
	       "exit codes: 0 ok, 1 bad input, 2 usage error\n",
	       SIM_MAX_LINE_BYTES, SIM_MAX_FILE_BYTES);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {{"dot", 1, NULL, 'd'},
					   {"json", 0, NULL, 'j'},
					   {"sim", 1, NULL, 's'},
					   {"help", 0, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	const char *dot = NULL, *sim = NULL;
	bool json = false;
	struct cm_hash_key key;
	struct topology *t = NULL;
	struct topology_summary sum;
	struct cm_err err;
	char *text = NULL;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': dot = optarg; break;
		case 'j': json = true; break;
		case 's': sim = optarg; break;
		case 'h': help(); return 0;
		default: fprintf(stderr, USAGE); return 2;
		}
	}
	if (sim != NULL && optind < argc) {
		fprintf(stderr, "fb-topology: --sim and EMAIL=PEERS_JSON arguments do not mix\n" USAGE);
		return 2;
	}
	if (sim == NULL && optind >= argc) {
		fprintf(stderr, USAGE);
		return 2;
	}
	if (cm_random_hash_key(&key) != 0 || (t = topology_new(&key)) == NULL) {
		fprintf(stderr, "fb-topology: out of memory or no random source\n");
		return 1;
	}
	if (sim != NULL && load_sim(t, sim) != 0)
		goto end;
	for (int i = optind; i < argc; i++)
		if (load_peers_file(t, argv[i]) != 0)
			goto end;
	if (topology_analyse(t, &sum, &err) != 0) {
		fprintf(stderr, "fb-topology: %s\n", err.msg);
		goto end;
	}
	if ((text = topology_summary_text(t, json)) == NULL || fputs(text, stdout) == EOF) {
		fprintf(stderr, "fb-topology: cannot write the summary\n");
		goto end;
	}
	free(text);
	text = NULL;
	if (dot != NULL && ((text = topology_dot_text(t)) == NULL ||
			      cm_file_write_atomic(dot, text, strlen(text), 0644, &err) != 0)) {
		fprintf(stderr, "fb-topology: %s: %s\n", dot, text == NULL ? "out of memory" : err.msg);
		goto end;
	}
	rc = 0;
end:
	free(text);
	topology_free(t);
	return rc;
}
