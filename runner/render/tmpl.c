/* tmpl.c - Mustache templates with context-aware escaping. See tmpl.h.
 *
 * Two phases. The template is parsed into a tree (text, variables, sections,
 * partials, inheritance blocks) with the spec's standalone-line rules applied
 * while parsing; then the tree is rendered against a cJSON context stack.
 *
 * YAML mode runs a small incremental YAML lexer over the output as it is
 * produced (literal template text only; values are opaque to it). At each
 * {{name}} the lexer knows the lexical context: plain scalar, double- or
 * single-quoted scalar, block scalar, comment, tag/anchor. Values that land
 * in a plain, single-quoted or block scalar are recorded as ranges of the
 * output; when the lexer sees that scalar end, the whole scalar is rewritten
 * once: kept, re-indented, or turned into an equivalent double-quoted scalar
 * whose content is byte for byte what the template meant. Nothing is ever
 * rescanned, so the cost is linear in the output.
 */
#include "render/tmpl.h"
#include "util/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPOS ((size_t)-1)
#define TMPL_MAX_DEPTH 100      /* nesting of sections / partials */
#define YAML_MAX_KEY 1000       /* libyaml's simple keys are limited to 1024 */

/* ---------------------------------------------------------------- tree */

enum nkind { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL,
	     N_PARENT, N_BLOCK };

struct node;
struct nlist {
	struct node *v;
	size_t n, cap;
};

struct node {
	enum nkind kind;
	const char *s;          /* text, or the tag name (points into the source) */
	size_t n;
	int line, col;          /* tag position, 1-based */
	int dynamic;            /* {{>*name}}: the partial's name is a variable */
	const char *ind;        /* standalone partial/parent: its indentation */
	size_t indn;
	struct nlist kids;
};

struct tpl {                    /* a parsed template: the main one or a partial */
	struct tpl *next;
	char *key;              /* partial cache key: name '\n' indentation */
	char *file;             /* name used in messages */
	char *own;              /* owned source (partials) */
	struct nlist root;
};

static void nlist_free(struct nlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		nlist_free(&l->v[i].kids);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int nlist_push(struct nlist *l, const struct node *nd)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 8;
		struct node *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = *nd;
	return 0;
}

static void tpl_free(struct tpl *t)
{
	while (t) {
		struct tpl *next = t->next;
		nlist_free(&t->root);
		free(t->key);
		free(t->file);
		free(t->own);
		free(t);
		t = next;
	}
}

/* -------------------------------------------------------------- parser */

struct parser {
	const char *src;
	size_t len, pos;
	const char *file;
	const char *ot, *ct;    /* current delimiters (point into src or static) */
	size_t otn, ctn;
	size_t lc_off;          /* incremental line/col tracking */
	int line, col;
	struct prenv_err *err;
};

static void lc_at(struct parser *p, size_t off, int *line, int *col)
{
	if (off < p->lc_off) {
		p->lc_off = 0;
		p->line = 1;
		p->col = 1;
	}
	for (; p->lc_off < off; p->lc_off++) {
		if (p->src[p->lc_off] == '\n') {
			p->line++;
			p->col = 1;
		} else {
			p->col++;
		}
	}
	*line = p->line;
	*col = p->col;
}

static size_t find(const char *s, size_t len, size_t from, const char *nd,
		   size_t nn)
{
	const char *f;

	if (from > len || nn == 0)
		return NPOS;
	f = memmem(s + from, len - from, nd, nn);
	return f ? (size_t)(f - s) : NPOS;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int perr(struct parser *p, size_t off, const char *fmt, const char *a,
		size_t an)
{
	int line, col;

	lc_at(p, off, &line, &col);
	return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file, line, col, fmt,
				(int)an, a);
}

static int parse_delims(struct parser *p, size_t t, size_t b, size_t e)
{
	size_t a0, a1, b0, b1, i;

	while (b < e && is_ws(p->src[b]))
		b++;
	while (e > b && is_ws(p->src[e - 1]))
		e--;
	a0 = b;
	for (a1 = a0; a1 < e && !is_ws(p->src[a1]); a1++)
		;
	for (b0 = a1; b0 < e && is_ws(p->src[b0]); b0++)
		;
	for (b1 = b0; b1 < e && !is_ws(p->src[b1]); b1++)
		;
	if (a1 == a0 || b1 == b0 || b1 != e)
		goto bad;
	for (i = a0; i < e; i++)
		if (p->src[i] == '=' && (i < a1 || i >= b0))
			goto bad;
	p->ot = p->src + a0;
	p->otn = a1 - a0;
	p->ct = p->src + b0;
	p->ctn = b1 - b0;
	return 0;
bad:
	return perr(p, t, "bad set-delimiter tag '%.*s': write two delimiters "
		    "without '=' separated by a space, e.g. {{=<%% %%>=}}",
		    p->src + b, e - b > 100 ? 100 : e - b);
}

