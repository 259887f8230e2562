/* check_ui.c - the web page on the control API: the Host check, the files, their types. */
#include <check.h>
#include <string.h>

#include "control/ui.h"
#include "check_main.h"

START_TEST(test_host_ok_accepts_the_listen_address_with_its_port)
{
	ck_assert(ctl_ui_host_ok("127.0.0.1:7700", "127.0.0.1", 7700));
	ck_assert(ctl_ui_host_ok("127.0.0.9:81", "127.0.0.9", 81));
	ck_assert(ctl_ui_host_ok("[::1]:7700", "::1", 7700));
}
END_TEST

START_TEST(test_host_ok_accepts_localhost_only_on_127_0_0_1_and_ipv6_loopback)
{
	ck_assert(ctl_ui_host_ok("localhost:7700", "127.0.0.1", 7700));
	ck_assert(ctl_ui_host_ok("LocalHost:7700", "127.0.0.1", 7700));
	ck_assert(ctl_ui_host_ok("localhost:7700", "::1", 7700));
	ck_assert(!ctl_ui_host_ok("localhost:7700", "127.0.0.2", 7700));
}
END_TEST

START_TEST(test_host_ok_refuses_other_names_ports_and_none)
{
	static const char *bad[] = {"evil.example:7700", "evil.example",  "127.0.0.1",
				    "127.0.0.1:7701",    "127.0.0.1:770", "127.0.0.1:77000",
				    "127.0.0.1:7700x",   "127.0.0.10:7700", "127.0.0.1.evil.example:7700",
				    "localhost.evil.example:7700", "[::1]:7700", "",
				    "localhost"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!ctl_ui_host_ok(bad[i], "127.0.0.1", 7700), "accepted %s", bad[i]);
	ck_assert(!ctl_ui_host_ok(NULL, "127.0.0.1", 7700));
	ck_assert(!ctl_ui_host_ok("::1:7700", "::1", 7700));
}
END_TEST

START_TEST(test_host_ok_leaves_out_the_port_only_when_it_is_80)
{
	ck_assert(ctl_ui_host_ok("127.0.0.1", "127.0.0.1", 80));
	ck_assert(ctl_ui_host_ok("localhost", "127.0.0.1", 80));
	ck_assert(!ctl_ui_host_ok("127.0.0.1", "127.0.0.1", 8080));
}
END_TEST

START_TEST(test_ui_file_serves_the_page_at_slash_and_its_assets_by_name)
{
	const struct cm_embedded *page = ctl_ui_file("/"), *js = ctl_ui_file("/app.js");

	ck_assert_ptr_nonnull(page);
	ck_assert_str_eq(page->name, "index.html");
	ck_assert_ptr_eq(ctl_ui_file("/index.html"), page);
	ck_assert_uint_eq(strlen(page->data), page->len);
	ck_assert_ptr_nonnull(strstr(page->data, "<script type=\"module\" src=\"app.js\">"));
	ck_assert_ptr_nonnull(js);
	ck_assert_ptr_null(ctl_ui_file("/nothing.js"));
	ck_assert_ptr_null(ctl_ui_file("/../index.html"));
	ck_assert_ptr_null(ctl_ui_file("index.html"));
	ck_assert_ptr_null(ctl_ui_file(""));
}
END_TEST

START_TEST(test_ui_page_has_no_inline_script)
{
	const struct cm_embedded *page = ctl_ui_file("/");
	const char *s = page->data;

	/* Every <script> names its file: the CSP's script-src 'self' would block any other. */
	while ((s = strstr(s, "<script")) != NULL) {
		const char *end = strchr(s, '>'), *src = strstr(s, " src=");

		ck_assert_ptr_nonnull(end);
		ck_assert_msg(src != NULL && src < end, "inline script");
		ck_assert_msg(strncmp(end, "></script>", 10) == 0, "a script with a body");
		s = end;
	}
}
END_TEST

START_TEST(test_ui_content_type_by_ending)
{
	ck_assert_str_eq(ctl_ui_content_type("index.html"), "text/html; charset=utf-8");
	ck_assert_str_eq(ctl_ui_content_type("views/peers.js"), "text/javascript; charset=utf-8");
	ck_assert_str_eq(ctl_ui_content_type("style.css"), "text/css; charset=utf-8");
	ck_assert_str_eq(ctl_ui_content_type("favicon.svg"), "image/svg+xml");
	ck_assert_str_eq(ctl_ui_content_type("x.bin"), "application/octet-stream");
}
END_TEST

FB_CHECK_MAIN(.name = "ui")
