/*
 * main.c - the peer-agent command line: init and run the daemon, and talk to
 * a running daemon through its control API (127.0.0.1, Bearer token); topology
 * asks several of them and analyses their sessions with topology.c.
 *
 * Exit codes: 0 ok, 1 failure (the agent answered with an error or could not
 * be reached), 2 usage or configuration error.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/agent.h"
#include "daemon/config.h"
#include "fb/codec.h"
#include "fb/log.h"
#include "fb/validate.h"
#include "daemon/fsutil.h"
#include "core/topology.h"

#define CLI_MAX_ANSWER (8 * 1024 * 1024)

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: peer-agent COMMAND [--home DIR] [options]\n"
		"\n"
		"The Flashback peer agent: registers with bootstrap servers and gossips with\n"
		"other agents to find peers for repositories. A silent agent's addresses never\n"
		"leave its machine.\n"
		"\n"
		"commands:\n"
		"  init --email EMAIL [--force]      create DIR: identity, agent.ini, api.token\n"
		"  run                               run the daemon in the foreground\n"
		"  status                            the agent's state\n"
		"  peers [--repository R]            the peer table, best score first\n"
		"  discover REPO...                  peers hosting any of the repositories\n"
		"  lookup EMAIL                      one peer: table, bootstrap, legacy relay\n"
		"  broadcast on [--repositories a,b] publish our addresses and register\n"
		"  broadcast off                     go silent and unregister\n"
		"  topology [--dot FILE] [HOME...]   the session graph of the running agents at\n"
		"                                    HOME... (default: this one): components\n"
		"                                    (more than one is a partition), degrees and\n"
		"                                    an estimated diameter, as fb-topology reports\n"
		"\n"
		"options:\n"
		"  --home DIR        the agent's directory (default $FLASHBACK_HOME, else\n"
		"                    $HOME/.flashback)\n"
		"  --json            print the control API's JSON answer as it is (topology:\n"
		"                    its summary as one JSON object)\n"
		"  --dot FILE        topology: also write the graph as Graphviz DOT\n"
		"  --log-level LVL   debug, info, warn or error (run; default $FB_LOG_LEVEL or info)\n"
		"  --help, --version\n"
		"\n"
		"exit codes: 0 ok, 1 failure, 2 usage or configuration error\n");
}

struct opts {
	const char *home;
	const char *email;
	const char *repository;
	const char *repositories;
	const char *log_level;
	const char *dot;
	bool force;
	bool json;
	int nargs;
	char **args;
};

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

/* The API */

struct answer {
	char *buf;
	size_t len;
};

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = size * n;

	return pa_append_capped(&a->buf, &a->len, CLI_MAX_ANSWER, data, len) == 0 ? len : 0;
}

