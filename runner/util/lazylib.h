/* lazylib.h - a shared library loaded on first use (dlopen), so a command
 * that never needs it (version, context, render) does not pay for loading
 * and relocating it and the dozens of libraries it pulls in (libcurl: TLS,
 * Kerberos, LDAP, ...; libgit2: mbedTLS, ssh2, ...). Issue 15 item 4.
 *
 * Used by util/http.c (libcurl) and util/git.c (libgit2) when the build
 * defines PRENV_LAZY_CURL / PRENV_LAZY_GIT2 (the Makefile does for the
 * dynamic build, LAZY=1, the default). Without them those files call the
 * library directly and it is linked as usual (LAZY=0, static builds).
 *
 * Use, with the list of functions as an X-macro:
 *	#define CURL_FUNCS(X) X(curl_easy_init) X(curl_easy_cleanup)
 *	LAZYLIB_DEFINE(lc_lib, "libcurl", "libcurl.so.4", PRENV_LAZY_DIR, CURL_FUNCS);
 *	if (lazylib_load(&lc_lib, err) < 0) return err->code;
 *	CURL *e = LAZYLIB_FN(lc_lib, curl_easy_init)();   (typed as the real one)
 * or by hand with LAZYLIB_INIT (names and slots are parallel arrays of n).
 * Thread-safe; the library stays loaded for the life of the process.
 */
#ifndef PRENV_LAZYLIB_H
#define PRENV_LAZYLIB_H

#include <stddef.h>

struct prenv_err;

struct lazylib {
	const char *what;          /* "libcurl": for messages */
	const char *soname;        /* "libcurl.so.4": found the loader's way */
	const char *dir;           /* tried next: the directory it was built against (may be NULL) */
	const char *const *names;  /* symbols to resolve, all required */
	void **slots;              /* filled with their addresses */
	size_t n;
	int state;                 /* 0 not tried, 1 loaded, -1 failed */
	char msg[384];             /* why it failed */
};

#define LAZYLIB_INIT(what, soname, dir, names, slots, n) \
	{ (what), (soname), (dir), (names), (slots), (n), 0, { 0 } }

#ifndef PRENV_LAZY_DIR
#define PRENV_LAZY_DIR NULL
#endif

#define LAZYLIB_ENUM_(f) LAZY_##f,
#define LAZYLIB_NAME_(f) #f,
/* A static struct lazylib var for the functions FUNCS(X) lists. */
#define LAZYLIB_DEFINE(var, what, soname, dir, FUNCS) \
	enum { FUNCS(LAZYLIB_ENUM_) var##_count }; \
	static const char *const var##_names[] = { FUNCS(LAZYLIB_NAME_) }; \
	static void *var##_slots[var##_count]; \
	static struct lazylib var = LAZYLIB_INIT(what, soname, dir, var##_names, \
						 var##_slots, var##_count)
/* f, resolved by var, with f's own type (the header's prototype). */
#define LAZYLIB_FN(var, f) ((__typeof__(&f))var##_slots[LAZY_##f])

/* Loads the library and resolves every name, once. Returns 0, or
 * PRENV_EFAIL with err saying which library or symbol is missing and what
 * to install (every later call fails the same way). */
int lazylib_load(struct lazylib *l, struct prenv_err *err);

/* Whether it is loaded (no attempt is made). */
int lazylib_loaded(const struct lazylib *l);

#endif
