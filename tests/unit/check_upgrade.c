/* check_upgrade.c - the WebSocket opening handshake, parsed and built on plain buffers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/upgrade.h"
#include "check_main.h"

#define PATH "/gossip/v1"
#define PROTO "flashback-gossip.v1"
#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* RFC 6455 section 1.3 */

/* A request as our dialler sends it, with extra header lines spliced in before the end. */
static const char *
request_with(const char *extra)
{
	static char buf[UPGRADE_MAX_BYTES * 2];

	snprintf(buf, sizeof(buf),
		 "GET " PATH " HTTP/1.1\r\nHost: flashback-peer\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
		 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " PROTO "\r\n%s\r\n",
		 extra);
	return buf;
}

/* Parses text as a request: the return value, with req and err filled in. */
static int
parse(const char *text, struct upgrade_request *req, struct cm_err *err)
{
	return upgrade_parse_request(text, strlen(text), PATH, PROTO, req, err);
}

/* Asserts that text is refused with status. */
static void
assert_refused(const char *text, int status)
{
	struct upgrade_request req;
	struct cm_err err = {{0}};

	ck_assert_int_eq(parse(text, &req, &err), -1);
	ck_assert_int_eq(req.status, status);
	ck_assert_msg(err.msg[0] != '\0', "a refusal says why");
}

static const char *
response_with(const char *accept, const char *extra)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Accept: %s\r\n%s\r\n",
		 accept, extra);
	return buf;
}

static int
parse_response(const char *text)
{
	struct cm_err err;

	return upgrade_parse_response(text, strlen(text), ACCEPT, PROTO, &err);
}

START_TEST(test_upgrade_accepts_a_valid_request)
{
	const char *text = request_with("");
	struct upgrade_request req;
	struct cm_err err;

	ck_assert_int_eq(parse(text, &req, &err), (int)strlen(text));
	ck_assert_str_eq(req.key, KEY);
	ck_assert(!req.extensions_offered);
}
END_TEST

START_TEST(test_upgrade_accept_key_matches_rfc6455_example)
{
	char accept[UPGRADE_ACCEPT_LEN + 1];

	ck_assert_int_eq(upgrade_accept_key(KEY, accept), 0);
	ck_assert_str_eq(accept, ACCEPT);
}
END_TEST

START_TEST(test_upgrade_key_from_nonce_is_base64_of_16_bytes)
{
	const uint8_t nonce[UPGRADE_NONCE_LEN] = "the sample nonce";
	char key[UPGRADE_KEY_LEN + 1];

	ck_assert_int_eq(upgrade_key_from_nonce(nonce, key), 0);
	ck_assert_str_eq(key, KEY);
}
END_TEST

START_TEST(test_upgrade_rejects_missing_key)
{
	assert_refused("GET " PATH " HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " PROTO "\r\n\r\n",
		       400);
}
END_TEST

START_TEST(test_upgrade_rejects_duplicate_key)
{
	assert_refused(request_with("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"), 400);
}
END_TEST

START_TEST(test_upgrade_rejects_key_that_is_not_16_bytes_of_base64)
{
	assert_refused("GET " PATH " HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: not*base64*at*all*but*24\r\nSec-WebSocket-Version: 13\r\n"
		       "Sec-WebSocket-Protocol: " PROTO "\r\n\r\n",
		       400);
	assert_refused("GET " PATH " HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: dGhl\r\nSec-WebSocket-Version: 13\r\n"
		       "Sec-WebSocket-Protocol: " PROTO "\r\n\r\n",
		       400);
}
END_TEST

START_TEST(test_upgrade_rejects_wrong_version_with_426)
{
	assert_refused("GET " PATH " HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 8\r\n"
		       "Sec-WebSocket-Protocol: " PROTO "\r\n\r\n",
		       426);
	assert_refused("GET " PATH " HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Protocol: " PROTO "\r\n\r\n",
		       426);
}
END_TEST

