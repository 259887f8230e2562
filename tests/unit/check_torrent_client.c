/*
 * check_torrent_client.c - two torrent clients in one process on one libevent
 * loop, over real loopback sockets (127.0.0.1, .2, .3): creation and seeding,
 * download by magnet (metadata exchange) and by .torrent, bans for corrupt
 * pieces, the silent client's missing listener, hostile sessions, restarts.
 */
#define _GNU_SOURCE /* nftw */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fb/digest.h"
#include "fb/file.h"
#include "fb/hex.h"
#include "fb/random.h"
#include "torrent/hasher.h"
#include "torrent/metainfo.h"
#include "torrent/torrent.h"
#include "torrent/wire.h"
#include "check_main.h"
#include "testutil.h"

#define FILE_SIZE (3 * 1024 * 1024 + 12345)
/* More than one hasher thread may run ahead of the other, so they wait for each other. */
#define BIG_SIZE (TR_HASH_LEAD + 3 * TR_HASH_READ + 54321)

static struct event_base *base;
static int max_peers;   /* the next clients' max_peers_per_torrent; 0: the default */
static int64_t up_rate; /* the next clients' max_upload_rate; 0: the default */
static char src_path[128];
static char created_hash[TR_HEX_LEN + 1];
static char *created_magnet, *created_torrent;

static void
setup(void)
{
	unsigned char *buf = malloc(FILE_SIZE);
	char dir[160];

	tu_mkdir("check_torrent");
	ck_assert_int_eq(cm_random_bytes(buf, FILE_SIZE), 0);
	snprintf(src_path, sizeof(src_path), "%s/data.bin", tu_dir);
	ck_assert_int_eq(cm_file_write_atomic(src_path, buf, FILE_SIZE, 0644, NULL), 0);
	free(buf);
	snprintf(dir, sizeof(dir), "%s/dl", tu_dir);
	mkdir(dir, 0755);
	base = event_base_new();
	max_peers = 0;
	up_rate = 0;
}

static void
teardown(void)
{
	event_base_free(base);
	free(created_magnet);
	free(created_torrent);
	created_magnet = created_torrent = NULL;
	tu_rmdir();
}

static struct tr_client *
client(const char *name, const char *listen, const char *bind, bool silent)
{
	static char dirs[4][192];
	static int next;
	struct tr_config cfg;
	char *d = dirs[next++ % 4];

	snprintf(d, sizeof(dirs[0]), "%s/%s", tu_dir, name);
	tr_config_defaults(&cfg);
	cfg.state_dir = d;
	cfg.listen_host = listen;
	cfg.bind_ip = bind;
	cfg.silent = silent;
	if (max_peers > 0)
		cfg.max_peers_per_torrent = max_peers;
	if (up_rate > 0)
		cfg.max_upload_rate = up_rate;
	return tr_client_new(base, &cfg, NULL, NULL);
}

typedef bool (*cond_fn)(void *arg);

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

/* Runs the loop until cond holds or timeout_ms passes; returns cond's last answer. */
static bool
run_until(cond_fn cond, void *arg, int timeout_ms)
{
	bool expired = false;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	struct event *ev = evtimer_new(base, on_deadline, &expired);

	evtimer_add(ev, &tv);
	while (!(cond != NULL && cond(arg)) && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(ev);
	return cond != NULL && cond(arg);
}

static void
on_created(void *arg, const struct tr_status *st, const struct cm_err *err)
{
	ck_assert_msg(st != NULL, "create: %s", err ? err->msg : "?");
	memcpy(created_hash, st->info_hash, sizeof(created_hash));
	created_magnet = strdup(st->magnet);
	created_torrent = strdup(st->torrent_file);
	*(bool *)arg = true;
}

static bool
flag(void *arg)
{
	return *(bool *)arg;
}

static struct tr_client *
create_seeder(const char *ip)
{
	struct tr_client *a = client("a", ip, ip, false);
	bool done = false;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(tr_client_create(a, src_path, NULL, on_created, &done, NULL), 0);
	ck_assert(run_until(flag, &done, 10000));
	return a;
}

struct want {
	struct tr_client *c;
	enum tr_state state;
};

static bool
in_state(void *arg)
{
	struct want *w = arg;
	struct tr_status st;
	bool ok;

	if (tr_client_status(w->c, created_hash, &st) != 0)
		return false;
	ok = st.state == w->state;
	tr_status_clear(&st);
	return ok;
}

static void
file_sha256(const char *path, char out[65])
{
	char *buf;
	size_t len;

	ck_assert_int_eq(cm_file_read(path, 64u << 20, &buf, &len, NULL), 0);
	cm_sha256_hex(buf, len, out);
	free(buf);
}

static void
assert_downloaded(struct tr_client *b)
{
	struct tr_status st;
	char want[65], got[65], path[192];

	ck_assert_int_eq(tr_client_status(b, created_hash, &st), 0);
	snprintf(path, sizeof(path), "%s/dl/data.bin", tu_dir);
	ck_assert_str_eq(st.path, path);
	file_sha256(src_path, want);
	file_sha256(path, got);
	ck_assert_str_eq(got, want);
	ck_assert_str_eq(st.sha256, want);
	ck_assert(st.progress == 1.0);
	tr_status_clear(&st);
}

START_TEST(test_created_torrent_seeds_at_once_and_names_its_file)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	struct tr_status st;
	char want[65];

	ck_assert_int_eq(tr_client_status(a, created_hash, &st), 0);
	ck_assert_int_eq(st.state, TR_SEEDING);
	ck_assert_uint_eq(st.size, FILE_SIZE);
	file_sha256(src_path, want);
	ck_assert_str_eq(st.sha256, want);
	ck_assert_ptr_nonnull(strstr(st.magnet, "x.pe=127.0.0.1:"));
	ck_assert_int_eq(access(st.torrent_file, R_OK), 0);
	/* 1000..2000 pieces unless the minimum piece length gives fewer. */
	ck_assert_uint_eq(st.piece_length, 16384);
	tr_status_clear(&st);
	tr_client_free(a);
}
END_TEST

