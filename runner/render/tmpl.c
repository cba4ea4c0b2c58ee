/* tmpl.c - Mustache templates with context-aware escaping. See tmpl.h.
 *
 * Two phases. The template is parsed into a tree (text, variables, sections,
 * partials, inheritance blocks) with the spec's standalone-line rules applied
 * while parsing; then the tree is rendered against a cJSON context stack.
 *
 * In YAML mode all output goes through the YAML-context escaper
 * (tmpl_yaml.c, interface in tmpl_int.h), which lexes the template's own
 * text and escapes each value for the place it lands in.
 */
#include "render/tmpl.h"
#include "render/tmpl_int.h"
#include "util/err.h"
#include "util/names.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPOS ((size_t)-1)
#define TMPL_MAX_DEPTH 100      /* nesting of sections / partials */

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
	/* for the line map: the source, and the offsets of its line breaks
	 * (built on first use) */
	const char *src;
	size_t len;
	size_t *nl;
	size_t nnl;
	unsigned mapfile;       /* its index in the line map's files */
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
		free(t->nl);
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
	while (p->lc_off < off) {
		const char *nl = memchr(p->src + p->lc_off, '\n', off - p->lc_off);

		if (!nl) {
			p->col += (int)(off - p->lc_off);
			p->lc_off = off;
			break;
		}
		p->line++;
		p->col = 1;
		p->lc_off = (size_t)(nl - p->src) + 1;
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
	/* memchr for the first byte, then compare: much cheaper than memmem
	 * for the short delimiters of a template */
	while (len - from >= nn && (f = memchr(s + from, nd[0], len - from - nn + 1)) != NULL) {
		if (!memcmp(f, nd, nn))
			return (size_t)(f - s);
		from = (size_t)(f - s) + 1;
	}
	return NPOS;
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

struct tagspan {                /* where a tag stands in the source */
	int sig;                /* the character after the opening delimiter */
	size_t cb, ce;          /* its content, sigil and closing brace left out */
	size_t end;             /* just past its closing delimiter */
	int standalone;         /* alone on its line (spec): the line goes */
	size_t ls;              /* standalone: where its line starts */
	size_t sa_end;          /* standalone: past the end of its line */
};

#define PT_CLOSED 1             /* parse_tag() read the end tag of `open` */

/* Standalone (a section, partial, comment... tag alone on its line but for
 * blanks): sets tg->standalone, tg->ls and tg->sa_end. */
static void standalone_line(struct parser *p, size_t t, struct tagspan *tg)
{
	size_t ls = t, e = tg->end;

	while (ls > p->pos && (p->src[ls - 1] == ' ' || p->src[ls - 1] == '\t'))
		ls--;
	tg->ls = ls;
	if (ls != 0 && p->src[ls - 1] != '\n')
		return;
	while (e < p->len && (p->src[e] == ' ' || p->src[e] == '\t'))
		e++;
	if (e == p->len)
		tg->sa_end = e;
	else if (p->src[e] == '\n')
		tg->sa_end = e + 1;
	else if (p->src[e] == '\r' && e + 1 < p->len && p->src[e + 1] == '\n')
		tg->sa_end = e + 2;
	else
		return;
	tg->standalone = 1;
}

/* Finds the end of the tag opened at t. Returns 0, or -1 if it has none. */
static int tag_span(struct parser *p, size_t t, struct tagspan *tg)
{
	size_t c0 = t + p->otn, q;
	int sig = c0 < p->len ? (unsigned char)p->src[c0] : 0;

	memset(tg, 0, sizeof(*tg));
	tg->sig = sig;
	if (sig == '{' || sig == '=') {
		/* {{{name}}}, {{=<% %>=}}: the closing brace or '=' belongs */
		for (q = c0 + 1;; q++) {
			q = find(p->src, p->len, q, p->ct, p->ctn);
			if (q == NPOS || (q > c0 + 1 &&
			    p->src[q - 1] == (sig == '{' ? '}' : '=')))
				break;
		}
		if (q == NPOS)
			return -1;
		tg->cb = c0 + 1;
		tg->ce = q - 1;
	} else {
		q = find(p->src, p->len, c0, p->ct, p->ctn);
		if (q == NPOS)
			return -1;
		tg->cb = strchr("#^/!>&<$", sig) && sig ? c0 + 1 : c0;
		tg->ce = q;
	}
	tg->end = q + p->ctn;
	if (sig && strchr("#^/!>=<$", sig))
		standalone_line(p, t, tg);
	return 0;
}

static enum nkind sig_kind(int sig)
{
	switch (sig) {
	case '#': return N_SECTION;
	case '^': return N_INVERTED;
	case '>': return N_PARTIAL;
	case '<': return N_PARENT;
	case '$': return N_BLOCK;
	case '&': case '{': return N_RAW;
	case '/': case '!': case '=': return N_TEXT; /* not a node */
	default: return N_VAR;
	}
}

/* Appends the text src[b, e) to list, if there is any. */
static int push_text(struct parser *p, struct nlist *list, size_t b, size_t e)
{
	struct node nd;

	if (e <= b)
		return 0;
	memset(&nd, 0, sizeof(nd));
	nd.kind = N_TEXT;
	nd.s = p->src + b;
	nd.n = e - b;
	if (nlist_push(list, &nd) < 0)
		return prenv_err_set(p->err, PRENV_ENOMEM, "out of memory");
	return 0;
}

/* Sets nd's name from the tag content [cb, ce): trimmed; "*name" makes a
 * partial or parent dynamic. Names are not empty and hold no spaces. */
static int tag_name(struct parser *p, struct node *nd, size_t cb, size_t ce)
{
	size_t q;

	while (cb < ce && is_ws(p->src[cb]))
		cb++;
	while (ce > cb && is_ws(p->src[ce - 1]))
		ce--;
	if ((nd->kind == N_PARTIAL || nd->kind == N_PARENT) && cb < ce &&
	    p->src[cb] == '*') {
		nd->dynamic = 1;
		cb++;
		while (cb < ce && is_ws(p->src[cb]))
			cb++;
	}
	nd->s = p->src + cb;
	nd->n = ce - cb;
	if (nd->n == 0)
		return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file, nd->line,
			nd->col, "empty tag name: write a variable name between "
			"the delimiters, e.g. {{name}}");
	for (q = cb; q < ce; q++)
		if (is_ws(p->src[q]))
			return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file,
				nd->line, nd->col, "bad tag name '%.*s': names "
				"cannot contain spaces (use dots: a.b)",
				(int)(nd->n > 200 ? 200 : nd->n), nd->s);
	return 0;
}

