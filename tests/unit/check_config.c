/* check_config.c - bootstrap-server settings from flags, file and environment. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "check_main.h"

START_TEST(test_config_init_defaults_match_architecture)
{
	struct bs_config c;

	bs_config_init(&c);
	ck_assert_str_eq(c.listen_host, "127.0.0.1");
	ck_assert_int_eq(c.listen_port, 8443);
	ck_assert_int_eq(c.ttl_s, 3600);
	ck_assert_int_eq(c.stale_after_s, 900);
	ck_assert_int_eq(c.sweep_interval_s, 60);
	ck_assert_int_eq(c.max_conns_per_ip, 256);
	ck_assert_int_eq(c.max_connections, 4096);
	ck_assert_int_eq(c.conn_timeout_s, 30);
	ck_assert_int_eq(c.rate_limit, 20);
	ck_assert_int_eq(c.rate_limit_per_ip, 50);
	ck_assert_int_eq(c.feedback_window_s, 300);
	ck_assert_int_eq(c.feedback_min_age_s, 600);
	ck_assert_int_eq(c.feedback_per_ip, 1024);
	bs_config_clear(&c);
}
END_TEST

START_TEST(test_config_set_listen_forms)
{
	struct bs_config c;
	struct cm_err e;

	bs_config_init(&c);
	ck_assert_int_eq(bs_config_set(&c, "listen", "[::1]:9443", &e), 0);
	ck_assert_str_eq(c.listen_host, "::1");
	ck_assert_int_eq(c.listen_port, 9443);
	ck_assert_int_eq(bs_config_set(&c, "listen", "0.0.0.0:1", &e), 0);
	ck_assert_int_eq(bs_config_set(&c, "listen", "localhost:8443", &e), -1);
	ck_assert_str_eq(e.msg, "listen: 'localhost' is not an IP address");
	ck_assert_int_eq(bs_config_set(&c, "listen", "127.0.0.1:70000", &e), -1);
	ck_assert_int_eq(bs_config_set(&c, "listen", "127.0.0.1", &e), -1);
	bs_config_clear(&c);
}
END_TEST

START_TEST(test_config_set_rejects_bad_numbers_and_unknown_keys)
{
	struct bs_config c;
	struct cm_err e;

	bs_config_init(&c);
	ck_assert_int_eq(bs_config_set(&c, "ttl", "12x", &e), -1);
	ck_assert_str_eq(e.msg, "ttl: expected an integer in 10..604800, got '12x'");
	ck_assert_int_eq(bs_config_set(&c, "threads", "0", &e), -1);
	ck_assert_int_eq(bs_config_set(&c, "colour", "blue", &e), -1);
	ck_assert_str_eq(e.msg, "unknown setting 'colour'");
	ck_assert_int_eq(c.ttl_s, 3600);
	bs_config_clear(&c);
}
END_TEST

START_TEST(test_config_load_file_and_env_precedence)
{
	struct bs_config c;
	struct cm_err e;
	char path[] = "/tmp/check_config_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fprintf(f, "# a comment\n[bootstrap-server]\nttl = 120\nlisten = 127.0.0.5:9000\n");
	fclose(f);
	bs_config_init(&c);
	setenv("BOOTSTRAP_LISTEN", "127.0.0.6:9001", 1);
	ck_assert_int_eq(bs_config_load_file(&c, path, &e), 0);
	ck_assert_int_eq(c.ttl_s, 120);
	ck_assert_str_eq(c.listen_host, "127.0.0.5");
	ck_assert_int_eq(bs_config_load_env(&c, &e), 0);
	ck_assert_str_eq(c.listen_host, "127.0.0.6");
	ck_assert_int_eq(c.listen_port, 9001);
	unsetenv("BOOTSTRAP_LISTEN");
	unlink(path);
	bs_config_clear(&c);
}
END_TEST

START_TEST(test_config_load_file_reports_line_of_bad_value)
{
	struct bs_config c;
	struct cm_err e;
	char path[] = "/tmp/check_config_XXXXXX", want[128];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fprintf(f, "ttl = 120\nstale-after = soon\n");
	fclose(f);
	bs_config_init(&c);
	ck_assert_int_eq(bs_config_load_file(&c, path, &e), -1);
	snprintf(want, sizeof(want), "%s: stale-after: expected an integer in 1..604800, got 'soon'",
		 path);
	ck_assert_str_eq(e.msg, want);
	unlink(path);
	bs_config_clear(&c);
}
END_TEST

START_TEST(test_config_finish_requires_cert_and_consistent_timers)
{
	struct bs_config c;
	struct cm_err e;

	bs_config_init(&c);
	ck_assert_int_eq(bs_config_finish(&c, 2, &e), -1);
	ck_assert_str_eq(e.msg, "--cert and --key are required (the server speaks only HTTPS)");
	bs_config_set(&c, "cert", "/etc/hostname", &e);
	bs_config_set(&c, "key", "/etc/hostname", &e);
	bs_config_set(&c, "stale-after", "4000", &e);
	ck_assert_int_eq(bs_config_finish(&c, 2, &e), -1);
	ck_assert_str_eq(e.msg, "stale-after (4000 s) must be shorter than ttl (3600 s)");
	bs_config_set(&c, "stale-after", "900", &e);
	ck_assert_int_eq(bs_config_finish(&c, 3, &e), 0);
	ck_assert_int_eq(c.threads, 6);
	bs_config_set(&c, "client-ca", "/nonexistent/ca.pem", &e);
	ck_assert_int_eq(bs_config_finish(&c, 3, &e), -1);
	bs_config_clear(&c);
}
END_TEST

START_TEST(test_config_set_address_and_feedback_limits)
{
	struct bs_config c;
	struct cm_err e;

	bs_config_init(&c);
	ck_assert_int_eq(bs_config_set(&c, "rate-limit-per-ip", "200", &e), 0);
	ck_assert_int_eq(c.rate_limit_per_ip, 200);
	ck_assert_int_eq(bs_config_set(&c, "max-connections", "10000", &e), 0);
	ck_assert_int_eq(c.max_connections, 10000);
	/* 0: feedback from a peer registered a moment ago counts (tests, closed networks). */
	ck_assert_int_eq(bs_config_set(&c, "feedback-min-age", "0", &e), 0);
	ck_assert_int_eq(c.feedback_min_age_s, 0);
	ck_assert_int_eq(bs_config_set(&c, "feedback-window", "60", &e), 0);
	ck_assert_int_eq(c.feedback_window_s, 60);
	ck_assert_int_eq(bs_config_set(&c, "feedback-per-ip", "10", &e), 0);
	ck_assert_int_eq(c.feedback_per_ip, 10);
	/* A limit of 0 would refuse everyone: the settings that divide by them refuse 0. */
	ck_assert_int_eq(bs_config_set(&c, "rate-limit-per-ip", "0", &e), -1);
	ck_assert_int_eq(bs_config_set(&c, "feedback-window", "0", &e), -1);
	ck_assert_int_eq(bs_config_set(&c, "feedback-per-ip", "0", &e), -1);
	ck_assert_int_eq(bs_config_set(&c, "max-connections", "0", &e), -1);
	bs_config_clear(&c);
}
END_TEST

FB_CHECK_MAIN(.name = "config")