/* Calls the agent's API. Returns the HTTP status (0: unreachable); *body is the answer. */
static long
api_call(const struct pa_config *cfg, const char *token, const char *method, const char *path,
	 const char *body, struct answer *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[4400], auth[256], err[CURL_ERROR_SIZE] = "";
	long status = 0;
	bool v6 = strchr(cfg->api_host, ':') != NULL;

	if (c == NULL)
		return 0;
	snprintf(url, sizeof(url), "http://%s%s%s:%d%s", v6 ? "[" : "", cfg->api_host, v6 ? "]" : "",
		 cfg->api_port, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	else
		fprintf(stderr, "peer-agent: cannot reach the agent at %s (is `peer-agent run` up?): %s\n",
			url, err);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

/*
 * Reads the configuration and API token of the agent at home. Returns 0, or 2
 * (a configuration error) with a message on stderr and cfg cleared.
 */
static int
api_setup(const char *home, struct pa_config *cfg, char **token)
{
	char err[PA_CONFIG_ERR];

	*token = NULL;
	if (pa_config_load(home, cfg, err) != 0 || (*token = pa_config_read_token(home, err)) == NULL) {
		fprintf(stderr, "peer-agent: %s\n", err);
		pa_config_clear(cfg);
		return 2;
	}
	return 0;
}

/* Human-readable output */

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "-";
}

static void
print_status(json_t *j)
{
	json_t *bs = json_object_get(j, "bootstrap");

	printf("email:        %s\n", str(j, "email"));
	printf("peer_id:      %s\n", str(j, "peer_id"));
	printf("broadcasting: %s\n", json_is_true(json_object_get(j, "broadcasting")) ? "yes" : "no");
	printf("bootstrap:    %s", str(bs, "state"));
	if (json_is_string(json_object_get(bs, "url")))
		printf(" at %s", str(bs, "url"));
	if (json_is_string(json_object_get(bs, "expires_at")))
		printf(" (until %s)", str(bs, "expires_at"));
	printf("\nneighbours:   %lld\n",
	       (long long)json_integer_value(json_object_get(j, "neighbours")));
	printf("known peers:  %lld\n",
	       (long long)json_integer_value(json_object_get(j, "known_peers")));
	printf("version:      %s\n", str(j, "version"));
}

static void
join(json_t *arr, const char *key, char *out, size_t cap)
{
	size_t i, at = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(arr, i, v) {
		const char *s = key != NULL ? str(v, key) : json_string_value(v);

		if (s == NULL)
			continue;
		/* A cell of a table: what does not fit is left out, not cut in half. */
		if (at + strlen(s) + 2 >= cap)
			break;
		at += (size_t)snprintf(out + at, cap - at, "%s%s", at > 0 ? "," : "", s);
	}
	if (out[0] == '\0')
		snprintf(out, cap, "-");
}

static void
print_peers(json_t *arr, bool with_source)
{
	size_t i;
	json_t *p;
	char addrs[256], repos[256];

	if (json_array_size(arr) == 0) {
		printf("no peers\n");
		return;
	}
	printf("%-32s %-8s %-11s %5s  %-26s %s%s\n", "EMAIL", "STATUS", "STATE", "SCORE",
	       "ADDRESSES", "REPOSITORIES", with_source ? "  SOURCE" : "");
	json_array_foreach(arr, i, p) {
		join(json_object_get(p, "socket_addresses"), NULL, addrs, sizeof(addrs));
		join(json_object_get(p, "repositories"), "name", repos, sizeof(repos));
		printf("%-32s %-8s %-11s %5.1f  %-26s %s", str(p, "email"), str(p, "peer_status"),
		       str(p, "state"), json_number_value(json_object_get(p, "score")), addrs, repos);
		if (with_source)
			printf("  %s (%lld ms)", str(p, "source"),
			       (long long)json_integer_value(json_object_get(p, "found_in_ms")));
		printf("\n");
	}
}

/* Runs one API command and prints its answer. */
static int
cli_api(const struct opts *o, const char *cmd)
{
	struct pa_config cfg;
	char path[4096], *token, *body = NULL, *esc;
	struct answer ans = {0};
	const char *method = "GET";
	long status;
	json_t *j;
	int rc = 1;

	if (api_setup(o->home, &cfg, &token) != 0)
		return 2;
	if (strcmp(cmd, "status") == 0) {
		snprintf(path, sizeof(path), "/api/v1/status");
	} else if (strcmp(cmd, "peers") == 0) {
		if (o->repository != NULL) {
			esc = curl_easy_escape(NULL, o->repository, 0);
			snprintf(path, sizeof(path), "/api/v1/peers?repository=%s", esc);
			curl_free(esc);
		} else {
			snprintf(path, sizeof(path), "/api/v1/peers");
		}
	} else if (strcmp(cmd, "discover") == 0) {
		char joined[2048] = "";
		size_t at = 0;

		for (int i = 0; i < o->nargs; i++) {
			if (at + strlen(o->args[i]) + 2 >= sizeof(joined))
				break;
			at += (size_t)snprintf(joined + at, sizeof(joined) - at, "%s%s",
					       i > 0 ? "," : "", o->args[i]);
		}
		esc = curl_easy_escape(NULL, joined, 0);
		snprintf(path, sizeof(path), "/api/v1/discover?repositories=%s", esc);
		curl_free(esc);
	} else if (strcmp(cmd, "lookup") == 0) {
		esc = curl_easy_escape(NULL, o->args[0], 0);
		snprintf(path, sizeof(path), "/api/v1/lookup?email=%s", esc);
		curl_free(esc);
	} else { /* broadcast on|off */
		snprintf(path, sizeof(path), "/api/v1/broadcast");
		if (strcmp(o->args[0], "off") == 0) {
			method = "DELETE";
		} else {
			json_t *req = json_object(), *arr = json_array();
			char *copy = strdup(o->repositories != NULL ? o->repositories : ""), *save = NULL;

			method = "POST";
			for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
				json_array_append_new(arr, json_pack("{s:s}", "name", t));
			if (o->repositories != NULL)
				json_object_set_new(req, "repositories", arr);
			else
				json_decref(arr);
			body = cm_json_dump(req);
			json_decref(req);
			free(copy);
		}
	}
	status = api_call(&cfg, token, method, path, body, &ans);
	if (status == 0)
		goto done;
	if (o->json && ans.buf != NULL) {
		fputs(ans.buf, stdout);
	} else if ((j = ans.buf != NULL ? json_loads(ans.buf, 0, NULL) : NULL) != NULL) {
		if (status != 200)
			fprintf(stderr, "peer-agent: %s\n", str(j, "error"));
		else if (json_is_array(j))
			print_peers(j, strcmp(cmd, "peers") != 0);
		else
			print_status(j);
		json_decref(j);
	}
	if (status != 200 && o->json)
		fprintf(stderr, "peer-agent: the agent answered HTTP %ld\n", status);
	rc = status == 200 ? 0 : 1;
done:
	free(ans.buf);
	free(body);
	free(token);
	pa_config_clear(&cfg);
	return rc;
}

/*
 * Adds the peer table of the agent at home to the graph. Returns 0, 1 (the
 * agent is not reachable or answered with an error) or 2 (configuration),
 * with a message on stderr.
 */
static int
topology_add_agent(struct topology *t, const char *home)
{
	struct pa_config cfg;
	struct answer ans = {0};
	struct cm_err err;
	json_t *peers = NULL;
	char *token;
	long status;
	int rc = 1;

	if (api_setup(home, &cfg, &token) != 0)
		return 2;
	if ((status = api_call(&cfg, token, "GET", "/api/v1/peers", NULL, &ans)) == 0) {
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
cli_topology(const struct opts *o)
{
	struct topology *t = topology_new();
	struct topology_summary sum;
	struct cm_err err;
	bool written;
	FILE *f;
	int rc = 1, added;

	if (t == NULL) {
		fprintf(stderr, "peer-agent: out of memory\n");
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
	if (topology_write_summary(t, stdout, o->json) != 0) {
		fprintf(stderr, "peer-agent: topology: cannot write the summary\n");
		goto end;
	}
	if (o->dot != NULL) {
		if ((f = fopen(o->dot, "w")) == NULL) {
			fprintf(stderr, "peer-agent: %s: %s\n", o->dot, strerror(errno));
			goto end;
		}
		written = topology_write_dot(t, f) == 0;
		if (fclose(f) != 0 || !written) {
			fprintf(stderr, "peer-agent: %s: write failed\n", o->dot);
			goto end;
		}
	}
	rc = 0;
end:
	topology_free(t);
	return rc;
}

static int
cli_run(const struct opts *o)
{
	struct pa_config cfg;
	char err[PA_CONFIG_ERR];
	int rc;

	if (log_init(o->log_level) != 0) {
		fprintf(stderr, "peer-agent: --log-level: expected debug, info, warn or error\n");
		return 2;
	}
	if (pa_config_load(o->home, &cfg, err) != 0) {
		fprintf(stderr, "peer-agent: %s\n", err);
		pa_config_clear(&cfg);
		return 2;
	}
	rc = pa_agent_run(&cfg);
	pa_config_clear(&cfg);
	return rc;
}

static int
cli_init(const struct opts *o)
{
	char err[PA_CONFIG_ERR];

	if (o->email == NULL) {
		fprintf(stderr, "peer-agent: init needs --email EMAIL\n");
		return 2;
	}
	if (!cm_valid_email(o->email, strlen(o->email))) {
		fprintf(stderr, "peer-agent: %s: not a valid email address\n", o->email);
		return 2;
	}
	if (pa_init(o->home, o->email, o->force, err) != 0) {
		fprintf(stderr, "peer-agent: %s\n", err);
		return 1;
	}
	printf("created %s for %s: identity.key, identity.crt, agent.ini, api.token\n", o->home,
	       o->email);
	return 0;
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
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct opts o = {0};
	char *home = NULL;
	const char *cmd;
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
	cmd = argv[optind];
	o.args = argv + optind + 1;
	o.nargs = argc - optind - 1;
	if (o.home == NULL && (o.home = home = default_home()) == NULL) {
		fprintf(stderr, "peer-agent: no --home DIR and no $HOME\n");
		return 2;
	}
	if (strcmp(cmd, "init") == 0 && o.nargs == 0) {
		rc = cli_init(&o);
	} else if (strcmp(cmd, "run") == 0 && o.nargs == 0) {
		rc = cli_run(&o);
	} else if ((strcmp(cmd, "status") == 0 || strcmp(cmd, "peers") == 0) && o.nargs == 0) {
		rc = cli_api(&o, cmd);
	} else if (strcmp(cmd, "discover") == 0 && o.nargs > 0) {
		rc = cli_api(&o, cmd);
	} else if (strcmp(cmd, "lookup") == 0 && o.nargs == 1) {
		rc = cli_api(&o, cmd);
	} else if (strcmp(cmd, "broadcast") == 0 && o.nargs == 1 &&
		   (strcmp(o.args[0], "on") == 0 || strcmp(o.args[0], "off") == 0)) {
		rc = cli_api(&o, cmd);
	} else if (strcmp(cmd, "topology") == 0 && o.nargs > 0 && home == NULL) {
		/* home holds the default directory: NULL means --home named one. */
		fprintf(stderr, "peer-agent: topology: name the agents' homes as arguments or with "
				"--home, not both\n");
		rc = 2;
	} else if (strcmp(cmd, "topology") == 0) {
		rc = cli_topology(&o);
	} else {
		fprintf(stderr, "peer-agent: '%s': unknown command or wrong arguments\n", cmd);
		usage(stderr);
		rc = 2;
	}
	free(home);
	return rc;
}
