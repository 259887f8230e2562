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
#include "fb/timeutil.h"

/* Human-readable output */

static const char *
str(const char *s)
{
	return s != NULL ? s : "-";
}

/* The n strings item(i) joined by commas into out ("-" when none). */
static void
join(size_t n, const char *(*item)(const void *list, size_t i), const void *list, char *out,
     size_t cap)
{
	size_t at = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *s = item(list, i);

		/* A cell of a table: what does not fit is left out, not cut in half. */
		if (at + strlen(s) + 2 >= cap)
			break;
		at += (size_t)snprintf(out + at, cap - at, "%s%s", at > 0 ? "," : "", s);
	}
	if (out[0] == '\0')
		snprintf(out, cap, "-");
}

static const char *
address_at(const void *list, size_t i)
{
	return ((const struct cm_strlist *)list)->items[i];
}

static const char *
repository_at(const void *list, size_t i)
{
	return ((const struct cm_repolist *)list)->items[i].name;
}

static void
print_status(const struct cm_agent_status *st)
{
	char exp[CM_RFC3339_LEN + 1], repos[1024];

	printf("email:        %s\n", str(st->email));
	printf("peer_id:      %s\n", str(st->peer_id));
	printf("broadcasting: %s\n", st->broadcasting ? "yes" : "no");
	printf("bootstrap:    %s", str(st->bootstrap.state));
	if (st->bootstrap.url != NULL)
		printf(" at %s", st->bootstrap.url);
	if (st->bootstrap.has_expires_at && cm_time_format_ms(st->bootstrap.expires_at_ms, exp) == 0)
		printf(" (until %s)", exp);
	printf("\nneighbours:   %lld\n", (long long)st->neighbours);
	printf("known peers:  %lld\n", (long long)st->known_peers);
	join(st->repositories.len, repository_at, &st->repositories, repos, sizeof(repos));
	printf("repositories: %s\n", repos);
	printf("version:      %s\n", str(st->version));
}

/* The addresses cell: the addresses, else "via" the relays a silent peer names, else "-". */
static void
relayed_addresses(const struct cm_peer_info *p, char *out, size_t cap)
{
	if (p->socket_addresses.len > 0 || p->reachable_via.len == 0) {
		join(p->socket_addresses.len, address_at, &p->socket_addresses, out, cap);
		return;
	}
	snprintf(out, cap, "via ");
	join(p->reachable_via.len, address_at, &p->reachable_via, out + 4, cap - 4);
}

static void
print_peers(const struct cm_peer_infolist *l, bool with_source)
{
	char addrs[256], repos[256];

	if (l->len == 0) {
		printf("no peers\n");
		return;
	}
	printf("%-32s %-8s %-11s %5s  %-26s %s%s\n", "EMAIL", "STATUS", "STATE", "SCORE",
	       "ADDRESSES", "REPOSITORIES", with_source ? "  SOURCE" : "");
	for (size_t i = 0; i < l->len; i++) {
		const struct cm_peer_info *p = &l->items[i];

		relayed_addresses(p, addrs, sizeof(addrs));
		join(p->repositories.len, repository_at, &p->repositories, repos, sizeof(repos));
		printf("%-32s %-8s %-11s %5.1f  %-26s %s", str(p->email),
		       cm_peer_status_name(p->peer_status), cm_peer_state_name(p->state), p->score,
		       addrs, repos);
		if (with_source)
			printf("  %s (%lld ms)", cm_peer_source_name(p->source),
			       (long long)p->found_in_ms);
		/* At the row's end, so the columns stay aligned. */
		if (p->via != NULL)
			printf("  (relayed by %s)", p->via);
		printf("\n");
	}
}

void
cli_print_error(long status, const struct cli_answer *ans)
{
	struct cm_error_body eb = {0};
	struct cm_err err;

	if (ans->buf != NULL && cm_error_body_from_text(ans->buf, ans->len, &eb, &err) == 0)
		fprintf(stderr, "peer-agent: %s\n", str(eb.error));
	else
		fprintf(stderr, "peer-agent: the agent answered HTTP %ld\n", status);
	cm_error_body_clear(&eb);
}

/* Prints an answer of the control API: an error, a PeerInfo array or a status. */
static void
print_answer(long status, const char *text, size_t len, bool with_source)
{
	struct cm_peer_infolist peers = {0};
	struct cm_agent_status st = {0};
	struct cm_err err;
	size_t at = strspn(text, " \t\r\n");

	if (status != 200) {
		struct cli_answer ans = {(char *)text, len};

		cli_print_error(status, &ans);
	} else if (text[at] == '[') {
		if (cm_peer_infolist_from_text(text, len, &peers, &err) == 0)
			print_peers(&peers, with_source);
		else
			fprintf(stderr, "peer-agent: the agent's answer: %s\n", err.msg);
		cm_peer_infolist_clear(&peers);
	} else {
		if (cm_agent_status_from_text(text, len, &st, &err) == 0)
			print_status(&st);
		else
			fprintf(stderr, "peer-agent: the agent's answer: %s\n", err.msg);
		cm_agent_status_clear(&st);
	}
}

int
cli_api_show(const struct cli_opts *o, const char *method, const char *path, const char *body,
	 bool with_source)
{
	struct pa_config cfg;
	struct cli_answer ans = {0};
	char *token;
	long status;
	int rc = 1;

	if (cli_agent_open(o->home, &cfg, &token) != 0)
		return 2;
	status = cli_request(&cfg, token, method, path, body, &ans);
	if (status == 0)
		goto done;
	if (o->json && ans.buf != NULL)
		fputs(ans.buf, stdout);
	else if (ans.buf != NULL)
		print_answer(status, ans.buf, ans.len, with_source);
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
	return cli_api_show(o, "GET", "/api/v1/status", NULL, true);
}

static int
cmd_peers(const struct cli_opts *o)
{
	char path[4096];

	if (o->repository == NULL)
		return cli_api_show(o, "GET", "/api/v1/peers", NULL, false);
	path_with(path, sizeof(path), "/api/v1/peers?repository=", o->repository);
	return cli_api_show(o, "GET", path, NULL, false);
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
	return cli_api_show(o, "GET", path, NULL, true);
}

static int
cmd_lookup(const struct cli_opts *o)
{
	char path[4096];

	path_with(path, sizeof(path), "/api/v1/lookup?email=", o->args[0]);
	return cli_api_show(o, "GET", path, NULL, true);
}

/* The POST /api/v1/broadcast body: {"repositories": [{"name"}...]} when any are named. */
static char *
broadcast_body(const char *repositories)
{
	struct cm_broadcast_request br = {repositories != NULL, {0}};
	char *copy = strdup(repositories != NULL ? repositories : ""), *save = NULL, *body = NULL;

	if (copy == NULL)
		return NULL;
	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
		if (cm_repolist_append(&br.repositories, t, NULL) != 0)
			goto end;
	body = cm_json_dump_take(cm_broadcast_request_encode(&br), NULL);
end:
	cm_broadcast_request_clear(&br);
	free(copy);
	return body;
}

static int
cmd_broadcast(const struct cli_opts *o)
{
	char *body;
	int rc;

	if (strcmp(o->args[0], "off") == 0)
		return cli_api_show(o, "DELETE", "/api/v1/broadcast", NULL, true);
	if (strcmp(o->args[0], "on") != 0)
		return cli_wrong_args(o);
	body = broadcast_body(o->repositories);
	rc = cli_api_show(o, "POST", "/api/v1/broadcast", body, true);
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
