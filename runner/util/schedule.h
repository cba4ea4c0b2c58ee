/* schedule.h - awake windows of an environment ("Mon-Fri 08:00-20:00" in a
 * time zone) and where an instant falls in them. Pure but for the time
 * zone: local times are converted through the system's tz database
 * (localtime_r/mktime with TZ set for the call and restored after: TZ is
 * process-global, so these functions are called from the main thread while
 * no other thread converts times; prenv's only other threads are the
 * Kubernetes watch threads, which never do).
 *
 * It lives in util/ (not lifecycle/) because the config loader validates a
 * rule's schedule at file:line:col and config may depend on util only.
 */
#ifndef PRENV_SCHEDULE_H
#define PRENV_SCHEDULE_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

#define SCHED_MAX_WINDOWS 8
#define SCHED_TZ_MAX 64

/* One window: the days it opens on (bit 0 Sunday .. bit 6 Saturday) and its
 * local times in minutes after midnight; end 1440 is midnight, an end at or
 * before the start closes on the next day ("Fri 22:00-02:00"). */
struct sched_window {
	unsigned days;
	int start, end;
};

struct schedule {
	struct sched_window w[SCHED_MAX_WINDOWS];
	int n;
	char tz[SCHED_TZ_MAX];  /* an IANA name ("Europe/Paris"), "UTC" by default */
};

/* Parses awake: windows "DAYS HH:MM-HH:MM" joined by ',' where DAYS is a day
 * ("Mon"), a range ("Mon-Fri", "Fri-Mon" wraps) or "daily". tz NULL or ""
 * is UTC; else it must name a zone of the tz database. On error returns -1,
 * why gets one sentence and *at the offset in awake of the bad part (0 for
 * the time zone; *at (size_t)-1 when the time zone is the problem). */
int schedule_parse(struct schedule *out, const char *awake, const char *tz,
		   struct prenv_buf *why, size_t *at);

/* 1 when tz is a safe name ([A-Za-z0-9_+-] parts joined by '/', no "..")
 * of a file in the tz database ($TZDIR, else /usr/share/zoneinfo), or "UTC". */
int schedule_tz_known(const char *tz);

/* Where t falls. awake: inside a window. since: when the current window
 * opened (awake) or the last one closed (asleep); until: when it closes
 * (awake) or the next opens (asleep). -1 when none within 8 days (a window
 * open all week has no close). Windows that touch or overlap count as one. */
struct sched_state {
	int awake;
	time_t since, until;
};
int schedule_at(const struct schedule *s, time_t t, struct sched_state *out);

/* t as "Mon 08:00" in the schedule's zone, appended to b. */
void schedule_fmt_local(struct prenv_buf *b, const struct schedule *s, time_t t);

#endif
