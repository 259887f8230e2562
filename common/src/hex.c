/* hex.c - hex encoding (see hex.h). */
#include "fb/hex.h"

void
cm_hex_encode(const void *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
cm_hex_decode(const char *s, size_t len, void *out, size_t out_len, struct cm_err *err)
{
	unsigned char *p = out;

	if (len != 2 * out_len) {
		cm_err_set(err, "%zu hex digits, want %zu", len, 2 * out_len);
		return -1;
	}
	for (size_t i = 0; i < out_len; i++) {
		int hi = digit_value(s[2 * i]), lo = digit_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			cm_err_set(err, "not hex at offset %zu", hi < 0 ? 2 * i : 2 * i + 1);
			return -1;
		}
		p[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
cm_percent_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t out_max,
		  size_t *out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (n - i < 3 || (hi = digit_value(s[i + 1])) < 0 ||
			    (lo = digit_value(s[i + 2])) < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (o + 1 >= out_max)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*out_len = o;
	return 0;
}