static int parse_list(struct parser *p, struct nlist *list,
		      const struct node *open, int depth)
{
	struct node nd;

	if (depth > TMPL_MAX_DEPTH)
		return perr(p, p->pos, "sections nested more than 100 levels deep%.*s",
			    "", 0);
	for (;;) {
		size_t t = find(p->src, p->len, p->pos, p->ot, p->otn);
		size_t c0, cb, ce, tend, q, ls = 0, sa_end = 0;
		int sig, standalone = 0;
		enum nkind kind;

		memset(&nd, 0, sizeof(nd));
		if (t == NPOS) {
			if (p->pos < p->len) {
				nd.kind = N_TEXT;
				nd.s = p->src + p->pos;
				nd.n = p->len - p->pos;
				if (nlist_push(list, &nd) < 0)
					goto oom;
			}
			p->pos = p->len;
			if (open) {
				return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file,
					open->line, open->col,
					"section {{#%.*s}} is never closed: add {{/%.*s}} "
					"where it should end", (int)open->n, open->s,
					(int)open->n, open->s);
			}
			return 0;
		}
		c0 = t + p->otn;
		sig = c0 < p->len ? (unsigned char)p->src[c0] : 0;
		if (sig == '{' || sig == '=') {
			q = c0 + 1;
			for (;;) {
				q = find(p->src, p->len, q, p->ct, p->ctn);
				if (q == NPOS || (q > c0 + 1 &&
				    p->src[q - 1] == (sig == '{' ? '}' : '=')))
					break;
				q++;
			}
			if (q == NPOS)
				goto unclosed;
			cb = c0 + 1;
			ce = q - 1;
			tend = q + p->ctn;
		} else {
			q = find(p->src, p->len, c0, p->ct, p->ctn);
			if (q == NPOS)
				goto unclosed;
			cb = strchr("#^/!>&<$", sig) && sig ? c0 + 1 : c0;
			ce = q;
			tend = q + p->ctn;
		}
		switch (sig) {
		case '#': kind = N_SECTION; break;
		case '^': kind = N_INVERTED; break;
		case '>': kind = N_PARTIAL; break;
		case '<': kind = N_PARENT; break;
		case '$': kind = N_BLOCK; break;
		case '&': case '{': kind = N_RAW; break;
		case '/': case '!': case '=': kind = N_TEXT; break; /* handled below */
		default: kind = N_VAR; break;
		}
		if (sig && strchr("#^/!>=<$", sig)) {
			size_t e = tend;
			ls = t;
			while (ls > p->pos && (p->src[ls - 1] == ' ' || p->src[ls - 1] == '\t'))
				ls--;
			if (ls == 0 || p->src[ls - 1] == '\n') {
				while (e < p->len && (p->src[e] == ' ' || p->src[e] == '\t'))
					e++;
				if (e == p->len) {
					standalone = 1;
					sa_end = e;
				} else if (p->src[e] == '\n') {
					standalone = 1;
					sa_end = e + 1;
				} else if (p->src[e] == '\r' && e + 1 < p->len &&
					   p->src[e + 1] == '\n') {
					standalone = 1;
					sa_end = e + 2;
				}
			}
		}
		/* text before the tag */
		{
			size_t te = standalone ? ls : t;
			if (te > p->pos) {
				nd.kind = N_TEXT;
				nd.s = p->src + p->pos;
				nd.n = te - p->pos;
				if (nlist_push(list, &nd) < 0)
					goto oom;
				memset(&nd, 0, sizeof(nd));
			}
		}
		lc_at(p, t, &nd.line, &nd.col);
		p->pos = standalone ? sa_end : tend;
		if (sig == '!')
			continue;
		if (sig == '=') {
			int rc = parse_delims(p, t, cb, ce);
			if (rc < 0)
				return rc;
			continue;
		}
		while (cb < ce && is_ws(p->src[cb]))
			cb++;
		while (ce > cb && is_ws(p->src[ce - 1]))
			ce--;
		if ((kind == N_PARTIAL || kind == N_PARENT) && cb < ce &&
		    p->src[cb] == '*') {
			nd.dynamic = 1;
			cb++;
			while (cb < ce && is_ws(p->src[cb]))
				cb++;
		}
		nd.s = p->src + cb;
		nd.n = ce - cb;
		if (nd.n == 0)
			return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file, nd.line,
				nd.col, "empty tag name: write a variable name between "
				"the delimiters, e.g. {{name}}");
		for (q = cb; q < ce; q++)
			if (is_ws(p->src[q]))
				return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file,
					nd.line, nd.col, "bad tag name '%.*s': names "
					"cannot contain spaces (use dots: a.b)",
					(int)(nd.n > 200 ? 200 : nd.n), nd.s);
		if (sig == '/') {
			if (!open)
				return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file,
					nd.line, nd.col, "closing tag {{/%.*s}} has no "
					"opening {{#%.*s}}: remove it or add the opening tag",
					(int)nd.n, nd.s, (int)nd.n, nd.s);
			if (open->n != nd.n || memcmp(open->s, nd.s, nd.n) != 0)
				return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file,
					nd.line, nd.col, "end tag {{/%.*s}} does not match "
					"{{#%.*s}} opened at line %d, column %d: close "
					"{{#%.*s}} first", (int)nd.n, nd.s, (int)open->n,
					open->s, open->line, open->col, (int)open->n, open->s);
			return 0;
		}
		nd.kind = kind;
		if (standalone && (kind == N_PARTIAL || kind == N_PARENT)) {
			nd.ind = p->src + ls;
			nd.indn = t - ls;
		}
		if (kind == N_SECTION || kind == N_INVERTED || kind == N_PARENT ||
		    kind == N_BLOCK) {
			int rc = parse_list(p, &nd.kids, &nd, depth + 1);
			if (rc < 0) {
				nlist_free(&nd.kids);
				return rc;
			}
		}
		if (nlist_push(list, &nd) < 0) {
			nlist_free(&nd.kids);
			goto oom;
		}
	}
unclosed:
	{
		int line, col;
		size_t t = find(p->src, p->len, p->pos, p->ot, p->otn);
		lc_at(p, t, &line, &col);
		return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file, line, col,
			"unclosed tag: '%.*s' has no closing '%.*s'",
			(int)p->otn, p->ot, (int)p->ctn, p->ct);
	}
