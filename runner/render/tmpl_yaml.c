/* tmpl_yaml.c - the YAML-context escaper of the template engine (TMPL_ESC_YAML).
 * See tmpl_int.h for how tmpl.c drives it.
 *
 * A small incremental YAML lexer runs over the output as it is produced
 * (literal template text only; values are opaque to it). At each {{name}}
 * the lexer knows the lexical context: plain scalar, double- or single-quoted
 * scalar, block scalar, comment, tag/anchor. Values that land in a plain,
 * single-quoted or block scalar are recorded as ranges of the output; when
 * the lexer sees that scalar end, the whole scalar is rewritten once: kept,
 * re-indented, or turned into an equivalent double-quoted scalar whose
 * content is byte for byte what the template meant. Nothing is ever
 * rescanned, so the cost is linear in the output.
 */
#include "render/tmpl_int.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YAML_MAX_KEY 1000       /* libyaml's simple keys are limited to 1024 */

/* --------------------------------------------------------------- UTF-8 */

/* Decodes one code point; returns its length, or 0 if invalid. */
static size_t utf8_dec(const unsigned char *s, size_t n, unsigned long *cp)
{
	unsigned long c;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		c = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		c = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* Printable as libyaml's reader accepts it (tab and line feed not included). */
static int yaml_printable(unsigned long c)
{
	return (c >= 0x20 && c <= 0x7E) ||
	       (c >= 0xA0 && c <= 0xD7FF && c != 0x2028 && c != 0x2029) ||
	       (c >= 0xE000 && c <= 0xFFFD && c != 0xFEFF) ||
	       (c >= 0x10000 && c <= 0x10FFFF);
}

enum cpset {                    /* which code points utf8_within() accepts */
	CP_ANY,                 /* any (the text only has to be valid UTF-8) */
	CP_LINE,                /* YAML-printable or tab: stays on its line */
	CP_LINES,               /* YAML-printable, tab or line feed */
};

/* s[0, n) is valid UTF-8 and every code point is in set. */
static int utf8_within(const char *s, size_t n, enum cpset set)
{
	size_t i = 0, l;
	unsigned long c;

	while (i < n) {
		l = utf8_dec((const unsigned char *)s + i, n - i, &c);
		if (!l)
			return 0;
		if (set != CP_ANY && !yaml_printable(c) && c != '\t' &&
		    (set == CP_LINE || c != '\n'))
			return 0;
		i += l;
	}
	return 1;
}

/* ------------------------------------------------------------- scalars */

/* Appends s as the content of a YAML double-quoted scalar. edges: escape
 * leading and trailing blanks (they could be folded away on a line break of
 * a multi-line scalar). Invalid UTF-8 bytes are copied (template text only:
 * values are validated before). */
static void dq_escape(struct prenv_buf *b, const char *s, size_t n, int edges)
{
	size_t i = 0, l, lead = 0, trail = n;
	unsigned long c;

	if (edges) {
		while (lead < n && (s[lead] == ' ' || s[lead] == '\t'))
			lead++;
		while (trail > lead && (s[trail - 1] == ' ' || s[trail - 1] == '\t'))
			trail--;
	}
	while (i < n) {
		l = utf8_dec((const unsigned char *)s + i, n - i, &c);
		if (!l) {
			prenv_buf_addc(b, s[i++]);
			continue;
		}
		if ((i < lead || i >= trail) && c == ' ')
			prenv_buf_adds(b, "\\x20");
		else if (c == '"')
			prenv_buf_adds(b, "\\\"");
		else if (c == '\\')
			prenv_buf_adds(b, "\\\\");
		else if (c == '\n')
			prenv_buf_adds(b, "\\n");
		else if (c == '\t')
			prenv_buf_adds(b, "\\t");
		else if (c == '\r')
			prenv_buf_adds(b, "\\r");
		else if (c == 0x2028)
			prenv_buf_adds(b, "\\L");
		else if (c == 0x2029)
			prenv_buf_adds(b, "\\P");
		else if (c < 0x100 && !yaml_printable(c))
			prenv_buf_printf(b, "\\x%02X", (unsigned)c);
		else if (!yaml_printable(c))
			prenv_buf_printf(b, "\\u%04X", (unsigned)c);
		else
			prenv_buf_add(b, s + i, l);
		i += l;
	}
}

/* Appends s as a whole double-quoted scalar, quotes included. */
static void dq_quote(struct prenv_buf *b, const char *s, size_t n)
{
	prenv_buf_addc(b, '"');
	dq_escape(b, s, n, 0);
	prenv_buf_addc(b, '"');
}

/* Nothing in s would make a plain scalar ambiguous, and it resolves to a
 * string under both YAML 1.1 and 1.2. Deliberately narrow. */
static int plain_safe(const char *s, size_t n)
{
	static const char *const kw[] = { "true", "false", "yes", "no", "on",
		"off", "y", "n", "null", NULL };
	size_t i;

	if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') ||
			s[0] == '_'))
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '/' ||
		      c == '-'))
			return 0;
	}
	for (i = 0; kw[i]; i++)
		if (strlen(kw[i]) == n && strncasecmp(kw[i], s, n) == 0)
			return 0;
	return 1;
}