START_TEST(test_a_magnet_with_x_pe_alone_is_enough_to_download)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	struct tr_source src = {0};
	char ih[TR_HEX_LEN + 1], dest[160];
	struct want w = {b, TR_SEEDING};

	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = created_magnet;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), 0);
	ck_assert_str_eq(ih, created_hash);
	ck_assert(run_until(in_state, &w, 20000));
	assert_downloaded(b);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

START_TEST(test_a_magnet_given_again_adds_its_peers_to_the_held_torrent)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	struct tr_source src = {0};
	char ih[TR_HEX_LEN + 1], dest[160], bare[128];
	struct want w = {b, TR_SEEDING};

	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	snprintf(bare, sizeof(bare), "magnet:?xt=urn:btih:%s", created_hash);
	src.magnet = bare;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), 0);
	/* No peer to ask: nothing moves. */
	ck_assert(!run_until(in_state, &w, 500));
	src.magnet = created_magnet; /* the same torrent, with the seeder's x.pe */
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), TR_EXISTS);
	ck_assert(run_until(in_state, &w, 20000));
	assert_downloaded(b);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

START_TEST(test_a_torrent_file_and_a_peer_are_enough_to_download)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	struct tr_client *b = client("b", "127.0.0.2", "127.0.0.2", false);
	struct tr_source src = {0};
	struct tr_peer_addr pa = {"127.0.0.1", tr_client_listen_port(a)};
	char ih[TR_HEX_LEN + 1], dest[160], *buf;
	size_t len;
	struct want w = {b, TR_SEEDING};

	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	ck_assert_int_eq(cm_file_read(created_torrent, 1 << 20, &buf, &len, NULL), 0);
	src.torrent = buf;
	src.torrent_len = len;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), 0);
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), TR_EXISTS);
	tr_client_add_peers(b, ih, &pa, 1);
	ck_assert(run_until(in_state, &w, 20000));
	assert_downloaded(b);
	free(buf);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

START_TEST(test_a_wrong_sha256_puts_the_download_in_error)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	struct tr_source src = {0};
	char ih[TR_HEX_LEN + 1], dest[160];
	struct want w = {b, TR_ERROR};

	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = created_magnet;
	src.dest_dir = dest;
	src.sha256_hex = "0000000000000000000000000000000000000000000000000000000000000000";
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), 0);
	ck_assert(run_until(in_state, &w, 20000));
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

static bool
banned(void *arg)
{
	struct tr_stats s;

	tr_client_stats(arg, &s);
	return s.peers_banned > 0;
}

START_TEST(test_a_wrong_sha256_hint_is_logged_and_the_download_completes)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	struct tr_source src = {0};
	char ih[TR_HEX_LEN + 1], dest[160];
	struct want w = {b, TR_SEEDING};

	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = created_magnet;
	src.dest_dir = dest;
	src.sha256_hint = "0000000000000000000000000000000000000000000000000000000000000000";
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), 0);
	ck_assert(run_until(in_state, &w, 20000));
	assert_downloaded(b);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

START_TEST(test_a_silent_client_has_no_listener_and_names_no_address)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	struct tr_client *b = client("b", "127.0.0.2", "127.0.0.2", true);
	struct tr_source src = {0};
	char ih[TR_HEX_LEN + 1], dest[160];
	struct want w = {b, TR_SEEDING};
	struct tr_status st;

	ck_assert_int_eq(tr_client_listen_port(b), 0);
	ck_assert_int_eq(tr_client_http_port(b), 0);
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = created_magnet;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), 0);
	ck_assert(run_until(in_state, &w, 20000));
	ck_assert_int_eq(tr_client_status(b, ih, &st), 0);
	ck_assert_ptr_null(strstr(st.magnet, "x.pe"));
	tr_status_clear(&st);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

/* A raw peer-wire connection to a: handshake sent, a's answer awaited. */
static int
raw_session(struct tr_client *a, const unsigned char ih[20], unsigned char reply[TR_HANDSHAKE_LEN])
{
	struct sockaddr_in sa = {0};
	unsigned char hs[TR_HANDSHAKE_LEN], pid[20];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(pid, 7, sizeof(pid));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)tr_client_listen_port(a));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	tr_wire_handshake(hs, ih, pid, false);
	ck_assert_int_eq(write(fd, hs, sizeof(hs)), sizeof(hs));
	run_until(NULL, NULL, 300);
	if (reply != NULL)
		ck_assert_int_eq(recv(fd, reply, TR_HANDSHAKE_LEN, MSG_DONTWAIT), TR_HANDSHAKE_LEN);
	return fd;
}

/* Whether a closed the connection: every byte it sent drained, then EOF. */
static bool
closed_by_peer(int fd)
{
	unsigned char buf[65536];
	ssize_t n;

	run_until(NULL, NULL, 300);
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return n == 0;
}

