/*
 * doctor.c - `peer-agent doctor` (doctor.h). Each check prints one line and
 * says what to do when it is not ok; checks that need agent.ini are skipped
 * when it does not load. The network checks ask each bootstrap server's
 * /healthz once, with the configured CA and our certificate, on a loop of
 * their own (net/httpclient).
 */
#include "daemon/doctor.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/engine.h"
#include "daemon/config.h"
#include "fb/identity.h"
#include "fb/timeutil.h"
#include "net/httpclient.h"
#include "net/ifaddr.h"
#include "net/tcp.h"

#define DOCTOR_HTTP_TIMEOUT_MS 5000
/* Within this a Date header (whole seconds) and our clock agree. */
#define DOCTOR_SKEW_OK_MS 2000

enum verdict { V_OK, V_WARN, V_FAIL };

struct doctor {
	FILE *out;
	bool failed;
};

static void __attribute__((format(printf, 4, 5)))
say(struct doctor *d, enum verdict v, const char *check, const char *fmt, ...)
{
	static const char *const word[] = {"ok  ", "warn", "FAIL"};
	va_list ap;

	fprintf(d->out, "%s  %s: ", word[v], check);
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
	if (v == V_FAIL)
		d->failed = true;
}

/* A file that must be ours alone (a key, the token): 0600 and owned by us. */
static void
private_file(struct doctor *d, const char *check, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		say(d, V_FAIL, check, "%s: %s; do: peer-agent init", path, strerror(errno));
	else if ((st.st_mode & 077) != 0)
		say(d, V_FAIL, check, "%s is readable by others (mode %03o); do: chmod 600 %s", path,
		    (unsigned)(st.st_mode & 0777), path);
	else if (st.st_uid != geteuid())
		say(d, V_WARN, check, "%s belongs to uid %u, not to us (%u); do: chown it", path,
		    (unsigned)st.st_uid, (unsigned)geteuid());
	else
		say(d, V_OK, check, "%s is private (mode %03o)", path,
		    (unsigned)(st.st_mode & 0777));
}

static void
check_home(struct doctor *d, const char *home)
{
	struct stat st;

	if (stat(home, &st) != 0 || !S_ISDIR(st.st_mode))
		say(d, V_FAIL, "home", "%s is not a directory; do: peer-agent init --home %s --email E",
		    home, home);
	else if ((st.st_mode & 022) != 0)
		say(d, V_FAIL, "home", "%s is writable by others (mode %03o); do: chmod 700 %s", home,
		    (unsigned)(st.st_mode & 0777), home);
	else
		say(d, V_OK, "home", "%s (mode %03o)", home, (unsigned)(st.st_mode & 0777));
}

static void
check_identity(struct doctor *d, const struct pa_config *cfg)
{
	struct cm_err err = {0};
	struct cm_identity *id;

	private_file(d, "identity key", cfg->key_file);
	if ((id = cm_identity_load(cfg->key_file, cfg->cert_file, &err)) == NULL) {
		say(d, V_FAIL, "identity", "%s; do: peer-agent init --force --email %s (a new identity)",
		    err.msg, cfg->email);
		return;
	}
	if (strcmp(cm_identity_email(id), cfg->email) != 0)
		say(d, V_FAIL, "identity",
		    "the certificate names %s but [identity] email is %s; do: make them the same",
		    cm_identity_email(id), cfg->email);
	else
		say(d, V_OK, "identity", "%s, certificate %.16s...", cfg->email,
		    cm_cert_fingerprint(cm_identity_cert(id)));
	cm_identity_free(id);
}

static void
check_token(struct doctor *d, const struct pa_config *cfg)
{
	struct cm_err err = {0};
	char *path = pa_config_path(cfg->home, "api.token");
	char *token = pa_config_read_token(cfg->home, &err);

	if (token == NULL)
		say(d, V_FAIL, "api token", "%s; do: peer-agent init --force", err.msg);
	else if (path != NULL)
		private_file(d, "api token", path);
	free(token);
	free(path);
}

/* A blocking TCP socket for the numeric host:port, its address in *a; -1 with errno. */
static int
tcp_socket(const char *host, int port, struct tcp_addr *a)
{
	if (tcp_addr_parse(host, port, a) != 0) {
		errno = EINVAL;
		return -1;
	}
	return socket(a->ss.ss_family, SOCK_STREAM, 0);
}

