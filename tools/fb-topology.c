/*
 * fb-topology.c - the shape of a gossip network from its agents' peer tables.
 *
 *   fb-topology [--dot FILE] [--json] EMAIL=PEERS_JSON ...
 *
 * Each argument names an agent and a file holding its `peer-agent peers --json`
 * answer. A session is an edge: the agent and every peer its table shows as
 * CONNECTED. The analysis (components, degrees, estimated diameter, DOT) is
 * peer-agent/src/topology.c, which `peer-agent topology` runs on live agents.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../peer-agent/src/topology.h"
#include "fb/codec.h"
#include "fb/limits.h"

#define MAX_INPUT (64 * 1024 * 1024)

#define USAGE "usage: fb-topology [--dot FILE] [--json] EMAIL=PEERS_JSON ...\n"

/* Reads one agent's peers --json; returns 0 or -1 with a message on stderr. */
static int
load_peers_file(struct topology *t, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char email[CM_MAX_EMAIL + 1];
	struct cm_err err;
	json_t *arr = NULL;
	FILE *f = NULL;
	char *buf = NULL;
	size_t len;
	int rc = -1;

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
	if ((buf = malloc(MAX_INPUT + 1)) == NULL) {
		fprintf(stderr, "fb-topology: out of memory\n");
		goto end;
	}
	if ((len = fread(buf, 1, MAX_INPUT + 1, f)) > MAX_INPUT) {
		fprintf(stderr, "fb-topology: %s: larger than %d bytes\n", eq + 1, MAX_INPUT);
		goto end;
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
	fclose(f);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"dot", 1, NULL, 'd'}, {"json", 0, NULL, 'j'}, {"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *dot = NULL;
	bool json = false;
	struct topology *t = NULL;
	struct topology_summary sum;
	struct cm_err err;
	FILE *f;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': dot = optarg; break;
		case 'j': json = true; break;
		case 'h':
			printf(USAGE "Builds the session graph from agents' `peer-agent peers --json` answers\n"
				     "and reports components, degrees and an estimated diameter.\n");
			return 0;
		default: return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, USAGE);
		return 2;
	}
	if ((t = topology_new()) == NULL) {
		fprintf(stderr, "fb-topology: out of memory\n");
		return 1;
	}
	for (int i = optind; i < argc; i++)
		if (load_peers_file(t, argv[i]) != 0)
			goto end;
	if (topology_analyse(t, &sum, &err) != 0) {
		fprintf(stderr, "fb-topology: %s\n", err.msg);
		goto end;
	}
	if (topology_write_summary(t, stdout, json) != 0) {
		fprintf(stderr, "fb-topology: cannot write the summary\n");
		goto end;
	}
	if (dot != NULL) {
		if ((f = fopen(dot, "w")) == NULL) {
			perror(dot);
			goto end;
		}
		c = topology_write_dot(t, f);
		if (fclose(f) != 0 || c != 0) {
			fprintf(stderr, "fb-topology: %s: write failed\n", dot);
			goto end;
		}
	}
	rc = 0;
end:
	topology_free(t);
	return rc;
}