START_TEST(test_a_handshake_for_an_unknown_info_hash_is_closed)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	unsigned char ih[20];
	int fd;

	memset(ih, 0x42, sizeof(ih));
	fd = raw_session(a, ih, NULL);
	ck_assert(closed_by_peer(fd));
	close(fd);
	tr_client_free(a);
}
END_TEST

START_TEST(test_a_request_out_of_range_closes_the_session)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	unsigned char ih[20], reply[TR_HANDSHAKE_LEN], m[17];
	int fd;

	cm_hex_decode(created_hash, TR_HEX_LEN, ih, sizeof(ih), NULL);
	fd = raw_session(a, ih, reply);
	ck_assert_mem_eq(reply + 28, ih, 20);
	tr_wire_request(m, TR_MSG_REQUEST, 999999, 0, 16384);
	ck_assert_int_eq(write(fd, m, sizeof(m)), sizeof(m));
	ck_assert(closed_by_peer(fd));
	close(fd);
	tr_client_free(a);
}
END_TEST

START_TEST(test_a_request_for_more_than_16_kib_closes_the_session)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	unsigned char ih[20], reply[TR_HANDSHAKE_LEN], m[17];
	int fd;

	cm_hex_decode(created_hash, TR_HEX_LEN, ih, sizeof(ih), NULL);
	fd = raw_session(a, ih, reply);
	tr_wire_request(m, TR_MSG_REQUEST, 0, 0, 32768);
	ck_assert_int_eq(write(fd, m, sizeof(m)), sizeof(m));
	ck_assert(closed_by_peer(fd));
	close(fd);
	tr_client_free(a);
}
END_TEST

static void
send_ext_msg(int fd, uint8_t id, const char *dict, const void *tail, size_t tail_len)
{
	unsigned char pre[6];
	size_t n = strlen(dict);

	tr_wire_ext_prefix(pre, id, (uint32_t)(n + tail_len));
	ck_assert_int_eq(write(fd, pre, sizeof(pre)), sizeof(pre));
	ck_assert_int_eq(write(fd, dict, n), (ssize_t)n);
	if (tail_len > 0)
		ck_assert_int_eq(write(fd, tail, tail_len), (ssize_t)tail_len);
}

static void
drain(int fd)
{
	unsigned char buf[4096];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

START_TEST(test_a_peer_sending_metadata_of_another_torrent_is_banned)
{
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	struct sockaddr_in sa = {0};
	socklen_t sl = sizeof(sa);
	unsigned char ih[20], hs[TR_HANDSHAKE_LEN], pid[20], junk[100];
	char hex[TR_HEX_LEN + 1], magnet[256], dest[160], got[TR_HEX_LEN + 1];
	struct tr_source src = {0};
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd;

	sa.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.4", &sa.sin_addr);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	memset(ih, 0x5a, sizeof(ih));
	memset(pid, 9, sizeof(pid));
	memset(junk, 'j', sizeof(junk));
	cm_hex_encode(ih, sizeof(ih), hex);
	snprintf(magnet, sizeof(magnet), "magnet:?xt=urn:btih:%s&x.pe=127.0.0.4:%d", hex,
	         ntohs(sa.sin_port));
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = magnet;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, got, NULL), 0);
	run_until(NULL, NULL, 300);
	ck_assert_int_ge(fd = accept(lfd, NULL, NULL), 0);
	run_until(NULL, NULL, 200);
	ck_assert_int_eq(recv(fd, hs, sizeof(hs), MSG_DONTWAIT), TR_HANDSHAKE_LEN);
	ck_assert(hs[25] & 0x10);
	tr_wire_handshake(hs, ih, pid, true);
	ck_assert_int_eq(write(fd, hs, sizeof(hs)), sizeof(hs));
	send_ext_msg(fd, 0, "d1:md11:ut_metadatai3ee13:metadata_sizei100ee", NULL, 0);
	run_until(NULL, NULL, 300);
	drain(fd); /* its extension handshake and its request for piece 0 */
	send_ext_msg(fd, 1, "d8:msg_typei1e5:piecei0e10:total_sizei100ee", junk, sizeof(junk));
	ck_assert(run_until(banned, b, 5000));
	ck_assert(closed_by_peer(fd));
	close(fd);
	close(lfd);
	tr_client_free(b);
}
END_TEST

/* A listening socket on 127.0.0.4 standing for a hostile peer; *port is its port. */
static int
hostile_listener(int *port)
{
	struct sockaddr_in sa = {0};
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.4", &sa.sin_addr);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	return lfd;
}

/* b's dial to the hostile listener accepted and answered with handshake and ext_hs. */
static int
hostile_accept(int lfd, const unsigned char ih[20], const char *ext_hs)
{
	unsigned char hs[TR_HANDSHAKE_LEN], pid[20];
	int fd;

	run_until(NULL, NULL, 300);
	ck_assert_int_ge(fd = accept(lfd, NULL, NULL), 0);
	run_until(NULL, NULL, 200);
	ck_assert_int_eq(recv(fd, hs, sizeof(hs), MSG_DONTWAIT), TR_HANDSHAKE_LEN);
	memset(pid, 9, sizeof(pid));
	tr_wire_handshake(hs, ih, pid, true);
	ck_assert_int_eq(write(fd, hs, sizeof(hs)), sizeof(hs));
	run_until(NULL, NULL, 200);
	drain(fd); /* its extension handshake */
	if (ext_hs != NULL)
		send_ext_msg(fd, 0, ext_hs, NULL, 0);
	run_until(NULL, NULL, 300);
	return fd;
}