/* The end tag nd closes open (NULL at the top level), or is an error. */
static int end_tag(struct parser *p, const struct node *open,
		   const struct node *nd)
{
	if (!open)
		return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file,
			nd->line, nd->col, "closing tag {{/%.*s}} has no "
			"opening {{#%.*s}}: remove it or add the opening tag",
			(int)nd->n, nd->s, (int)nd->n, nd->s);
	if (open->n != nd->n || memcmp(open->s, nd->s, nd->n) != 0)
		return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file,
			nd->line, nd->col, "end tag {{/%.*s}} does not match "
			"{{#%.*s}} opened at line %d, column %d: close "
			"{{#%.*s}} first", (int)nd->n, nd->s, (int)open->n,
			open->s, open->line, open->col, (int)open->n, open->s);
	return PT_CLOSED;
}

static int unclosed_tag(struct parser *p, size_t t)
{
	int line, col;

	lc_at(p, t, &line, &col);
	return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file, line, col,
		"unclosed tag: '%.*s' has no closing '%.*s'",
		(int)p->otn, p->ot, (int)p->ctn, p->ct);
}

/* No tag is left: the rest is text, and `open` must be NULL. */
static int parse_rest(struct parser *p, struct nlist *list,
		      const struct node *open)
{
	int rc = push_text(p, list, p->pos, p->len);

	if (rc < 0)
		return rc;
	p->pos = p->len;
	if (open)
		return prenv_err_set_at(p->err, PRENV_ECONFIG, p->file,
			open->line, open->col, "section {{#%.*s}} is never "
			"closed: add {{/%.*s}} where it should end",
			(int)open->n, open->s, (int)open->n, open->s);
	return 0;
}

static int parse_list(struct parser *p, struct nlist *list,
		      const struct node *open, int depth);

