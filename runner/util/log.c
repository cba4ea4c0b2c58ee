/* log.c - see log.h */
#include "util/log.h"
#include "util/buf.h"
#include "util/err.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The secret list is read by every write and may grow while other threads
 * (Kubernetes watches) log: one lock guards it. */
static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	enum log_ci ci;
	int level;
	int color;
	FILE *out, *err;
	char **secrets;
	size_t nsecrets;
	int group_open;
	unsigned group_seq;
	int out_bol; /* stdout is at the start of a line */
} L = { LOG_CI_NONE, 0, 0, NULL, NULL, NULL, 0, 0, 0, 1 };

static FILE *out_stream(void) { return L.out ? L.out : stdout; }
static FILE *err_stream(void) { return L.err ? L.err : stderr; }

void log_setup(enum log_ci ci, int level, int color)
{
	L.ci = ci;
	L.level = level;
	L.color = color;
}

void log_set_streams(FILE *out, FILE *err)
{
	L.out = out;
	L.err = err;
	L.out_bol = 1;
}

int log_level(void) { return L.level; }

/* first[c] is 1 when a secret starts with byte c. Called with the lock. */
static void mask_firsts(unsigned char first[256])
{
	size_t k;

	memset(first, 0, 256);
	for (k = 0; k < L.nsecrets; k++)
		first[(unsigned char)L.secrets[k][0]] = 1;
}

/* The offset of the first secret in s[i..len) (len when none) and, in
 * *found, the length of the longest secret there. Called with the lock. */
static size_t mask_next(const char *s, size_t len, size_t i, const unsigned char first[256],
			size_t *found)
{
	*found = 0;
	if (!L.nsecrets)
		return len;
	for (; i < len; i++) {
		size_t k, best = 0;

		if (!first[(unsigned char)s[i]])
			continue;
		for (k = 0; k < L.nsecrets; k++) {
			size_t sl;

			if (L.secrets[k][0] != s[i])
				continue;
			sl = strlen(L.secrets[k]);
			if (sl > best && sl <= len - i && memcmp(s + i, L.secrets[k], sl) == 0)
				best = sl;
		}
		if (best) {
			*found = best;
			return i;
		}
	}
	return len;
}

char *log_mask_dup(const char *s, size_t len, size_t *out_len)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	unsigned char first[256]; /* the first bytes of the secrets */
	size_t i, from = 0, found;

	pthread_mutex_lock(&secrets_lock);
	mask_firsts(first);
	while ((i = mask_next(s, len, from, first, &found)) < len) {
		prenv_buf_add(&b, s + from, i - from);
		prenv_buf_adds(&b, "***");
		from = i + found;
	}
	pthread_mutex_unlock(&secrets_lock);
	prenv_buf_add(&b, s + from, len - from);
	return prenv_buf_detach(&b, out_len);
}

/* GitHub workflow-command escaping of a command's data (after "::cmd::"). */
static void gh_escape_data(struct prenv_buf *b, const char *s, size_t n);

/* Adds one string to the list; 1 when it was new. Called with the lock. */
static int add_one(const char *secret, size_t len)
{
	char **ns;
	char *copy;
	size_t k;

	for (k = 0; k < L.nsecrets; k++)
		if (strlen(L.secrets[k]) == len && memcmp(L.secrets[k], secret, len) == 0)
			return 0;
	copy = strndup(secret, len);
	ns = realloc(L.secrets, (L.nsecrets + 1) * sizeof(*ns));
	if (!copy || !ns) {
		free(copy);
		if (ns)
			L.secrets = ns;
		return -1;
	}
	L.secrets = ns;
	L.secrets[L.nsecrets++] = copy;
	return 1;
}

static void announce(const char *secret, size_t len)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	char *one;

	if (L.ci != LOG_CI_GITHUB || !(one = strndup(secret, len)))
		return;
	/* The runner hides the value from this line itself; the value is
	 * escaped as the runner unescapes it (%25, %0D, %0A). */
	prenv_buf_adds(&b, "::add-mask::");
	gh_escape_data(&b, one, len);
	prenv_buf_addc(&b, '\n');
	fflush(out_stream());
	fwrite(b.ptr, 1, b.len, err_stream());
	fflush(err_stream());
	memset(one, 0, len);
	free(one);
	prenv_buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* The secret-bearing parts of a structured secret                     */
