/* schedule.c - awake windows and the tz database; see schedule.h */
#include "util/schedule.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *const day_names[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

/* ------------------------------------------------------------ time zone */

int schedule_tz_known(const char *tz)
{
	const char *dir = getenv("TZDIR"), *p;
	struct prenv_buf path = PRENV_BUF_INIT;
	struct stat st;
	int ok, part = 0;

	if (!tz || !*tz || strlen(tz) >= SCHED_TZ_MAX)
		return 0;
	if (!strcmp(tz, "UTC"))
		return 1;
	for (p = tz; *p; p++) {
		if (*p == '/') {
			if (!part)
				return 0;
			part = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && !strchr("_+-.", *p))
			return 0;
		part++;
	}
	if (!part || strstr(tz, "..") || tz[0] == '.')
		return 0;
	prenv_buf_printf(&path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
	ok = !path.failed && stat(path.ptr, &st) == 0 && S_ISREG(st.st_mode);
	prenv_buf_free(&path);
	return ok;
}

/* TZ for the conversions of one call, and back (TZ is process-global). */
struct tz_saved {
	char *old;
	int had;
};

static int tz_enter(struct tz_saved *sv, const char *tz)
{
	const char *cur = getenv("TZ");
	char name[SCHED_TZ_MAX + 2];

	sv->had = cur != NULL;
	sv->old = cur ? strdup(cur) : NULL;
	if (cur && !sv->old)
		return -1;
	snprintf(name, sizeof(name), ":%s", tz && *tz ? tz : "UTC");
	if (setenv("TZ", name, 1) < 0)
		return -1;
	tzset();
	return 0;
}

static void tz_leave(struct tz_saved *sv)
{
	if (sv->had)
		setenv("TZ", sv->old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(sv->old);
	sv->old = NULL;
}

/* ------------------------------------------------------------ parsing */

static int parse_day(const char **p)
{
	int i;

	for (i = 0; i < 7; i++) {
		if (!strncasecmp(*p, day_names[i], 3) && !isalpha((unsigned char)(*p)[3])) {
			*p += 3;
			return i;
		}
	}
	return -1;
}

/* "HH:MM", 00:00 .. 24:00 (24:00 only when allow24). */
static int parse_hm(const char **p, int allow24)
{
	const char *s = *p;
	int h, m;

	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m || !allow24)))
		return -1;
	*p = s + 5;
	return h * 60 + m;
}

static unsigned day_range(int a, int b)
{
	unsigned days = 0;
	int d = a;

	for (;;) {
		days |= 1u << d;
		if (d == b)
			break;
		d = (d + 1) % 7;
	}
	return days;
}

/* One "DAYS HH:MM-HH:MM" at *p. */
static int parse_window(const char **p, struct sched_window *w, struct prenv_buf *why)
{
	const char *s = *p;
	int a, b;

	if (!strncasecmp(s, "daily", 5)) {
		w->days = 0x7f;
		s += 5;
	} else {
		if ((a = parse_day(&s)) < 0)
			return *p = s, prenv_buf_adds(why, "expected a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun), a range "
					      "like Mon-Fri, or daily"), -1;
		b = a;
		if (*s == '-' && (s++, (b = parse_day(&s)) < 0))
			return *p = s, prenv_buf_adds(why, "expected a day after '-' (e.g. Mon-Fri)"), -1;
		w->days = day_range(a, b);
	}
	if (*s != ' ')
		return *p = s, prenv_buf_adds(why, "expected a space and the hours, e.g. 'Mon-Fri 08:00-20:00'"), -1;
	while (*s == ' ')
		s++;
	*p = s;
	if ((w->start = parse_hm(&s, 0)) < 0 || *s++ != '-' || (w->end = parse_hm(&s, 1)) < 0)
		return prenv_buf_adds(why, "expected hours HH:MM-HH:MM (24-hour clock, end up to 24:00), "
				      "e.g. 08:00-20:00"), -1;
	if (w->start == w->end % 1440 && w->end != 1440 && w->start != 0)
		return prenv_buf_adds(why, "the window opens and closes at the same time"), -1;
	*p = s;
	return 0;
}

int schedule_parse(struct schedule *out, const char *awake, const char *tz,
		   struct prenv_buf *why, size_t *at)
{
	const char *p = awake ? awake : "";