START_TEST(test_a_peer_naming_a_wrong_metadata_size_does_not_stall_the_magnet)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	struct tr_peer_addr pa = {"127.0.0.1", tr_client_listen_port(a)};
	unsigned char ih[20];
	char magnet[256], dest[160], got[TR_HEX_LEN + 1];
	struct tr_source src = {0};
	struct want w = {b, TR_SEEDING};
	int port, lfd = hostile_listener(&port), fd;

	cm_hex_decode(created_hash, TR_HEX_LEN, ih, sizeof(ih), NULL);
	snprintf(magnet, sizeof(magnet), "magnet:?xt=urn:btih:%s&x.pe=127.0.0.4:%d", created_hash,
	         port);
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = magnet;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, got, NULL), 0);
	/* It claims the metadata first, with a size that is not the dictionary's, and sends
	 * nothing. */
	fd = hostile_accept(lfd, ih, "d1:md11:ut_metadatai3ee13:metadata_sizei50000ee");
	tr_client_add_peers(b, created_hash, &pa, 1);
	ck_assert(run_until(in_state, &w, 40000));
	assert_downloaded(b);
	close(fd);
	close(lfd);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

START_TEST(test_metadata_pieces_sent_unasked_are_dropped_and_close_the_session)
{
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	unsigned char ih[20], junk[16384];
	char hex[TR_HEX_LEN + 1], magnet[256], dest[160], got[TR_HEX_LEN + 1];
	struct tr_source src = {0};
	int port, lfd = hostile_listener(&port), fd;

	memset(ih, 0x7c, sizeof(ih));
	memset(junk, 'j', sizeof(junk));
	cm_hex_encode(ih, sizeof(ih), hex);
	snprintf(magnet, sizeof(magnet), "magnet:?xt=urn:btih:%s&x.pe=127.0.0.4:%d", hex, port);
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = magnet;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, got, NULL), 0);
	/* 4 pieces: b asks for 0 and 1; piece 3, asked of nobody, arrives again and again. */
	fd = hostile_accept(lfd, ih, "d1:md11:ut_metadatai3ee13:metadata_sizei65536ee");
	for (int i = 0; i < 6; i++)
		send_ext_msg(fd, 1, "d8:msg_typei1e5:piecei3e10:total_sizei65536ee", junk,
		             sizeof(junk));
	ck_assert(closed_by_peer(fd));
	close(fd);
	close(lfd);
	tr_client_free(b);
}
END_TEST

/*
 * A peer that says it has every piece and answers each request with junk,
 * for ms at most or until b bans someone.
 */
static void
serve_junk(int fd, struct tr_client *b, int ms)
{
	static unsigned char in[1 << 16], junk[16384];
	unsigned char bf[4 + 1 + 25] = {0, 0, 0, 26, TR_MSG_BITFIELD}, m[TR_MSG_HEADER];
	size_t have = 0;
	ssize_t r;

	memset(bf + 5, 0xff, 24);
	bf[29] = 0x80; /* 193 pieces: one bit in the last byte */
	memset(junk, 'j', sizeof(junk));
	ck_assert_int_eq(write(fd, bf, sizeof(bf)), sizeof(bf));
	ck_assert_int_eq(write(fd, m, tr_wire_simple(m, TR_MSG_UNCHOKE)), 5);
	for (int waited = 0; waited < ms && !banned(b); waited += 50) {
		run_until(NULL, NULL, 50);
		while (have < sizeof(in) &&
		       (r = recv(fd, in + have, sizeof(in) - have, MSG_DONTWAIT)) > 0)
			have += (size_t)r;
		while (have >= 4) {
			uint32_t len = (uint32_t)in[0] << 24 | in[1] << 16 | in[2] << 8 | in[3];

			ck_assert_uint_lt(len, sizeof(in) - 4);
			if (have < 4 + len)
				break;
			if (len == 13 && in[4] == TR_MSG_REQUEST) {
				uint32_t idx =
				    (uint32_t)in[5] << 24 | in[6] << 16 | in[7] << 8 | in[8];
				uint32_t begin =
				    (uint32_t)in[9] << 24 | in[10] << 16 | in[11] << 8 | in[12];
				uint32_t n =
				    (uint32_t)in[13] << 24 | in[14] << 16 | in[15] << 8 | in[16];

				ck_assert_uint_le(n, sizeof(junk));
				tr_wire_piece_header(m, idx, begin, n);
				if (write(fd, m, sizeof(m)) != sizeof(m) ||
				    write(fd, junk, n) != (ssize_t)n)
					return;
			}
			memmove(in, in + 4 + len, have - 4 - len);
			have -= 4 + len;
		}
	}
}

