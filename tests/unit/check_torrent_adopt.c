/*
 * check_torrent_adopt.c - peer-wire connections adopted from relayed
 * circuits (tr_client_adopt): two clients in one process on one libevent
 * loop, joined only by a socketpair as a circuit hands one over, or a client
 * and a raw end of one. The fixtures are check_torrent_client.c's, the few
 * these tests need.
 */
#define _GNU_SOURCE /* nftw */
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fb/digest.h"
#include "fb/file.h"
#include "fb/hex.h"
#include "fb/random.h"
#include "torrent/torrent.h"
#include "torrent/wire.h"
#include "check_main.h"
#include "testutil.h"

#define FILE_SIZE (1024 * 1024 + 12345)

static struct event_base *base;
static int max_per_address; /* the next clients' max_per_address; 0: the default */
static char src_path[128];
static char created_hash[TR_HEX_LEN + 1];
static char *created_magnet;

static void
setup(void)
{
	unsigned char *buf = malloc(FILE_SIZE);
	char dir[160];

	tu_mkdir("check_torrent_adopt");
	ck_assert_int_eq(cm_random_bytes(buf, FILE_SIZE), 0);
	snprintf(src_path, sizeof(src_path), "%s/data.bin", tu_dir);
	ck_assert_int_eq(cm_file_write_atomic(src_path, buf, FILE_SIZE, 0644, NULL), 0);
	free(buf);
	snprintf(dir, sizeof(dir), "%s/dl", tu_dir);
	mkdir(dir, 0755);
	base = event_base_new();
	max_per_address = 0;
}

static void
teardown(void)
{
	event_base_free(base);
	free(created_magnet);
	created_magnet = NULL;
	tu_rmdir();
}

static struct tr_client *
client(const char *name, const char *listen, bool silent)
{
	static char dirs[2][192];
	static int next;
	struct tr_config cfg;
	char *d = dirs[next++ % 2];

	snprintf(d, sizeof(dirs[0]), "%s/%s", tu_dir, name);
	tr_config_defaults(&cfg);
	cfg.state_dir = d;
	cfg.listen_host = listen;
	cfg.bind_ip = listen;
	cfg.silent = silent;
	if (max_per_address > 0)
		cfg.max_per_address = max_per_address;
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
	*(bool *)arg = true;
}

static bool
flag(void *arg)
{
	return *(bool *)arg;
}

/* A client seeding src_path: listening on listen, or silent when listen is NULL. */
static struct tr_client *
create_seeder(const char *listen)
{
	struct tr_client *a = client("a", listen, listen == NULL);
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

/* The two ends of a circuit, as the relay module hands them over. */
static void
circuit(int fds[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
}

/* Our handshake for ih on fd, from a raw peer with the BEP 10 bit. */
static void
raw_handshake(int fd, const unsigned char ih[20])
{
	unsigned char hs[TR_HANDSHAKE_LEN], pid[20];

	memset(pid, 7, sizeof(pid));
	tr_wire_handshake(hs, ih, pid, true);
	ck_assert_int_eq(write(fd, hs, sizeof(hs)), sizeof(hs));
}

/* Lets the loop run, then reads what fd has: its length; -1 when fd is closed with nothing left. */
static ssize_t
drain(int fd, unsigned char *buf, size_t cap)
{
	size_t have = 0;
	ssize_t n = -1;

	run_until(NULL, NULL, 300);
	while (have < cap && (n = recv(fd, buf + have, cap - have, MSG_DONTWAIT)) > 0)
		have += (size_t)n;
	return have == 0 && n == 0 ? -1 : (ssize_t)have;
}

START_TEST(test_a_silent_client_downloads_from_a_silent_seeder_over_an_adopted_circuit)
{
	struct tr_client *a = create_seeder(NULL);
	struct tr_client *b = client("b", NULL, true);
	struct tr_source src = {0};
	struct tr_status st;
	char ih[TR_HEX_LEN + 1], dest[160], bare[128], path[192], want_sha[65], got_sha[65];
	struct want w = {b, TR_SEEDING};
	int fds[2];

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(tr_client_listen_port(a), 0);
	ck_assert_int_eq(tr_client_listen_port(b), 0);
	/* No address anywhere: the metadata and the pieces come over the circuit. */
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	snprintf(bare, sizeof(bare), "magnet:?xt=urn:btih:%s", created_hash);
	src.magnet = bare;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, ih, NULL), 0);
	circuit(fds);
	ck_assert_int_eq(tr_client_adopt(a, fds[0], NULL, "relay:b@example.com"), 0);
	ck_assert_int_eq(tr_client_adopt(b, fds[1], created_hash, "relay:a@example.com"), 0);
	ck_assert(run_until(in_state, &w, 20000));
	ck_assert_int_eq(tr_client_status(b, created_hash, &st), 0);
	snprintf(path, sizeof(path), "%s/dl/data.bin", tu_dir);
	ck_assert_str_eq(st.path, path);
	file_sha256(src_path, want_sha);
	file_sha256(path, got_sha);
	ck_assert_str_eq(got_sha, want_sha);
	ck_assert_str_eq(st.sha256, want_sha);
	ck_assert(st.progress == 1.0);
	tr_status_clear(&st);
	tr_client_free(b);
	tr_client_free(a);
}
END_TEST