/* ---------------------------------------------------------- lexer state */

enum ymode { Y_NORMAL, Y_PLAIN, Y_DQ, Y_SQ, Y_COMMENT, Y_DIRECTIVE,
	     Y_TAGTOK, Y_HEADER, Y_BLOCK };

struct yrange {                 /* a value inside the current scalar */
	size_t off, len;
	int is_str;             /* a JSON string (not a number/bool/null) */
	int safe;               /* can stay as it is in this scalar style */
	struct tmpl_tag tag;
};

struct tmpl_yaml {
	struct prenv_buf *out;  /* borrowed: the output being lexed */
	struct prenv_err *err;  /* borrowed */
	struct prenv_buf tmp;   /* scratch: the rewritten scalar */
	enum ymode mode;
	int flow;               /* depth of [ { */
	size_t line_off;        /* offset of the current line in out */
	int line_indent;        /* leading spaces of the current line */
	int at_indent;          /* only spaces so far on this line */
	int prev_blank;
	int docline;            /* this line began with --- */
	int pend;               /* '-', '?', ':' or '\'' awaiting the next char */
	size_t pend_off;
	int dq_esc, sq_skip, sq_multi;
	size_t reg_start, reg_end;
	int blk_lit, blk_parent, blk_indent, blk_explicit, hdr_comment;
	struct yrange *rv;
	size_t rn, rcap;
};

struct tmpl_yaml *tmpl_yaml_new(struct prenv_buf *out, struct prenv_err *err)
{
	struct tmpl_yaml *y = calloc(1, sizeof(*y));

	if (!y)
		return NULL;
	y->out = out;
	y->err = err;
	prenv_buf_init(&y->tmp, 0);
	y->mode = Y_NORMAL;
	y->line_off = out->len;
	y->at_indent = 1;
	y->prev_blank = 1;
	return y;
}

void tmpl_yaml_free(struct tmpl_yaml *y)
{
	if (!y)
		return;
	free(y->rv);
	prenv_buf_free(&y->tmp);
	free(y);
}

static int oom(struct tmpl_yaml *y)
{
	return prenv_err_set(y->err, PRENV_ENOMEM, "out of memory");
}

/* An error at the tag; fmt has one %.*s, for the tag's name. */
static int tag_err(struct tmpl_yaml *y, const struct tmpl_tag *tag,
		   const char *fmt)
{
	return prenv_err_set_at(y->err, PRENV_ECONFIG, tag->file, tag->line,
				tag->col, fmt, (int)tag->namen, tag->name);
}

static int is_space(int c)      /* white space to YAML (and the lexer) */
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_flow_ind(int c)
{
	return c == ',' || c == '[' || c == ']' || c == '{' || c == '}';
}

static int range_at(const struct tmpl_yaml *y, size_t ri, size_t p)
{
	return ri < y->rn && y->rv[ri].off == p;
}

/* ------------------------------------------------------------ rewriting */

