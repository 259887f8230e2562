/* check_agentconfig.c - the agent's agent.ini, init and api.token (daemon/config.c, home.c). */
#define _GNU_SOURCE /* nftw */
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "fb/identity.h"
#include "check_main.h"
#include "testutil.h"


static void
setup(void)
{
	tu_mkdir("check_agentconfig");
}

static void
teardown(void)
{
	tu_rmdir();
}

static void
write_file(const char *name, const char *text)
{
	FILE *f = fopen(tu_path(name), "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Reads a small file whole into a static buffer. */
static const char *
read_file(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* agent.ini with the given body, plus the identity files the loader insists on. */
static void
write_ini(const char *text)
{
	write_file("identity.crt", "certificate\n");
	write_file("identity.key", "key\n");
	write_file("agent.ini", text);
}

/* Loads an ini that must fail and returns the message. */
static const char *
load_error(const char *text)
{
	static struct cm_err err;
	struct pa_config cfg;

	write_ini(text);
	ck_assert_int_eq(pa_config_load(tu_dir, &cfg, &err), -1);
	return err.msg;
}

#define MINIMAL "[identity]\nemail = alice@example.com\n"

START_TEST(test_pa_config_default_fills_documented_values)
{
	struct pa_config cfg;

	pa_config_default(&cfg);
	ck_assert_ptr_null(cfg.home);
	ck_assert_ptr_null(cfg.cert_file);
	ck_assert(!cfg.broadcasting);
	ck_assert(cfg.advertise_auto);
	ck_assert_ptr_null(cfg.listen_host);
	ck_assert_int_eq(cfg.neighbours, 8);
	ck_assert_int_eq(cfg.fanout, 3);
	ck_assert_int_eq(cfg.ttl, 12);
	ck_assert_int_eq(cfg.max_peers, 16);
	ck_assert_uint_eq(cfg.table_max, 10000);
	ck_assert_str_eq(cfg.api_host, "127.0.0.1");
	ck_assert_int_eq(cfg.api_port, 7080);
	ck_assert_int_eq(cfg.heartbeat_s, 30);
	ck_assert_int_eq(cfg.stale_s, 9000);
	ck_assert_int_eq(cfg.expire_s, 10800);
	ck_assert_int_eq(cfg.reannounce_s, 3600);
	ck_assert_int_eq(cfg.anti_entropy_s, 1);
	ck_assert_int_eq(cfg.bootstrap_heartbeat_s, 30);
	pa_config_clear(&cfg);
}
END_TEST

START_TEST(test_pa_config_load_minimal_ini_takes_defaults)
{
	struct cm_err err;
	struct pa_config cfg;

	write_ini(MINIMAL);
	ck_assert_msg(pa_config_load(tu_dir, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.email, "alice@example.com");
	ck_assert_str_eq(cfg.cert_file, tu_path("identity.crt"));
	ck_assert_str_eq(cfg.key_file, tu_path("identity.key"));
	ck_assert_ptr_null(cfg.bootstrap_ca);
	ck_assert_uint_eq(cfg.bootstrap_urls.len, 0);
	ck_assert(!cfg.broadcasting);
	ck_assert(cfg.advertise_auto);
	ck_assert_int_eq(cfg.max_peers, 16);
	ck_assert_str_eq(cfg.api_host, "127.0.0.1");
	ck_assert_int_eq(cfg.api_port, 7080);
	ck_assert_uint_eq(cfg.repositories.len, 0);
	pa_config_clear(&cfg);
}
END_TEST

START_TEST(test_pa_config_load_full_ini_sets_every_key)
{
	struct cm_err err;
	struct pa_config cfg;

	write_file("ca.pem", "ca\n");
	write_file("me.crt", "certificate\n");
	write_ini("[identity]\n"
		  "email = alice@example.com\n"
		  "cert = me.crt\n"
		  "key = identity.key\n"
		  "[bootstrap]\n"
		  "urls = https://a.example.com:8443, https://b.example.com\n"
		  "ca = ca.pem\n"
		  "[gossip]\n"
		  "listen = [::1]:7443\n"
		  "advertise = 192.0.2.1, 2001:db8::1\n"
		  "broadcasting = yes\n"
		  "bind = 192.0.2.1\n"
		  "neighbours = 12\n"
		  "fanout = 4\n"
		  "ttl = 9\n"
		  "max_peers = 40\n"
		  "table_max = 500\n"
		  "[api]\n"
		  "listen = 127.0.0.2:9000\n"
		  "[repositories]\n"
		  "names = linux, gcc\n"
		  "names = emacs\n"
		  "[timers]\n"
		  "heartbeat_s = 5\n"
		  "stale_s = 100\n"
		  "expire_s = 400\n"
		  "reannounce_s = 49\n"
		  "anti_entropy_s = 3\n"
		  "bootstrap_heartbeat_s = 7\n");
	ck_assert_msg(pa_config_load(tu_dir, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.cert_file, tu_path("me.crt"));
	ck_assert_str_eq(cfg.key_file, tu_path("identity.key"));
	ck_assert_uint_eq(cfg.bootstrap_urls.len, 2);
	ck_assert_str_eq(cfg.bootstrap_urls.items[0], "https://a.example.com:8443");
	ck_assert_str_eq(cfg.bootstrap_urls.items[1], "https://b.example.com");
	ck_assert_str_eq(cfg.bootstrap_ca, tu_path("ca.pem"));
	ck_assert_str_eq(cfg.listen_host, "::1");
	ck_assert_int_eq(cfg.listen_port, 7443);
	ck_assert(!cfg.advertise_auto);
	ck_assert_uint_eq(cfg.advertise.len, 2);
	ck_assert_str_eq(cfg.advertise.items[1], "2001:db8::1");
	ck_assert(cfg.broadcasting);
	ck_assert_str_eq(cfg.bind, "192.0.2.1");
	ck_assert_int_eq(cfg.neighbours, 12);
	ck_assert_int_eq(cfg.fanout, 4);
	ck_assert_int_eq(cfg.ttl, 9);
	ck_assert_int_eq(cfg.max_peers, 40);
	ck_assert_uint_eq(cfg.table_max, 500);
	ck_assert_str_eq(cfg.api_host, "127.0.0.2");
	ck_assert_int_eq(cfg.api_port, 9000);
	ck_assert_uint_eq(cfg.repositories.len, 3);
	ck_assert_str_eq(cfg.repositories.items[0].name, "linux");
	ck_assert_str_eq(cfg.repositories.items[2].name, "emacs");
	ck_assert_int_eq(cfg.heartbeat_s, 5);
	ck_assert_int_eq(cfg.stale_s, 100);
	ck_assert_int_eq(cfg.expire_s, 400);
	ck_assert_int_eq(cfg.reannounce_s, 49);
	ck_assert_int_eq(cfg.anti_entropy_s, 3);
	ck_assert_int_eq(cfg.bootstrap_heartbeat_s, 7);
	pa_config_clear(&cfg);
}
END_TEST

START_TEST(test_pa_config_load_max_peers_follows_neighbours_when_unset)
{
	struct cm_err err;
	struct pa_config cfg;

	write_ini(MINIMAL "[gossip]\nneighbours = 20\n");
	ck_assert_msg(pa_config_load(tu_dir, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.max_peers, 40);
	pa_config_clear(&cfg);
}
END_TEST

START_TEST(test_pa_config_load_makes_relative_home_absolute)
{
	struct cm_err err;
	char cwd[PATH_MAX], *want;
	struct pa_config cfg;
	int rc;

	write_ini(MINIMAL);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(tu_dir), 0);
	rc = pa_config_load(".", &cfg, &err);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_msg(rc == 0, "%s", err.msg);
	ck_assert_ptr_nonnull(want = realpath(tu_dir, NULL));
	ck_assert_str_eq(cfg.home, want);
	free(want);
	pa_config_clear(&cfg);
}
END_TEST

START_TEST(test_pa_config_load_bad_number_names_key)
{
	ck_assert_str_eq(load_error(MINIMAL "[gossip]\nneighbours = eight\n"),
			 "[gossip] neighbours: not a number");
}
END_TEST

START_TEST(test_pa_config_load_number_out_of_range_names_key)
{
	ck_assert_str_eq(load_error(MINIMAL "[timers]\nanti_entropy_s = 0\n"),
			 "[timers] anti_entropy_s: 0 out of range 1..3600");
}
END_TEST

START_TEST(test_pa_config_load_unknown_key_names_it)
{
	ck_assert_str_eq(load_error(MINIMAL "[gossip]\nneighbors = 8\n"),
			 "[gossip] neighbors: unknown key");
}
END_TEST

START_TEST(test_pa_config_load_unknown_section_names_it)
{
	ck_assert_str_eq(load_error(MINIMAL "[gosip]\nneighbours = 8\n"),
			 "[gosip]: unknown section");
}
END_TEST

START_TEST(test_pa_config_load_key_set_twice_refused)
{
	ck_assert_str_eq(load_error(MINIMAL "[gossip]\nttl = 3\nttl = 4\n"),
			 "[gossip] ttl: set twice");
}
END_TEST

START_TEST(test_pa_config_load_bad_boolean_names_key)
{
	ck_assert_str_eq(load_error(MINIMAL "[gossip]\nbroadcasting = maybe\n"),
			 "[gossip] broadcasting: not a boolean (true or false)");
}
END_TEST

START_TEST(test_pa_config_load_non_loopback_api_refused)
{
	const char *err = load_error(MINIMAL "[api]\nlisten = 192.0.2.1:7080\n");

	ck_assert_msg(strncmp(err, "[api] listen: ", 14) == 0 && strstr(err, "loopback"), "%s",
		      err);
}
END_TEST

START_TEST(test_pa_config_load_ipv6_loopback_api_accepted)
{
	struct cm_err err;
	struct pa_config cfg;

	write_ini(MINIMAL "[api]\nlisten = [::1]:7081\n");
	ck_assert_msg(pa_config_load(tu_dir, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.api_host, "::1");
	ck_assert_int_eq(cfg.api_port, 7081);
	pa_config_clear(&cfg);
}
END_TEST

START_TEST(test_pa_config_load_reannounce_not_below_half_stale_refused)
{
	const char *err = load_error(MINIMAL "[timers]\nstale_s = 1200\nreannounce_s = 600\n");

	ck_assert_msg(strncmp(err, "[timers] reannounce_s: ", 23) == 0, "%s", err);
	ck_assert_msg(strstr(err, "stale_s / 2") != NULL, "%s", err);
}
END_TEST

START_TEST(test_pa_config_load_expire_not_above_stale_refused)
{
	const char *err = load_error(MINIMAL "[timers]\nexpire_s = 1800\n");

	ck_assert_msg(strncmp(err, "[timers] expire_s: ", 19) == 0, "%s", err);
}
END_TEST

START_TEST(test_pa_config_load_broadcasting_without_listen_refused)
{
	ck_assert_str_eq(load_error(MINIMAL "[gossip]\nbroadcasting = true\n"),
			 "[gossip] listen: required when broadcasting = true");
}
END_TEST

START_TEST(test_pa_config_load_max_peers_below_neighbours_refused)
{
	const char *err = load_error(MINIMAL "[gossip]\nneighbours = 10\nmax_peers = 9\n");

	ck_assert_msg(strncmp(err, "[gossip] max_peers: ", 20) == 0, "%s", err);
}
END_TEST

START_TEST(test_pa_config_load_hostile_network_limits_take_defaults_and_settings)
{
	struct cm_err err;
	struct pa_config cfg;

	write_ini(MINIMAL "[gossip]\nneighbours = 10\n");
	ck_assert_msg(pa_config_load(tu_dir, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.dial_slots, 5);
	ck_assert_int_eq(cfg.max_per_address, 4);
	ck_assert_int_eq(cfg.max_unauthenticated, 8);
	ck_assert_uint_eq(cfg.send_queue_max, 1024 * 1024);
	pa_config_clear(&cfg);
	write_ini(MINIMAL "[gossip]\ndial_slots = 2\nmax_per_address = 1\nmax_unauthenticated = 3\n"
			  "send_queue_max = 4194304\n");
	ck_assert_msg(pa_config_load(tu_dir, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.dial_slots, 2);
	ck_assert_int_eq(cfg.max_per_address, 1);
	ck_assert_int_eq(cfg.max_unauthenticated, 3);
	ck_assert_uint_eq(cfg.send_queue_max, 4194304);
	pa_config_clear(&cfg);
}
END_TEST

START_TEST(test_pa_config_load_accept_rate_takes_defaults_and_settings)
{
	struct cm_err err;
	struct pa_config cfg;

	write_ini(MINIMAL);
	ck_assert_msg(pa_config_load(tu_dir, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.accept_rate, 4);
	ck_assert_int_eq(cfg.accept_burst, 8);
	pa_config_clear(&cfg);
	write_ini(MINIMAL "[gossip]\naccept_rate = 20\naccept_burst = 50\n");
	ck_assert_msg(pa_config_load(tu_dir, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.accept_rate, 20);
	ck_assert_int_eq(cfg.accept_burst, 50);
	pa_config_clear(&cfg);
	ck_assert_msg(strncmp(load_error(MINIMAL "[gossip]\naccept_rate = 0\n"),
			      "[gossip] accept_rate: ", 22) == 0, "zero accepted");
}
END_TEST

START_TEST(test_pa_config_load_dial_slots_over_neighbours_refused)
{
	const char *err = load_error(MINIMAL "[gossip]\nneighbours = 4\ndial_slots = 5\n");

	ck_assert_msg(strncmp(err, "[gossip] dial_slots: ", 21) == 0, "%s", err);
}
END_TEST

START_TEST(test_pa_config_load_dial_slots_taking_every_session_refused)
{
	const char *err =
		load_error(MINIMAL "[gossip]\nneighbours = 4\nmax_peers = 4\ndial_slots = 4\n");

	ck_assert_msg(strncmp(err, "[gossip] dial_slots: ", 21) == 0, "%s", err);
}
END_TEST

START_TEST(test_pa_config_load_send_queue_below_two_frames_refused)
{
	const char *err = load_error(MINIMAL "[gossip]\nsend_queue_max = 1000\n");

	ck_assert_msg(strncmp(err, "[gossip] send_queue_max: ", 25) == 0, "%s", err);
}
END_TEST

START_TEST(test_pa_config_load_bad_ip_names_key)
{
	ck_assert_str_eq(load_error(MINIMAL "[gossip]\nbind = 300.1.1.1\n"),
			 "[gossip] bind: '300.1.1.1' is not an IP address");
	ck_assert_str_eq(load_error(MINIMAL "[gossip]\nadvertise = 192.0.2.1, nowhere\n"),
			 "[gossip] advertise: 'nowhere' is not an IP address");
	ck_assert_str_eq(load_error(MINIMAL "[gossip]\nlisten = example.com:7443\n"),
			 "[gossip] listen: 'example.com' is not an IP address");
}
END_TEST

START_TEST(test_pa_config_load_bad_port_names_key)
{
	const char *err = load_error(MINIMAL "[gossip]\nlisten = 192.0.2.1:70000\n");

	ck_assert_msg(strncmp(err, "[gossip] listen: port", 21) == 0, "%s", err);
}
END_TEST

START_TEST(test_pa_config_load_bad_repository_name_refused)
{
	ck_assert_str_eq(load_error(MINIMAL "[repositories]\nnames = linux, bad\x01name\n"),
			 "[repositories] names: 'bad\x01name' is not a valid repository name");
}
END_TEST

START_TEST(test_pa_config_load_non_https_url_refused)
{
	ck_assert_str_eq(load_error(MINIMAL "[bootstrap]\nurls = http://a.example.com\n"),
			 "[bootstrap] urls: 'http://a.example.com' is not an https URL");
}
END_TEST

START_TEST(test_pa_config_load_bad_email_names_key)
{
	ck_assert_str_eq(load_error("[identity]\nemail = not-an-email\n"),
			 "[identity] email: 'not-an-email' is not a valid email address");
}
END_TEST

START_TEST(test_pa_config_load_missing_email_refused)
{
	ck_assert_str_eq(load_error("[gossip]\nttl = 3\n"), "[identity] email: missing");
}
END_TEST

START_TEST(test_pa_config_load_missing_cert_file_refused)
{
	const char *err = load_error(MINIMAL "cert = nowhere.crt\n");

	ck_assert_msg(strncmp(err, "[identity] cert: cannot read", 28) == 0, "%s", err);
}
END_TEST

START_TEST(test_pa_config_load_overlong_line_refused)
{
	char text[512];
	const char *err;

	snprintf(text, sizeof(text), MINIMAL "[repositories]\nnames = %0300d\n", 1);
	err = load_error(text);
	ck_assert_msg(strstr(err, "line 4: longer than") != NULL, "%s", err);
}
END_TEST

START_TEST(test_pa_config_load_missing_ini_refused)
{
	struct cm_err err;
	struct pa_config cfg;

	ck_assert_int_eq(pa_config_load(tu_dir, &cfg, &err), -1);
	ck_assert_msg(strstr(err.msg, "agent.ini") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_pa_init_creates_files_with_modes)
{
	struct cm_err err;
	const char *dir = tu_path("agent");
	char key[256], crt[256], ini[256], token[256];
	struct cm_err e = {0};
	struct cm_identity *id;
	const char *text;

	snprintf(key, sizeof(key), "%s/identity.key", dir);
	snprintf(crt, sizeof(crt), "%s/identity.crt", dir);
	snprintf(ini, sizeof(ini), "%s/agent.ini", dir);
	snprintf(token, sizeof(token), "%s/api.token", dir);
	ck_assert_msg(pa_init(dir, "alice@example.com", false, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(mode_of(dir), 0700);
	ck_assert_int_eq(mode_of(key), 0600);
	ck_assert_int_eq(mode_of(token), 0600);
	ck_assert(exists(crt));
	id = cm_identity_load(key, crt, &e);
	ck_assert_msg(id != NULL, "%s", e.msg);
	ck_assert_str_eq(cm_identity_email(id), "alice@example.com");
	cm_identity_free(id);
	text = read_file(token);
	ck_assert_uint_eq(strlen(text), 65);
	ck_assert_uint_eq(strspn(text, "0123456789abcdef"), 64);
	text = read_file(ini);
	ck_assert_ptr_nonnull(strstr(text, "\nemail = alice@example.com\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n# neighbours = 8\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n# listen = 127.0.0.1:7080\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n# bootstrap_heartbeat_s = 30\n"));
}
END_TEST

START_TEST(test_pa_init_then_load_gives_defaults)
{
	struct cm_err err;
	struct pa_config cfg, def;

	ck_assert_msg(pa_init(tu_dir, "alice@example.com", false, &err) == 0, "%s", err.msg);
	ck_assert_msg(pa_config_load(tu_dir, &cfg, &err) == 0, "%s", err.msg);
	pa_config_default(&def);
	ck_assert_str_eq(cfg.email, "alice@example.com");
	ck_assert_str_eq(cfg.key_file, tu_path("identity.key"));
	ck_assert_int_eq(cfg.neighbours, def.neighbours);
	ck_assert_int_eq(cfg.max_peers, def.max_peers);
	ck_assert_int_eq(cfg.stale_s, def.stale_s);
	ck_assert_int_eq(cfg.reannounce_s, def.reannounce_s);
	ck_assert_str_eq(cfg.api_host, def.api_host);
	pa_config_clear(&def);
	pa_config_clear(&cfg);
}
END_TEST

START_TEST(test_pa_init_refuses_existing_file_without_force)
{
	struct cm_err err;

	write_file("api.token", "keep me\n");
	ck_assert_int_eq(pa_init(tu_dir, "alice@example.com", false, &err), -1);
	ck_assert_msg(strstr(err.msg, "api.token: already exists") != NULL, "%s", err.msg);
	ck_assert(!exists(tu_path("identity.key")));
	ck_assert(!exists(tu_path("identity.crt")));
	ck_assert(!exists(tu_path("agent.ini")));
	ck_assert_str_eq(read_file(tu_path("api.token")), "keep me\n");
}
END_TEST

START_TEST(test_pa_init_force_overwrites_everything)
{
	struct cm_err err;
	char old_key[8192], old_token[128];

	ck_assert_msg(pa_init(tu_dir, "alice@example.com", false, &err) == 0, "%s", err.msg);
	snprintf(old_key, sizeof(old_key), "%s", read_file(tu_path("identity.key")));
	snprintf(old_token, sizeof(old_token), "%s", read_file(tu_path("api.token")));
	ck_assert_int_eq(pa_init(tu_dir, "bob@example.com", false, &err), -1);
	ck_assert_msg(pa_init(tu_dir, "bob@example.com", true, &err) == 0, "%s", err.msg);
	ck_assert_str_ne(read_file(tu_path("identity.key")), old_key);
	ck_assert_str_ne(read_file(tu_path("api.token")), old_token);
	ck_assert_ptr_nonnull(strstr(read_file(tu_path("agent.ini")), "email = bob@example.com"));
	ck_assert_int_eq(mode_of(tu_path("identity.key")), 0600);
	ck_assert_int_eq(mode_of(tu_path("api.token")), 0600);
}
END_TEST

START_TEST(test_pa_init_bad_email_writes_nothing)
{
	struct cm_err err;
	const char *dir = tu_path("agent");

	ck_assert_int_eq(pa_init(dir, "not an email", false, &err), -1);
	ck_assert_msg(strncmp(err.msg, "email: ", 7) == 0, "%s", err.msg);
	ck_assert(!exists(dir));
}
END_TEST

START_TEST(test_pa_config_read_token_trims_whitespace)
{
	struct cm_err err;
	char *token;

	write_file("api.token", " \t0123abcd\r\n\n");
	token = pa_config_read_token(tu_dir, &err);
	ck_assert_msg(token != NULL, "%s", err.msg);
	ck_assert_str_eq(token, "0123abcd");
	free(token);
}
END_TEST

START_TEST(test_pa_config_read_token_empty_refused)
{
	struct cm_err err;

	write_file("api.token", " \n\n");
	ck_assert_ptr_null(pa_config_read_token(tu_dir, &err));
	ck_assert_msg(strstr(err.msg, "api.token: empty") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_pa_config_read_token_missing_refused)
{
	struct cm_err err;

	ck_assert_ptr_null(pa_config_read_token(tu_dir, &err));
	ck_assert_msg(strstr(err.msg, "api.token") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_pa_config_path_joins_home_and_name)
{
	char *p = pa_config_path("/var/lib/agent", "agent.ini");

	ck_assert_str_eq(p, "/var/lib/agent/agent.ini");
	free(p);
	p = pa_config_path("/var/lib/agent/", "agent.ini");
	ck_assert_str_eq(p, "/var/lib/agent/agent.ini");
	free(p);
}
END_TEST

START_TEST(test_pa_config_load_text_reads_the_text_under_home)
{
	struct cm_err err;
	struct pa_config cfg;

	write_ini("");
	ck_assert_msg(pa_config_load_text(tu_dir, "agent.ini",
					  "[identity]\nemail = alice@example.com\n"
					  "[gossip]\nneighbours = 5\n",
					  &cfg, &err) == 0,
		      "%s", err.msg);
	ck_assert_str_eq(cfg.home, tu_dir);
	ck_assert_str_eq(cfg.cert_file, tu_path("identity.crt"));
	ck_assert_int_eq(cfg.neighbours, 5);
	pa_config_clear(&cfg);
	ck_assert_int_eq(pa_config_load_text(tu_dir, "x.ini", "[identity]\nemail\n", &cfg, &err), -1);
	ck_assert_msg(strstr(err.msg, "x.ini line 2") != NULL, "%s", err.msg);
	ck_assert_ptr_null(cfg.home);
}
END_TEST

/* Key generation under sanitizers is slow on busy machines. */
FB_CHECK_MAIN(.name = "agentconfig", .setup = setup, .teardown = teardown, .timeout_s = 60)
