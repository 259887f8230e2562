/* client.c - the CLI's one client of the control API (cli.h), over libcurl. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fb/buf.h"

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	struct cli_answer *a = arg;
	size_t len = size * n;

	return cm_buf_append(&a->buf, &a->len, CLI_MAX_ANSWER, data, len) == 0 ? len : 0;
}

int
cli_agent_open(const char *home, struct pa_config *cfg, char **token)
{
	struct cm_err err;

	*token = NULL;
	if (pa_config_load(home, cfg, &err) != 0 ||
	    (*token = pa_config_read_token(home, &err)) == NULL) {
		fprintf(stderr, "peer-agent: %s\n", err.msg);
		pa_config_clear(cfg);
		return 2;
	}
	return 0;
}

long
cli_request(const struct pa_config *cfg, const char *token, const char *method, const char *path,
	    const char *body, struct cli_answer *out)
{
	return cli_request_timeout(cfg, token, method, path, body, 30, out);
}

void
cli_api_url(const struct pa_config *cfg, const char *rest, char *out, size_t size)
{
	bool v6 = strchr(cfg->api_host, ':') != NULL;

	snprintf(out, size, "http://%s%s%s:%d%s", v6 ? "[" : "", cfg->api_host, v6 ? "]" : "",
		 cfg->api_port, rest);
}

long
cli_request_timeout(const struct pa_config *cfg, const char *token, const char *method,
		    const char *path, const char *body, long timeout_s, struct cli_answer *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[4400], auth[256], err[CURL_ERROR_SIZE] = "";
	long status = 0;

	if (c == NULL)
		return 0;
	cli_api_url(cfg, path, url, sizeof(url));
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
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
