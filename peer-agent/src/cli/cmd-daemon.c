/*
 * cmd-daemon.c - the commands about the agent itself: init its home, run the
 * daemon, check its home and surroundings (doctor).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "daemon/agent.h"
#include "daemon/doctor.h"
#include "fb/log.h"
#include "fb/validate.h"

static int
cmd_run(const struct cli_opts *o)
{
	struct pa_config cfg;
	struct cm_err err;
	int rc;

	if (log_init(o->log_level) != 0) {
		fprintf(stderr, "peer-agent: --log-level: expected debug, info, warn or error\n");
		return 2;
	}
	if (pa_config_load(o->home, &cfg, &err) != 0) {
		fprintf(stderr, "peer-agent: %s\n", err.msg);
		pa_config_clear(&cfg);
		return 2;
	}
	rc = pa_agent_run(&cfg);
	pa_config_clear(&cfg);
	return rc;
}

static int
cmd_init(const struct cli_opts *o)
{
	struct cm_err err;

	if (o->email == NULL) {
		fprintf(stderr, "peer-agent: init needs --email EMAIL\n");
		return 2;
	}
	if (!cm_valid_email(o->email, strlen(o->email))) {
		fprintf(stderr, "peer-agent: %s: not a valid email address\n", o->email);
		return 2;
	}
	if (pa_init(o->home, o->email, o->force, &err) != 0) {
		fprintf(stderr, "peer-agent: %s\n", err.msg);
		return 1;
	}
	printf("created %s for %s: identity.key, identity.crt, agent.ini, api.token\n", o->home,
	       o->email);
	return 0;
}

static int
cmd_doctor(const struct cli_opts *o)
{
	return pa_doctor(o->home, stdout);
}

const struct cli_command cli_cmd_init = {
	"init", 0, 0,
	"  init --email EMAIL [--force]      create DIR: identity, agent.ini, api.token\n", cmd_init};
const struct cli_command cli_cmd_run = {
	"run", 0, 0,
	"  run                               run the daemon in the foreground\n", cmd_run};
const struct cli_command cli_cmd_doctor = {
	"doctor", 0, 0,
	"  doctor                            check DIR, agent.ini, identity, ports, bootstrap\n"
	"                                    servers and the clock; says what to fix\n",
	cmd_doctor};
