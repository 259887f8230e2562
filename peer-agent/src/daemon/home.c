/*
 * home.c - the agent's home directory DIR: paths inside it, `init` (identity,
 * agent.ini, api.token) and the control API token.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/config_internal.h"
#include "fb/file.h"
#include "fb/hex.h"
#include "fb/identity.h"
#include "fb/random.h"
#include "fb/validate.h"

#define PA_TOKEN_MAX_BYTES 1024 /* api.token */
#define PA_TOKEN_RANDOM_BYTES 32
#define PA_IDENTITY_VALID_DAYS 3650

char *
pa_config_path(const char *home, const char *name)
{
	size_t hlen = strlen(home), nlen = strlen(name);
	bool slash = hlen > 0 && home[hlen - 1] == '/';
	char *p = malloc(hlen + nlen + 2);

	if (p == NULL)
		return NULL;
	memcpy(p, home, hlen);
	if (!slash)
		p[hlen++] = '/';
	memcpy(p + hlen, name, nlen + 1);
	return p;
}

char *
pa_config_read_text(const char *path, size_t max_bytes, struct cm_err *err)
{
	char *buf;
	size_t len;

	if (cm_file_read(path, max_bytes, &buf, &len, err) != 0)
		return NULL;
	if (memchr(buf, '\0', len) != NULL) {
		cm_err_set(err, "%s: contains a NUL byte", path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* 32 random bytes as 64 lower-case hex digits and a newline. */
static int
token_make(char out[2 * PA_TOKEN_RANDOM_BYTES + 2], struct cm_err *err)
{
	unsigned char raw[PA_TOKEN_RANDOM_BYTES];

	if (cm_random_bytes(raw, sizeof(raw)) != 0) {
		cm_err_set(err, "api.token: no random bytes");
		return -1;
	}
	cm_hex_encode(raw, sizeof(raw), out);
	out[2 * sizeof(raw)] = '\n';
	out[2 * sizeof(raw) + 1] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

static int
make_home(const char *home, struct cm_err *err)
{
	struct stat st;

	if (mkdir(home, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		cm_err_set(err, "%s: cannot create: %s", home, strerror(errno));
		return -1;
	}
	if (stat(home, &st) != 0 || !S_ISDIR(st.st_mode)) {
		cm_err_set(err, "%s: not a directory", home);
		return -1;
	}
	return 0;
}

int
pa_init(const char *home, const char *email, bool force, struct cm_err *err)
{
	/* identity.key and identity.crt first: cm_identity_save takes them in that order. */
	static const char *const names[] = {"identity.key", "identity.crt", "agent.ini",
					    "api.token"};
	enum { NFILES = sizeof(names) / sizeof(names[0]) };
	char *paths[NFILES] = {NULL};
	char token[2 * PA_TOKEN_RANDOM_BYTES + 2] = "";
	struct cm_identity *id = NULL;
	struct cm_err e = {0};
	char *ini = NULL;
	bool writing = false;
	struct stat st;
	int rc = -1;

	if (email == NULL || !cm_valid_email(email, strlen(email))) {
		cm_err_set(err, "email: '%s' is not a valid email address",
			   email != NULL ? email : "");
		return -1;
	}
	if (make_home(home, err) != 0)
		return -1;
	for (size_t i = 0; i < NFILES; i++) {
		if ((paths[i] = pa_config_path(home, names[i])) == NULL) {
			cm_err_set(err, "out of memory");
			goto end;
		}
		if (!force && lstat(paths[i], &st) == 0) {
			cm_err_set(err, "%s: already exists (init --force overwrites it)",
				   paths[i]);
			goto end;
		}
	}
	if ((id = cm_identity_generate(email, PA_IDENTITY_VALID_DAYS, &e)) == NULL) {
		cm_err_set(err, "identity: %s", e.msg);
		goto end;
	}
	if ((ini = pa_config_ini_text(email)) == NULL) {
		cm_err_set(err, "agent.ini: out of memory");
		goto end;
	}
	if (token_make(token, err) != 0)
		goto end;
	/* Everything is ready: from here on, a failure removes what was written. */
	writing = true;
	for (size_t i = 0; force && i < NFILES; i++) {
		if (unlink(paths[i]) != 0 && errno != ENOENT) {
			cm_err_set(err, "%s: cannot remove: %s", paths[i], strerror(errno));
			goto end;
		}
	}
	if (cm_identity_save(id, paths[0], paths[1], err) != 0)
		goto end;
	/* Their absence was checked (or they were removed): written atomically and durably. */
	if (cm_file_write_atomic(paths[2], ini, strlen(ini), 0644, err) != 0 ||
	    cm_file_write_atomic(paths[3], token, strlen(token), 0600, err) != 0)
		goto end;
	rc = 0;
end:
	for (size_t i = 0; i < NFILES; i++) {
		if (rc != 0 && writing && paths[i] != NULL)
			unlink(paths[i]);
		free(paths[i]);
	}
	explicit_bzero(token, sizeof(token));
	cm_identity_free(id);
	free(ini);
	return rc;
}

char *
pa_config_read_token(const char *home, struct cm_err *err)
{
	char *path, *text = NULL, *token = NULL;
	const char *s, *e;

	if ((path = pa_config_path(home, "api.token")) == NULL) {
		cm_err_set(err, "out of memory");
		return NULL;
	}
	if ((text = pa_config_read_text(path, PA_TOKEN_MAX_BYTES, err)) == NULL)
		goto end;
	s = text;
	e = text + strlen(text);
	while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	if (s == e) {
		cm_err_set(err, "%s: empty", path);
		goto end;
	}
	/* The token goes into an Authorization header as it is. */
	for (const char *p = s; p < e; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			cm_err_set(err, "%s: spaces or control characters inside the token", path);
			goto end;
		}
	}
	if ((token = strndup(s, (size_t)(e - s))) == NULL)
		cm_err_set(err, "out of memory");
end:
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	free(path);
	return token;
}