/*
 * A multi-line secret (a kubeconfig, a PEM key, an env file) is printed a
 * line or a value at a time, so its parts are registered too. Only the
 * parts that carry the secret, not every line: a kubeconfig's
 * "apiVersion: v1" or server URL masked for the whole job hides ordinary
 * text ("kind: ConfigMap" became "***Map"). Registered: the value of a key
 * that looks secret (token, password, secret, key, credential, *data) in
 * YAML ("key: value", block scalars, more-indented continuation lines),
 * JSON ("key": "value") or KEY=value form; the value after an env entry
 * "name: <SECRET_LOOKING>"; a URL's password; a PEM block whole and each
 * line of its base64 body. A multi-line secret without such structure (no
 * key-value lines) is masked a line at a time. All called with the lock.
 */

/* Registers one part (4 bytes or more) and tells GitHub when it is new and
 * fits on one line. -1 when memory ran out. */
static int add_part(const char *s, size_t n)
{
	int r;

	if (n < 4)
		return 0;
	r = add_one(s, n);
	if (r > 0 && !memchr(s, '\n', n))
		announce(s, n);
	return r < 0 ? -1 : 0;
}

static int key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* A key (or an env variable's name) whose value is a secret: compared in
 * lower case without '-', '_' and '.'. Names, files, paths, URLs, lifetimes
 * and types of secrets are not secrets. */
static int secret_word(const char *k, size_t kn)
{
	static const char *const has[] = { "token", "passw", "passphrase", "pwd", "secret",
					   "key", "credential", NULL };
	static const char *const not_[] = { "name", "file", "path", "url", "uri", "ttl",
					    "expiry", "expires", "expiration", "type", NULL };
	char w[64];
	size_t i, n = 0;

	for (i = 0; i < kn && n + 1 < sizeof(w); i++)
		if (k[i] != '-' && k[i] != '_' && k[i] != '.')
			w[n++] = (char)((k[i] >= 'A' && k[i] <= 'Z') ? k[i] - 'A' + 'a' : k[i]);
	w[n] = '\0';
	for (i = 0; not_[i]; i++)
		if (ends_with(w, n, not_[i]))
			return 0;
	for (i = 0; has[i]; i++)
		if (strstr(w, has[i]))
			return 1;
	return ends_with(w, n, "data");
}

/* A value that is no secret whatever its key says: a YAML/JSON literal, an
 * empty map or list, a number. */
static int literal(const char *v, size_t n)
{
	static const char *const words[] = { "true", "false", "null", "yes", "no", "on", "off",
					     "~", "{}", "[]", NULL };
	size_t i;

	for (i = 0; words[i]; i++)
		if (strlen(words[i]) == n && strncasecmp(v, words[i], n) == 0)
			return 1;
	for (i = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
		;
	return i == n;
}

/* One "key: value" / "key=value" / "\"key\": \"value\"". */
struct kv {
	const char *k, *v;
	size_t kn, vn;
	int json;  /* the key was quoted: a JSON member */
	int block; /* the YAML value is a block scalar ("|", ">") */
};

/* The value at p; returns where scanning goes on. */
static const char *kv_value(const char *p, const char *z, struct kv *kv)
{
	const char *v = p, *e;

	if (p < z && (*p == '"' || *p == '\'')) {
		char q = *p++;

		for (v = p; p < z && *p != q; p++)
			if (*p == '\\' && q == '"' && p + 1 < z)
				p++;
		kv->v = v;
		kv->vn = (size_t)(p - v);
		return p < z ? p + 1 : z;
	}
	if (kv->json) {
		/* A number or literal; an object or array is scanned into. */
		while (p < z && !strchr(",}]{[ \t", *p))
			p++;
		kv->v = v;
		kv->vn = (size_t)(p - v);
		return p;
	}
	/* YAML or KEY=value: the rest of the line, without a " #" comment. */
	for (e = v; e < z && !(*e == '#' && e > v && (e[-1] == ' ' || e[-1] == '\t')); e++)
		;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	kv->v = v;
	kv->vn = (size_t)(e - v);
	kv->block = kv->vn && (*v == '|' || *v == '>');
	return z;
}

/* A key-value pair starting at p (bounded by z), or NULL. */
static const char *kv_at(const char *p, const char *z, struct kv *kv)
{
	const char *k;
	char q = 0;

	if (*p == '"' || *p == '\'')
		q = *p++;
	for (k = p; p < z && key_char(*p); p++)
		;
	if (p == k || (q && (p >= z || *p++ != q)))
		return NULL;
	memset(kv, 0, sizeof(*kv));
	kv->k = k;
	kv->kn = (size_t)(p - k - (q ? 1 : 0));
	kv->json = q != 0;
	while (p < z && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= z || (*p != ':' && *p != '='))
		return NULL;
	/* A YAML key ends at ": " or at the end of the line ("http://x" and
	 * "host:6443" are values); KEY=value has a value (base64 ends in '='). */
	if (*p == ':' && !q && p + 1 < z && p[1] != ' ' && p[1] != '\t')
		return NULL;
	if (*p == '=' && (p + 1 >= z || p[1] == '=' || p[1] == ' '))
		return NULL;
	for (p++; p < z && (*p == ' ' || *p == '\t'); p++)
		;
	return kv_value(p, z, kv);
}

struct scan {
	int rc;           /* -1 once memory ran out */
	long cont;        /* more-indented lines after a secret key belong to
			   * its value (block scalar, wrapped base64); -1: none */
	int cont_block;   /* ... all of them, also those that look like pairs */
	int env_secret;   /* "name: SOME_TOKEN" waits for its "value:" */
	const char *pem;  /* the open PEM block */
	size_t lines, structured; /* non-blank lines; those with a pair or PEM */
};

static void scan_add(struct scan *sc, const char *s, size_t n)
{
	if (add_part(s, n) < 0)
		sc->rc = -1;
}

/* The password of a URL in v ("http://user:pw@proxy:3128"). */
static void url_password(struct scan *sc, const char *v, size_t n)
{
	const char *e = v + n, *p = memmem(v, n, "://", 3), *at, *colon;

	if (!p)
		return;
	for (p += 3, at = p; at < e && *at != '@' && *at != '/' && *at != ' '; at++)
		;
	if (at < e && *at == '@' && (colon = memchr(p, ':', (size_t)(at - p))))
		scan_add(sc, colon + 1, (size_t)(at - colon - 1));
}

/* The value of a secret key, and the lines of a PEM key kept in one JSON
 * string ("-----BEGIN ...\nMIIE...\n"). */
static void scan_value(struct scan *sc, const char *v, size_t n)
{
	const char *e = v + n, *p, *q;

	if (!literal(v, n))
		scan_add(sc, v, n);
	for (p = memmem(v, n, "\\n", 2) ? v : e; p < e; p = q < e ? q + 2 : e) {
		if (!(q = memmem(p, (size_t)(e - p), "\\n", 2)))
			q = e;
		if (q - p >= 16 && *p != '-')
			scan_add(sc, p, (size_t)(q - p));
	}
	url_password(sc, v, n);
}

/* Returns 1 when the pair's value is a secret. col: the key's column. */
static int scan_pair(struct scan *sc, const struct kv *kv, long col)
{
	int secret = secret_word(kv->k, kv->kn);

	if (kv->kn == 4 && !memcmp(kv->k, "name", 4)) {
		/* An env entry: "- name: AWS_SECRET_ACCESS_KEY" / "value: ..." */
		sc->env_secret = secret_word(kv->v, kv->vn);
		secret = 0;
	} else if (kv->kn == 5 && !memcmp(kv->k, "value", 5) && sc->env_secret) {
		sc->env_secret = 0;
		secret = 1;
	}
	if (!secret) {
		url_password(sc, kv->v, kv->vn);
		return 0;
	}
	if (!kv->block)
		scan_value(sc, kv->v, kv->vn);
	if (!kv->json) {
		sc->cont = col;
		sc->cont_block = kv->block;
	}
	return 1;
}

/* The pairs of one line from p (its content); 1 when there was one. */
static int scan_pairs(struct scan *sc, const char *line, const char *p, const char *z)
{
	const char *next;
	struct kv kv;
	int found = 0;

	while (p < z) {
		if ((p == line || !key_char(p[-1])) && (next = kv_at(p, z, &kv))) {
			found = 1;
			/* A YAML value that is no secret may hold "--token=x". */
			if (scan_pair(sc, &kv, (long)(kv.k - line) - kv.json) || kv.json || !kv.vn)
				p = next;
			else
				p = kv.v;
		} else {
			p++;
		}
	}
	return found;
}

/* A line of an open PEM block, or its BEGIN line. */
static void scan_pem(struct scan *sc, const char *p, const char *z)
{
	if (!sc->pem)
		sc->pem = p;
	else if (!strncmp(p, "-----END ", 9)) {
		scan_add(sc, sc->pem, (size_t)(z - sc->pem));
		sc->pem = NULL;
	} else if (z - p >= 16) {
		scan_add(sc, p, (size_t)(z - p));
	}
}

/* One line (a to z, without its '\n'). */
static void scan_line(struct scan *sc, const char *a, const char *z)
{
	const char *p;
	struct kv kv;
	long indent;

	while (z > a && (z[-1] == '\r' || z[-1] == ' ' || z[-1] == '\t'))
		z--;
	for (p = a; p < z && (*p == ' ' || *p == '\t'); p++)
		;
	if (p == z)
		return; /* a blank line changes nothing */
	indent = (long)(p - a);
	sc->lines++;
	if (sc->pem || !strncmp(p, "-----BEGIN ", 11)) {
		scan_pem(sc, p, z);
		sc->structured++;
		return;
	}
	if (sc->cont >= 0 && indent > sc->cont && (sc->cont_block || !kv_at(p, z, &kv))) {
		scan_add(sc, p, (size_t)(z - p));
		sc->structured++;
		return;
	}
	if (indent <= sc->cont)
		sc->cont = -1;
	if (scan_pairs(sc, a, p, z))
		sc->structured++;
}

/* Registers the parts of a multi-line (or JSON) secret. 0 or -1. */
static int add_parts(const char *secret)
{
	struct scan sc = { 0, -1, 0, 0, NULL, 0, 0 };
	const char *p, *e, *a, *z;

	for (p = secret; *p; p = *e ? e + 1 : e) {
		e = p + strcspn(p, "\n");
		scan_line(&sc, p, e);
	}
	if (sc.structured * 2 >= sc.lines)
		return sc.rc;
	/* Free text, not a configuration: every line of 8 bytes or more. */
	for (p = secret; *p; p = *e ? e + 1 : e) {
		e = p + strcspn(p, "\n");
		for (a = p; a < e && (*a == ' ' || *a == '\t' || *a == '-'); a++)
			;
		for (z = e; z > a && (z[-1] == ' ' || z[-1] == '\t' || z[-1] == '\r'); z--)
			;
		if (z - a >= 8)
			scan_add(&sc, a, (size_t)(z - a));
	}
	return sc.rc;
}

int log_add_secret(const char *secret)
{
	size_t n;
	int r;

	if (!secret || (n = strlen(secret)) < 4)
		return -1;
	pthread_mutex_lock(&secrets_lock);
	r = add_one(secret, n);
	if (r > 0 && !strchr(secret, '\n'))
		announce(secret, n);
	if (r > 0 && (strchr(secret, '\n') || secret[strspn(secret, " \t")] == '{'))
		r = add_parts(secret);
	pthread_mutex_unlock(&secrets_lock);
	return r < 0 ? -1 : 0;
}

void log_reset(void)
{
	size_t k;

	pthread_mutex_lock(&secrets_lock);
	for (k = 0; k < L.nsecrets; k++) {
		size_t n = strlen(L.secrets[k]);

		memset(L.secrets[k], 0, n);
		free(L.secrets[k]);
	}
	free(L.secrets);
	L.secrets = NULL;
	L.nsecrets = 0;
	pthread_mutex_unlock(&secrets_lock);
}

/* GitHub's runner takes a line as a workflow command when, after .NET's
 * TrimStart() (every Unicode white space), it starts with "::", and, in the
 * legacy syntax, when "##[" appears ANYWHERE in it (actions/runner,
 * ActionCommand.TryParseV2 and TryParse). Text from outside (a PR's title,
 * command output, pod logs, API errors) must do neither.
 *
 * blank_len(): the byte length of the white-space or invisible character
 * at s, or 0: what TrimStart() removes (U+0009-000D, U+0020, U+0085,
 * U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000)
 * plus, to be safe, the zero-width and format characters a culture-aware
 * comparison skips (U+00AD, U+180E, U+200B-200F, U+202A-202E, U+2060-206F,
 * U+FEFF) and U+001C-001F. */
static size_t blank_len(const unsigned char *s, size_t n)
{
	if (n >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\f' && s[0] != '\n') ||
		       (s[0] >= 0x1c && s[0] <= 0x1f)))
		return 1;
	if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0 || s[1] == 0xad))
		return 2;
	if (n < 3)
		return 0;
	switch (s[0]) {
	case 0xe1: /* U+1680, U+180E */
		return (s[1] == 0x9a && s[2] == 0x80) || (s[1] == 0xa0 && s[2] == 0x8e) ? 3 : 0;
	case 0xe2: /* U+2000-200F, U+2028-202F, U+205F-206F */
		return (s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8f) || (s[2] >= 0xa8 && s[2] <= 0xaf))) ||
		       (s[1] == 0x81 && s[2] >= 0x9f && s[2] <= 0xaf) ? 3 : 0;
	case 0xe3: /* U+3000 */
		return s[1] == 0x80 && s[2] == 0x80 ? 3 : 0;
	case 0xef: /* U+FEFF */
		return s[1] == 0xbb && s[2] == 0xbf ? 3 : 0;
	default:
		return 0;
	}
}

