/* names.c - the name rules: DNS-1123 labels, slugs, branch globs; see
 * names.h */
#include "util/names.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_MAX NAME_LABEL_MAX
#define HASH_HEX 8 /* 32 bits: ~1e-4 chance of a clash among 1,000 lossy names */

/* ------------------------------------------------------------------ */
/* Slugs                                                               */

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int name_is_dns_label(const char *s)
{
	size_t i, n;

	if (!s)
		return 0;
	n = strlen(s);
	if (n == 0 || n > LABEL_MAX)
		return 0;
	if (!is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return 0;
	for (i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

/* True when s ends like a slug that carries a hash ("...-0123abcd"). Such an
 * input is hashed again, so a branch cannot be named after another branch's
 * hashed slug and take over its environment. */
static int looks_hashed(const char *s)
{
	size_t n = strlen(s), i;

	if (n < HASH_HEX + 1 || s[n - HASH_HEX - 1] != '-')
		return 0;
	for (i = n - HASH_HEX; i < n; i++)
		if (!is_hex_lower(s[i]))
			return 0;
	return 1;
}

/* FNV-1a 64 of s, folded to 32 bits, as HASH_HEX lower-case hex digits. */
static void hash_hex(const char *s, char out[HASH_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = 0xcbf29ce484222325ULL;
	uint32_t v;
	int i;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	v = (uint32_t)(h ^ (h >> 32));
	for (i = HASH_HEX - 1; i >= 0; i--) {
		out[i] = hex[v & 0xf];
		v >>= 4;
	}
	out[HASH_HEX] = '\0';
}

void name_hash8(const char *s, char out[9])
{
	hash_hex(s, out);
}

char *name_slug(const char *in, size_t maxlen)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	char hash[HASH_HEX + 1];
	size_t room;

	if (!in || maxlen == 0)
		return NULL;
	if (maxlen > LABEL_MAX)
		maxlen = LABEL_MAX;
	if (name_is_dns_label(in) && strlen(in) <= maxlen && !looks_hashed(in))
		return strdup(in);

	hash_hex(in, hash);
	if (maxlen < HASH_HEX + 2) /* no room for "x-" + hash: the hash alone */
		return strndup(hash, maxlen);
	room = maxlen - HASH_HEX - 1;
	for (; *in && b.len < room; in++) {
		char c = *in;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (is_lower_alnum(c))
			prenv_buf_addc(&b, c);
		else if (b.len && b.ptr[b.len - 1] != '-')
			prenv_buf_addc(&b, '-');
	}
	while (b.len && b.ptr[b.len - 1] == '-')
		prenv_buf_truncate(&b, b.len - 1);
	if (!b.len)
		prenv_buf_addc(&b, 'x');
	prenv_buf_printf(&b, "-%s", hash);
	return prenv_buf_detach(&b, NULL); /* NULL if an append failed */
}

/* ------------------------------------------------------------------ */
/* Globs (GitHub Actions filter patterns)                              */

enum gtok_type {
	G_CHAR,
	G_CLASS,
	G_STAR,        /* '*': any run of characters but '/' */
	G_DSTAR,       /* '**': any run of characters */
	G_DSTAR_SLASH, /* '**' + '/': nothing, or any run that ends with '/' */
};
enum gtok_quant { Q_ONE, Q_OPT, Q_PLUS };

struct gtok {
	enum gtok_type type;
	enum gtok_quant quant;
	char ch;
	const char *cls; /* G_CLASS: first char after '[' (and after '!'/'^') */
	size_t clslen;
	int neg;
};

static int class_match(const struct gtok *t, char c)
{
	size_t i;
	int hit = 0;

	if (c == '/')
		return 0;
	for (i = 0; i < t->clslen; i++) {
		char lo = t->cls[i], hi = lo;
		if (lo == '\\' && i + 1 < t->clslen)
			lo = hi = t->cls[++i];
		if (i + 2 < t->clslen && t->cls[i + 1] == '-') {
			hi = t->cls[i + 2];
			i += 2;
		}
		if ((unsigned char)c >= (unsigned char)lo && (unsigned char)c <= (unsigned char)hi)
			hit = 1;
	}
	return hit != t->neg;
}

static int tok_match(const struct gtok *t, char c)
{
	if (!c)
		return 0;
	if (t->type == G_CHAR)
		return t->ch == c;
	return class_match(t, c);
}

/* Splits pattern into tokens; returns the count or -1 (unclosed '['). */
static long glob_compile(const char *p, struct gtok *toks)
{
	long n = 0;

	while (*p) {
		struct gtok t;
		memset(&t, 0, sizeof(t));
		if (p[0] == '*' && p[1] == '*') {
			t.type = G_DSTAR;
			while (*p == '*')
				p++;
			if (*p == '/') { /* a double star then a slash may match no directory */
				t.type = G_DSTAR_SLASH;
				p++;
			}
		} else if (*p == '*') {
			t.type = G_STAR;
			p++;
		} else if ((*p == '?' || *p == '+') && n > 0 &&
			   (toks[n - 1].type == G_CHAR || toks[n - 1].type == G_CLASS) &&
			   toks[n - 1].quant == Q_ONE) {
			toks[n - 1].quant = *p == '?' ? Q_OPT : Q_PLUS;
			p++;
			continue;
		} else if (*p == '[') {
			const char *q = p + 1;
			t.type = G_CLASS;
			if (*q == '!' || *q == '^') {
				t.neg = 1;
				q++;
			}
			t.cls = q;
			if (*q == ']')
				q++;
			while (*q && *q != ']') {
				if (*q == '\\' && q[1])
					q++;
				q++;
			}
			if (!*q)
				return -1;
			t.clslen = (size_t)(q - t.cls);
			p = q + 1;
		} else {
			t.type = G_CHAR;
			if (*p == '\\' && p[1])
				p++;
			t.ch = *p++;
		}
		toks[n++] = t;
	}
	return n;
}

/* memo[ti * (slen + 1) + si] = 1 once (ti, si) is known not to match. */
static int glob_run(const struct gtok *toks, size_t ntok, size_t ti, const char *s,
		    size_t si, size_t slen, unsigned char *memo)
{
	const struct gtok *t;
	size_t k;
	int r = 0;

	if (ti == ntok)
		return si == slen;
	if (memo[ti * (slen + 1) + si])
		return 0;
	t = &toks[ti];
	switch (t->type) {
	case G_DSTAR:
		for (k = si; k <= slen && !r; k++)
			r = glob_run(toks, ntok, ti + 1, s, k, slen, memo);
		break;
	case G_DSTAR_SLASH:
		for (k = si; k <= slen && !r; k++)
			if (k == si || s[k - 1] == '/')
				r = glob_run(toks, ntok, ti + 1, s, k, slen, memo);
		break;
	case G_STAR:
		for (k = si; k <= slen && !r; k++) {
			r = glob_run(toks, ntok, ti + 1, s, k, slen, memo);
			if (k < slen && s[k] == '/')
				break;
		}
		break;
	default:
		if (t->quant == Q_OPT && glob_run(toks, ntok, ti + 1, s, si, slen, memo)) {
			r = 1;
			break;
		}
		for (k = si; k < slen && tok_match(t, s[k]); k++) {
			if ((r = glob_run(toks, ntok, ti + 1, s, k + 1, slen, memo)))
				break;
			if (t->quant != Q_PLUS)
				break;
		}
		break;
	}
	if (!r)
		memo[ti * (slen + 1) + si] = 1;
	return r;
}

int name_glob_match(const char *pattern, const char *s)
{
	struct gtok *toks;
	unsigned char *memo = NULL;
	size_t plen, slen;
	long n;
	int neg = 0, r = 0;

	if (!pattern || !s)
		return 0;
	if (*pattern == '!') {
		neg = 1;
		pattern++;
	}
	plen = strlen(pattern);
	slen = strlen(s);
	if (!(toks = calloc(plen + 1, sizeof(*toks))))
		return 0;
	n = glob_compile(pattern, toks);
	if (n < 0)
		goto done; /* invalid pattern: matches nothing (config rejects it) */
	if (!(memo = calloc(((size_t)n + 1) * (slen + 1), 1)))
		goto done;
	r = glob_run(toks, (size_t)n, 0, s, 0, slen, memo);
	if (neg)
		r = !r;
done:
	free(memo);
	free(toks);
	return r;
}


/* ------------------------------------------------------------------ */
/* "did you mean"                                                      */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[64], prev, tmp;

	if (la > 63 || lb > 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			char ca = a[i - 1], cb = b[j - 1];
			size_t cost;
			if (ca >= 'A' && ca <= 'Z')
				ca = (char)(ca - 'A' + 'a');
			if (cb >= 'A' && cb <= 'Z')
				cb = (char)(cb - 'A' + 'a');
			cost = ca == cb ? 0 : 1;
			tmp = row[j];
			row[j] = prev + cost;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[lb];
}

const char *name_closest(const char *s, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bestd = 99, i, len = strlen(s), limit;

	limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
	for (i = 0; i < n; i++) {
		size_t d = edit_distance(s, names[i]);
		if (d < bestd) {
			bestd = d;
			best = names[i];
		}
	}
	return bestd <= limit ? best : NULL;
}

