/*
 * cli.h - the peer-agent command line: the command table's entry, the options
 * every command sees, and the one client of the agent's control API.
 *
 * Exit codes: 0 ok, 1 failure (the agent answered with an error or could not
 * be reached), 2 usage or configuration error.
 */
#ifndef PA_CLI_H
#define PA_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"

#define CLI_MAX_ANSWER (8 * 1024 * 1024)

struct cli_opts {
	const char *home;
	bool home_given; /* --home named it (else the default directory) */
	const char *email;
	const char *repository;
	const char *repositories;
	const char *log_level;
	const char *dot;
	bool force;
	bool json;
	const char *cmd;
	int nargs;
	char **args;
};

struct cli_command {
	const char *name;
	int min_args, max_args; /* max -1: any number */
	const char *usage;      /* its rows of --help, each "  SYNOPSIS  HELP\n" */
	int (*fn)(const struct cli_opts *o);
};

/* cmd-daemon.c, cmd-api.c, cmd-topology.c */
extern const struct cli_command cli_cmd_init, cli_cmd_run;
extern const struct cli_command cli_cmd_status, cli_cmd_peers, cli_cmd_discover, cli_cmd_lookup,
	cli_cmd_broadcast;
extern const struct cli_command cli_cmd_topology;

/* main.c: the "unknown command or wrong arguments" answer and the usage; returns 2. */
int cli_wrong_args(const struct cli_opts *o);

/* An answer of the control API, NUL-terminated. */
struct cli_answer {
	char *buf;
	size_t len;
};

/*
 * Reads the configuration and API token of the agent at home. Returns 0, or 2
 * (a configuration error) with a message on stderr and cfg cleared.
 */
int cli_agent_open(const char *home, struct pa_config *cfg, char **token);

/*
 * Calls the control API of the agent cfg describes. Returns the HTTP status
 * (0: unreachable, said on stderr); out holds the answer, which the caller
 * frees. body may be NULL.
 */
long cli_request(const struct pa_config *cfg, const char *token, const char *method,
		 const char *path, const char *body, struct cli_answer *out);

#endif