/* The '[' of the first "##[" at or after i (n when none). */
static size_t next_bracket(const char *s, size_t n, size_t i)
{
	const char *br;

	while (i < n && (br = memchr(s + i, '[', n - i)) != NULL) {
		i = (size_t)(br - s);
		if (i >= 2 && s[i - 1] == '#' && s[i - 2] == '#')
			return i;
		i++;
	}
	return n;
}

/* Skips the blanks (blank_len) at s[j]. */
static size_t skip_blanks(const char *s, size_t n, size_t j)
{
	size_t k;

	while (j < n && s[j] == ' ')
		j++;
	while ((k = blank_len((const unsigned char *)s + j, n - j)) > 0)
		j += k;
	return j;
}

/* The next place at or after i where defuse() changes s (n when none):
 * *insert 1 means a backslash goes before s[at] ("::" first on a line,
 * after blanks), 0 that s[at] is replaced (the '[' of "##[", or a carriage
 * return when human). *bol: s[i] starts a line (updated up to the place
 * returned). memchr does the scanning, no allocation. */
static size_t defuse_next(const char *s, size_t n, size_t i, int *bol, int human, int *insert)
{
	const char *p = i < n ? memchr(s + i, '\r', n - i) : NULL;
	size_t cr = p ? (size_t)(p - s) : n, br = next_bracket(s, n, i), stop = cr < br ? cr : br;

	*insert = 0;
	for (;;) {
		if (*bol && i < n) {
			size_t j = skip_blanks(s, n, i);

			*bol = 0;
			if (j + 1 < n && s[j] == ':' && s[j + 1] == ':') {
				*insert = 1;
				return j;
			}
		}
		p = i < stop ? memchr(s + i, '\n', stop - i) : NULL;
		if (p) {
			i = (size_t)(p - s) + 1;
			*bol = 1;
			continue;
		}
		if (stop >= n)
			return n;
		if (stop == br || human)
			return stop;
		/* a carriage return ends a line too */
		*bol = 1;
		i = stop + 1;
		p = memchr(s + i, '\r', n - i);
		cr = p ? (size_t)(p - s) : n;
		stop = cr < br ? cr : br;
	}
}