START_TEST(test_an_adopted_incoming_connection_for_an_unknown_info_hash_is_closed)
{
	struct tr_client *a = create_seeder(NULL);
	unsigned char ih[20], buf[256];
	int fds[2];

	memset(ih, 0x42, sizeof(ih));
	circuit(fds);
	ck_assert_int_eq(tr_client_adopt(a, fds[0], NULL, "relay:x@example.com"), 0);
	raw_handshake(fds[1], ih);
	ck_assert_int_eq(drain(fds[1], buf, sizeof(buf)), -1);
	close(fds[1]);
	tr_client_free(a);
}
END_TEST

START_TEST(test_an_adopted_outgoing_connection_for_a_torrent_not_held_is_refused_and_closed)
{
	struct tr_client *a = create_seeder(NULL);
	unsigned char buf[256];
	char other[TR_HEX_LEN + 1];
	struct tr_stats s;
	int fds[2];

	memset(other, 'b', TR_HEX_LEN);
	other[TR_HEX_LEN] = '\0';
	circuit(fds);
	ck_assert_int_eq(tr_client_adopt(a, fds[0], other, "relay:x@example.com"), -1);
	ck_assert_int_eq(drain(fds[1], buf, sizeof(buf)), -1);
	tr_client_stats(a, &s);
	ck_assert_uint_eq(s.sessions_refused, 1);
	close(fds[1]);
	tr_client_free(a);
}
END_TEST

START_TEST(test_adopted_peers_are_exempt_from_max_per_address)
{
	struct tr_client *a;
	unsigned char ih[20], buf[TR_HANDSHAKE_LEN];
	struct tr_handshake hs;
	struct tr_stats s;
	int fds[3][2];

	max_per_address = 1;
	a = create_seeder(NULL);
	ck_assert_int_eq(cm_hex_decode(created_hash, TR_HEX_LEN, ih, sizeof(ih), NULL), 0);
	for (int i = 0; i < 3; i++) {
		circuit(fds[i]);
		ck_assert_int_eq(tr_client_adopt(a, fds[i][0], NULL, "relay:x@example.com"), 0);
		raw_handshake(fds[i][1], ih);
	}
	/* Each of the three is answered: none counts as an address, so none fills one. */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_ge(drain(fds[i][1], buf, sizeof(buf)), TR_HANDSHAKE_LEN);
		ck_assert_int_eq(tr_wire_parse_handshake(buf, &hs, NULL), 0);
		ck_assert_mem_eq(hs.info_hash, ih, sizeof(ih));
	}
	tr_client_stats(a, &s);
	ck_assert_uint_eq(s.sessions_refused, 0);
	for (int i = 0; i < 3; i++)
		close(fds[i][1]);
	tr_client_free(a);
}
END_TEST

/* Whether fd's far end closed it: every byte it sent drained, then EOF. */
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