	memset(out, 0, sizeof(*out));
	*at = 0;
	if (tz && *tz && !schedule_tz_known(tz)) {
		*at = (size_t)-1;
		prenv_buf_printf(why, "unknown time zone '%s': use a name of the tz database such as "
				 "Europe/Paris, America/New_York or UTC", tz);
		return -1;
	}
	snprintf(out->tz, sizeof(out->tz), "%s", tz && *tz ? tz : "UTC");
	for (;;) {
		while (*p == ' ')
			p++;
		if (out->n == SCHED_MAX_WINDOWS) {
			*at = (size_t)(p - awake);
			prenv_buf_printf(why, "at most %d windows", SCHED_MAX_WINDOWS);
			return -1;
		}
		if (parse_window(&p, &out->w[out->n], why) < 0) {
			*at = (size_t)(p - awake);
			return -1;
		}
		out->n++;
		while (*p == ' ')
			p++;
		if (!*p)
			return 0;
		if (*p != ',') {
			*at = (size_t)(p - awake);
			prenv_buf_adds(why, "expected ',' and another window, or the end");
			return -1;
		}
		p++;
	}
}

/* ------------------------------------------------------------ instants */

#define SCHED_SPAN 8   /* days looked at either side of an instant */
#define SCHED_MAXIV ((2 * SCHED_SPAN + 1) * SCHED_MAX_WINDOWS)

struct iv {
	time_t s, e;
};

/* The local wall time y-m-d hh:mm (normalised) as an instant. */
static time_t local_time(const struct tm *day, int plus_days, int minutes)
{
	struct tm tm = *day;

	tm.tm_mday += plus_days;
	tm.tm_hour = minutes / 60;
	tm.tm_min = minutes % 60;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

/* Every window opening within SCHED_SPAN days of t (TZ already set). */
static size_t intervals(const struct schedule *s, time_t t, struct iv *out)
{
	struct tm day;
	size_t n = 0;
	int k, i;

	localtime_r(&t, &day);
	for (k = -SCHED_SPAN; k <= SCHED_SPAN; k++) {
		struct tm noon = day;
		time_t tn;

		noon.tm_mday += k;
		noon.tm_hour = 12;
		noon.tm_min = noon.tm_sec = 0;
		noon.tm_isdst = -1;
		tn = mktime(&noon);
		localtime_r(&tn, &noon);
		for (i = 0; i < s->n; i++) {
			const struct sched_window *w = &s->w[i];

			if (!(w->days & (1u << noon.tm_wday)))
				continue;
			out[n].s = local_time(&noon, 0, w->start);
			out[n].e = local_time(&noon, w->end <= w->start ? 1 : 0, w->end);
			if (out[n].e > out[n].s)
				n++;
		}
	}
	return n;
}

/* Widens [*lo, *hi) by every interval that touches it. */
static void widen(const struct iv *v, size_t n, time_t *lo, time_t *hi, int *open_lo, int *open_hi)
{
	int changed = 1;
	size_t i;
	time_t first = v[0].s, last = v[0].e;

	for (i = 0; i < n; i++) {
		first = v[i].s < first ? v[i].s : first;
		last = v[i].e > last ? v[i].e : last;
	}
	while (changed) {
		changed = 0;
		for (i = 0; i < n; i++) {
			if (v[i].s <= *hi && v[i].e >= *lo && (v[i].s < *lo || v[i].e > *hi)) {
				*lo = v[i].s < *lo ? v[i].s : *lo;
				*hi = v[i].e > *hi ? v[i].e : *hi;
				changed = 1;
			}
		}
	}
	*open_lo = *lo <= first;
	*open_hi = *hi >= last;
}

int schedule_at(const struct schedule *s, time_t t, struct sched_state *out)
{
	struct iv v[SCHED_MAXIV];
	struct tz_saved sv;
	size_t n, i;

	out->awake = 0;
	out->since = out->until = -1;
	if (tz_enter(&sv, s->tz) < 0)
		return -1;
	n = intervals(s, t, v);
	tz_leave(&sv);
	for (i = 0; i < n; i++) {
		if (v[i].s <= t && t < v[i].e) {
			time_t lo = v[i].s, hi = v[i].e;
			int olo, ohi;

			widen(v, n, &lo, &hi, &olo, &ohi);
			out->awake = 1;
			out->since = olo ? -1 : lo;
			out->until = ohi ? -1 : hi;
			return 0;
		}
	}
	for (i = 0; i < n; i++) {
		if (v[i].e <= t && (out->since < 0 || v[i].e > out->since))
			out->since = v[i].e;
		if (v[i].s > t && (out->until < 0 || v[i].s < out->until))
			out->until = v[i].s;
	}
	return 0;
}

void schedule_fmt_local(struct prenv_buf *b, const struct schedule *s, time_t t)
{
	struct tz_saved sv;
	struct tm tm;
	char when[32];

	if (tz_enter(&sv, s->tz) < 0) {
		prenv_buf_adds(b, "?");
		return;
	}
	localtime_r(&t, &tm);
	tz_leave(&sv);
	strftime(when, sizeof(when), "%H:%M", &tm);
	prenv_buf_printf(b, "%s %s", day_names[tm.tm_wday], when);
}