oom:
	return prenv_err_set(p->err, PRENV_ENOMEM, "out of memory");
}

static int parse(struct tpl *t, const char *src, size_t len,
		 struct prenv_err *err)
{
	struct parser p;

	memset(&p, 0, sizeof(p));
	p.src = src;
	p.len = len;
	p.file = t->file;
	p.ot = "{{";
	p.otn = 2;
	p.ct = "}}";
	p.ctn = 2;
	p.line = 1;
	p.col = 1;
	p.err = err;
	return parse_list(&p, &t->root, NULL, 0);
}

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

static int utf8_valid(const char *s, size_t n)
{
	size_t i = 0, l;
	unsigned long cp;

	while (i < n) {
		l = utf8_dec((const unsigned char *)s + i, n - i, &cp);
		if (!l)
			return 0;
		i += l;
	}
	return 1;
}

/* Printable as libyaml's reader accepts it (tab and line feed not included). */
static int yaml_printable(unsigned long c)
{
	return (c >= 0x20 && c <= 0x7E) ||
	       (c >= 0xA0 && c <= 0xD7FF && c != 0x2028 && c != 0x2029) ||
	       (c >= 0xE000 && c <= 0xFFFD && c != 0xFEFF) ||
	       (c >= 0x10000 && c <= 0x10FFFF);
}

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

/* ---------------------------------------------------------- YAML lexer */

enum ymode { Y_NORMAL, Y_PLAIN, Y_DQ, Y_SQ, Y_COMMENT, Y_DIRECTIVE,
	     Y_TAGTOK, Y_HEADER, Y_BLOCK };

struct yrange {                 /* a value inside the current scalar */
	size_t off, len;
	int is_str;             /* a JSON string (not a number/bool/null) */
	int safe;               /* can stay as it is in this scalar style */
	const char *file;
	int line, col;
	const char *name;
	size_t namen;
};