/* Appends n bytes so that no line can act as a workflow command: "::"
 * first on a line (after blanks) gets a backslash before it, and the '['
 * of every "##[" becomes open_bracket. *bol: s starts a line (updated).
 * human: a carriage return (a line break for the runner) is shown as \r. */
static void defuse(struct prenv_buf *b, const char *s, size_t n, int *bol,
		   const char *open_bracket, int human)
{
	size_t i = 0, from = 0;
	int insert;

	while ((i = defuse_next(s, n, i, bol, human, &insert)) < n) {
		prenv_buf_add(b, s + from, i - from);
		if (insert) {
			prenv_buf_addc(b, '\\');
			from = i;
		} else {
			prenv_buf_adds(b, s[i] == '[' ? open_bracket : "\\r");
			from = ++i;
		}
	}
	prenv_buf_add(b, s + from, n - from);
}

/* Text for people (stderr), starting a line: "\::", "##\[", "\r". */
static void human_text(struct prenv_buf *b, const char *s, size_t n)
{
	int bol = 1;

	defuse(b, s, n, &bol, "\\[", 1);
}

/* Machine output (stdout): "##[" is written "##\u005b", the same string to
 * JSON and to YAML (prenv writes '#' only inside double-quoted scalars);
 * "::" cannot start a line of JSON or YAML, and text gets "\::". */