START_TEST(test_a_peer_sending_a_corrupt_piece_is_banned)
{
	struct tr_client *a = create_seeder("127.0.0.3");
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	struct tr_peer_addr pa = {"127.0.0.4", 0};
	struct tr_source src = {0};
	char ih[TR_HEX_LEN + 1], dest[160], *torrent, path[192];
	unsigned char raw[20];
	size_t torrent_len;
	struct tr_stats s;
	struct tr_status st;
	int lfd = hostile_listener(&pa.port), fd;
	struct stat sb;

	ck_assert_int_eq(cm_file_read(created_torrent, 1 << 20, &torrent, &torrent_len, NULL), 0);
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.torrent = torrent;
	src.torrent_len = torrent_len;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), 0);
	free(torrent);
	tr_client_add_peers(b, ih, &pa, 1);
	cm_hex_decode(ih, TR_HEX_LEN, raw, sizeof(raw), NULL);
	fd = hostile_accept(lfd, raw, NULL);
	serve_junk(fd, b, 20000);
	ck_assert(banned(b));
	run_until(NULL, NULL, 1500);
	tr_client_stats(b, &s);
	ck_assert_uint_ge(s.pieces_failed, 1);
	ck_assert_uint_eq(s.pieces_verified, 0);
	ck_assert_int_eq(tr_client_status(b, ih, &st), 0);
	ck_assert_int_eq(st.peers, 0);
	ck_assert_int_eq(st.state, TR_DOWNLOADING);
	tr_status_clear(&st);
	/* Nothing of what it sent was written: the .part file is still all holes. */
	snprintf(path, sizeof(path), "%s/dl/data.bin.part", tu_dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_blocks, 0);
	close(fd);
	close(lfd);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

START_TEST(test_a_seeded_file_that_changed_is_checked_again_not_served)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	struct tr_source src = {0};
	char ih[TR_HEX_LEN + 1], dest[160];
	struct want w = {a, TR_ERROR};
	struct tr_stats s;
	struct tr_status st;
	int fd;

	/* The seeder's file changes under it after hashing: those bytes would not verify. */
	fd = open(src_path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "garbage!", 8, 100000), 8);
	close(fd);
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = created_magnet;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), 0);
	ck_assert(run_until(in_state, &w, 20000));
	ck_assert_int_eq(tr_client_status(a, ih, &st), 0);
	ck_assert_ptr_nonnull(strstr(st.error, "changed on disk"));
	tr_status_clear(&st);
	tr_client_stats(b, &s);
	ck_assert_uint_eq(s.pieces_failed, 0);
	ck_assert_uint_eq(s.peers_banned, 0);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

/* Answers fd's ut_metadata requests with info (or junk when lie), for one loop turn. */
static void
serve_metadata(int fd, const unsigned char *info, size_t info_len, bool lie)
{
	static unsigned char in[1 << 16], junk[16384];
	static size_t have[2];
	size_t *h = &have[lie];
	ssize_t r;

	memset(junk, 'j', sizeof(junk));
	while (*h < sizeof(in) && (r = recv(fd, in + *h, sizeof(in) - *h, MSG_DONTWAIT)) > 0)
		*h += (size_t)r;
	while (*h >= 4) {
		uint32_t len = (uint32_t)in[0] << 24 | in[1] << 16 | in[2] << 8 | in[3];
		const char *q;
		char dict[96];
		int piece;

		ck_assert_uint_lt(len, sizeof(in) - 4);
		if (*h < 4 + len)
			break;
		if (len > 2 && in[4] == TR_MSG_EXTENDED && in[5] == 3 &&
		    (q = memmem(in + 6, len - 2, "5:piecei", 8)) != NULL &&
		    sscanf(q + 8, "%d", &piece) == 1 &&
		    memmem(in + 6, len - 2, "8:msg_typei0e", 13) != NULL) {
			size_t off = (size_t)piece * 16384;
			size_t n = info_len - off < 16384 ? info_len - off : 16384;

			snprintf(dict, sizeof(dict), "d8:msg_typei1e5:piecei%de10:total_sizei%zuee",
			         piece, info_len);
			send_ext_msg(fd, 1, dict, lie ? junk : info + off, n);
		}
		memmove(in, in + 4 + len, *h - 4 - len);
		*h -= 4 + len;
	}
}

START_TEST(test_a_peer_lying_in_a_mixed_metadata_set_is_found_and_banned)
{
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	static unsigned char info[40000];
	unsigned char ih[20];
	char hex[TR_HEX_LEN + 1], magnet[320], dest[160], got[TR_HEX_LEN + 1], ext[96];
	struct tr_source src = {0};
	struct tr_status st;
	struct sockaddr_in sa = {0};
	socklen_t sl = sizeof(sa);
	int lport, lfd = hostile_listener(&lport), hfd = socket(AF_INET, SOCK_STREAM, 0), fl, fh;
	size_t n;

	/* A valid info dictionary of three metadata pieces (1,700 piece hashes). */
	n = (size_t)snprintf(
	    (char *)info, sizeof(info),
	    "d6:lengthi%de4:name5:x.bin12:piece lengthi16384e6:pieces34000:", 1700 * 16384);
	memset(info + n, 0xab, 34000);
	n += 34000;
	info[n++] = 'e';
	cm_sha1(info, n, ih);
	cm_hex_encode(ih, sizeof(ih), hex);
	sa.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.5", &sa.sin_addr);
	ck_assert_int_eq(bind(hfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(hfd, 4), 0);
	getsockname(hfd, (struct sockaddr *)&sa, &sl);
	/* The liar first, so that after the mixed failure it is the one asked alone. */
	snprintf(magnet, sizeof(magnet),
	         "magnet:?xt=urn:btih:%s&x.pe=127.0.0.4:%d&x.pe=127.0.0.5:%d", hex, lport,
	         ntohs(sa.sin_port));
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = magnet;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, got, NULL), 0);
	snprintf(ext, sizeof(ext), "d1:md11:ut_metadatai3ee13:metadata_sizei%zuee", n);
	fl = hostile_accept(lfd, ih, ext);
	fh = hostile_accept(hfd, ih, ext);
	for (int i = 0; i < 200 && !banned(b); i++) {
		run_until(NULL, NULL, 50);
		serve_metadata(fl, info, n, true);
		serve_metadata(fh, info, n, false);
	}
	ck_assert(banned(b));
	for (int i = 0; i < 100; i++) {
		run_until(NULL, NULL, 50);
		serve_metadata(fh, info, n, false);
	}
	ck_assert_int_eq(tr_client_status(b, hex, &st), 0);
	ck_assert_uint_eq(st.size, 1700ull * 16384);
	tr_status_clear(&st);
	close(fl);
	close(fh);
	close(lfd);
	close(hfd);
	tr_client_free(b);
}
END_TEST