struct ylex {
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

/* ------------------------------------------------------------ renderer */

struct override {               /* {{<parent}} ... {{$block}}: overrides */
	const struct override *outer;
	const struct nlist *blocks;
	const struct tpl *t;
};

struct render {
	struct prenv_buf *out;
	const struct tmpl_opts *o;
	struct prenv_err *err;
	const cJSON **st;
	size_t sn, scap;
	struct tpl *partials;
	int depth;
	int yaml;
	struct ylex y;
	struct prenv_buf tmp;   /* scratch */
	const struct override *ov;
};

static int oom(struct render *r)
{
	return prenv_err_set(r->err, PRENV_ENOMEM, "out of memory");
}

static int tag_err(struct render *r, const char *file, int line, int col,
		   const char *fmt, const char *name, size_t namen)
{
	return prenv_err_set_at(r->err, PRENV_ECONFIG, file, line, col, fmt,
				(int)namen, name);
}

/* Replaces out[a, b) with rep; *pos (>= b) is moved along. */
static int splice(struct render *r, size_t a, size_t b, const struct prenv_buf *rep,
		  size_t *pos)
{
	struct prenv_buf tail = PRENV_BUF_INIT;
	struct ylex *y = &r->y;
	size_t delta_add = rep->len, delta_sub = b - a;

	if (prenv_buf_add(&tail, r->out->ptr + b, r->out->len - b) < 0)
		return oom(r);
	prenv_buf_truncate(r->out, a);
	prenv_buf_add(r->out, rep->ptr, rep->len);
	prenv_buf_add(r->out, tail.ptr, tail.len);
	prenv_buf_free(&tail);
	if (r->out->failed)
		return oom(r);
	if (pos && *pos >= b)
		*pos = *pos + delta_add - delta_sub;
	if (y->line_off >= b)
		y->line_off = y->line_off + delta_add - delta_sub;
	if (y->pend && y->pend_off >= b)
		y->pend_off = y->pend_off + delta_add - delta_sub;
	return 0;
}

static int plain_finish(struct render *r, int is_key, size_t *pos)
{
	struct ylex *y = &r->y;
	const char *s = r->out->ptr + y->reg_start;
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
	prenv_buf_reset(&r->tmp);
	prenv_buf_addc(&r->tmp, '"');
	dq_escape(&r->tmp, s, n, 0);
	prenv_buf_addc(&r->tmp, '"');
	if (r->tmp.failed)
		return oom(r);
	if (is_key && r->tmp.len > YAML_MAX_KEY)
		return tag_err(r, first->file, first->line, first->col,
			"the value of {{%.*s}} is too long for a YAML mapping key "
			"(over 1000 bytes once quoted): use it as a value instead",
			first->name, first->namen);
	rc = splice(r, y->reg_start, y->reg_end, &r->tmp, pos);
	return rc;
}

static int range_at(const struct ylex *y, size_t ri, size_t p)
{
	return ri < y->rn && y->rv[ri].off == p;
}

/* The single-quoted scalar out[reg_start, end) (quotes included) ended. */
static int sq_finish(struct render *r, size_t end, size_t *pos)
{
	struct ylex *y = &r->y;
	const char *s = r->out->ptr;
	size_t i, ri = 0, p;
	int all_safe = !y->sq_multi;

	if (y->rn == 0)
		return 0;
	for (i = 0; i < y->rn; i++)
		all_safe &= y->rv[i].safe;
	prenv_buf_reset(&r->tmp);
	if (all_safe) {
		for (p = y->reg_start; p < end;) {
			if (range_at(y, ri, p)) {
				for (i = 0; i < y->rv[ri].len; i++) {
					if (s[p + i] == '\'')
						prenv_buf_addc(&r->tmp, '\'');
					prenv_buf_addc(&r->tmp, s[p + i]);
				}
				p += y->rv[ri++].len;
				continue;
			}
			prenv_buf_addc(&r->tmp, s[p++]);
		}
	} else {
		struct prenv_buf c = PRENV_BUF_INIT;
		if (y->sq_multi) {
			const struct yrange *f = &y->rv[0];
			y->rn = 0;
			return tag_err(r, f->file, f->line, f->col, "{{%.*s}} is "
				"inside a multi-line single-quoted YAML scalar and its "
				"value needs escaping: put the scalar on one line or use "
				"double quotes", f->name, f->namen);
		}
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
		prenv_buf_addc(&r->tmp, '"');
		dq_escape(&r->tmp, c.ptr, c.len, 0);
		prenv_buf_addc(&r->tmp, '"');
		if (c.failed)
			r->tmp.failed = 1;
		prenv_buf_free(&c);
	}
	y->rn = 0;
	if (r->tmp.failed)
		return oom(r);
	return splice(r, y->reg_start, end, &r->tmp, pos);
}

/* Content of the block scalar body [b, e) as libyaml would read it, with the
 * value ranges opaque (they are content, never indentation or breaks). */
static void blk_content(struct render *r, size_t b, size_t e, int chomp,
			struct prenv_buf *c)
{
	struct ylex *y = &r->y;
	const char *s = r->out->ptr;
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

/* The block scalar from its indicator (reg_start) to end ended. */
static int blk_finish(struct render *r, size_t end, size_t *pos)
{
	struct ylex *y = &r->y;
	const char *s = r->out->ptr;
	size_t h = y->reg_start, hi, nl, p, ri = 0, i;
	int chomp = 0, all_safe = y->blk_indent > 0, rc;

	if (y->rn == 0)
		return 0;
	for (hi = h + 1; hi < end && strchr("+-0123456789", s[hi]) && s[hi]; hi++) {
		if (s[hi] == '+')
			chomp = 1;
		else if (s[hi] == '-')
			chomp = -1;
	}
	nl = find(s, end, h, "\n", 1);
	if (nl == NPOS) {
		y->rn = 0;
		return 0;
	}
	for (i = 0; i < y->rn; i++)
		all_safe &= y->rv[i].safe;
	prenv_buf_reset(&r->tmp);
	if (all_safe) {
		prenv_buf_add(&r->tmp, s + h, nl + 1 - h);
		for (p = nl + 1; p < end;) {
			if (range_at(y, ri, p)) {
				for (i = 0; i < y->rv[ri].len; i++) {
					prenv_buf_addc(&r->tmp, s[p + i]);
					if (s[p + i] == '\n')
						prenv_buf_printf(&r->tmp, "%*s",
								 y->blk_indent, "");
				}
				p += y->rv[ri++].len;
				continue;
			}
			prenv_buf_addc(&r->tmp, s[p++]);
		}
	} else {
		struct prenv_buf c = PRENV_BUF_INIT;
		blk_content(r, nl + 1, end, chomp, &c);
		prenv_buf_addc(&r->tmp, '"');
		dq_escape(&r->tmp, c.ptr, c.len, 0);
		prenv_buf_addc(&r->tmp, '"');
		/* keep a comment on the header line */
		prenv_buf_add(&r->tmp, s + hi, nl - hi);
		prenv_buf_addc(&r->tmp, '\n');
		if (c.failed)
			r->tmp.failed = 1;
		prenv_buf_free(&c);
	}
	y->rn = 0;
	if (r->tmp.failed)
		return oom(r);
	rc = splice(r, h, end, &r->tmp, pos);
	return rc;
}

/* At the first non-space of a line inside a block scalar: does it end? */
static int blk_line(struct render *r, size_t *pos, int *ended)
{
	struct ylex *y = &r->y;
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
	return blk_finish(r, y->line_off, pos);
}

#define YL_EOF (-1)
#define YL_VALUE (-2)

static int is_flow_ind(int c)
{
	return c == ',' || c == '[' || c == ']' || c == '{' || c == '}';
}

/* Resolves the pending indicator with its next character c. */
static int yl_resolve(struct render *r, int c, size_t *pos)
{
	struct ylex *y = &r->y;
	int p = y->pend;
	int blankish = c == YL_EOF || c == ' ' || c == '\t' || c == '\n' || c == '\r';
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
			return plain_finish(r, 1, pos);
		}
		y->reg_end = y->pend_off + 1;
		return 0;
	case Y_SQ:
		if (c == '\'') {
			y->sq_skip = 1;
			return 0;
		}
		y->mode = Y_NORMAL;
		return sq_finish(r, y->pend_off + 1, pos);
	default:
		return 0;
	}
}

static void yl_plain_start(struct ylex *y, size_t off)
{
	y->mode = Y_PLAIN;
	y->reg_start = off;
	y->reg_end = off;
	y->rn = 0;
}

