/*
 * main.c - bootstrap-server: flags, configuration, start-up (migrations,
 * listener, sweeper) and orderly shutdown on SIGINT/SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fb/log.h"
#include "fb/validate.h"
#include "server.h"
#include "sweeper.h"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: bootstrap-server [--config FILE] [--listen HOST:PORT] [--database CONNINFO]\n"
		"         --cert FILE --key FILE [--client-ca FILE]\n"
		"         [--ttl SECONDS] [--stale-after SECONDS] [--sweep-interval SECONDS]\n"
		"         [--heartbeat-interval SECONDS] [--threads N] [--max-conns-per-ip N]\n"
		"         [--max-connections N] [--conn-timeout SECONDS] [--rate-limit REQ_PER_S]\n"
		"         [--rate-limit-per-ip REQ_PER_S] [--rate-limit-per-net REQ_PER_S]\n"
		"         [--feedback-window SECONDS] [--feedback-min-age SECONDS]\n"
		"         [--feedback-per-ip N] [--feedback-vote-age SECONDS] [--whitelist FILE]\n"
		"         [--admin-fingerprints FILE] [--log-level LEVEL] [--check-config]\n"
		"         [--version] [--help]\n"
		"\n"
		"The Flashback bootstrap server: broadcasting peers register over mutual TLS,\n"
		"others ask it for bootstrap peers and for peers hosting repositories.\n"
		"\n"
		"  --listen              address to serve HTTPS on (default %s)\n"
		"  --database            libpq conninfo or URI (default: libpq's PG* variables)\n"
		"  --cert, --key         the server's certificate and key (PEM)\n"
		"  --client-ca           CA mode: client certificates must chain to this CA;\n"
		"                        without it, pinning mode: an email's first certificate wins\n"
		"  --ttl                 registration lifetime without heartbeat (default %d s)\n"
		"  --stale-after         no heartbeat this long: stale, left out of listings (%d s)\n"
		"  --sweep-interval      how often expired rows are deleted (default %d s)\n"
		"  --heartbeat-interval  interval told to peers (default %d s)\n"
		"  --threads             HTTP worker threads (default 2 x cores)\n"
		"  --max-conns-per-ip    concurrent connections per client address (default %d)\n"
		"  --max-connections     concurrent connections in all (default %d)\n"
		"  --conn-timeout        idle connection timeout (default %d s)\n"
		"  --rate-limit          requests per second per certificate, burst %dx (default %d)\n"
		"  --rate-limit-per-ip   requests per second per client address, burst %dx (default %d)\n"
		"  --rate-limit-per-net  requests per second per IPv6 /48, burst %dx (default %d)\n"
		"  --feedback-window     window of the feedback limits (default %d s)\n"
		"  --feedback-min-age    feedback counts from peers registered this long (default %d s)\n"
		"  --feedback-per-ip     feedback reports per window per client address (default %d)\n"
		"  --feedback-vote-age   an address's latest report counts this long (default %d s)\n"
		"  --whitelist           fingerprints allowed to register as bootstrap, one a line\n"
		"  --admin-fingerprints  fingerprints allowed on /api/admin, one a line\n"
		"  --log-level           debug, info, warn or error (default: $FB_LOG_LEVEL or info)\n"
		"  --check-config        check the configuration and exit\n"
		"\n"
		"Environment: DATABASE_URL, BOOTSTRAP_LISTEN, BOOTSTRAP_CERT, BOOTSTRAP_KEY,\n"
		"BOOTSTRAP_CLIENT_CA set the same things; flags win over the environment, which\n"
		"wins over --config (KEY = VALUE lines, keys named like the flags).\n",
		BS_DEFAULT_LISTEN, BS_DEFAULT_TTL_S, BS_DEFAULT_STALE_AFTER_S,
		BS_DEFAULT_SWEEP_INTERVAL_S, BS_DEFAULT_HEARTBEAT_INTERVAL_S,
		BS_DEFAULT_MAX_CONNS_PER_IP, BS_DEFAULT_MAX_CONNECTIONS, BS_DEFAULT_CONN_TIMEOUT_S,
		BS_RATE_BURST_FACTOR, BS_DEFAULT_RATE_LIMIT, BS_RATE_BURST_FACTOR,
		BS_DEFAULT_RATE_LIMIT_PER_IP, BS_RATE_BURST_FACTOR, BS_DEFAULT_RATE_LIMIT_PER_NET,
		BS_DEFAULT_FEEDBACK_WINDOW_S, BS_DEFAULT_FEEDBACK_MIN_AGE_S,
		BS_DEFAULT_FEEDBACK_PER_IP, BS_DEFAULT_FEEDBACK_VOTE_AGE_S);
}

static const struct option long_options[] = {
	{"config", required_argument, NULL, 'c'},
	{"listen", required_argument, NULL, 0},
	{"database", required_argument, NULL, 0},
	{"cert", required_argument, NULL, 0},
	{"key", required_argument, NULL, 0},
	{"client-ca", required_argument, NULL, 0},
	{"ttl", required_argument, NULL, 0},
	{"stale-after", required_argument, NULL, 0},
	{"sweep-interval", required_argument, NULL, 0},
	{"heartbeat-interval", required_argument, NULL, 0},
	{"threads", required_argument, NULL, 0},
	{"max-conns-per-ip", required_argument, NULL, 0},
	{"max-connections", required_argument, NULL, 0},
	{"conn-timeout", required_argument, NULL, 0},
	{"rate-limit", required_argument, NULL, 0},
	{"rate-limit-per-ip", required_argument, NULL, 0},
	{"rate-limit-per-net", required_argument, NULL, 0},
	{"feedback-window", required_argument, NULL, 0},
	{"feedback-min-age", required_argument, NULL, 0},
	{"feedback-per-ip", required_argument, NULL, 0},
	{"feedback-vote-age", required_argument, NULL, 0},
	{"whitelist", required_argument, NULL, 0},
	{"admin-fingerprints", required_argument, NULL, 0},
	{"log-level", required_argument, NULL, 0},
	{"check-config", no_argument, NULL, 'C'},
	{"version", no_argument, NULL, 'V'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/*
 * Flags are read twice: first for --config/--help/--version, then (after the
 * file and the environment) every setting, so flags win.
 */