static void data_text(struct prenv_buf *b, const char *s, size_t n)
{
	defuse(b, s, n, &L.out_bol, "\\u005b", 0);
}

static void gh_escape_data(struct prenv_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '%')
			prenv_buf_adds(b, "%25");
		else if (s[i] == '\r')
			prenv_buf_adds(b, "%0D");
		else if (s[i] == '\n')
			prenv_buf_adds(b, "%0A");
		else
			prenv_buf_addc(b, s[i]);
	}
}

/* A message (annotation, group title): "##[" shown as "##\[" too. */
static void gh_escape_msg(struct prenv_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '[' && i >= 2 && s[i - 1] == '#' && s[i - 2] == '#')
			prenv_buf_addc(b, '\\');
		gh_escape_data(b, s + i, 1);
	}
}

/* ... and of a property value (file=...). */
static void gh_escape_prop(struct prenv_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == ':')
			prenv_buf_adds(b, "%3A");
		else if (s[i] == ',')
			prenv_buf_adds(b, "%2C");
		else
			gh_escape_data(b, s + i, 1);
	}
}

/* Appends the n bytes at s masked FIRST, then passed through fn (escaping
 * or neutralising): done the other way round, a secret holding '%', CR or
 * LF would be changed by the escaping and the mask would no longer find
 * it. Unmasked text is never appended, even without memory. */
