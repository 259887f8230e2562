/*
 * validate.h - the field rules shared by every decoder, usable on their own
 * (flag parsing, config files). All pure: no I/O, no clock, no randomness
 * (new UUIDs come from fb/random.h).
 */
#ifndef FB_VALIDATE_H
#define FB_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CM_UUID_TEXT_LEN 36 /* canonical text form, without the NUL */

/*
 * A plain addr-spec: dot-atom local part (<= 64 bytes) '@' a host name of
 * LDH labels (each 1..63 bytes, no leading or trailing '-'); <= 254 bytes.
 */
bool cm_valid_email(const char *s, size_t len);

/* An IPv4 dotted quad or IPv6 literal (no brackets, no zone), not unspecified or multicast. */
bool cm_valid_ip(const char *s, size_t len);

bool cm_valid_port(int64_t port); /* 1..65535 */

/* The 36-character 8-4-4-4-12 hex form (either case), as libuuid parses it. */
bool cm_valid_uuid(const char *s, size_t len);

/*
 * Parses all of s as a decimal integer in [min, max] into *out. Returns 0, or
 * -1 (nothing written) on an empty string, trailing characters, overflow or a
 * value out of range.
 */
int cm_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* 64 lower-case hex digits: a SHA-256 certificate fingerprint. */
bool cm_valid_fingerprint(const char *s, size_t len);

/* Exactly digits lower-case hex digits: a digest as the wire writes it (info hash, SHA-256). */
bool cm_valid_hex_digest(const char *s, size_t len, size_t digits);

/* A torrent's name: 1..CM_MAX_TORRENT_NAME bytes, no control characters. */
bool cm_valid_torrent_name(const char *s, size_t len);

/* A repository name: 1..255 bytes, no control characters, no "," (lists in query strings are comma-separated). */
bool cm_valid_repo_name(const char *s, size_t len);

#endif