/* Replaces out[a, b) with rep; *pos (>= b) is moved along. */
static int splice(struct tmpl_yaml *y, size_t a, size_t b,
		  const struct prenv_buf *rep, size_t *pos)
{
	struct prenv_buf tail = PRENV_BUF_INIT;
	size_t delta_add = rep->len, delta_sub = b - a;

	if (prenv_buf_add(&tail, y->out->ptr + b, y->out->len - b) < 0)
		return oom(y);
	prenv_buf_truncate(y->out, a);
	prenv_buf_add(y->out, rep->ptr, rep->len);
	prenv_buf_add(y->out, tail.ptr, tail.len);
	prenv_buf_free(&tail);
	if (y->out->failed)
		return oom(y);
	if (pos && *pos >= b)
		*pos = *pos + delta_add - delta_sub;
	if (y->line_off >= b)
		y->line_off = y->line_off + delta_add - delta_sub;
	if (y->pend && y->pend_off >= b)
		y->pend_off = y->pend_off + delta_add - delta_sub;
	return 0;
}

/* The plain scalar out[reg_start, reg_end) ended; is_key: before ": ". */
static int plain_finish(struct tmpl_yaml *y, int is_key, size_t *pos)
{
	const char *s = y->out->ptr + y->reg_start;
	size_t n = y->reg_end - y->reg_start, i;
	int any_str = 0, rc;
	const struct yrange *first = NULL;

	if (y->rn == 0)
		return 0;
	for (i = 0; i < y->rn; i++)
		if (y->rv[i].is_str) {
			any_str = 1;
			if (!first)
				first = &y->rv[i];
		}
	y->rn = 0;
	if (!any_str || plain_safe(s, n))
		return 0;
	prenv_buf_reset(&y->tmp);
	dq_quote(&y->tmp, s, n);
	if (y->tmp.failed)
		return oom(y);
	if (is_key && y->tmp.len > YAML_MAX_KEY)
		return tag_err(y, &first->tag,
			"the value of {{%.*s}} is too long for a YAML mapping key "
			"(over 1000 bytes once quoted): use it as a value instead");
	rc = splice(y, y->reg_start, y->reg_end, &y->tmp, pos);
	return rc;
}

/* Copies the single-quoted scalar out[reg_start, end) to tmp, quoting the
 * quotes inside its values. */
static void sq_keep(struct tmpl_yaml *y, size_t end)
{
	const char *s = y->out->ptr;
	size_t i, ri = 0, p;

	for (p = y->reg_start; p < end;) {
		if (range_at(y, ri, p)) {
			for (i = 0; i < y->rv[ri].len; i++) {
				if (s[p + i] == '\'')
					prenv_buf_addc(&y->tmp, '\'');
				prenv_buf_addc(&y->tmp, s[p + i]);
			}
			p += y->rv[ri++].len;
			continue;
		}
		prenv_buf_addc(&y->tmp, s[p++]);
	}
}

/* Writes the single-quoted scalar out[reg_start, end) to tmp as the
 * double-quoted scalar with the same content. */
static void sq_to_dq(struct tmpl_yaml *y, size_t end)
{
	const char *s = y->out->ptr;
	struct prenv_buf c = PRENV_BUF_INIT;
	size_t ri = 0, p;

	for (p = y->reg_start + 1; p + 1 < end;) {
		if (range_at(y, ri, p)) {
			prenv_buf_add(&c, s + p, y->rv[ri].len);
			p += y->rv[ri++].len;
			continue;
		}
		if (s[p] == '\'' && s[p + 1] == '\'')
			p++;
		prenv_buf_addc(&c, s[p++]);
	}
	dq_quote(&y->tmp, c.ptr, c.len);
	if (c.failed)
		y->tmp.failed = 1;
	prenv_buf_free(&c);
}

/* The single-quoted scalar out[reg_start, end) (quotes included) ended. */
static int sq_finish(struct tmpl_yaml *y, size_t end, size_t *pos)
{
	size_t i;
	int all_safe = !y->sq_multi;

	if (y->rn == 0)
		return 0;
	for (i = 0; i < y->rn; i++)
		all_safe &= y->rv[i].safe;
	prenv_buf_reset(&y->tmp);
	if (all_safe) {
		sq_keep(y, end);
	} else {
		if (y->sq_multi) {
			const struct yrange *f = &y->rv[0];
			y->rn = 0;
			return tag_err(y, &f->tag, "{{%.*s}} is inside a "
				"multi-line single-quoted YAML scalar and its value "
				"needs escaping: put the scalar on one line or use "
				"double quotes");
		}
		sq_to_dq(y, end);
	}
	y->rn = 0;
	if (y->tmp.failed)
		return oom(y);
	return splice(y, y->reg_start, end, &y->tmp, pos);
}

