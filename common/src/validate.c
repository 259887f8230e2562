/* validate.c - field rules shared by the decoders, flags and config parsing. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fb/limits.h"
#include "fb/validate.h"

/* RFC 5322 atext: letters, digits and these. */
static bool
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool
is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

/* Dot-atom: atext runs separated by single dots, none at either end. */
static bool
valid_local_part(const char *s, size_t len)
{
	if (len == 0 || len > CM_MAX_EMAIL_LOCAL || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

static bool
valid_host_name(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_ldh((unsigned char)s[i]) || (label == 0 && s[i] == '-'))
			return false;
		if (++label > 63)
			return false;
	}
	return s[len - 1] != '-';
}

bool
cm_valid_email(const char *s, size_t len)
{
	const char *at;

	if (s == NULL || len == 0 || len > CM_MAX_EMAIL || memchr(s, '\0', len) != NULL)
		return false;
	if ((at = memchr(s, '@', len)) == NULL)
		return false;
	return valid_local_part(s, (size_t)(at - s)) &&
	       valid_host_name(at + 1, len - (size_t)(at - s) - 1);
}

bool
cm_valid_ip(const char *s, size_t len)
{
	char buf[CM_MAX_ADDRESS + 1];
	unsigned char addr[16];

	if (s == NULL || len == 0 || len > CM_MAX_ADDRESS || memchr(s, '\0', len) != NULL)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1) {
		/* 0.0.0.0/8 is "this network", 224/4 multicast: neither reaches a peer. */
		return addr[0] != 0 && (addr[0] & 0xf0) != 0xe0;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		static const unsigned char zero[16];
		return memcmp(addr, zero, 16) != 0 && addr[0] != 0xff;
	}
	return false;
}

bool
cm_valid_port(int64_t port)
{
	return port >= 1 && port <= 65535;
}

/* What libuuid's uuid_parse accepts, without its strtoul per group: every envelope has one. */
bool
cm_valid_uuid(const char *s, size_t len)
{
	if (s == NULL || len != CM_UUID_TEXT_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

bool
cm_valid_repo_name(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > CM_MAX_REPO_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == ',')
			return false;
	}
	return true;
}

bool
cm_valid_hex_digest(const char *s, size_t len, size_t digits)
{
	if (s == NULL || len != digits)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool
cm_valid_fingerprint(const char *s, size_t len)
{
	return cm_valid_hex_digest(s, len, CM_FINGERPRINT_LEN);
}

bool
cm_valid_torrent_name(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > CM_MAX_TORRENT_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

int
cm_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
