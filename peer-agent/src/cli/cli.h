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
	const char *name;  /* torrent create --name */
	const char *dest;  /* torrent get --dest */
	bool no_wait;      /* torrent get --no-wait */
	bool delete_data;  /* torrent remove --delete-data */
	bool open;         /* ui --open */
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

/* cmd-daemon.c, cmd-api.c, cmd-topology.c, cmd-torrent.c, cmd-relay.c, cmd-ui.c */
extern const struct cli_command cli_cmd_init, cli_cmd_run, cli_cmd_doctor;
extern const struct cli_command cli_cmd_status, cli_cmd_peers, cli_cmd_discover, cli_cmd_lookup,
	cli_cmd_broadcast;
extern const struct cli_command cli_cmd_topology;
extern const struct cli_command cli_cmd_torrent;
extern const struct cli_command cli_cmd_relay;
extern const struct cli_command cli_cmd_ui;

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
/* The control API's address with rest after it ("/api/v1/status", "/#token=..."), into out. */
void cli_api_url(const struct pa_config *cfg, const char *rest, char *out, size_t size);
/* The same with a timeout of its own (seconds): creating a torrent hashes the whole file. */
long cli_request_timeout(const struct pa_config *cfg, const char *token, const char *method,
			 const char *path, const char *body, long timeout_s,
			 struct cli_answer *out);

/* cmd-api.c: an error answer's message on stderr ("peer-agent: ..."). */
void cli_print_error(long status, const struct cli_answer *ans);
/*
 * Asks the agent at --home and prints the answer: a status, or PeerInfo rows
 * (with_source: where each was found), or with --json the answer as it is.
 * Returns an exit code.
 */
int cli_api_show(const struct cli_opts *o, const char *method, const char *path,
		 const char *body, bool with_source);

#endif
