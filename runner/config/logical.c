/* logical.c - the deployed set of a logical environment; see logical.h. */
#include "config/logical.h"

#include <stdio.h>
#include <string.h>

#include "util/names.h"

static size_t find(const struct logical_input *in, const char *name)
{
	size_t i;

	for (i = 0; i < in->nservices; i++)
		if (!strcmp(in->services[i].name, name))
			return i;
	return (size_t)-1;
}

/* The first changed file that one of pats matches; *pat gets the glob. */
static const char *first_match(const struct logical_input *in, const char *const *pats,
			       size_t npats, const char **pat)
{
	size_t f, p;

	for (f = 0; f < in->nchanged; f++)
		for (p = 0; p < npats; p++)
			if (name_glob_match(pats[p], in->changed[f])) {
				*pat = pats[p];
				return in->changed[f];
			}
	return NULL;
}

static size_t all(const struct logical_input *in, struct logical_choice *out,
		  const char *because, const char *pattern)
{
	size_t i;

	for (i = 0; i < in->nservices; i++) {
		out[i].why = LOGICAL_ALL;
		out[i].because = because;
		out[i].pattern = pattern;
	}
	return in->nservices;
}

/* Does service i call a deployed service? *callee gets its name. */
static int calls_deployed(const struct logical_input *in, const struct logical_choice *out,
			  size_t i, const char **callee)
{
	const struct logical_service *s = &in->services[i];
	size_t c, j;

	for (c = 0; c < s->ncalls; c++) {
		j = find(in, s->calls[c]);
		if (j != (size_t)-1 && j != i && out[j].why != LOGICAL_BORROWED &&
		    out[j].why != LOGICAL_STATEFUL) {
			*callee = in->services[j].name;
			return 1;
		}
	}
	return 0;
}

static void close_upward(const struct logical_input *in, struct logical_choice *out)
{
	const char *callee;
	int grew = 1;
	size_t i;

	while (grew) {
		grew = 0;
		for (i = 0; i < in->nservices; i++)
			if (out[i].why == LOGICAL_BORROWED && calls_deployed(in, out, i, &callee)) {
				out[i].why = LOGICAL_CALLER;
				out[i].because = callee;
				grew = 1;
			}
	}
}

static void add_stateful(const struct logical_input *in, struct logical_choice *out)
{
	const struct logical_service *s;
	size_t i, c, j;

	for (i = 0; i < in->nservices; i++) {
		if (out[i].why == LOGICAL_BORROWED || out[i].why == LOGICAL_STATEFUL)
			continue;
		s = &in->services[i];
		for (c = 0; c < s->ncalls; c++) {
			j = find(in, s->calls[c]);
			if (j != (size_t)-1 && in->services[j].stateful &&
			    out[j].why == LOGICAL_BORROWED) {
				out[j].why = LOGICAL_STATEFUL;
				out[j].because = s->name;
			}
		}
	}
}

size_t logical_compute(const struct logical_input *in, struct logical_choice *out)
{
	const struct logical_service *s;
	const char *file, *pat = NULL;
	size_t i, n = 0;

	memset(out, 0, in->nservices * sizeof(*out));
	if (in->no_merge_base)
		return all(in, out, NULL, NULL);
	if ((file = first_match(in, in->shared_paths, in->nshared, &pat)))
		return all(in, out, file, pat);
	for (i = 0; i < in->nservices; i++) {
		s = &in->services[i];
		if ((file = first_match(in, s->paths, s->npaths, &pat))) {
			out[i].why = LOGICAL_CHANGED;
			out[i].because = file;
			out[i].pattern = pat;
			n++;
		}
	}
	close_upward(in, out);
	add_stateful(in, out);
	for (i = n = 0; i < in->nservices; i++)
		n += out[i].why != LOGICAL_BORROWED;
	return n;
}

const char *logical_why_name(enum logical_why why)
{
	switch (why) {
	case LOGICAL_CHANGED: return "changed";
	case LOGICAL_CALLER: return "caller";
	case LOGICAL_STATEFUL: return "stateful";
	case LOGICAL_ALL: return "all";
	case LOGICAL_BORROWED: break;
	}
	return "borrowed";
}

void logical_describe(const struct logical_choice *c, char *buf, size_t size)
{
	switch (c->why) {
	case LOGICAL_CHANGED:
		snprintf(buf, size, "changed (%s matches %s)", c->because, c->pattern);
		break;
	case LOGICAL_CALLER:
		snprintf(buf, size, "calls %s", c->because);
		break;
	case LOGICAL_STATEFUL:
		snprintf(buf, size, "stateful, called by %s", c->because);
		break;
	case LOGICAL_ALL:
		if (c->because)
			snprintf(buf, size, "everything: %s matches shared path %s", c->because,
				 c->pattern);
		else
			snprintf(buf, size, "everything: no merge base between the base and the "
				 "head (a shallow clone? fetch with fetch-depth: 0)");
		break;
	case LOGICAL_BORROWED:
		snprintf(buf, size, "borrowed");
		break;
	}
}