static int
parse_args(int argc, char **argv, struct bs_config *cfg, struct cm_err *err)
{
	int opt, idx;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", long_options, &idx)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			exit(0);
		}
		if (opt == 'V') {
			printf("bootstrap-server %s\n", FB_VERSION);
			exit(0);
		}
		if (opt == '?') {
			cm_err_set(err, "unknown or incomplete option '%s'", argv[optind - 1]);
			return -1;
		}
		if (opt == 'c' && bs_config_set_file(cfg, optarg, err) != 0)
			return -1;
	}
	if (optind < argc) {
		cm_err_set(err, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (cfg->config_file != NULL && bs_config_load_file(cfg, cfg->config_file, err) != 0)
		return -1;
	if (bs_config_load_env(cfg, err) != 0)
		return -1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", long_options, &idx)) != -1) {
		if (opt == 'C')
			cfg->check_config = true;
		else if (opt == 0 && bs_config_set(cfg, long_options[idx].name, optarg, err) != 0)
			return -1;
	}
	return 0;
}

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int
main(int argc, char **argv)
{
	struct bs_config cfg;
	struct bs_server srv = {0};
	struct bs_sweeper *sweeper = NULL;
	struct bs_store *st = NULL;
	struct cm_err err = {0};
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t block, old;
	int rc = 1;

	bs_config_init(&cfg);
	log_init(NULL);
	if (parse_args(argc, argv, &cfg, &err) != 0 ||
	    bs_config_finish(&cfg, sysconf(_SC_NPROCESSORS_ONLN), &err) != 0 ||
	    bs_server_load_lists(&srv, &cfg, &err) != 0) {
		fprintf(stderr, "bootstrap-server: %s\n", err.msg);
		fprintf(stderr, "Try 'bootstrap-server --help'.\n");
		rc = 2;
		goto end;
	}
	if (cfg.log_level != NULL)
		log_init(cfg.log_level);
	if (cfg.check_config) {
		printf("configuration ok: listen %s:%d, %s mode, ttl %llds, stale after %llds, "
		       "%lld threads\n",
		       cfg.listen_host, cfg.listen_port,
		       cfg.client_ca_file != NULL ? "CA" : "pinning", (long long)cfg.ttl_s,
		       (long long)cfg.stale_after_s, (long long)cfg.threads);
		rc = 0;
		goto end;
	}
	/* Block the stop signals before any thread starts, so only sigsuspend below sees them. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	st = bs_store_new(cfg.database);
	if (st == NULL || bs_store_migrate(st, &err) != 0) {
		log_errx("%s: migrations: %s", __func__, err.msg);
		goto end;
	}
	if (bs_server_init(&srv, &cfg) != 0 || bs_server_start(&srv, &err) != 0) {
		log_errx("%s: %s", __func__, err.msg);
		goto end;
	}
	if ((sweeper = bs_sweeper_start(&srv)) == NULL) {
		log_errx("%s: cannot start the sweeper", __func__);
		goto end;
	}
	log_info("bootstrap-server %s listening on %s:%d (%s mode, %lld threads)", FB_VERSION,
		 cfg.listen_host, cfg.listen_port, cfg.client_ca_file != NULL ? "CA" : "pinning",
		 (long long)cfg.threads);
	while (!stop_requested)
		sigsuspend(&old);
	log_info("bootstrap-server: stopping");
	rc = 0;
end:
	bs_sweeper_stop(sweeper);
	bs_server_stop(&srv);
	bs_server_clear(&srv);
	bs_store_free(st);
	bs_config_clear(&cfg);
	return rc;
}