/* Content of the block scalar body [b, e) as libyaml would read it, with the
 * value ranges opaque (they are content, never indentation or breaks). */
static void blk_content(struct tmpl_yaml *y, size_t b, size_t e, int chomp,
			struct prenv_buf *c)
{
	const char *s = y->out->ptr;
	size_t p = b, ri = 0, trail = 0, i;
	int lead = 0, leading_blank = 0, literal = y->blk_lit == '|';
	int indent = y->blk_indent;

	while (ri < y->rn && y->rv[ri].off < b)
		ri++;
#define SCAN_BREAKS() \
	for (;;) { \
		size_t q = p; int k = 0; \
		while (q < e && k < indent && s[q] == ' ' && !range_at(y, ri, q)) { q++; k++; } \
		if (q < e && s[q] == '\n' && !range_at(y, ri, q)) { trail++; p = q + 1; continue; } \
		p = q; break; \
	}
	SCAN_BREAKS();
	while (p < e) {
		int tb = !range_at(y, ri, p) && (s[p] == ' ' || s[p] == '\t');
		if (!literal && lead && !leading_blank && !tb) {
			if (trail == 0)
				prenv_buf_addc(c, ' ');
			lead = 0;
		} else if (lead) {
			prenv_buf_addc(c, '\n');
			lead = 0;
		}
		for (i = 0; i < trail; i++)
			prenv_buf_addc(c, '\n');
		trail = 0;
		leading_blank = tb;
		while (p < e) {
			if (range_at(y, ri, p)) {
				prenv_buf_add(c, s + p, y->rv[ri].len);
				p += y->rv[ri++].len;
				continue;
			}
			if (s[p] == '\n')
				break;
			prenv_buf_addc(c, s[p++]);
		}
		if (p < e) {
			lead = 1;
			p++;
		}
		SCAN_BREAKS();
	}
#undef SCAN_BREAKS
	if (chomp != -1 && lead)
		prenv_buf_addc(c, '\n');
	if (chomp == 1)
		for (i = 0; i < trail; i++)
			prenv_buf_addc(c, '\n');
}

/* Copies the block scalar out[h, end) (header line to nl) to tmp,
 * indenting the lines that its values break. */
static void blk_keep(struct tmpl_yaml *y, size_t h, size_t nl, size_t end)
{
	const char *s = y->out->ptr;
	size_t p, ri = 0, i;

	prenv_buf_add(&y->tmp, s + h, nl + 1 - h);
	for (p = nl + 1; p < end;) {
		if (range_at(y, ri, p)) {
			for (i = 0; i < y->rv[ri].len; i++) {
				prenv_buf_addc(&y->tmp, s[p + i]);
				if (s[p + i] == '\n')
					prenv_buf_printf(&y->tmp, "%*s",
							 y->blk_indent, "");
			}
			p += y->rv[ri++].len;
			continue;
		}
		prenv_buf_addc(&y->tmp, s[p++]);
	}
}

/* Writes the block scalar out[h, end) to tmp as the double-quoted scalar with
 * the same content; hi: the end of the header's indicators, nl: its end. */
static void blk_to_dq(struct tmpl_yaml *y, size_t hi, size_t nl, size_t end,
		      int chomp)
{
	struct prenv_buf c = PRENV_BUF_INIT;

	blk_content(y, nl + 1, end, chomp, &c);
	dq_quote(&y->tmp, c.ptr, c.len);
	/* keep a comment on the header line */
	prenv_buf_add(&y->tmp, y->out->ptr + hi, nl - hi);
	prenv_buf_addc(&y->tmp, '\n');
	if (c.failed)
		y->tmp.failed = 1;
	prenv_buf_free(&c);
}

