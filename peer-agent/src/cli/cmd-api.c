/*
 * cmd-api.c - the commands that ask a running agent: status, peers, discover,
 * lookup, broadcast on|off. Each builds its request and prints the answer,
 * as text or (--json) as the control API gave it.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fb/codec.h"

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

/*
 * Asks the agent at --home and prints the answer: a status, or PeerInfo rows
 * (with_source: where each was found). Returns an exit code.
 */
static int
api_show(const struct cli_opts *o, const char *method, const char *path, const char *body,
	 bool with_source)
{
	struct pa_config cfg;
	struct cli_answer ans = {0};
	char *token;
	long status;
	json_t *j;
	int rc = 1;

	if (cli_agent_open(o->home, &cfg, &token) != 0)
		return 2;
	status = cli_request(&cfg, token, method, path, body, &ans);
	if (status == 0)
		goto done;
	if (o->json && ans.buf != NULL) {
		fputs(ans.buf, stdout);
	} else if ((j = ans.buf != NULL ? json_loads(ans.buf, 0, NULL) : NULL) != NULL) {
		if (status != 200)
			fprintf(stderr, "peer-agent: %s\n", str(j, "error"));
		else if (json_is_array(j))
			print_peers(j, with_source);
		else
			print_status(j);
		json_decref(j);
	}
	if (status != 200 && o->json)
		fprintf(stderr, "peer-agent: the agent answered HTTP %ld\n", status);
	rc = status == 200 ? 0 : 1;
done:
	free(ans.buf);
	free(token);
	pa_config_clear(&cfg);
	return rc;
}

/* base followed by the URL-escaped value. */
static void
path_with(char *out, size_t cap, const char *base, const char *value)
{
	char *esc = curl_easy_escape(NULL, value, 0);

	snprintf(out, cap, "%s%s", base, esc != NULL ? esc : "");
	curl_free(esc);
}

static int
cmd_status(const struct cli_opts *o)
{
	return api_show(o, "GET", "/api/v1/status", NULL, true);
}

static int
cmd_peers(const struct cli_opts *o)
{
	char path[4096];

	if (o->repository == NULL)
		return api_show(o, "GET", "/api/v1/peers", NULL, false);
	path_with(path, sizeof(path), "/api/v1/peers?repository=", o->repository);
	return api_show(o, "GET", path, NULL, false);
}

static int
cmd_discover(const struct cli_opts *o)
{
	char joined[2048] = "", path[4096];
	size_t at = 0;

	for (int i = 0; i < o->nargs; i++) {
		if (at + strlen(o->args[i]) + 2 >= sizeof(joined))
			break;
		at += (size_t)snprintf(joined + at, sizeof(joined) - at, "%s%s", i > 0 ? "," : "",
				       o->args[i]);
	}
	path_with(path, sizeof(path), "/api/v1/discover?repositories=", joined);
	return api_show(o, "GET", path, NULL, true);
}

static int
cmd_lookup(const struct cli_opts *o)
{
	char path[4096];

	path_with(path, sizeof(path), "/api/v1/lookup?email=", o->args[0]);
	return api_show(o, "GET", path, NULL, true);
}

/* The POST /api/v1/broadcast body: {"repositories": [{"name"}...]} when any are named. */
static char *
broadcast_body(const char *repositories)
{
	json_t *req = json_object(), *arr = json_array();
	char *copy = strdup(repositories != NULL ? repositories : ""), *save = NULL, *body;

	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
		json_array_append_new(arr, json_pack("{s:s}", "name", t));
	if (repositories != NULL)
		json_object_set_new(req, "repositories", arr);
	else
		json_decref(arr);
	body = cm_json_dump(req);
	json_decref(req);
	free(copy);
	return body;
}

static int
cmd_broadcast(const struct cli_opts *o)
{
	char *body;
	int rc;

	if (strcmp(o->args[0], "off") == 0)
		return api_show(o, "DELETE", "/api/v1/broadcast", NULL, true);
	if (strcmp(o->args[0], "on") != 0)
		return cli_wrong_args(o);
	body = broadcast_body(o->repositories);
	rc = api_show(o, "POST", "/api/v1/broadcast", body, true);
	free(body);
	return rc;
}

const struct cli_command cli_cmd_status = {
	"status", 0, 0, "  status                            the agent's state\n", cmd_status};
const struct cli_command cli_cmd_peers = {
	"peers", 0, 0, "  peers [--repository R]            the peer table, best score first\n",
	cmd_peers};
const struct cli_command cli_cmd_discover = {
	"discover", 1, -1,
	"  discover REPO...                  peers hosting any of the repositories\n", cmd_discover};
const struct cli_command cli_cmd_lookup = {
	"lookup", 1, 1,
	"  lookup EMAIL                      one peer: table, bootstrap, legacy relay\n", cmd_lookup};
const struct cli_command cli_cmd_broadcast = {
	"broadcast", 1, 1,
	"  broadcast on [--repositories a,b] publish our addresses and register\n"
	"  broadcast off                     go silent and unregister\n",
	cmd_broadcast};