/* bind(2) of a TCP socket to host:port: 0, or the errno. */
static int
try_bind(const char *host, int port)
{
	struct tcp_addr a;
	int fd = tcp_socket(host, port, &a), rc = 0, one = 1;

	if (fd < 0)
		return errno;
	/* As the agent's listeners do: a port in TIME_WAIT is still bindable. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a.ss, a.len) != 0)
		rc = errno;
	close(fd);
	return rc;
}

/* Whether something accepts TCP connections on host:port. */
static bool
answers(const char *host, int port)
{
	struct tcp_addr a;
	int fd = tcp_socket(host, port, &a);
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&a.ss, a.len) == 0;
	close(fd);
	return ok;
}

/* Every address and port the agent would listen on; the API's tells whether it runs. */
static void
check_ports(struct doctor *d, const struct pa_config *cfg)
{
	const struct {
		const char *check, *key, *host;
		int port;
	} ports[] = {
		{"gossip listen", "[gossip] listen", cfg->listen_host, cfg->listen_port},
		{"torrent listen", "[torrent] listen", cfg->torrent_listen_host,
		 cfg->torrent_listen_port},
		{"torrent http_listen", "[torrent] http_listen", cfg->torrent_http_host,
		 cfg->torrent_http_port},
		{"relay listen", "[relay] listen", cfg->relay_listen_host, cfg->relay_listen_port},
	};
	int rc;

	if (answers(cfg->api_host, cfg->api_port)) {
		say(d, V_OK, "api listen",
		    "%s:%d answers: the agent runs (its ports are its own), or another program "
		    "holds the port",
		    cfg->api_host, cfg->api_port);
		return;
	}
	if ((rc = try_bind(cfg->api_host, cfg->api_port)) != 0)
		say(d, V_FAIL, "api listen", "%s:%d: %s; do: choose another [api] listen",
		    cfg->api_host, cfg->api_port, strerror(rc));
	else
		say(d, V_OK, "api listen", "%s:%d is free", cfg->api_host, cfg->api_port);
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		if (ports[i].host == NULL)
			continue;
		if ((rc = try_bind(ports[i].host, ports[i].port)) != 0)
			say(d, V_FAIL, ports[i].check, "%s:%d: %s; do: choose another %s",
			    ports[i].host, ports[i].port, strerror(rc), ports[i].key);
		else
			say(d, V_OK, ports[i].check, "%s:%d can be bound%s", ports[i].host,
			    ports[i].port, cfg->broadcasting ? "" : " (used only while broadcasting)");
	}
}

/* What a broadcasting agent publishes: addresses of this host, or what auto finds. */
static void
check_advertise(struct doctor *d, const struct pa_config *cfg)
{
	struct cm_strlist found = {0};
	enum verdict none = cfg->broadcasting ? V_FAIL : V_WARN;

	if (!cfg->advertise_auto) {
		for (size_t i = 0; i < cfg->advertise.len; i++) {
			const char *ip = cfg->advertise.items[i];

			/* An address of this host is one a socket can be bound to. */
			if (try_bind(ip, 0) == 0)
				say(d, V_OK, "advertise", "%s is an address of this host", ip);
			else
				say(d, V_WARN, "advertise",
				    "%s is not an address of this host: peers reach it only if a "
				    "router forwards port %d here; do: check [gossip] advertise",
				    ip, cfg->listen_port);
		}
		return;
	}
	if (ifaddr_list(&found) != 0 || found.len == 0)
		say(d, none, "advertise",
		    "auto finds no address but loopback and link-local ones; do: set [gossip] "
		    "advertise to the address peers reach this host at");
	else
		say(d, V_OK, "advertise", "auto: %zu address%s, first %s", found.len,
		    found.len == 1 ? "" : "es", found.items[0]);
	cm_strlist_clear(&found);
}

struct probe {
	struct doctor *d;
	const char *url; /* as agent.ini names it */
	char *healthz;   /* url's /healthz, asked */
	int64_t sent_wall_ms, sent_mono_ms;
};