/* The block scalar from its indicator (reg_start) to end ended. */
static int blk_finish(struct tmpl_yaml *y, size_t end, size_t *pos)
{
	const char *s = y->out->ptr, *nlp;
	size_t h = y->reg_start, hi, nl, i;
	int chomp = 0, all_safe = y->blk_indent > 0, rc;

	if (y->rn == 0)
		return 0;
	for (hi = h + 1; hi < end && strchr("+-0123456789", s[hi]) && s[hi]; hi++) {
		if (s[hi] == '+')
			chomp = 1;
		else if (s[hi] == '-')
			chomp = -1;
	}
	nlp = h < end ? memchr(s + h, '\n', end - h) : NULL;
	if (!nlp) {
		y->rn = 0;
		return 0;
	}
	nl = (size_t)(nlp - s);
	for (i = 0; i < y->rn; i++)
		all_safe &= y->rv[i].safe;
	prenv_buf_reset(&y->tmp);
	if (all_safe)
		blk_keep(y, h, nl, end);
	else
		blk_to_dq(y, hi, nl, end, chomp);
	y->rn = 0;
	if (y->tmp.failed)
		return oom(y);
	rc = splice(y, h, end, &y->tmp, pos);
	return rc;
}

/* At the first non-space of a line inside a block scalar: does it end? */
static int blk_line(struct tmpl_yaml *y, size_t *pos, int *ended)
{
	int indent = y->line_indent;

	*ended = 0;
	if (y->blk_indent == 0) {
		if (indent > y->blk_parent) {
			y->blk_indent = indent;
			return 0;
		}
	} else if (indent >= y->blk_indent) {
		return 0;
	}
	*ended = 1;
	y->mode = Y_NORMAL;
	return blk_finish(y, y->line_off, pos);
}

/* ---------------------------------------------------------------- lexer */

#define YL_EOF (-1)             /* "next characters" for yl_resolve() */
#define YL_VALUE (-2)

#define YL_NEXT 0               /* what a mode's step asks of yl_char(): done */
#define YL_AGAIN 1              /* the mode changed: lex the byte again */
#define YL_SKIP 2               /* a document marker: *ip is past it */

/* Resolves the pending indicator with its next character c. */
static int yl_resolve(struct tmpl_yaml *y, int c, size_t *pos)
{
	int p = y->pend;
	int blankish = c == YL_EOF || is_space(c);
	int flowind = y->flow && c >= 0 && is_flow_ind(c);

	y->pend = 0;
	switch (y->mode) {
	case Y_NORMAL:
		if (blankish || (p == ':' && flowind))
			return 0;
		y->mode = Y_PLAIN;
		y->reg_start = y->pend_off;
		y->reg_end = y->pend_off + 1;
		y->rn = 0;
		return 0;
	case Y_PLAIN:
		if (blankish || flowind) {
			y->mode = Y_NORMAL;
			return plain_finish(y, 1, pos);
		}
		y->reg_end = y->pend_off + 1;
		return 0;
	case Y_SQ:
		if (c == '\'') {
			y->sq_skip = 1;
			return 0;
		}
		y->mode = Y_NORMAL;
		return sq_finish(y, y->pend_off + 1, pos);
	default:
		return 0;
	}
}

static void yl_plain_start(struct tmpl_yaml *y, size_t off)
{
	y->mode = Y_PLAIN;
	y->reg_start = off;
	y->reg_end = off;
	y->rn = 0;
}

static void yl_sq_start(struct tmpl_yaml *y, size_t off)
{
	y->mode = Y_SQ;
	y->reg_start = off;
	y->rn = 0;
	y->sq_skip = y->sq_multi = 0;
}

/* c ('|' or '>') at off starts a block scalar's header. */
static void yl_header_start(struct tmpl_yaml *y, int c, size_t off)
{
	y->mode = Y_HEADER;
	y->reg_start = off;
	y->blk_lit = c;
	y->blk_parent = y->docline ? -1 : y->line_indent;
	y->blk_indent = 0;
	y->blk_explicit = 0;
	y->hdr_comment = 0;
	y->rn = 0;
}

/* "---" or "..." followed by white space or the end, at the line start i. */
static int yl_doc_marker(const struct tmpl_yaml *y, int c, size_t i)
{
	const char *s = y->out->ptr;
	size_t n = y->out->len;

	return (c == '-' || c == '.') && i + 3 <= n && s[i + 1] == c &&
	       s[i + 2] == c && (i + 3 == n || is_space(s[i + 3]));
}