START_TEST(test_an_oversize_metadata_size_closes_the_session)
{
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	struct sockaddr_in sa = {0};
	socklen_t sl = sizeof(sa);
	unsigned char ih[20], hs[TR_HANDSHAKE_LEN], pid[20];
	char hex[TR_HEX_LEN + 1], magnet[256], dest[160], got[TR_HEX_LEN + 1];
	struct tr_source src = {0};
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd;

	sa.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.4", &sa.sin_addr);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	memset(ih, 0x6b, sizeof(ih));
	memset(pid, 9, sizeof(pid));
	cm_hex_encode(ih, sizeof(ih), hex);
	snprintf(magnet, sizeof(magnet), "magnet:?xt=urn:btih:%s&x.pe=127.0.0.4:%d", hex,
	         ntohs(sa.sin_port));
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = magnet;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, got, NULL), 0);
	run_until(NULL, NULL, 300);
	ck_assert_int_ge(fd = accept(lfd, NULL, NULL), 0);
	run_until(NULL, NULL, 200);
	ck_assert_int_eq(recv(fd, hs, sizeof(hs), MSG_DONTWAIT), TR_HANDSHAKE_LEN);
	tr_wire_handshake(hs, ih, pid, true);
	ck_assert_int_eq(write(fd, hs, sizeof(hs)), sizeof(hs));
	send_ext_msg(fd, 0, "d1:md11:ut_metadatai3ee13:metadata_sizei999999999ee", NULL, 0);
	ck_assert(closed_by_peer(fd));
	close(fd);
	close(lfd);
	tr_client_free(b);
}
END_TEST

START_TEST(test_idle_inbound_sessions_give_their_place_to_a_downloader)
{
	struct tr_client *a, *b;
	unsigned char ih[20];
	char dest[160], got[TR_HEX_LEN + 1];
	struct tr_source src = {0};
	struct want w;
	int fds[8];

	max_peers = 8;
	a = create_seeder("127.0.0.1");
	b = client("b", NULL, "127.0.0.2", true);
	w = (struct want){b, TR_SEEDING};
	cm_hex_decode(created_hash, TR_HEX_LEN, ih, sizeof(ih), NULL);
	/* Every slot taken by sessions that handshake and then do nothing. */
	for (int i = 0; i < 8; i++)
		fds[i] = raw_session(a, ih, NULL);
	run_until(NULL, NULL, 21000);
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = created_magnet;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, got, NULL), 0);
	ck_assert(run_until(in_state, &w, 20000));
	assert_downloaded(b);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

/* A TCP connection to a's peer-wire port from ip, nothing sent. */
static int
bare_connect(struct tr_client *a, const char *ip)
{
	struct sockaddr_in sa = {0}, from = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	from.sin_family = sa.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &from.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	sa.sin_port = htons((uint16_t)tr_client_listen_port(a));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

START_TEST(test_an_address_reconnecting_fast_is_refused)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	int fd;

	for (int i = 0; i < 12; i++) {
		fd = bare_connect(a, "127.0.0.6");
		run_until(NULL, NULL, 30);
		close(fd);
	}
	fd = bare_connect(a, "127.0.0.6");
	ck_assert(closed_by_peer(fd));
	close(fd);
	tr_client_free(a);
}
END_TEST

START_TEST(test_sessions_before_their_handshake_are_capped)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	int fds[24], closed = 0;
	char ip[32];

	for (int i = 0; i < 24; i++) {
		snprintf(ip, sizeof(ip), "127.0.1.%d", 10 + i);
		fds[i] = bare_connect(a, ip);
	}
	run_until(NULL, NULL, 300);
	for (int i = 0; i < 24; i++) {
		closed += closed_by_peer(fds[i]);
		close(fds[i]);
	}
	ck_assert_int_eq(closed, 24 - 16);
	tr_client_free(a);
}
END_TEST

/* Reads (blocking, 2 s at most without a byte) until EOF: whether a closed. */
static bool
eof_after_reading(int fd)
{
	static unsigned char buf[65536];
	struct timeval tv = {2, 0};
	ssize_t n;

	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		;
	return n == 0;
}