START_TEST(test_upgrade_rejects_wrong_path_with_404)
{
	assert_refused("GET /other HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 404);
	assert_refused("GET " PATH "?x=1 HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 404);
	assert_refused("GET " PATH " HTTP/1.0\r\nUpgrade: websocket\r\n\r\n", 404);
}
END_TEST

START_TEST(test_upgrade_rejects_other_method_with_405)
{
	assert_refused("POST " PATH " HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 405);
}
END_TEST

START_TEST(test_upgrade_rejects_missing_subprotocol)
{
	assert_refused("GET " PATH " HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
		       400);
	assert_refused("GET " PATH " HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
		       "Sec-WebSocket-Protocol: chat, flashback-gossip.v2\r\n\r\n",
		       400);
}
END_TEST

START_TEST(test_upgrade_rejects_request_that_is_not_an_upgrade)
{
	assert_refused("GET " PATH " HTTP/1.1\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " KEY
		       "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " PROTO "\r\n\r\n",
		       400);
	assert_refused("GET " PATH " HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
		       "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
		       "Sec-WebSocket-Protocol: " PROTO "\r\n\r\n",
		       400);
}
END_TEST

START_TEST(test_upgrade_rejects_oversized_headers_with_431)
{
	char *big = malloc(UPGRADE_MAX_BYTES + 64);
	char *filler = malloc(UPGRADE_MAX_BYTES);

	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(filler);
	/* No end in sight after the limit. */
	memset(big, 'a', UPGRADE_MAX_BYTES);
	big[UPGRADE_MAX_BYTES] = '\0';
	assert_refused(big, 431);
	/* A whole block, but over the limit. */
	memset(filler, 'x', UPGRADE_MAX_BYTES - 10);
	memcpy(filler, "X-Pad: ", 7);
	memcpy(filler + UPGRADE_MAX_BYTES - 10, "\r\n", sizeof("\r\n"));
	assert_refused(request_with(filler), 431);
	free(filler);
	free(big);
}
END_TEST

START_TEST(test_upgrade_rejects_too_many_header_lines_with_431)
{
	char extra[UPGRADE_MAX_HEADERS * 16] = "";

	for (int i = 0; i < UPGRADE_MAX_HEADERS; i++)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "X-%d: y\r\n", i);
	assert_refused(request_with(extra), 431);
}
END_TEST

START_TEST(test_upgrade_rejects_malformed_header_line)
{
	assert_refused(request_with("no colon here\r\n"), 400);
	assert_refused(request_with("Bad Name: x\r\n"), 400);
	assert_refused(request_with(": nameless\r\n"), 400);
	assert_refused(request_with("X-Ctl: a\001b\r\n"), 400);
}
END_TEST

START_TEST(test_upgrade_partial_request_needs_more)
{
	const char *text = request_with("");
	size_t len = strlen(text);
	struct upgrade_request req;
	struct cm_err err;

	for (size_t i = 0; i < len; i++)
		ck_assert_msg(upgrade_parse_request(text, i, PATH, PROTO, &req, &err) == 0,
			      "%zu of %zu bytes", i, len);
	ck_assert_int_eq(upgrade_parse_request(text, len, PATH, PROTO, &req, &err), (int)len);
}
END_TEST

START_TEST(test_upgrade_leaves_bytes_after_the_block)
{
	const char *req_text = request_with("");
	size_t len = strlen(req_text);
	char *text = malloc(len + 8);
	struct upgrade_request req;
	struct cm_err err;

	ck_assert_ptr_nonnull(text);
	memcpy(text, req_text, len);
	memcpy(text + len, "\x81\x05hello", 7);
	ck_assert_int_eq(upgrade_parse_request(text, len + 7, PATH, PROTO, &req, &err), (int)len);
	free(text);
}
END_TEST

START_TEST(test_upgrade_declines_permessage_deflate)
{
	struct upgrade_request req;
	struct cm_err err;
	char resp[512];
	const char *text = request_with("Sec-WebSocket-Extensions: permessage-deflate; "
					"client_max_window_bits\r\n");

	ck_assert_int_gt(parse(text, &req, &err), 0);
	ck_assert(req.extensions_offered);
	ck_assert_int_gt(upgrade_build_response(resp, sizeof(resp), ACCEPT, PROTO), 0);
	ck_assert_ptr_null(strstr(resp, "Extensions"));
}
END_TEST

START_TEST(test_upgrade_reads_header_names_and_tokens_loosely)
{
	struct upgrade_request req;
	struct cm_err err;
	const char *text =
		"GET " PATH " HTTP/1.1\r\nupgrade:WebSocket\r\nCONNECTION: keep-alive, Upgrade\r\n"
		"sec-websocket-key:   " KEY "  \r\nSec-WebSocket-Version: 13\r\n"
		"Sec-WebSocket-Protocol: chat,\t" PROTO "\r\n\r\n";

	ck_assert_int_eq(parse(text, &req, &err), (int)strlen(text));
	ck_assert_str_eq(req.key, KEY);
}
END_TEST

START_TEST(test_upgrade_request_built_is_accepted_and_answered)
{
	char req_text[512], resp_text[512], accept[UPGRADE_ACCEPT_LEN + 1];
	struct upgrade_request req;
	struct cm_err err;
	int n, m;

	n = upgrade_build_request(req_text, sizeof(req_text), "flashback-peer", PATH, KEY, PROTO);
	ck_assert_int_eq(n, (int)strlen(req_text));
	ck_assert_int_eq(upgrade_parse_request(req_text, (size_t)n, PATH, PROTO, &req, &err), n);
	ck_assert_int_eq(upgrade_accept_key(req.key, accept), 0);
	m = upgrade_build_response(resp_text, sizeof(resp_text), accept, PROTO);
	ck_assert_int_gt(m, 0);
	ck_assert_int_eq(upgrade_parse_response(resp_text, (size_t)m, ACCEPT, PROTO, &err), m);
}
END_TEST

START_TEST(test_upgrade_response_rejects_wrong_accept)
{
	ck_assert_int_eq(parse_response(response_with("AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
						      "Sec-WebSocket-Protocol: " PROTO "\r\n")),
			 -1);
	ck_assert_int_eq(parse_response(response_with(ACCEPT, "Sec-WebSocket-Accept: " ACCEPT
							      "\r\nSec-WebSocket-Protocol: " PROTO
							      "\r\n")),
			 -1);
}
END_TEST

START_TEST(test_upgrade_response_rejects_other_or_missing_subprotocol)
{
	ck_assert_int_eq(parse_response(response_with(ACCEPT, "")), -1);
	ck_assert_int_eq(parse_response(response_with(ACCEPT, "Sec-WebSocket-Protocol: chat\r\n")),
			 -1);
}
END_TEST

START_TEST(test_upgrade_response_rejects_an_extension)
{
	ck_assert_int_eq(parse_response(response_with(ACCEPT, "Sec-WebSocket-Protocol: " PROTO
							      "\r\nSec-WebSocket-Extensions: "
							      "permessage-deflate\r\n")),
			 -1);
}
END_TEST

START_TEST(test_upgrade_response_rejects_status_other_than_101)
{
	ck_assert_int_eq(parse_response("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"), -1);
	ck_assert_int_eq(parse_response("HTTP/1.1 1010\r\nSec-WebSocket-Accept: " ACCEPT
					"\r\nSec-WebSocket-Protocol: " PROTO "\r\n\r\n"),
			 -1);
}
END_TEST

START_TEST(test_upgrade_partial_response_needs_more)
{
	const char *text = response_with(ACCEPT, "Sec-WebSocket-Protocol: " PROTO "\r\n");
	size_t len = strlen(text);
	struct cm_err err;

	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(upgrade_parse_response(text, i, ACCEPT, PROTO, &err), 0);
	ck_assert_int_eq(upgrade_parse_response(text, len, ACCEPT, PROTO, &err), (int)len);
}
END_TEST

START_TEST(test_upgrade_refusal_names_status_and_closes)
{
	char buf[256];

	ck_assert_int_gt(upgrade_build_refusal(buf, sizeof(buf), 404), 0);
	ck_assert_str_eq(buf, "HTTP/1.1 404 Not Found\r\nConnection: close\r\n"
			      "Content-Length: 0\r\n\r\n");
	ck_assert_int_gt(upgrade_build_refusal(buf, sizeof(buf), 426), 0);
	ck_assert_str_eq(buf, "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
			      "Connection: close\r\nContent-Length: 0\r\n\r\n");
	ck_assert_int_gt(upgrade_build_refusal(buf, sizeof(buf), 431), 0);
	ck_assert_ptr_nonnull(strstr(buf, "431 Request Header Fields Too Large\r\n"));
}
END_TEST

START_TEST(test_upgrade_builders_refuse_a_buffer_too_small)
{
	char buf[32];

	ck_assert_int_eq(upgrade_build_request(buf, sizeof(buf), "h", PATH, KEY, PROTO), -1);
	ck_assert_int_eq(upgrade_build_response(buf, sizeof(buf), ACCEPT, PROTO), -1);
	ck_assert_int_eq(upgrade_build_refusal(buf, sizeof(buf), 400), -1);
}
END_TEST

FB_CHECK_MAIN(.name = "upgrade")