/* Y_NORMAL, outside any token: c at i starts one. */
static int yl_normal(struct tmpl_yaml *y, int c, size_t *ip)
{
	size_t i = *ip;

	if (is_space(c))
		return YL_NEXT;
	if (i == y->line_off && yl_doc_marker(y, c, i)) {
		y->flow = 0;
		y->docline = 1;
		y->at_indent = 0;
		y->prev_blank = 0;
		*ip = i + 3;
		return YL_SKIP;
	}
	if (c == '%' && i == y->line_off) {
		y->mode = Y_DIRECTIVE;
	} else if (c == '#' && y->prev_blank) {
		y->mode = Y_COMMENT;
	} else if (c == '"') {
		y->mode = Y_DQ;
		y->dq_esc = 0;
	} else if (c == '\'') {
		yl_sq_start(y, i);
	} else if ((c == '|' || c == '>') && !y->flow) {
		yl_header_start(y, c, i);
	} else if (c == '[' || c == '{') {
		y->flow++;
	} else if (c == ']' || c == '}') {
		if (y->flow)
			y->flow--;
	} else if (c == ',' && y->flow) {
		;
	} else if (c == '-' || c == '?' || c == ':') {
		y->pend = c;
		y->pend_off = i;
	} else if (c == '!' || c == '&' || c == '*') {
		y->mode = Y_TAGTOK;
	} else {
		yl_plain_start(y, i);
		y->reg_end = i + 1;
	}
	return YL_NEXT;
}

/* Y_PLAIN: c at *ip continues the plain scalar, or ends it. */
static int yl_plain(struct tmpl_yaml *y, int c, size_t *ip)
{
	int rc;

	if (c == '\n' || c == '\r' || (y->flow && is_flow_ind(c))) {
		y->mode = Y_NORMAL;
		rc = plain_finish(y, 0, ip);
		return rc < 0 ? rc : YL_AGAIN;
	}
	if (c == '#' && y->prev_blank) {
		y->mode = Y_COMMENT;
		return plain_finish(y, 0, ip);
	}
	if (c == ':') {
		y->pend = c;
		y->pend_off = *ip;
	} else if (c != ' ' && c != '\t') {
		y->reg_end = *ip + 1;
	}
	return YL_NEXT;
}

static void yl_sq(struct tmpl_yaml *y, int c, size_t i)
{
	if (y->sq_skip) {
		y->sq_skip = 0;
	} else if (c == '\'') {
		y->pend = c;
		y->pend_off = i;
	} else if (c == '\n' || c == '\r') {
		y->sq_multi = 1;
	}
}

/* Y_HEADER: the rest of a block scalar's header line. */
static void yl_header(struct tmpl_yaml *y, int c)
{
	if (c == '\n') {
		y->mode = Y_BLOCK;
		if (y->blk_explicit)
			y->blk_indent = (y->blk_parent < 0 ? 0 : y->blk_parent) +
					y->blk_explicit;
	} else if (c == '#') {
		y->hdr_comment = 1;
	} else if (c >= '1' && c <= '9' && !y->hdr_comment) {
		y->blk_explicit = c - '0';
	}
}

/* Y_BLOCK: a line's first non-space may end the block scalar. */
static int yl_block(struct tmpl_yaml *y, int c, size_t *ip)
{
	int rc, ended;

	if (y->at_indent && c != ' ' && c != '\n' && c != '\r') {
		rc = blk_line(y, ip, &ended);
		if (rc < 0)
			return rc;
		if (ended)
			return YL_AGAIN;
	}
	return YL_NEXT;
}

