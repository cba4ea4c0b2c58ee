/* base64.c - see base64.h */
#include "util/base64.h"
#include "util/buf.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(struct prenv_buf *out, const void *p, size_t n)
{
	const unsigned char *s = p;
	char q[4];
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		q[0] = alphabet[s[i] >> 2];
		q[1] = alphabet[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		q[2] = alphabet[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		q[3] = alphabet[s[i + 2] & 63];
		prenv_buf_add(out, q, 4);
	}
	if (i < n) {
		unsigned b1 = i + 1 < n ? s[i + 1] : 0;

		q[0] = alphabet[s[i] >> 2];
		q[1] = alphabet[((s[i] & 3) << 4) | (b1 >> 4)];
		q[2] = i + 1 < n ? alphabet[(b1 & 15) << 2] : '=';
		q[3] = '=';
		prenv_buf_add(out, q, 4);
	}
	return out->failed ? -1 : 0;
}

static int sextet(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

int base64_decode(struct prenv_buf *out, const char *s, size_t n)
{
	size_t start = out->len, i, nsym = 0, pad = 0;
	unsigned acc = 0;
	int bits = 0;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		int v;

		if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
			continue;
		if (ch == '=') {
			pad++;
			continue;
		}
		if (pad || (v = sextet(ch)) < 0)
			goto bad;
		nsym++;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			prenv_buf_addc(out, (char)((acc >> bits) & 0xff));
		}
	}
	/* 4k+1 symbols leave 6 bits: no byte ends there */
	if (nsym % 4 == 1 || pad > 2 || (pad && (nsym + pad) % 4))
		goto bad;
	return out->failed ? -1 : 0;
bad:
	prenv_buf_truncate(out, start);
	return -1;
}
