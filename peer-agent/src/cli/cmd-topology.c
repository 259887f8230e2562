/*
 * cmd-topology.c - `peer-agent topology`: asks several running agents for
 * their peer tables and analyses the session graph with core/topology.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/topology.h"
#include "fb/codec.h"
#include "fb/file.h"
#include "fb/random.h"

/*
 * Adds the peer table of the agent at home to the graph. Returns 0, 1 (the
 * agent is not reachable or answered with an error) or 2 (configuration),
 * with a message on stderr.
 */
static int
topology_add_agent(struct topology *t, const char *home)
{
	struct pa_config cfg;
	struct cli_answer ans = {0};
	struct cm_err err;
	json_t *peers = NULL;
	char *token;
	long status;
	int rc = 1;

	if (cli_agent_open(home, &cfg, &token) != 0)
		return 2;
	if ((status = cli_request(&cfg, token, "GET", "/api/v1/peers", NULL, &ans)) == 0) {
		fprintf(stderr, "peer-agent: topology: no peer table from %s\n", home);
		goto end;
	}
	if (status != 200) {
		fprintf(stderr, "peer-agent: topology: the agent at %s answered HTTP %ld\n", home,
			status);
		goto end;
	}
	if ((peers = cm_json_parse(ans.buf, ans.len, CLI_MAX_ANSWER, &err)) == NULL ||
	    topology_add_peers(t, cfg.email, peers, &err) != 0) {
		fprintf(stderr, "peer-agent: topology: the peer table from %s: %s\n", home, err.msg);
		goto end;
	}
	rc = 0;
end:
	json_decref(peers);
	free(ans.buf);
	free(token);
	pa_config_clear(&cfg);
	return rc;
}

/*
 * The session graph of the agents whose homes are the arguments, or of the
 * one at --home: each agent's CONNECTED peers are its sessions.
 */
static int
cmd_topology(const struct cli_opts *o)
{
	struct cm_hash_key key;
	struct topology *t;
	struct topology_summary sum;
	struct cm_err err;
	char *text = NULL;
	int rc = 1, added;

	if (o->nargs > 0 && o->home_given) {
		fprintf(stderr, "peer-agent: topology: name the agents' homes as arguments or with "
				"--home, not both\n");
		return 2;
	}
	if (cm_random_hash_key(&key) != 0 || (t = topology_new(&key)) == NULL) {
		fprintf(stderr, "peer-agent: out of memory or no random source\n");
		return 1;
	}
	for (int i = 0; i < (o->nargs > 0 ? o->nargs : 1); i++) {
		if ((added = topology_add_agent(t, o->nargs > 0 ? o->args[i] : o->home)) != 0) {
			rc = added;
			goto end;
		}
	}
	if (topology_analyse(t, &sum, &err) != 0) {
		fprintf(stderr, "peer-agent: topology: %s\n", err.msg);
		goto end;
	}
	if ((text = topology_summary_text(t, o->json)) == NULL || fputs(text, stdout) == EOF) {
		fprintf(stderr, "peer-agent: topology: cannot write the summary\n");
		goto end;
	}
	free(text);
	text = NULL;
	if (o->dot != NULL && ((text = topology_dot_text(t)) == NULL ||
			      cm_file_write_atomic(o->dot, text, strlen(text), 0644, &err) != 0)) {
		fprintf(stderr, "peer-agent: topology: %s: %s\n", o->dot, text == NULL ? "out of memory" : err.msg);
		goto end;
	}
	rc = 0;
end:
	free(text);
	topology_free(t);
	return rc;
}

const struct cli_command cli_cmd_topology = {
	"topology", 0, -1,
	"  topology [--dot FILE] [HOME...]   the session graph of the running agents at\n"
	"                                    HOME... (default: this one): components\n"
	"                                    (more than one is a partition), degrees and\n"
	"                                    an estimated diameter, as fb-topology reports\n",
	cmd_topology};