START_TEST(test_a_peer_that_never_reads_is_closed)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	struct sockaddr_in sa = {0};
	unsigned char ih[20], hs[TR_HANDSHAKE_LEN], pid[20], m[17];
	int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;

	/* A tiny receive window, never read: a's output cannot drain. */
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	cm_hex_decode(created_hash, TR_HEX_LEN, ih, sizeof(ih), NULL);
	memset(pid, 7, sizeof(pid));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)tr_client_listen_port(a));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	tr_wire_handshake(hs, ih, pid, false);
	ck_assert_int_eq(write(fd, hs, sizeof(hs)), sizeof(hs));
	ck_assert_int_eq(write(fd, m, tr_wire_simple(m, TR_MSG_INTERESTED)), 5);
	run_until(NULL, NULL, 300);
	for (int i = 0; i < 500; i++) {
		tr_wire_request(m, TR_MSG_REQUEST, (uint32_t)(i % 192), 0, 16384);
		ck_assert_int_eq(write(fd, m, sizeof(m)), sizeof(m));
	}
	run_until(NULL, NULL, 33000);
	ck_assert(eof_after_reading(fd));
	close(fd);
	tr_client_free(a);
}
END_TEST

/* How often needle occurs in the n bytes at hay. */
static int
count_in(const unsigned char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	int c = 0;

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			c++;
	return c;
}

START_TEST(test_metadata_requests_are_served_within_the_upload_limit)
{
	struct tr_client *a;
	static unsigned char got[1 << 20];
	unsigned char ih[20], hs[TR_HANDSHAKE_LEN], pid[20];
	struct sockaddr_in sa = {0};
	size_t n = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	up_rate = 16384;
	a = create_seeder("127.0.0.1");
	cm_hex_decode(created_hash, TR_HEX_LEN, ih, sizeof(ih), NULL);
	memset(pid, 7, sizeof(pid));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)tr_client_listen_port(a));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	tr_wire_handshake(hs, ih, pid, true);
	ck_assert_int_eq(write(fd, hs, sizeof(hs)), sizeof(hs));
	send_ext_msg(fd, 0, "d1:md11:ut_metadatai3eee", NULL, 0);
	run_until(NULL, NULL, 300);
	drain(fd);
	/* 12 requests at once for the one piece: a few are held for the budget, the rest refused.
	 */
	for (int i = 0; i < 12; i++)
		send_ext_msg(fd, 1, "d8:msg_typei0e5:piecei0ee", NULL, 0);
	run_until(NULL, NULL, 300);
	while (n < sizeof(got) && (r = recv(fd, got + n, sizeof(got) - n, MSG_DONTWAIT)) > 0)
		n += (size_t)r;
	ck_assert_int_le(count_in(got, n, "8:msg_typei1e"), 1 + 4);
	ck_assert_int_ge(count_in(got, n, "8:msg_typei2e"), 12 - 1 - 4);
	close(fd);
	tr_client_free(a);
}
END_TEST

START_TEST(test_a_restarted_client_resumes_seeding_after_a_check)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	struct want w;

	tr_client_free(a);
	a = client("a", "127.0.0.1", NULL, false);
	ck_assert_ptr_nonnull(a);
	w.c = a;
	w.state = TR_SEEDING;
	ck_assert(run_until(in_state, &w, 10000));
	tr_client_free(a);
}
END_TEST

static void
write_random(const char *path, size_t n)
{
	unsigned char *b = malloc(n);

	ck_assert_int_eq(cm_random_bytes(b, n), 0);
	ck_assert_int_eq(cm_file_write_atomic(path, b, n, 0644, NULL), 0);
	free(b);
}

START_TEST(test_a_folder_downloads_file_by_file)
{
	struct tr_client *a = client("a", "127.0.0.1", NULL, false);
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	struct tr_source src = {0};
	char dir[160], p[256], q[256], ih[TR_HEX_LEN + 1], dest[160], want[65], got[65];
	const char *names[] = {"sub/y.bin", "sub/z.txt", "x.bin"}; /* in path order */
	size_t sizes[] = {1234567, 10, 100000};
	struct want w = {b, TR_SEEDING};
	struct tr_status st;
	bool done = false;

	snprintf(dir, sizeof(dir), "%s/folder", tu_dir);
	mkdir(dir, 0755);
	snprintf(p, sizeof(p), "%s/sub", dir);
	mkdir(p, 0755);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		write_random(p, sizes[i]);
	}
	ck_assert_int_eq(tr_client_create(a, dir, NULL, on_created, &done, NULL), 0);
	ck_assert(run_until(flag, &done, 10000));
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = created_magnet;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), 0);
	ck_assert(run_until(in_state, &w, 20000));
	ck_assert_int_eq(tr_client_status(b, ih, &st), 0);
	ck_assert_uint_eq(st.file_count, 3);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		snprintf(q, sizeof(q), "%s/folder/%s", dest, names[i]);
		file_sha256(p, want);
		file_sha256(q, got);
		ck_assert_str_eq(got, want);
		ck_assert_str_eq(st.file_paths[i], names[i]);
		ck_assert_str_eq(st.file_sha256[i], want);
	}
	tr_status_clear(&st);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