/* Lexes c at *ip in the current mode: YL_NEXT, YL_AGAIN, YL_SKIP or < 0. */
static int yl_step(struct tmpl_yaml *y, int c, size_t *ip)
{
	switch (y->mode) {
	case Y_NORMAL:
		return yl_normal(y, c, ip);
	case Y_PLAIN:
		return yl_plain(y, c, ip);
	case Y_DQ:
		if (y->dq_esc)
			y->dq_esc = 0;
		else if (c == '\\')
			y->dq_esc = 1;
		else if (c == '"')
			y->mode = Y_NORMAL;
		return YL_NEXT;
	case Y_SQ:
		yl_sq(y, c, *ip);
		return YL_NEXT;
	case Y_COMMENT:
	case Y_DIRECTIVE:
		if (c == '\n' || c == '\r')
			y->mode = Y_NORMAL;
		return YL_NEXT;
	case Y_TAGTOK:
		if (is_space(c)) {
			y->mode = Y_NORMAL;
		} else if (y->flow && is_flow_ind(c)) {
			y->mode = Y_NORMAL;
			return YL_AGAIN;
		}
		return YL_NEXT;
	case Y_HEADER:
		yl_header(y, c);
		return YL_NEXT;
	case Y_BLOCK:
		return yl_block(y, c, ip);
	}
	return YL_NEXT;
}

/* Lexes the literal output byte at *ip; moves *ip past it. */
static int yl_char(struct tmpl_yaml *y, size_t *ip)
{
	size_t i = *ip;
	int c = (unsigned char)y->out->ptr[i], rc;

	if (y->pend) {
		rc = yl_resolve(y, c, &i);
		if (rc < 0)
			return rc;
	}
	do
		rc = yl_step(y, c, &i);
	while (rc == YL_AGAIN);
	if (rc < 0)
		return rc;
	if (rc == YL_SKIP) {
		*ip = i;
		return 0;
	}
	if (c == '\n') {
		y->line_off = i + 1;
		y->line_indent = 0;
		y->at_indent = 1;
		y->docline = 0;
	} else if (y->at_indent) {
		if (c == ' ')
			y->line_indent++;
		else
			y->at_indent = 0;
	}
	y->prev_blank = is_space(c);
	*ip = i + 1;
	return 0;
}

/* A byte of a plain scalar that yl_char() would only add to it. */
static int yl_plain_byte(int c, int flow)
{
	return c != '\n' && c != '\r' && c != '#' && c != ':' && c != ' ' && c != '\t' &&
	       !(flow && is_flow_ind(c));
}

/* Passes over the bytes from i on that yl_char() would lex with no effect
 * but these few: the middle of a plain scalar (it grows), of a
 * double-quoted scalar (no escape, quote, blank or line break), and the
 * spaces of an indentation. Returns where it stopped (i: nothing to pass);
 * everything else is lexed a byte at a time. */
static size_t yl_run(struct tmpl_yaml *y, size_t i)
{
	const char *s = y->out->ptr;
	size_t n = y->out->len, j = i;

	if (y->pend)
		return i;
	if (y->mode == Y_PLAIN) {
		while (j < n && yl_plain_byte((unsigned char)s[j], y->flow))
			j++;
		if (j > i)
			y->reg_end = j;
	} else if (y->mode == Y_DQ && !y->dq_esc) {
		while (j < n && s[j] != '\\' && s[j] != '"' && !is_space((unsigned char)s[j]))
			j++;
	} else if (y->mode == Y_NORMAL) {
		while (j < n && s[j] == ' ')
			j++;
		if (j > i && y->at_indent)
			y->line_indent += (int)(j - i);
		y->prev_blank = j > i ? 1 : y->prev_blank;
		return j;
	}
	if (j > i) {
		y->at_indent = 0;
		y->prev_blank = 0;
	}
	return j;
}