/* Lexes the literal output byte at *ip; moves *ip past it. */
static int yl_char(struct render *r, size_t *ip)
{
	struct ylex *y = &r->y;
	size_t i = *ip;
	int c = (unsigned char)r->out->ptr[i], rc = 0, ended;

	if (y->pend) {
		rc = yl_resolve(r, c, &i);
		if (rc < 0)
			return rc;
	}
again:
	switch (y->mode) {
	case Y_NORMAL:
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			break;
		if (i == y->line_off && (c == '-' || c == '.') &&
		    i + 3 <= r->out->len && r->out->ptr[i + 1] == c &&
		    r->out->ptr[i + 2] == c &&
		    (i + 3 == r->out->len || is_ws(r->out->ptr[i + 3]))) {
			y->flow = 0;
			y->docline = 1;
			y->at_indent = 0;
			*ip = i + 3;
			y->prev_blank = 0;
			return 0;
		}
		if (c == '%' && i == y->line_off) {
			y->mode = Y_DIRECTIVE;
		} else if (c == '#' && y->prev_blank) {
			y->mode = Y_COMMENT;
		} else if (c == '"') {
			y->mode = Y_DQ;
			y->dq_esc = 0;
		} else if (c == '\'') {
			y->mode = Y_SQ;
			y->reg_start = i;
			y->rn = 0;
			y->sq_skip = y->sq_multi = 0;
		} else if ((c == '|' || c == '>') && !y->flow) {
			y->mode = Y_HEADER;
			y->reg_start = i;
			y->blk_lit = c;
			y->blk_parent = y->docline ? -1 : y->line_indent;
			y->blk_indent = 0;
			y->blk_explicit = 0;
			y->hdr_comment = 0;
			y->rn = 0;
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
		break;
	case Y_PLAIN:
		if (c == '\n' || c == '\r' || (y->flow && is_flow_ind(c))) {
			y->mode = Y_NORMAL;
			rc = plain_finish(r, 0, &i);
			if (rc < 0)
				return rc;
			goto again;
		}
		if (c == '#' && y->prev_blank) {
			y->mode = Y_COMMENT;
			rc = plain_finish(r, 0, &i);
			break;
		}
		if (c == ':') {
			y->pend = c;
			y->pend_off = i;
		} else if (c != ' ' && c != '\t') {
			y->reg_end = i + 1;
		}
		break;
	case Y_DQ:
		if (y->dq_esc)
			y->dq_esc = 0;
		else if (c == '\\')
			y->dq_esc = 1;
		else if (c == '"')
			y->mode = Y_NORMAL;
		break;
	case Y_SQ:
		if (y->sq_skip)
			y->sq_skip = 0;
		else if (c == '\'') {
			y->pend = c;
			y->pend_off = i;
		} else if (c == '\n' || c == '\r')
			y->sq_multi = 1;
		break;
	case Y_COMMENT:
	case Y_DIRECTIVE:
		if (c == '\n' || c == '\r')
			y->mode = Y_NORMAL;
		break;
	case Y_TAGTOK:
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			y->mode = Y_NORMAL;
		else if (y->flow && is_flow_ind(c)) {
			y->mode = Y_NORMAL;
			goto again;
		}
		break;
	case Y_HEADER:
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
		break;
	case Y_BLOCK:
		if (y->at_indent && c != ' ' && c != '\n' && c != '\r') {
			rc = blk_line(r, &i, &ended);
			if (rc < 0)
				return rc;
			if (ended)
				goto again;
		}
		break;
	}
	if (rc < 0)
		return rc;
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
	y->prev_blank = c == ' ' || c == '\t' || c == '\n' || c == '\r';
	*ip = i + 1;
	return 0;
}

static int yl_feed(struct render *r, size_t from)
{
	size_t i = from;
	int rc;

	while (i < r->out->len) {
		rc = yl_char(r, &i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int yl_finish(struct render *r)
{
	struct ylex *y = &r->y;
	size_t pos = r->out->len;
	int rc = 0;

	if (y->pend) {
		rc = yl_resolve(r, YL_EOF, &pos);
		if (rc < 0)
			return rc;
	}
	switch (y->mode) {
	case Y_PLAIN:
		rc = plain_finish(r, 0, &pos);
		break;
	case Y_BLOCK:
		rc = blk_finish(r, r->out->len, &pos);
		break;
	case Y_SQ:
		if (y->rn)
			rc = tag_err(r, y->rv[0].file, y->rv[0].line, y->rv[0].col,
				"{{%.*s}} is inside a single-quoted YAML scalar that "
				"is never closed: add the closing quote",
				y->rv[0].name, y->rv[0].namen);
		break;
	default:
		break;
	}
	y->mode = Y_NORMAL;
	return rc;
}

static int has_break_or_ctl(const char *s, size_t n)
{
	size_t i = 0, l;
	unsigned long c;

	while (i < n) {
		l = utf8_dec((const unsigned char *)s + i, n - i, &c);
		if (!l || (!yaml_printable(c) && c != '\t'))
			return 1;
		i += l;
	}
	return 0;
}

static int first_is_blank(const char *s, size_t n)
{
	return n > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n');
}

/* A value arrives in YAML mode. */
static int yl_value(struct render *r, const struct tpl *t, const struct node *nd,
		    const char *s, size_t n, int is_str)
{
	struct ylex *y = &r->y;
	struct yrange rg;
	size_t pos = r->out->len;
	int rc, at_line_start, ended;

	if (memchr(s, '\0', n))
		return tag_err(r, t->file, nd->line, nd->col, "the value of "
			"{{%.*s}} contains a NUL byte, which YAML cannot hold",
			nd->s, nd->n);
	if (!utf8_valid(s, n))
		return tag_err(r, t->file, nd->line, nd->col, "the value of "
			"{{%.*s}} is not valid UTF-8, which YAML cannot hold: fix "
			"the data", nd->s, nd->n);
	if (y->pend) {
		rc = yl_resolve(r, YL_VALUE, &pos);
		if (rc < 0)
			return rc;
	}
	at_line_start = y->at_indent;
	if (y->mode == Y_BLOCK && y->at_indent) {
		rc = blk_line(r, &pos, &ended);
		if (rc < 0)
			return rc;
	}
	memset(&rg, 0, sizeof(rg));
	rg.off = r->out->len;
	rg.len = n;
	rg.is_str = is_str;
	rg.file = t->file;
	rg.line = nd->line;
	rg.col = nd->col;
	rg.name = nd->s;
	rg.namen = nd->n;
	switch (y->mode) {
	case Y_NORMAL:
		yl_plain_start(y, r->out->len);
		/* fall through */
	case Y_PLAIN:
		rg.safe = 1;
		break;
	case Y_DQ:
		dq_escape(r->out, s, n, 1);
		goto done;
	case Y_SQ:
		rg.safe = !has_break_or_ctl(s, n);
		break;
	case Y_BLOCK:
		rg.safe = n > 0 && !has_break_or_ctl(s, n) ? 1 : 0;
		/* line feeds: has_break_or_ctl counts them; allow them in | */
		if (n > 0 && y->blk_lit == '|') {
			size_t i = 0, l;
			unsigned long c;
			rg.safe = 1;
			while (i < n) {
				l = utf8_dec((const unsigned char *)s + i, n - i, &c);
				if (!yaml_printable(c) && c != '\t' && c != '\n')
					rg.safe = 0;
				i += l;
			}
			if (s[n - 1] == '\n')
				rg.safe = 0;
		}
		if (at_line_start && first_is_blank(s, n))
			rg.safe = 0;
		break;
	case Y_COMMENT:
		if (has_break_or_ctl(s, n))
			return tag_err(r, t->file, nd->line, nd->col, "{{%.*s}} is "
				"inside a YAML comment and its value contains a line "
				"break or control character that would end the comment: "
				"move the variable out of the comment", nd->s, nd->n);
		prenv_buf_add(r->out, s, n);
		goto done;
	default:
		return tag_err(r, t->file, nd->line, nd->col, "{{%.*s}} stands "
			"inside a YAML tag, anchor, alias, directive or block scalar "
			"header, where no value can be made safe: move it into a "
			"scalar", nd->s, nd->n);
	}
	if (y->rn == y->rcap) {
		size_t nc = y->rcap ? y->rcap * 2 : 8;
		struct yrange *nv = realloc(y->rv, nc * sizeof(*nv));
		if (!nv)
			return oom(r);
		y->rv = nv;
		y->rcap = nc;
	}
	y->rv[y->rn++] = rg;
	prenv_buf_add(r->out, s, n);
	if (y->mode == Y_PLAIN)
		y->reg_end = r->out->len;
done:
	y->at_indent = 0;
	y->prev_blank = 0;
	if (r->out->failed)
		return oom(r);
	return 0;
}

/* ------------------------------------------------------------- render */

static const cJSON *obj_get(const cJSON *o, const char *k, size_t kn)
{
	const cJSON *c;

	if (!cJSON_IsObject(o))
		return NULL;
	for (c = o->child; c; c = c->next)
		if (c->string && strlen(c->string) == kn && memcmp(c->string, k, kn) == 0)
			return c;
	return NULL;
}

static const cJSON *lookup(const struct render *r, const char *name, size_t n)
{
	const cJSON *it = NULL;
	size_t seg, i;

	if (n == 1 && name[0] == '.')
		return r->sn ? r->st[r->sn - 1] : NULL;
	for (seg = 0; seg < n && name[seg] != '.'; seg++)
		;
	for (i = r->sn; i-- > 0;) {
		it = obj_get(r->st[i], name, seg);
		if (it)
			break;
	}
	while (it && seg < n) {
		size_t b = seg + 1;
		for (seg = b; seg < n && name[seg] != '.'; seg++)
			;
		it = obj_get(it, name + b, seg - b);
	}
	return it;
}

static int push(struct render *r, const cJSON *v)
{
	if (r->sn == r->scap) {
		size_t nc = r->scap ? r->scap * 2 : 16;
		const cJSON **nv = realloc(r->st, nc * sizeof(*nv));
		if (!nv)
			return oom(r);
		r->st = nv;
		r->scap = nc;
	}
	r->st[r->sn++] = v;
	return 0;
}

static int falsey(const cJSON *v)
{
	return !v || cJSON_IsFalse(v) || cJSON_IsNull(v) ||
	       (cJSON_IsArray(v) && !v->child) ||
	       (cJSON_IsString(v) && v->valuestring && !v->valuestring[0]);
}

static void fmt_number(char *b, size_t bn, double d)
{
	int p;

	if (isnan(d) || isinf(d)) {
		snprintf(b, bn, "null");
		return;
	}
	if (d == floor(d) && fabs(d) < 1e15) {
		snprintf(b, bn, "%.0f", d);
		return;
	}
	for (p = 1; p <= 17; p++) {
		snprintf(b, bn, "%.*g", p, d);
		if (strtod(b, NULL) == d)
			break;
	}
}

static int emit_text(struct render *r, const char *s, size_t n)
{
	size_t from = r->out->len;

	if (prenv_buf_add(r->out, s, n) < 0)
		return oom(r);
	return r->yaml ? yl_feed(r, from) : 0;
}

static int is_untrusted(const struct render *r, const char *name, size_t n)
{
	const char *const *u;

	for (u = r->o->untrusted; u && *u; u++)
		if (strlen(*u) == n && memcmp(*u, name, n) == 0)
			return 1;
	return 0;
}

static int missing(struct render *r, const struct tpl *t, const struct node *nd)
{
	return prenv_err_set_at(r->err, PRENV_ECONFIG, t->file, nd->line, nd->col,
		"variable '%.*s' is not defined: check its spelling against "
		"the data, or pass --allow-missing to render missing values as "
		"empty", (int)nd->n, nd->s);
}

static int render_var(struct render *r, const struct tpl *t, const struct node *nd)
{
	const cJSON *v = lookup(r, nd->s, nd->n);
	const char *s;
	char num[40];
	size_t n, i;
	int is_str = 0;

	if (!v) {
		if (r->o->allow_missing)
			return 0;
		return missing(r, t, nd);
	}
	if (cJSON_IsString(v)) {
		s = v->valuestring ? v->valuestring : "";
		is_str = 1;
	} else if (cJSON_IsNumber(v)) {
		fmt_number(num, sizeof(num), v->valuedouble);
		s = num;
	} else if (cJSON_IsTrue(v)) {
		s = "true";
	} else if (cJSON_IsFalse(v)) {
		s = "false";
	} else if (cJSON_IsNull(v)) {
		s = "";
	} else {
		return prenv_err_set_at(r->err, PRENV_ECONFIG, t->file, nd->line,
			nd->col, "'%.*s' is a %s, which cannot be printed: use a "
			"section {{#%.*s}}...{{/%.*s}} to go through it", (int)nd->n,
			nd->s, cJSON_IsArray(v) ? "list" : "mapping", (int)nd->n,
			nd->s, (int)nd->n, nd->s);
	}
	n = strlen(s);
	if (nd->kind == N_RAW) {
		if (is_str && r->o->warn && is_untrusted(r, nd->s, nd->n)) {
			struct prenv_buf m = PRENV_BUF_INIT;
			prenv_buf_printf(&m, "raw tag {{{%.*s}}} receives a value "
				"from the pull request; use {{%.*s}} to escape it",
				(int)nd->n, nd->s, (int)nd->n, nd->s);
			if (!m.failed)
				r->o->warn(r->o->warn_ud, t->file, nd->line, nd->col, m.ptr);
			prenv_buf_free(&m);
		}
		return emit_text(r, s, n);
	}
	switch (r->o->escape) {
	case TMPL_ESC_YAML:
		return yl_value(r, t, nd, s, n, is_str);
	case TMPL_ESC_NONE:
		prenv_buf_add(r->out, s, n);
		break;
	case TMPL_ESC_HTML:
	default:
		for (i = 0; i < n; i++) {
			switch (s[i]) {
			case '&': prenv_buf_adds(r->out, "&amp;"); break;
			case '<': prenv_buf_adds(r->out, "&lt;"); break;
			case '>': prenv_buf_adds(r->out, "&gt;"); break;
			case '"': prenv_buf_adds(r->out, "&quot;"); break;
			case '\'': prenv_buf_adds(r->out, "&#39;"); break;
			default: prenv_buf_addc(r->out, s[i]); break;
			}
		}
		break;
	}
	return r->out->failed ? oom(r) : 0;
}

static int render_list(struct render *r, const struct tpl *t, const struct nlist *l);

/* Loads and parses partial `name`, indenting every line with ind. */
static int load_partial(struct render *r, const char *name, size_t namen,
			const char *ind, size_t indn, struct tpl **out)
{
	struct tpl *t;
	struct prenv_buf key = PRENV_BUF_INIT, src = PRENV_BUF_INIT,
			 isrc = PRENV_BUF_INIT;
	int rc;
	size_t i;

	*out = NULL;
	prenv_buf_add(&key, name, namen);
	prenv_buf_addc(&key, '\n');
	prenv_buf_add(&key, ind, indn);
	if (key.failed)
		return oom(r);
	for (t = r->partials; t; t = t->next)
		if (strcmp(t->key, key.ptr) == 0) {
			prenv_buf_free(&key);
			*out = t;
			return 0;
		}
	t = calloc(1, sizeof(*t));
	if (!t) {
		prenv_buf_free(&key);
		return oom(r);
	}
	t->key = prenv_buf_detach(&key, NULL);
	t->file = strndup(name, namen);
	t->next = r->partials;
	r->partials = t;
	if (!t->key || !t->file)
		return oom(r);
	rc = 0;
	if (r->o->partial)
		rc = r->o->partial(&src, t->file, r->o->partial_ud, r->err);
	if (rc == PRENV_ENOTFOUND) {
		rc = 0;
		prenv_buf_reset(&src);
	}
	if (rc < 0) {
		prenv_buf_free(&src);
		return rc;
	}
	if (indn) {
		for (i = 0; i < src.len; i++) {
			if (i == 0 || (src.ptr[i - 1] == '\n'))
				prenv_buf_add(&isrc, ind, indn);
			prenv_buf_addc(&isrc, src.ptr[i]);
		}
		prenv_buf_free(&src);
		src = isrc;
	}
	if (src.failed)
		return oom(r);
	t->own = prenv_buf_detach(&src, &i);
	if (!t->own)
		return oom(r);
	rc = parse(t, t->own, i, r->err);
	if (rc < 0)
		return rc;
	*out = t;
	return 0;
}

static const struct node *find_override(const struct override *ov,
					const char *name, size_t n,
					const struct tpl **t)
{
	const struct node *found = NULL;
	size_t i;

	if (!ov)
		return NULL;
	found = find_override(ov->outer, name, n, t);
	if (found)
		return found;
	for (i = 0; i < ov->blocks->n; i++) {
		const struct node *b = &ov->blocks->v[i];
		if (b->kind == N_BLOCK && b->n == n && memcmp(b->s, name, n) == 0) {
			*t = ov->t;
			return b;
		}
	}
	return NULL;
}

static int render_partial(struct render *r, const struct tpl *t,
			  const struct node *nd)
{
	const char *name = nd->s;
	size_t namen = nd->n;
	struct tpl *pt;
	struct override ov;
	const struct override *saved = r->ov;
	int rc;

	if (nd->dynamic) {
		const cJSON *v = lookup(r, nd->s, nd->n);
		if (!v) {
			if (r->o->allow_missing)
				return 0;
			return missing(r, t, nd);
		}
		if (!cJSON_IsString(v))
			return 0;
		name = v->valuestring;
		namen = strlen(name);
	}
	if (r->depth >= TMPL_MAX_DEPTH)
		return prenv_err_set_at(r->err, PRENV_ECONFIG, t->file, nd->line,
			nd->col, "partials nested more than 100 levels deep at "
			"{{>%.*s}}: is a partial including itself without end?",
			(int)nd->n, nd->s);
	rc = load_partial(r, name, namen, nd->ind, nd->indn, &pt);
	if (rc < 0)
		return rc;
	if (nd->kind == N_PARENT) {
		ov.outer = r->ov;
		ov.blocks = &nd->kids;
		ov.t = t;
		r->ov = &ov;
	}
	r->depth++;
	rc = render_list(r, pt, &pt->root);
	r->depth--;
	r->ov = saved;
	return rc;
}

static int render_section(struct render *r, const struct tpl *t,
			  const struct node *nd)
{
	const cJSON *v = lookup(r, nd->s, nd->n), *it;
	int rc = 0;

	if (!v && !r->o->allow_missing)
		return missing(r, t, nd);
	if (r->depth >= TMPL_MAX_DEPTH || r->sn > 10000)
		return prenv_err_set_at(r->err, PRENV_ECONFIG, t->file, nd->line,
			nd->col, "sections nested too deep at {{#%.*s}}",
			(int)nd->n, nd->s);
	if (nd->kind == N_INVERTED)
		return falsey(v) ? render_list(r, t, &nd->kids) : 0;
	if (falsey(v))
		return 0;
	r->depth++;
	if (cJSON_IsArray(v)) {
		for (it = v->child; it && rc == 0; it = it->next) {
			rc = push(r, it);
			if (rc == 0)
				rc = render_list(r, t, &nd->kids);
			r->sn--;
		}
	} else {
		rc = push(r, v);
		if (rc == 0) {
			rc = render_list(r, t, &nd->kids);
			r->sn--;
		}
	}
	r->depth--;
	return rc;
}

static int render_list(struct render *r, const struct tpl *t, const struct nlist *l)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < l->n && rc == 0; i++) {
		const struct node *nd = &l->v[i];
		switch (nd->kind) {
		case N_TEXT:
			rc = emit_text(r, nd->s, nd->n);
			break;
		case N_VAR:
		case N_RAW:
			rc = render_var(r, t, nd);
			break;
		case N_SECTION:
		case N_INVERTED:
			rc = render_section(r, t, nd);
			break;
		case N_PARTIAL:
		case N_PARENT:
			rc = render_partial(r, t, nd);
			break;
		case N_BLOCK: {
			const struct tpl *ot = t;
			const struct node *o = find_override(r->ov, nd->s, nd->n, &ot);
			if (r->depth >= TMPL_MAX_DEPTH)
				return prenv_err_set_at(r->err, PRENV_ECONFIG, t->file,
					nd->line, nd->col, "blocks nested too deep");
			r->depth++;
			rc = o ? render_list(r, ot, &o->kids) : render_list(r, t, &nd->kids);
			r->depth--;
			break;
		}
		}
	}
	return rc;
}

int tmpl_render(struct prenv_buf *out, const char *src, size_t len,
		const cJSON *data, const struct tmpl_opts *opts,
		struct prenv_err *err)
{
	static const struct tmpl_opts defaults = TMPL_OPTS_INIT;
	struct render r;
	struct tpl main_t;
	size_t start = out->len;
	int rc;

	memset(&r, 0, sizeof(r));
	memset(&main_t, 0, sizeof(main_t));
	prenv_buf_init(&r.tmp, 0);
	r.out = out;
	r.o = opts ? opts : &defaults;
	r.err = err;
	r.yaml = r.o->escape == TMPL_ESC_YAML;
	r.y.at_indent = 1;
	r.y.prev_blank = 1;
	r.y.line_off = start;
	main_t.file = (char *)(r.o->filename ? r.o->filename : "<template>");
	rc = parse(&main_t, src ? src : "", src ? len : 0, err);
	if (rc < 0)
		goto done;
	if (data)
		rc = push(&r, data);
	if (rc == 0)
		rc = render_list(&r, &main_t, &main_t.root);
	if (rc == 0 && r.yaml)
		rc = yl_finish(&r);
	if (rc == 0 && out->failed)
		rc = oom(&r);
done:
	if (rc < 0)
		prenv_buf_truncate(out, start);
	nlist_free(&main_t.root);
	tpl_free(r.partials);
	free(r.st);
	free(r.y.rv);
	prenv_buf_free(&r.tmp);
	return rc;
}

char *tmpl_render_string(const char *src, const cJSON *data,
			 const char *filename, struct prenv_err *err)
{
	struct tmpl_opts o = TMPL_OPTS_INIT;
	struct prenv_buf b = PRENV_BUF_INIT;

	o.filename = filename;
	o.escape = TMPL_ESC_NONE;
	if (tmpl_render(&b, src, strlen(src), data, &o, err) < 0) {
		prenv_buf_free(&b);
		return NULL;
	}
	return prenv_buf_detach(&b, NULL);
}