START_TEST(test_the_upload_rate_limit_holds_the_transfer_to_it)
{
	struct tr_config cfg;
	struct tr_client *a, *b = client("b", NULL, "127.0.0.2", true);
	struct tr_source src = {0};
	char ih[TR_HEX_LEN + 1], dest[160], state[192];
	struct want w;
	bool done = false;
	struct timespec t0, t1;
	double s;

	snprintf(state, sizeof(state), "%s/a", tu_dir);
	tr_config_defaults(&cfg);
	cfg.state_dir = state;
	cfg.listen_host = "127.0.0.1";
	cfg.max_upload_rate = 2 * 1024 * 1024;
	a = tr_client_new(base, &cfg, NULL, NULL);
	ck_assert_int_eq(tr_client_create(a, src_path, NULL, on_created, &done, NULL), 0);
	ck_assert(run_until(flag, &done, 10000));
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = created_magnet;
	src.dest_dir = dest;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), 0);
	w.c = b;
	w.state = TR_SEEDING;
	ck_assert(run_until(in_state, &w, 20000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* 3 MiB at 2 MiB/s: about 1.5 s, never the few milliseconds of loopback. */
	ck_assert_msg(s > 1.0 && s < 6.0, "took %.2f s", s);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

START_TEST(test_remove_with_delete_data_removes_the_download)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	struct tr_client *b = client("b", NULL, "127.0.0.2", true);
	struct tr_source src = {0};
	char ih[TR_HEX_LEN + 1], dest[160], path[192];
	struct want w = {b, TR_SEEDING};
	struct tr_status st;

	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	snprintf(path, sizeof(path), "%s/dl/data.bin", tu_dir);
	src.magnet = created_magnet;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), 0);
	ck_assert(run_until(in_state, &w, 20000));
	ck_assert_int_eq(tr_client_remove(b, ih, true), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(tr_client_status(b, ih, &st), -1);
	ck_assert_int_eq(tr_client_remove(b, ih, true), -1);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

/* Writes BIG_SIZE random bytes at tu_dir/name (into path) and gives them back (caller frees). */
static unsigned char *
write_big(const char *name, char *path, size_t size)
{
	unsigned char *buf = malloc(BIG_SIZE);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(cm_random_bytes(buf, BIG_SIZE), 0);
	snprintf(path, size, "%s/%s", tu_dir, name);
	ck_assert_int_eq(cm_file_write_atomic(path, buf, BIG_SIZE, 0644, NULL), 0);
	return buf;
}

struct created {
	bool done;
	char info_hash[TR_HEX_LEN + 1];
	char sha256[65];
};

static void
on_created_big(void *arg, const struct tr_status *st, const struct cm_err *err)
{
	struct created *cd = arg;

	ck_assert_msg(st != NULL, "create: %s", err ? err->msg : "?");
	memcpy(cd->info_hash, st->info_hash, sizeof(cd->info_hash));
	memcpy(cd->sha256, st->sha256, sizeof(cd->sha256));
	cd->done = true;
}

START_TEST(test_creating_a_file_of_many_mib_gives_its_info_hash_and_sha256)
{
	struct tr_client *a = client("a", "127.0.0.1", "127.0.0.1", false);
	char path[160], want[65];
	unsigned char *buf = write_big("big.bin", path, sizeof(path));
	uint32_t pl = tr_piece_length_for(BIG_SIZE);
	uint32_t n = (BIG_SIZE + pl - 1) / pl;
	unsigned char *pieces = malloc((size_t)n * TR_HASH_LEN);
	char fname[] = "big.bin";
	struct tr_file f = {.path = fname, .length = BIG_SIZE, .offset = 0};
	struct created cd = {0};
	struct tr_meta m;

	ck_assert_ptr_nonnull(pieces);
	for (uint32_t i = 0; i < n; i++) {
		size_t len = i + 1 < n ? pl : BIG_SIZE - (size_t)i * pl;

		ck_assert_int_eq(
		    cm_sha1(buf + (size_t)i * pl, len, pieces + (size_t)i * TR_HASH_LEN), 0);
	}
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(
	    tr_meta_build(&m, "big.bin", false, &f, 1, pl, pieces, n, NULL, NULL, NULL), 0);
	ck_assert_int_eq(cm_sha256_hex(buf, BIG_SIZE, want), 0);
	ck_assert_int_eq(tr_client_create(a, path, NULL, on_created_big, &cd, NULL), 0);
	ck_assert(run_until(flag, &cd.done, 20000));
	ck_assert_str_eq(cd.info_hash, m.info_hash_hex);
	ck_assert_str_eq(cd.sha256, want);
	tr_meta_clear(&m);
	free(pieces);
	free(buf);
	tr_client_free(a);
}
END_TEST

/* Counts the calls; a creation ended by freeing the client ends with an error. */
static void
on_created_stopped(void *arg, const struct tr_status *st, const struct cm_err *err)
{
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err->msg, "stopped") != NULL, "%s", err->msg);
	(*(int *)arg)++;
}

START_TEST(test_freeing_the_client_mid_creation_ends_it_with_an_error_once)
{
	struct tr_client *a = client("a", "127.0.0.1", "127.0.0.1", false);
	char path[160], dir[192];
	unsigned char *buf = write_big("big.bin", path, sizeof(path));
	int calls = 0;
	bool never = false;
	struct dirent *e;
	DIR *d;

	free(buf);
	ck_assert_int_eq(tr_client_create(a, path, NULL, on_created_stopped, &calls, NULL), 0);
	run_until(flag, &never, 2); /* a turn of the loop while the threads hash */
	ck_assert_int_eq(calls, 0);
	tr_client_free(a);
	ck_assert_int_eq(calls, 1);
	run_until(flag, &never, 50);
	ck_assert_int_eq(calls, 1);
	/* No .torrent was written for it. */
	snprintf(dir, sizeof(dir), "%s/a/torrents", tu_dir);
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL)
			ck_assert_msg(e->d_name[0] == '.', "%s left behind", e->d_name);
		closedir(d);
	}
}
END_TEST

FB_CHECK_MAIN(.name = "torrent_client", .setup = setup, .teardown = teardown, .timeout_s = 60)