static void
probe_done(const struct hc_result *r, void *arg)
{
	struct probe *p = arg;
	int64_t took = cm_time_mono_ms() - p->sent_mono_ms;
	/* The server read its clock between our send and its answer: compare with the middle. */
	int64_t skew = r->date_ms - (p->sent_wall_ms + took / 2);
	struct engine_config ec;
	int64_t future;

	engine_config_default(&ec);
	future = ec.max_future_ms;

	if (r->err != NULL && r->status == 0) {
		bool tls = strstr(r->err, "certificate") != NULL || strstr(r->err, "SSL") != NULL ||
			   strstr(r->err, "TLS") != NULL;

		say(p->d, V_FAIL, "bootstrap", "%s: %s; do: %s", p->url, r->err,
		    tls ? "set [bootstrap] ca to the CA that signed the server's certificate"
			: "check the URL and that the server runs");
		return;
	}
	say(p->d, r->status == 200 ? V_OK : V_WARN, "bootstrap", "%s: HTTP %ld in %lld ms%s",
	    p->url, r->status, (long long)took,
	    r->status == 200 ? "" : " from /healthz; do: check the server's log");
	if (r->date_ms == 0)
		say(p->d, V_WARN, "clock", "%s sent no Date header: skew not measured", p->url);
	else if (llabs(skew) <= DOCTOR_SKEW_OK_MS)
		say(p->d, V_OK, "clock", "within %d s of %s", DOCTOR_SKEW_OK_MS / 1000, p->url);
	else
		say(p->d, llabs(skew) > future ? V_FAIL : V_WARN, "clock",
		    "%.1f s %s %s (peers drop records dated over %lld s ahead); do: "
		    "timedatectl set-ntp true",
		    (double)llabs(skew) / 1000.0, skew > 0 ? "behind" : "ahead of", p->url,
		    (long long)(future / 1000));
}

static void
check_bootstrap(struct doctor *d, const struct pa_config *cfg)
{
	size_t n = cfg->bootstrap_urls.len;
	struct event_base *base = NULL;
	struct hc_client *hc = NULL;
	struct probe *probes = NULL;

	if (n == 0) {
		say(d, V_WARN, "bootstrap",
		    "no server in [bootstrap] urls: the agent finds peers only through its saved "
		    "table; do: add a URL");
		return;
	}
	if ((base = event_base_new()) == NULL || (hc = hc_new(base)) == NULL ||
	    (probes = calloc(n, sizeof(*probes))) == NULL) {
		say(d, V_FAIL, "bootstrap", "cannot start the HTTP client");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const char *u = cfg->bootstrap_urls.items[i];
		size_t len = strlen(u) + sizeof("/healthz");
		struct hc_request req = {
			.method = "GET",
			.ca_file = cfg->bootstrap_ca,
			.cert_file = cfg->cert_file,
			.key_file = cfg->key_file,
			.bind_ip = cfg->bind,
			.timeout_ms = DOCTOR_HTTP_TIMEOUT_MS,
			.max_answer_bytes = 4096,
		};

		if ((probes[i].healthz = malloc(len)) == NULL)
			continue;
		/* A base URL ending in '/' must not become "//healthz". */
		snprintf(probes[i].healthz, len, "%.*s/healthz",
			 (int)(strlen(u) - (u[strlen(u) - 1] == '/')), u);
		req.url = probes[i].healthz;
		probes[i].d = d;
		probes[i].url = u;
		probes[i].sent_wall_ms = cm_time_wall_ms();
		probes[i].sent_mono_ms = cm_time_mono_ms();
		if (hc_start(hc, &req, probe_done, &probes[i]) != 0)
			say(d, V_FAIL, "bootstrap", "%s: the request could not be made", u);
	}
	event_base_dispatch(base);
done:
	hc_free(hc);
	if (base != NULL)
		event_base_free(base);
	for (size_t i = 0; probes != NULL && i < n; i++)
		free(probes[i].healthz);
	free(probes);
}

int
pa_doctor(const char *home, FILE *out)
{
	struct doctor d = {out, false};
	struct pa_config cfg;
	struct cm_err err = {0};
	char *ini = pa_config_path(home, "agent.ini");

	check_home(&d, home);
	/* pa_config_load fills the defaults itself, and leaves cfg cleared when it fails. */
	if (pa_config_load(home, &cfg, &err) != 0) {
		say(&d, V_FAIL, "agent.ini", "%s; do: fix it (peer-agent init writes every key, "
					     "commented, with its default)",
		    err.msg);
		say(&d, V_WARN, "other checks", "skipped: they need agent.ini");
		free(ini);
		return 1;
	}
	say(&d, V_OK, "agent.ini", "%s loads (%s, %s)", ini != NULL ? ini : "agent.ini",
	    cfg.email, cfg.broadcasting ? "broadcasting" : "silent");
	free(ini);
	check_identity(&d, &cfg);
	check_token(&d, &cfg);
	check_ports(&d, &cfg);
	check_advertise(&d, &cfg);
	check_bootstrap(&d, &cfg);
	pa_config_clear(&cfg);
	return d.failed ? 1 : 0;
}