int tmpl_yaml_text(struct tmpl_yaml *y, const char *s, size_t n)
{
	size_t i = y->out->len, j;
	int rc;

	if (prenv_buf_add(y->out, s, n) < 0)
		return oom(y);
	while (i < y->out->len) {
		if ((j = yl_run(y, i)) > i) {
			i = j;
			continue;
		}
		rc = yl_char(y, &i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int tmpl_yaml_finish(struct tmpl_yaml *y)
{
	size_t pos = y->out->len;
	int rc = 0;

	if (y->pend) {
		rc = yl_resolve(y, YL_EOF, &pos);
		if (rc < 0)
			return rc;
	}
	switch (y->mode) {
	case Y_PLAIN:
		rc = plain_finish(y, 0, &pos);
		break;
	case Y_BLOCK:
		rc = blk_finish(y, y->out->len, &pos);
		break;
	case Y_SQ:
		if (y->rn)
			rc = tag_err(y, &y->rv[0].tag, "{{%.*s}} is inside a "
				"single-quoted YAML scalar that is never closed: "
				"add the closing quote");
		break;
	default:
		break;
	}
	y->mode = Y_NORMAL;
	return rc;
}

/* ---------------------------------------------------------------- values */

static int first_is_blank(const char *s, size_t n)
{
	return n > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n');
}

/* A value in a block scalar can stay as it is: it breaks no line of a folded
 * scalar, ends in no line break, starts no line with a blank. */
static int blk_value_safe(const struct tmpl_yaml *y, const char *s, size_t n,
			  int at_line_start)
{
	if (n == 0 || (at_line_start && first_is_blank(s, n)))
		return 0;
	if (y->blk_lit == '|')
		return utf8_within(s, n, CP_LINES) && s[n - 1] != '\n';
	return utf8_within(s, n, CP_LINE);
}

static int push_range(struct tmpl_yaml *y, const struct yrange *rg)
{
	if (y->rn == y->rcap) {
		size_t nc = y->rcap ? y->rcap * 2 : 8;
		struct yrange *nv = realloc(y->rv, nc * sizeof(*nv));
		if (!nv)
			return oom(y);
		y->rv = nv;
		y->rcap = nc;
	}
	y->rv[y->rn++] = *rg;
	return 0;
}

/* Escapes the value in place (double-quoted scalar, comment) or records it as
 * a range of the scalar it stands in; *recorded says which. */
static int yl_place(struct tmpl_yaml *y, struct yrange *rg, const char *s,
		    size_t n, int at_line_start, int *recorded)
{
	*recorded = 0;
	switch (y->mode) {
	case Y_NORMAL:
		yl_plain_start(y, y->out->len);
		/* fall through */
	case Y_PLAIN:
		rg->safe = 1;
		break;
	case Y_DQ:
		dq_escape(y->out, s, n, 1);
		return 0;
	case Y_SQ:
		rg->safe = utf8_within(s, n, CP_LINE);
		break;
	case Y_BLOCK:
		rg->safe = blk_value_safe(y, s, n, at_line_start);
		break;
	case Y_COMMENT:
		if (!utf8_within(s, n, CP_LINE))
			return tag_err(y, &rg->tag, "{{%.*s}} is inside a YAML "
				"comment and its value contains a line break or "
				"control character that would end the comment: move "
				"the variable out of the comment");
		prenv_buf_add(y->out, s, n);
		return 0;
	default:
		return tag_err(y, &rg->tag, "{{%.*s}} stands inside a YAML tag, "
			"anchor, alias, directive or block scalar header, where no "
			"value can be made safe: move it into a scalar");
	}
	*recorded = 1;
	return push_range(y, rg);
}

int tmpl_yaml_value(struct tmpl_yaml *y, const struct tmpl_tag *tag,
		    const char *s, size_t n, int is_str)
{
	struct yrange rg;
	size_t pos = y->out->len;
	int rc, at_line_start, ended, recorded;

	if (memchr(s, '\0', n))
		return tag_err(y, tag, "the value of {{%.*s}} contains a NUL "
			"byte, which YAML cannot hold");
	if (!utf8_within(s, n, CP_ANY))
		return tag_err(y, tag, "the value of {{%.*s}} is not valid UTF-8, "
			"which YAML cannot hold: fix the data");
	if (y->pend) {
		rc = yl_resolve(y, YL_VALUE, &pos);
		if (rc < 0)
			return rc;
	}
	at_line_start = y->at_indent;
	if (y->mode == Y_BLOCK && y->at_indent) {
		rc = blk_line(y, &pos, &ended);
		if (rc < 0)
			return rc;
	}
	memset(&rg, 0, sizeof(rg));
	rg.off = y->out->len;
	rg.len = n;
	rg.is_str = is_str;
	rg.tag = *tag;
	rc = yl_place(y, &rg, s, n, at_line_start, &recorded);
	if (rc < 0)
		return rc;
	if (recorded) {
		prenv_buf_add(y->out, s, n);
		if (y->mode == Y_PLAIN)
			y->reg_end = y->out->len;
	}
	y->at_indent = 0;
	y->prev_blank = 0;
	if (y->out->failed)
		return oom(y);
	return 0;
}
