/* log.c - see log.h */
#include "util/log.h"
#include "util/buf.h"
#include "util/err.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
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

char *log_mask_dup(const char *s, size_t len, size_t *out_len)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t i = 0;

	pthread_mutex_lock(&secrets_lock);
	while (i < len) {
		size_t best = 0, k;

		for (k = 0; k < L.nsecrets; k++) {
			size_t sl = strlen(L.secrets[k]);

			if (sl > best && sl <= len - i &&
			    memcmp(s + i, L.secrets[k], sl) == 0)
				best = sl;
		}
		if (best) {
			prenv_buf_adds(&b, "***");
			i += best;
		} else {
			prenv_buf_addc(&b, s[i]);
			i++;
		}
	}
	pthread_mutex_unlock(&secrets_lock);
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

int log_add_secret(const char *secret)
{
	const char *p;
	int r;

	if (!secret || strlen(secret) < 4)
		return -1;
	pthread_mutex_lock(&secrets_lock);
	r = add_one(secret, strlen(secret));
	if (r > 0 && !strchr(secret, '\n'))
		announce(secret, strlen(secret));
	/* A multi-line secret (a kubeconfig, a PEM key) is printed a line at a
	 * time, so each significant line is a secret too, and so is the value
	 * of a "key: value" line. */
	for (p = secret; r >= 0 && strchr(secret, '\n') && *p; ) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *a = p, *z = p + n, *colon;

		while (a < z && (*a == ' ' || *a == '\t' || *a == '-'))
			a++;
		while (z > a && (z[-1] == ' ' || z[-1] == '\t' || z[-1] == '\r'))
			z--;
		if (z - a >= 8 && add_one(a, (size_t)(z - a)) > 0)
			announce(a, (size_t)(z - a));
		colon = memchr(a, ':', (size_t)(z - a));
		if (colon) {
			const char *v = colon + 1;

			while (v < z && (*v == ' ' || *v == '"' || *v == '\''))
				v++;
			while (z > v && (z[-1] == '"' || z[-1] == '\''))
				z--;
			if (z - v >= 8 && add_one(v, (size_t)(z - v)) > 0)
				announce(v, (size_t)(z - v));
		}
		p = e ? e + 1 : p + n;
	}
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

/* Appends n bytes so that no line can act as a workflow command: "::"
 * first on a line (after blanks) gets a backslash before it, and the '['
 * of every "##[" becomes open_bracket. *bol: s starts a line (updated).
 * human: a carriage return (a line break for the runner) is shown as \r. */
static void defuse(struct prenv_buf *b, const char *s, size_t n, int *bol,
		   const char *open_bracket, int human)
{
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		if (*bol) {
			for (j = i; (k = blank_len((const unsigned char *)s + j, n - j)) > 0; )
				j += k;
			if (j + 1 < n && s[j] == ':' && s[j + 1] == ':') {
				prenv_buf_add(b, s + i, j - i);
				prenv_buf_addc(b, '\\');
				i = j;
			}
			*bol = 0;
		}
		if (s[i] == '[' && i >= 2 && s[i - 1] == '#' && s[i - 2] == '#') {
			prenv_buf_adds(b, open_bracket);
		} else if (s[i] == '\r' && human) {
			prenv_buf_adds(b, "\\r");
		} else {
			prenv_buf_addc(b, s[i]);
			*bol = s[i] == '\n' || s[i] == '\r';
		}
	}
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

void log_out(const char *s, size_t len)
{
	struct prenv_buf b = PRENV_BUF_INIT;

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
