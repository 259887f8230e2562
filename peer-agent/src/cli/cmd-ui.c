/*
 * cmd-ui.c - `peer-agent ui [--open]`: the address of the agent's web page
 * with its API token in the fragment (http://127.0.0.1:PORT/#token=...), which
 * the page keeps in sessionStorage and takes out of the address bar. The
 * fragment never leaves the browser: it is in no request, log or Referer.
 */
#include <curl/curl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli/cli.h"

extern char **environ;

/* Hands url to the desktop's browser (xdg-open). Returns 0, or 1 with a message. */
static int
open_url(const char *url)
{
	char *argv[] = {"xdg-open", (char *)url, NULL};
	pid_t pid;
	int status, rc;

	if ((rc = posix_spawnp(&pid, "xdg-open", NULL, NULL, argv, environ)) != 0) {
		fprintf(stderr, "peer-agent: ui: cannot run xdg-open: %s; open the address yourself\n",
			strerror(rc));
		return 1;
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "peer-agent: ui: xdg-open failed; open the address yourself\n");
		return 1;
	}
	return 0;
}

static int
cmd_ui(const struct cli_opts *o)
{
	struct pa_config cfg;
	struct cli_answer ans = {0};
	char *token, *esc = NULL, rest[4200], url[4400];
	long status;
	int rc = 1;

	if (cli_agent_open(o->home, &cfg, &token) != 0)
		return 2;
	if ((esc = curl_easy_escape(NULL, token, 0)) == NULL) {
		fprintf(stderr, "peer-agent: out of memory\n");
		goto done;
	}
	snprintf(rest, sizeof(rest), "/#token=%s", esc);
	cli_api_url(&cfg, rest, url, sizeof(url));
	printf("%s\n", url);
	fflush(stdout);
	/* The address is printed either way; whether the agent answers it is said after. */
	if ((status = cli_request(&cfg, token, "GET", "/api/v1/status", NULL, &ans)) == 0)
		goto done;
	if (status != 200) {
		cli_print_error(status, &ans);
		goto done;
	}
	rc = o->open ? open_url(url) : 0;
done:
	curl_free(esc);
	free(ans.buf);
	free(token);
	pa_config_clear(&cfg);
	return rc;
}

const struct cli_command cli_cmd_ui = {
	"ui", 0, 0,
	"  ui [--open]                       the web page's address with the API token (--open:\n"
	"                                    in the desktop's browser, through xdg-open)\n",
	cmd_ui};