static void add_masked(struct prenv_buf *b, const char *s, size_t n,
		       void (*fn)(struct prenv_buf *, const char *, size_t))
{
	size_t mn;
	char *m = log_mask_dup(s, n, &mn);

	if (m)
		fn(b, m, mn);
	else
		prenv_buf_adds(b, "(output withheld: out of memory while masking)");
	free(m);
}

static void put(FILE *f, const struct prenv_buf *b)
{
	if (b->len)
		fwrite(b->ptr, 1, b->len, f);
	fflush(f);
}

/* "::error file=..,line=..,col=..::message": the annotation GitHub shows
 * on the pull request. */
static void gh_annotation(struct prenv_buf *b, const char *kind, const char *file,
			  int line, int col, const struct prenv_buf *msg)
{
	prenv_buf_printf(b, "::%s", kind);
	if (file) {
		prenv_buf_adds(b, " file=");
		add_masked(b, file, strlen(file), gh_escape_prop);
		if (line > 0)
			prenv_buf_printf(b, ",line=%d", line);
		if (col > 0)
			prenv_buf_printf(b, ",col=%d", col);
	}
	prenv_buf_adds(b, "::");
	add_masked(b, msg->ptr, msg->len, gh_escape_msg);
	prenv_buf_addc(b, '\n');
}

static void emit(const char *kind, const char *color, const char *file,
		 int line, int col, const char *fmt, va_list ap)
{
	struct prenv_buf msg = PRENV_BUF_INIT, raw = PRENV_BUF_INIT, b = PRENV_BUF_INIT;

	prenv_buf_vprintf(&msg, fmt, ap);
	/* What stdout holds came first (both streams may share one log). */
	fflush(out_stream());
	if (L.ci == LOG_CI_GITHUB && kind && (!strcmp(kind, "error") || !strcmp(kind, "warning"))) {
		/* The annotation, right before the plain line. */
		gh_annotation(&b, kind, file, line, col, &msg);
		put(err_stream(), &b);
		prenv_buf_reset(&b);
	}
	prenv_buf_adds(&raw, "prenv: ");
	if (kind) {
		if (L.color && color)
			prenv_buf_printf(&raw, "\033[%sm%s\033[0m: ", color, kind);
		else
			prenv_buf_printf(&raw, "%s: ", kind);
	}
	if (file) {
		prenv_buf_adds(&raw, file);
		if (line > 0)
			prenv_buf_printf(&raw, ":%d", line);
		if (col > 0)
			prenv_buf_printf(&raw, ":%d", col);
		prenv_buf_adds(&raw, ": ");
	}
	prenv_buf_add(&raw, msg.ptr, msg.len);
	prenv_buf_addc(&raw, '\n');
	add_masked(&b, raw.ptr, raw.len, human_text);
	put(err_stream(), &b);
	prenv_buf_free(&b);
	prenv_buf_free(&raw);
	prenv_buf_free(&msg);
}

#define LOG_FN(fname, minlevel, kind, color)                 \
	void fname(const char *fmt, ...)                     \
	{                                                    \
		va_list ap;                                  \
		if (L.level < (minlevel))                    \
			return;                              \
		va_start(ap, fmt);                           \
		emit(kind, color, NULL, 0, 0, fmt, ap);      \
		va_end(ap);                                  \
	}