/* Parses the text before the tag at t and the tag (a section: up to its end
 * tag) into list. Returns 0, PT_CLOSED, or a negative error. */
static int parse_tag(struct parser *p, struct nlist *list,
		     const struct node *open, int depth, size_t t)
{
	struct tagspan tg;
	struct node nd;
	int rc;

	if (tag_span(p, t, &tg) < 0)
		return unclosed_tag(p, t);
	rc = push_text(p, list, p->pos, tg.standalone ? tg.ls : t);
	if (rc < 0)
		return rc;
	memset(&nd, 0, sizeof(nd));
	lc_at(p, t, &nd.line, &nd.col);
	p->pos = tg.standalone ? tg.sa_end : tg.end;
	if (tg.sig == '!')
		return 0;
	if (tg.sig == '=')
		return parse_delims(p, t, tg.cb, tg.ce);
	nd.kind = sig_kind(tg.sig);
	rc = tag_name(p, &nd, tg.cb, tg.ce);
	if (rc < 0)
		return rc;
	if (tg.sig == '/')
		return end_tag(p, open, &nd);
	if (tg.standalone && (nd.kind == N_PARTIAL || nd.kind == N_PARENT)) {
		nd.ind = p->src + tg.ls;
		nd.indn = t - tg.ls;
	}
	if (nd.kind == N_SECTION || nd.kind == N_INVERTED ||
	    nd.kind == N_PARENT || nd.kind == N_BLOCK) {
		rc = parse_list(p, &nd.kids, &nd, depth + 1);
		if (rc < 0) {
			nlist_free(&nd.kids);
			return rc;
		}
	}
	if (nlist_push(list, &nd) < 0) {
		nlist_free(&nd.kids);
		return prenv_err_set(p->err, PRENV_ENOMEM, "out of memory");
	}
	return 0;
}

/* Parses nodes into list up to the end tag of open (NULL: to the end). */
static int parse_list(struct parser *p, struct nlist *list,
		      const struct node *open, int depth)
{
	int rc;

	if (depth > TMPL_MAX_DEPTH)
		return perr(p, p->pos, "sections nested more than 100 levels deep%.*s",
			    "", 0);
	for (;;) {
		size_t t = find(p->src, p->len, p->pos, p->ot, p->otn);

		if (t == NPOS)
			return parse_rest(p, list, open);
		rc = parse_tag(p, list, open, depth, t);
		if (rc < 0)
			return rc;
		if (rc == PT_CLOSED)
			return 0;
	}
}

