/*
 * main.c - the peer-agent command line: the command table, --help built from
 * it, the options and the dispatch. The commands are in cmd-*.c; those that
 * talk to a running daemon go through its control API (cli_request).
 *
 * Exit codes: 0 ok, 1 failure (the agent answered with an error or could not
 * be reached), 2 usage or configuration error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_command *const commands[] = {
	&cli_cmd_init,	    &cli_cmd_run,	&cli_cmd_status,    &cli_cmd_peers,
	&cli_cmd_discover, &cli_cmd_lookup, &cli_cmd_broadcast, &cli_cmd_topology,
	&cli_cmd_torrent,  &cli_cmd_relay,     &cli_cmd_ui,
	&cli_cmd_doctor,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	fprintf(f, "usage: peer-agent COMMAND [--home DIR] [options]\n"
		   "\n"
		   "The Flashback peer agent: registers with bootstrap servers and gossips with\n"
		   "other agents to find peers for repositories. A silent agent's addresses never\n"
		   "leave its machine.\n"
		   "\n"
		   "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fputs(commands[i]->usage, f);
	fprintf(f,
		"\n"
		"options:\n"
		"  --home DIR        the agent's directory (default $FLASHBACK_HOME, else\n"
		"                    $HOME/.flashback)\n"
		"  --json            print the control API's JSON answer as it is (topology:\n"
		"                    its summary as one JSON object)\n"
		"  --dot FILE        topology: also write the graph as Graphviz DOT\n"
		"  --name N          torrent create: the torrent's name (default: the base name)\n"
		"  --dest DIR        torrent get: where the download goes\n"
		"  --no-wait         torrent get: return once the download has started\n"
		"  --delete-data     torrent remove: also delete the downloaded or seeded files\n"
		"  --open            ui: open the page in the desktop's browser (xdg-open)\n"
		"  --log-level LVL   debug, info, warn or error (run; default $FB_LOG_LEVEL or info)\n"
		"  --help, --version\n"
		"\n"
		"exit codes: 0 ok, 1 failure, 2 usage or configuration error\n");
}

int
cli_wrong_args(const struct cli_opts *o)
{
	fprintf(stderr, "peer-agent: '%s': unknown command or wrong arguments\n", o->cmd);
	usage(stderr);
	return 2;
}

static char *
default_home(void)
{
	const char *h = getenv("FLASHBACK_HOME"), *u = getenv("HOME");
	size_t len;
	char *out;

	if (h != NULL && *h != '\0')
		return strdup(h);
	if (u == NULL || *u == '\0')
		return NULL;
	len = strlen(u) + sizeof("/.flashback");
	if ((out = malloc(len)) != NULL)
		snprintf(out, len, "%s/.flashback", u);
	return out;
}

static const struct cli_command *
command_find(const struct cli_opts *o)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct cli_command *c = commands[i];

		if (strcmp(c->name, o->cmd) == 0 && o->nargs >= c->min_args &&
		    (c->max_args < 0 || o->nargs <= c->max_args))
			return c;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"home", required_argument, NULL, 'H'},
		{"email", required_argument, NULL, 'e'},
		{"repository", required_argument, NULL, 'r'},
		{"repositories", required_argument, NULL, 'R'},
		{"log-level", required_argument, NULL, 'l'},
		{"dot", required_argument, NULL, 'D'},
		{"force", no_argument, NULL, 'f'},
		{"name", required_argument, NULL, 'n'},
		{"dest", required_argument, NULL, 'd'},
		{"no-wait", no_argument, NULL, 'W'},
		{"delete-data", no_argument, NULL, 'X'},
		{"open", no_argument, NULL, 'O'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct cli_opts o = {0};
	const struct cli_command *c;
	char *home = NULL;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'H': o.home = optarg; break;
		case 'e': o.email = optarg; break;
		case 'r': o.repository = optarg; break;
		case 'R': o.repositories = optarg; break;
		case 'l': o.log_level = optarg; break;
		case 'D': o.dot = optarg; break;
		case 'f': o.force = true; break;
		case 'n': o.name = optarg; break;
		case 'd': o.dest = optarg; break;
		case 'W': o.no_wait = true; break;
		case 'X': o.delete_data = true; break;
		case 'O': o.open = true; break;
		case 'j': o.json = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("peer-agent %s\n", FB_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	o.cmd = argv[optind];
	o.args = argv + optind + 1;
	o.nargs = argc - optind - 1;
	o.home_given = o.home != NULL;
	if (o.home == NULL && (o.home = home = default_home()) == NULL) {
		fprintf(stderr, "peer-agent: no --home DIR and no $HOME\n");
		return 2;
	}
	rc = (c = command_find(&o)) != NULL ? c->fn(&o) : cli_wrong_args(&o);
	free(home);
	return rc;
}
