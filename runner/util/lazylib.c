/* lazylib.c - see lazylib.h */
#include "util/lazylib.h"
#include "util/err.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t lazy_lock = PTHREAD_MUTEX_INITIALIZER;

static void *open_lib(const struct lazylib *l)
{
	char path[4096];
	void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);

	if (!h && l->dir && *l->dir &&
	    snprintf(path, sizeof(path), "%s/%s", l->dir, l->soname) < (int)sizeof(path))
		h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	return h;
}

static void fail(struct lazylib *l, const char *why)
{
	snprintf(l->msg, sizeof(l->msg), "cannot load %s (%s): %s; install the %s "
		 "runtime package (see README, Building)", l->what, l->soname,
		 why ? why : "unknown error", l->what);
	l->state = -1;
}

static void load_locked(struct lazylib *l)
{
	void *h = open_lib(l);
	size_t i;

	if (!h) {
		fail(l, dlerror());
		return;
	}
	for (i = 0; i < l->n; i++) {
		dlerror();
		l->slots[i] = dlsym(h, l->names[i]);
		if (!l->slots[i]) {
			char why[160];

			snprintf(why, sizeof(why), "it has no %s (too old?)", l->names[i]);
			fail(l, why);
			return;
		}
	}
	l->state = 1;
}

int lazylib_load(struct lazylib *l, struct prenv_err *err)
{
	int state;

	pthread_mutex_lock(&lazy_lock);
	if (l->state == 0)
		load_locked(l);
	state = l->state;
	pthread_mutex_unlock(&lazy_lock);
	if (state > 0)
		return 0;
	return prenv_err_set(err, PRENV_EFAIL, "%s", l->msg);
}

int lazylib_loaded(const struct lazylib *l)
{
	int state;

	pthread_mutex_lock(&lazy_lock);
	state = l->state;
	pthread_mutex_unlock(&lazy_lock);
	return state > 0;
}