LOG_FN(log_error, LOG_QUIET, "error", "1;31")
LOG_FN(log_warn, LOG_QUIET, "warning", "1;33")
LOG_FN(log_info, LOG_NORMAL, NULL, NULL)
LOG_FN(log_verbose, LOG_VERBOSE, NULL, NULL)
LOG_FN(log_debug, LOG_DEBUG, "debug", "2")

void log_error_at(const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("error", "1;31", file, line, col, fmt, ap);
	va_end(ap);
}

static void err_fmt(const char *kind, const char *file, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void err_fmt(const char *kind, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(kind, "1;31", file, line, col, fmt, ap);
	va_end(ap);
}

void log_err(const struct prenv_err *err)
{
	if (!err || !err->code)
		return;
	err_fmt("error", err->file, err->line, err->col, "%s",
		err->msg ? err->msg : "unknown error");
}

void log_group_begin(const char *title)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	if (L.level < LOG_NORMAL)
		return;
	if (L.group_open)
		log_group_end();
	L.group_open = 1;
	L.group_seq++;
	/* Whatever stdout holds belongs before the group. */
	fflush(out_stream());
	if (L.ci == LOG_CI_GITHUB) {
		prenv_buf_adds(&b, "::group::");
		add_masked(&b, title, strlen(title), gh_escape_msg);
		prenv_buf_addc(&b, '\n');
	} else if (L.ci == LOG_CI_GITLAB) {
		prenv_buf_printf(&b, "\033[0Ksection_start:%ld:prenv_%u[collapsed=true]\r\033[0K",
				 (long)time(NULL), L.group_seq);
		add_masked(&b, title, strlen(title), human_text);
		prenv_buf_addc(&b, '\n');
	}
	/* Elsewhere a group is just its contents. */
	put(err_stream(), &b);
	prenv_buf_free(&b);
}

void log_group_end(void)
{
	if (!L.group_open)
		return;
	L.group_open = 0;
	fflush(out_stream());
	if (L.ci == LOG_CI_GITHUB)
		fputs("::endgroup::\n", err_stream());
	else if (L.ci == LOG_CI_GITLAB)
		fprintf(err_stream(), "\033[0Ksection_end:%ld:prenv_%u\r\033[0K\n",
			(long)time(NULL), L.group_seq);
	fflush(err_stream());
}

/* Each line indented by four spaces. The whole text is masked first, so a
 * multi-line secret is found before the text is cut into lines. */
void log_block(const char *text)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	const char *p;
	char *m;

	if (L.level < LOG_NORMAL || !text)
		return;
	fflush(out_stream());
	if (!(m = log_mask_dup(text, strlen(text), NULL))) {
		fputs("    (output withheld: out of memory while masking)\n", err_stream());
		return;
	}
	for (p = m; *p; ) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		prenv_buf_adds(&b, "    ");
		human_text(&b, p, n);
		prenv_buf_addc(&b, '\n');
		p += n + (nl ? 1 : 0);
	}
	put(err_stream(), &b);
	prenv_buf_free(&b);
	free(m);
}

/* Writes s as it is when neither masking nor defusing would change it (the
 * usual case: no copy, one pass); 0 when it did not. */
static int out_as_is(const char *s, size_t len)
{
	unsigned char first[256];
	size_t found;
	int bol, insert, done = 0;

	pthread_mutex_lock(&secrets_lock);
	mask_firsts(first);
	bol = L.out_bol;
	if (mask_next(s, len, 0, first, &found) == len &&
	    defuse_next(s, len, 0, &bol, 0, &insert) == len) {
		if (len)
			fwrite(s, 1, len, out_stream());
		L.out_bol = bol;
		done = 1;
	}
	pthread_mutex_unlock(&secrets_lock);
	return done;
}

void log_out(const char *s, size_t len)
{
	struct prenv_buf b = PRENV_BUF_INIT;

	if (out_as_is(s, len))
		return;
	add_masked(&b, s, len, data_text);
	if (b.len)
		fwrite(b.ptr, 1, b.len, out_stream());
	prenv_buf_free(&b);
}

void log_outs(const char *s)
{
	log_out(s, strlen(s));
}

void log_outf(const char *fmt, ...)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	prenv_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	log_out(b.ptr, b.len);
	prenv_buf_free(&b);
}