/* The offsets of t's line breaks, for the line map. */
static int index_lines(struct tpl *t)
{
	const char *q, *end = t->src + t->len;
	size_t k = 0;

	if (!t->len)
		return 0;
	for (q = t->src; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
		t->nnl++;
	if (t->nnl && !(t->nl = malloc(t->nnl * sizeof(*t->nl)))) {
		t->nnl = 0;
		return -1;
	}
	for (q = t->src; k < t->nnl && (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
		t->nl[k++] = (size_t)(q - t->src);
	return 0;
}

static int parse(struct tpl *t, const char *src, size_t len,
		 struct prenv_err *err)
{
	struct parser p;

	t->src = src;
	t->len = len;
	if (index_lines(t) < 0)
		return prenv_err_set(err, PRENV_ENOMEM, "out of memory");
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

/* ------------------------------------------------------------- render */

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
	struct tmpl_yaml *yaml; /* YAML mode: the escaper all output goes through */
	const struct override *ov;
	struct tmpl_linemap *map; /* opts->linemap, or NULL */
	size_t nl;              /* line breaks in the output so far */
};

static int oom(struct render *r)
{
	return prenv_err_set(r->err, PRENV_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------ line map */

void tmpl_linemap_free(struct tmpl_linemap *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nfiles; i++)
		free(m->files[i]);
	free(m->files);
	free(m->line);
	free(m->file);
	memset(m, 0, sizeof(*m));
}

int tmpl_linemap_find(const struct tmpl_linemap *m, int out_line, const char **file, int *line)
{
	size_t k;

	if (!m || out_line < 1 || !m->n)
		return 0;
	k = (size_t)out_line - 1;
	if (k >= m->n)
		k = m->n - 1; /* lines after the last mapped one (a trailing value) */
	*file = m->files[m->file[k]];
	*line = m->line[k];
	return 1;
}

static int map_file(struct render *r, struct tpl *t)
{
	struct tmpl_linemap *m = r->map;
	char **nf;
	size_t i;

	for (i = 0; i < m->nfiles; i++)
		if (!strcmp(m->files[i], t->file)) {
			t->mapfile = (unsigned)i;
			return 0;
		}
	if (!(nf = realloc(m->files, (m->nfiles + 1) * sizeof(*nf))))
		return oom(r);
	m->files = nf;
	if (!(m->files[m->nfiles] = strdup(t->file)))
		return oom(r);
	t->mapfile = (unsigned)m->nfiles++;
	return 0;
}

/* The 1-based line of t's source at pointer s. */
static int src_line(const struct tpl *t, const char *s)
{
	size_t off = (size_t)(s - t->src), lo = 0, hi = t->nnl;

	while (lo < hi) {               /* line breaks before off */
		size_t mid = (lo + hi) / 2;

		if (t->nl[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (int)lo + 1;
}

/* Output line r->nl + 1 comes from line `line` of t, unless it already has
 * a source (it began earlier). */
static int map_note(struct render *r, const struct tpl *t, int line)
{
	struct tmpl_linemap *m = r->map;

	while (m->n <= r->nl) {
		if (m->n == m->cap) {
			size_t nc = m->cap ? m->cap * 2 : 64;
			int *nl = realloc(m->line, nc * sizeof(*nl));
			unsigned *nf;

			if (!nl)
				return oom(r);
			m->line = nl;
			if (!(nf = realloc(m->file, nc * sizeof(*nf))))
				return oom(r);
			m->file = nf;
			m->cap = nc;
		}
		m->line[m->n] = line;
		m->file[m->n] = t->mapfile;
		m->n++;
	}
	return 0;
}

/* Notes where the lines of s[0, n) (literal text of t, or a value whose
 * tag is at line `tag_line` when tag_line > 0) come from. */
static int map_text(struct render *r, const struct tpl *t, const char *s, size_t n, int tag_line)
{
	int line;
	size_t i;

	if (!r->map || !n)
		return 0;
	line = tag_line > 0 ? tag_line : src_line(t, s);
	if (map_note(r, t, line) < 0)
		return PRENV_ENOMEM;
	for (i = 0; i < n; i++) {
		if (s[i] != '\n')
			continue;
		r->nl++;
		if (tag_line <= 0)
			line++;
		if (i + 1 < n && map_note(r, t, line) < 0)
			return PRENV_ENOMEM;
	}
	return 0;
}

/* A YAML-mode value: escaped, it stays on its line (line breaks become
 * \n in quotes); only the line it starts is noted. */
static int map_value(struct render *r, const struct tpl *t, int tag_line)
{
	return r->map && map_note(r, t, tag_line) < 0 ? PRENV_ENOMEM : 0;
}


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
	if (r->yaml)
		return tmpl_yaml_text(r->yaml, s, n);
	return prenv_buf_add(r->out, s, n) < 0 ? oom(r) : 0;
}

static int is_untrusted(const struct render *r, const char *name, size_t n)
{
	const char *const *u;

	for (u = r->o->untrusted; u && *u; u++)
		if (strlen(*u) == n && memcmp(*u, name, n) == 0)
			return 1;
	return 0;
}

/* The dotted names of data's members (objects only, up to a depth), for
 * "did you mean". */
static void collect_names(const cJSON *o, struct prenv_buf *prefix, char ***v, size_t *n,
			  size_t *cap, int depth)
{
	const cJSON *c;
	size_t mark = prefix->len;

	if (!cJSON_IsObject(o) || depth > 4)
		return;
	for (c = o->child; c; c = c->next) {
		char **nv;

		if (!c->string)
			continue;
		prenv_buf_truncate(prefix, mark);
		prenv_buf_printf(prefix, "%s%s", mark ? "." : "", c->string);
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 32;
			if (!(nv = realloc(*v, *cap * sizeof(*nv))))
				return;
			*v = nv;
		}
		if (!prefix->failed && ((*v)[*n] = strdup(prefix->ptr)) != NULL)
			(*n)++;
		collect_names(c, prefix, v, n, cap, depth + 1);
	}
	prenv_buf_truncate(prefix, mark);
}

/* "; did you mean 'x'?" for a misspelt name, from every context. */
static void suggest(const struct render *r, const char *name, size_t namen, struct prenv_buf *b)
{
	struct prenv_buf prefix = PRENV_BUF_INIT, want = PRENV_BUF_INIT;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	const char *near;

	for (i = 0; i < r->sn; i++)
		collect_names(r->st[i], &prefix, &names, &n, &cap, 0);
	prenv_buf_add(&want, name, namen);
	near = want.failed ? NULL : name_closest(want.ptr, (const char *const *)names, n);
	if (near)
		prenv_buf_printf(b, "; did you mean '%s'?", near);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	prenv_buf_free(&prefix);
	prenv_buf_free(&want);
}

/* The longest dotted prefix of name that is null in the data (e.g. "pr"
 * outside a pull request), as its length; 0 when there is none. */
static size_t null_prefix(const struct render *r, const char *name, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++) {
		const cJSON *v;

		if (name[i] != '.')
			continue;
		v = lookup(r, name, i);
		if (cJSON_IsNull(v))
			return i;
		if (!v)
			return 0;
	}
	return 0;
}

/* 1 when name (n bytes) is a member of one of the open names. */
static int is_open(const struct render *r, const char *name, size_t n)
{
	const char *const *p;

	for (p = r->o->open_names; p && *p; p++) {
		size_t l = strlen(*p);

		if (n > l + 1 && !memcmp(name, *p, l) && name[l] == '.')
			return 1;
	}
	return 0;
}

/* The value a missing member of an open name renders as. */
static const cJSON *open_placeholder(void)
{
	static char text[] = TMPL_OPEN_PLACEHOLDER;
	static cJSON v = { NULL, NULL, NULL, cJSON_String | cJSON_IsReference, text, 0, 0, NULL };

	return &v;
}

static int missing(struct render *r, const struct tpl *t, const struct node *nd)
{
	struct prenv_buf b = PRENV_BUF_INIT;
	size_t np = null_prefix(r, nd->s, nd->n);
	int rc;

	if (np) {
		prenv_buf_printf(&b, "variable '%.*s' is not defined on this run: '%.*s' is null here "
				 "(for 'pr': this run is not for a pull request); put the text that "
				 "needs it in a section, {{#%.*s}}...{{/%.*s}}, which renders only "
				 "when it is set", (int)nd->n, nd->s, (int)np, nd->s, (int)np, nd->s,
				 (int)np, nd->s);
	} else {
		prenv_buf_printf(&b, "variable '%.*s' is not defined", (int)nd->n, nd->s);
		suggest(r, nd->s, nd->n, &b);
		prenv_buf_adds(&b, ": check its spelling against the data, or pass --allow-missing "
			       "to render missing values as empty");
	}
	if (b.failed)
		return oom(r);
	rc = prenv_err_set_at(r->err, PRENV_ECONFIG, t->file, nd->line, nd->col, "%s", b.ptr);
	prenv_buf_free(&b);
	return rc;
}

/* The text a scalar prints as (num: room for a number's); NULL for a list or
 * a mapping. *is_str: v is a string. */
static const char *scalar_text(const cJSON *v, char *num, size_t numn,
			       int *is_str)
{
	*is_str = 0;
	if (cJSON_IsString(v)) {
		*is_str = 1;
		return v->valuestring ? v->valuestring : "";
	}
	if (cJSON_IsNumber(v)) {
		fmt_number(num, numn, v->valuedouble);
		return num;
	}
	if (cJSON_IsTrue(v))
		return "true";
	if (cJSON_IsFalse(v))
		return "false";
	if (cJSON_IsNull(v))
		return "";
	return NULL;
}

/* A raw tag receives an untrusted string: tell the caller's warn callback. */
static void warn_raw(struct render *r, const struct tpl *t, const struct node *nd)
{
	struct prenv_buf m = PRENV_BUF_INIT;

	if (!r->o->warn || !is_untrusted(r, nd->s, nd->n))
		return;
	prenv_buf_printf(&m, "raw tag {{{%.*s}}} receives a value from the pull "
		"request; use {{%.*s}} to escape it", (int)nd->n, nd->s,
		(int)nd->n, nd->s);
	if (!m.failed)
		r->o->warn(r->o->warn_ud, t->file, nd->line, nd->col, m.ptr);
	prenv_buf_free(&m);
}

static void html_escape(struct prenv_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': prenv_buf_adds(b, "&amp;"); break;
		case '<': prenv_buf_adds(b, "&lt;"); break;
		case '>': prenv_buf_adds(b, "&gt;"); break;
		case '"': prenv_buf_adds(b, "&quot;"); break;
		case '\'': prenv_buf_adds(b, "&#39;"); break;
		default: prenv_buf_addc(b, s[i]); break;
		}
	}
}

static int render_var(struct render *r, const struct tpl *t, const struct node *nd)
{
	const cJSON *v = lookup(r, nd->s, nd->n);
	const char *s;
	char num[40];
	size_t n;
	int is_str;

	if (!v && is_open(r, nd->s, nd->n))
		v = open_placeholder();
	if (!v) {
		if (r->o->allow_missing)
			return 0;
		return missing(r, t, nd);
	}
	s = scalar_text(v, num, sizeof(num), &is_str);
	if (!s)
		return prenv_err_set_at(r->err, PRENV_ECONFIG, t->file, nd->line,
			nd->col, "'%.*s' is a %s, which cannot be printed: use a "
			"section {{#%.*s}}...{{/%.*s}} to go through it", (int)nd->n,
			nd->s, cJSON_IsArray(v) ? "list" : "mapping", (int)nd->n,
			nd->s, (int)nd->n, nd->s);
	n = strlen(s);
	if (nd->kind == N_RAW) {
		if (is_str)
			warn_raw(r, t, nd);
		if (map_text(r, t, s, n, nd->line) < 0)
			return PRENV_ENOMEM;
		return emit_text(r, s, n);
	}
	if (r->o->escape == TMPL_ESC_YAML) {
		struct tmpl_tag tag = { t->file, nd->line, nd->col, nd->s, nd->n };

		if (map_value(r, t, nd->line) < 0)
			return PRENV_ENOMEM;
		return tmpl_yaml_value(r->yaml, &tag, s, n, is_str);
	}
	if (map_text(r, t, s, n, nd->line) < 0)
		return PRENV_ENOMEM;
	switch (r->o->escape) {
	case TMPL_ESC_NONE:
		prenv_buf_add(r->out, s, n);
		break;
	case TMPL_ESC_YAML:
	case TMPL_ESC_HTML:
	default:
		html_escape(r->out, s, n);
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
	if (r->map && (rc = map_file(r, t)) < 0)
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

	if (!v && !r->o->allow_missing && !is_open(r, nd->s, nd->n))
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
			if ((rc = map_text(r, t, nd->s, nd->n, 0)) == 0)
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
	r.out = out;
	r.o = opts ? opts : &defaults;
	r.err = err;
	main_t.file = (char *)(r.o->filename ? r.o->filename : "<template>");
	rc = parse(&main_t, src ? src : "", src ? len : 0, err);
	if (rc < 0)
		goto done;
	if ((r.map = r.o->linemap) != NULL) {
		tmpl_linemap_free(r.map);
		if ((rc = map_file(&r, &main_t)) < 0)
			goto done;
	}
	if (r.o->escape == TMPL_ESC_YAML) {
		r.yaml = tmpl_yaml_new(out, err);
		if (!r.yaml)
			rc = oom(&r);
	}
	if (rc == 0 && data)
		rc = push(&r, data);
	if (rc == 0)
		rc = render_list(&r, &main_t, &main_t.root);
	if (rc == 0 && r.yaml)
		rc = tmpl_yaml_finish(r.yaml);
	if (rc == 0 && out->failed)
		rc = oom(&r);
done:
	if (rc < 0)
		prenv_buf_truncate(out, start);
	nlist_free(&main_t.root);
	free(main_t.nl);
	tpl_free(r.partials);
	free(r.st);
	tmpl_yaml_free(r.yaml);
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
