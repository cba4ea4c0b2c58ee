/* htpasswd.c - MD5 (RFC 1321) and Apache's APR1 crypt; see htpasswd.h.
 *
 * APR1 is FreeBSD's md5crypt with the magic "$apr1$" (Apache's
 * apr_md5_encode): the digest of password, magic and salt, mixed with the
 * digest of password + salt + password, then 1000 rounds, written in
 * crypt's base64 alphabet. Checked against Apache's htpasswd and OpenSSL's
 * `passwd -apr1` (test/unit/test_htpasswd.c).
 */
#include "util/htpasswd.h"
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* ------------------------------------------------------------ MD5 */

struct md5 {
	uint32_t h[4];
	uint64_t len;          /* bytes hashed */
	unsigned char blk[64];
	size_t n;              /* bytes in blk */
};

static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static const unsigned char md5_r[64] = {
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
	5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
	4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
	6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

static void md5_block(struct md5 *m, const unsigned char *p)
{
	uint32_t w[16], a = m->h[0], b = m->h[1], c = m->h[2], d = m->h[3];
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[i * 4] | (uint32_t)p[i * 4 + 1] << 8 |
		       (uint32_t)p[i * 4 + 2] << 16 | (uint32_t)p[i * 4 + 3] << 24;
	for (i = 0; i < 64; i++) {
		uint32_t f, t;
		int g;

		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
		}
		t = d;
		d = c;
		c = b;
		f += a + md5_k[i] + w[g];
		b += (f << md5_r[i]) | (f >> (32 - md5_r[i]));
		a = t;
	}
	m->h[0] += a;
	m->h[1] += b;
	m->h[2] += c;
	m->h[3] += d;
}

static void md5_init(struct md5 *m)
{
	static const uint32_t iv[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };

	memcpy(m->h, iv, sizeof(iv));
	m->len = 0;
	m->n = 0;
}

static void md5_update(struct md5 *m, const void *data, size_t n)
{
	const unsigned char *p = data;

	m->len += n;
	while (n) {
		size_t k = 64 - m->n < n ? 64 - m->n : n;

		memcpy(m->blk + m->n, p, k);
		m->n += k;
		p += k;
		n -= k;
		if (m->n == 64) {
			md5_block(m, m->blk);
			m->n = 0;
		}
	}
}

static void md5_final(struct md5 *m, unsigned char out[16])
{
	static const unsigned char pad[64] = { 0x80 };
	unsigned char bits[8];
	uint64_t len = m->len * 8;
	int i;

	for (i = 0; i < 8; i++)
		bits[i] = (unsigned char)(len >> (8 * i));
	md5_update(m, pad, m->n < 56 ? 56 - m->n : 120 - m->n);
	md5_update(m, bits, 8);
	for (i = 0; i < 16; i++)
		out[i] = (unsigned char)(m->h[i / 4] >> (8 * (i % 4)));
	memset(m, 0, sizeof(*m));
}

void htpasswd_md5(unsigned char out[16], const void *p, size_t n)
{
	struct md5 m;

	md5_init(&m);
	md5_update(&m, p, n);
	md5_final(&m, out);
}

/* ------------------------------------------------------------ APR1 */

static const char itoa64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void to64(struct prenv_buf *out, unsigned long v, int n)
{
	while (n-- > 0) {
		prenv_buf_addc(out, itoa64[v & 0x3f]);
		v >>= 6;
	}
}

/* The salt as Apache takes it: up to 8 characters, up to a '$'. */
static size_t salt_len(const char *salt)
{
	size_t n = 0;

	while (n < HTPASSWD_SALT_LEN && salt[n] && salt[n] != '$')
		n++;
	return n;
}

int htpasswd_apr1(struct prenv_buf *out, const char *pw, size_t plen, const char *salt)
{
	static const char magic[] = "$apr1$";
	static const int order[5][3] = { { 0, 6, 12 }, { 1, 7, 13 }, { 2, 8, 14 }, { 3, 9, 15 },
					 { 4, 10, 5 } };
	size_t sl = salt_len(salt), i, k;
	unsigned char fin[16];
	struct md5 ctx, alt;

	md5_init(&ctx);
	md5_update(&ctx, pw, plen);
	md5_update(&ctx, magic, sizeof(magic) - 1);
	md5_update(&ctx, salt, sl);
	md5_init(&alt);
	md5_update(&alt, pw, plen);
	md5_update(&alt, salt, sl);
	md5_update(&alt, pw, plen);
	md5_final(&alt, fin);
	for (k = plen; k > 0; k -= k > 16 ? 16 : k)
		md5_update(&ctx, fin, k > 16 ? 16 : k);
	memset(fin, 0, sizeof(fin));
	for (k = plen; k; k >>= 1)
		md5_update(&ctx, (k & 1) ? (const void *)fin : (const void *)pw, 1);
	md5_final(&ctx, fin);
	for (i = 0; i < 1000; i++) {
		md5_init(&ctx);
		if (i & 1)
			md5_update(&ctx, pw, plen);
		else
			md5_update(&ctx, fin, 16);
		if (i % 3)
			md5_update(&ctx, salt, sl);
		if (i % 7)
			md5_update(&ctx, pw, plen);
		if (i & 1)
			md5_update(&ctx, fin, 16);
		else
			md5_update(&ctx, pw, plen);
		md5_final(&ctx, fin);
	}
	prenv_buf_adds(out, magic);
	prenv_buf_add(out, salt, sl);
	prenv_buf_addc(out, '$');
	for (i = 0; i < 5; i++)
		to64(out, (unsigned long)fin[order[i][0]] << 16 | (unsigned long)fin[order[i][1]] << 8 |
		     fin[order[i][2]], 4);
	to64(out, fin[11], 2);
	memset(fin, 0, sizeof(fin));
	return out->failed ? -1 : 0;
}

/* ------------------------------------------------------------ salt, lines */

static int random_bytes(unsigned char *p, size_t n)
{
	size_t got = 0;
	int fd;

	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got == n)
		return 0;
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return got == n ? 0 : -1;
}

int htpasswd_salt(char salt[HTPASSWD_SALT_LEN + 1])
{
	unsigned char r[HTPASSWD_SALT_LEN];
	int i;

	if (random_bytes(r, sizeof(r)) < 0)
		return -1;
	for (i = 0; i < HTPASSWD_SALT_LEN; i++)
		salt[i] = itoa64[r[i] & 0x3f]; /* 256 = 4 * 64: uniform */
	salt[HTPASSWD_SALT_LEN] = '\0';
	return 0;
}

int htpasswd_user_ok(const char *user)
{
	size_t n = 0;

	for (; user && user[n]; n++)
		if (user[n] <= ' ' || user[n] > '~' || user[n] == ':')
			return 0;
	return n > 0 && n <= 255;
}

int htpasswd_line(struct prenv_buf *out, const char *user, const char *password)
{
	char salt[HTPASSWD_SALT_LEN + 1];

	if (htpasswd_salt(salt) < 0)
		return -1;
	prenv_buf_printf(out, "%s:", user);
	htpasswd_apr1(out, password, strlen(password), salt);
	prenv_buf_addc(out, '\n');
	return out->failed ? -1 : 0;
}