START_TEST(test_an_adopted_peer_sending_metadata_of_another_torrent_is_closed_not_banned)
{
	struct tr_client *b = client("b", NULL, true);
	unsigned char ih[20], hs[TR_HANDSHAKE_LEN], pid[20], junk[100], buf[4096];
	char hex[TR_HEX_LEN + 1], magnet[128], dest[160], got[TR_HEX_LEN + 1];
	struct tr_source src = {0};
	struct tr_stats s;
	int fds[2];

	memset(ih, 0x5a, sizeof(ih));
	memset(pid, 9, sizeof(pid));
	memset(junk, 'j', sizeof(junk));
	cm_hex_encode(ih, sizeof(ih), hex);
	snprintf(magnet, sizeof(magnet), "magnet:?xt=urn:btih:%s", hex);
	snprintf(dest, sizeof(dest), "%s/dl", tu_dir);
	src.magnet = magnet;
	src.dest_dir = dest;
	ck_assert_int_eq(tr_client_add(b, &src, got, NULL), 0);
	circuit(fds);
	ck_assert_int_eq(tr_client_adopt(b, fds[0], hex, "relay:liar@example.com"), 0);
	/* We dialled: our handshake comes first. */
	ck_assert_int_eq(drain(fds[1], hs, sizeof(hs)), TR_HANDSHAKE_LEN);
	ck_assert(hs[25] & 0x10);
	tr_wire_handshake(hs, ih, pid, true);
	ck_assert_int_eq(write(fds[1], hs, sizeof(hs)), sizeof(hs));
	send_ext_msg(fds[1], 0, "d1:md11:ut_metadatai3ee13:metadata_sizei100ee", NULL, 0);
	drain(fds[1], buf, sizeof(buf)); /* its extension handshake and its request for piece 0 */
	send_ext_msg(fds[1], 1, "d8:msg_typei1e5:piecei0e10:total_sizei100ee", junk, sizeof(junk));
	ck_assert(closed_by_peer(fds[1]));
	tr_client_stats(b, &s);
	ck_assert_uint_eq(s.peers_banned, 0);
	close(fds[1]);
	tr_client_free(b);
}
END_TEST

/* The payload of the BEP 10 handshake among the messages in buf[0, len); NULL when none. */
static const unsigned char *
ext_handshake(const unsigned char *buf, size_t len, size_t *plen)
{
	size_t off = 0;

	while (off + 4 <= len) {
		size_t n = (size_t)buf[off] << 24 | (size_t)buf[off + 1] << 16 |
			   (size_t)buf[off + 2] << 8 | buf[off + 3];

		if (off + 4 + n > len)
			break;
		if (n >= 2 && buf[off + 4] == TR_MSG_EXTENDED && buf[off + 5] == 0) {
			*plen = n - 2;
			return buf + off + 6;
		}
		off += 4 + n;
	}
	return NULL;
}

START_TEST(test_a_listening_client_tells_an_adopted_peer_no_port)
{
	struct tr_client *a = create_seeder("127.0.0.1");
	unsigned char ih[20], buf[65536];
	const unsigned char *ext;
	size_t elen = 0;
	ssize_t n;
	int fds[2];

	ck_assert_int_gt(tr_client_listen_port(a), 0);
	ck_assert_int_eq(cm_hex_decode(created_hash, TR_HEX_LEN, ih, sizeof(ih), NULL), 0);
	circuit(fds);
	ck_assert_int_eq(tr_client_adopt(a, fds[0], NULL, "relay:x@example.com"), 0);
	raw_handshake(fds[1], ih);
	n = drain(fds[1], buf, sizeof(buf));
	ck_assert_int_gt(n, TR_HANDSHAKE_LEN);
	ext = ext_handshake(buf + TR_HANDSHAKE_LEN, (size_t)n - TR_HANDSHAKE_LEN, &elen);
	ck_assert_ptr_nonnull(ext);
	/* It is the extension handshake ("v" is there), and it has neither "p" nor "yourip". */
	ck_assert_ptr_nonnull(memmem(ext, elen, "1:v", 3));
	ck_assert_ptr_null(memmem(ext, elen, "1:pi", 4));
	ck_assert_ptr_null(memmem(ext, elen, "yourip", 6));
	close(fds[1]);
	tr_client_free(a);
}
END_TEST

FB_CHECK_MAIN(.name = "torrent_adopt", .setup = setup, .teardown = teardown, .timeout_s = 60)
