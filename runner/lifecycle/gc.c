/* gc.c - the gc decision (pure: no I/O); see gc.h */
#include "lifecycle/gc.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/plan.h"
#include "util/err.h"
#include "util/names.h"
#include "util/schedule.h"

void gc_duration(struct prenv_buf *b, long s)
{
	static const struct { long secs; char unit; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	size_t i;
	int shown = 0;

	if (s < 0)
		s = 0;
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && shown < 2; i++) {
		long n = s / units[i].secs;

		if (units[i].unit == 'd' && s < 7 * 86400)
			continue;

		if (n > 0 || (shown == 0 && units[i].secs == 1)) {
			prenv_buf_printf(b, "%ld%c", n, units[i].unit);
			s -= n * units[i].secs;
			shown++;
		} else if (shown) {
			break;
		}
	}
}

const struct config_rule *gc_rule(const struct prenv_config *cfg, const char *name, long pr,
				  int *protected_)
{
	return plan_rule_for_env(cfg, name, pr, protected_);
}

long gc_env_pr(const struct gc_env *e)
{
	return e->pr > 0 ? e->pr : plan_env_pr(e->name);
}

int gc_wants_pr_state(const struct prenv_config *cfg, const struct gc_env *e)
{
	long pr = gc_env_pr(e);
	int protected_ = 0;

	gc_rule(cfg, e->name, pr, &protected_);
	return pr > 0 && !protected_;
}

/* Why an environment is kept: its PR and TTL. */
static void why_kept(struct prenv_buf *why, long pr, const char *state, long ttl,
		     long long at, time_t now)
{
	if (pr > 0)
		prenv_buf_printf(why, "PR #%ld %s, ", pr, state ? state : "state unknown");
	if (ttl <= 0) {
		prenv_buf_adds(why, "no TTL");
		return;
	}
	prenv_buf_adds(why, "TTL ");
	gc_duration(why, ttl);
	if (at < 0) {
		prenv_buf_adds(why, ": deploy time unknown");
	} else {
		prenv_buf_adds(why, ": ");
		gc_duration(why, (long)(at + ttl - (long long)now));
		prenv_buf_adds(why, " left");
	}
}

static long long latest(long long a, long long b)
{
	return a > b ? a : b;
}

/* "Mon 08:00 (Europe/Paris)" */
static void local_when(struct prenv_buf *b, const struct schedule *s, long long t)
{
	schedule_fmt_local(b, s, (time_t)t);
	prenv_buf_printf(b, " (%s)", s->tz);
}

/* The next opening of s once the window around now (st) is over; -1 none. */
static long long next_opening(const struct schedule *s, const struct sched_state *st)
{
	struct sched_state after;

	if (!st->awake)
		return st->until;
	if (st->until < 0 || schedule_at(s, (time_t)st->until, &after) < 0)
		return -1;
	return after.awake ? -1 : after.until;
}

void gc_sleep_until(struct prenv_buf *b, const struct config_rule *r, time_t now)
{
	struct sched_state st;
	long long t;

	if (!r || !r->has_schedule || schedule_at(&r->schedule, now, &st) < 0)
		return;
	if ((t = next_opening(&r->schedule, &st)) > 0) {
		prenv_buf_adds(b, "until ");
		local_when(b, &r->schedule, t);
	}
}

/* An asleep environment: woken when a window opened since it fell asleep. */
static void decide_asleep(const struct gc_env *e, const struct config_rule *r, time_t now,
			  struct gc_decision *d)
{
	struct sched_state st = { 0, -1, -1 };

	if (r && r->has_schedule && schedule_at(&r->schedule, now, &st) == 0 && st.awake &&
	    st.since > 0 && e->asleep_since < st.since) {
		d->action = GC_WAKE;
		prenv_buf_adds(&d->why, "awake window opened ");
		local_when(&d->why, &r->schedule, st.since);
		return;
	}
	d->asleep = 1;
	d->next_wake = r && r->has_schedule ? next_opening(&r->schedule, &st) : -1;
	prenv_buf_adds(&d->why, "sleeping");
}

/* An awake environment: put to sleep outside its window or when idle. */
static void decide_awake(const struct gc_env *e, const struct config_rule *r, time_t now,
			 struct gc_decision *d)
{
	struct sched_state st = { 1, -1, -1 };
	long long act = latest(latest(e->deployed_at, e->touched_at), e->woken_at);
	long long idle_from = act;
	int sched = r->has_schedule && schedule_at(&r->schedule, now, &st) == 0;

	if (act <= 0)
		act = idle_from = -1;
	if (sched && !st.awake) {
		long grace = r->sleep_after > 0 ? r->sleep_after : 3600;

		if (act < 0 || (st.since > 0 && act < st.since) || (long long)now - act >= grace) {
			d->action = GC_SLEEP;
			prenv_buf_adds(&d->why, "outside the awake window");
			if (st.since > 0) {
				prenv_buf_adds(&d->why, " (closed ");
				local_when(&d->why, &r->schedule, st.since);
				prenv_buf_addc(&d->why, ')');
			}
			d->next_wake = st.until;
			d->asleep = 1;
		}
		return;
	}
	if (sched && st.since > 0)
		idle_from = latest(idle_from, st.since);
	if (r->sleep_after > 0 && idle_from > 0 && (long long)now - idle_from >= r->sleep_after) {
		d->action = GC_SLEEP;
		prenv_buf_adds(&d->why, "idle for ");
		gc_duration(&d->why, (long)((long long)now - idle_from));
		prenv_buf_adds(&d->why, " (sleep_after ");
		gc_duration(&d->why, r->sleep_after);
		prenv_buf_adds(&d->why, ": no deploy, touch or wake since)");
		d->next_wake = sched ? next_opening(&r->schedule, &st) : -1;
		d->asleep = 1;
	}
}

/* The sleep part of a decision (nothing was destroyed). */
static void decide_sleep(const struct gc_env *e, time_t now, struct gc_decision *d)
{
	const struct config_rule *r = d->rule;

	d->next_wake = -1;
	if (e->asleep_since > 0)
		decide_asleep(e, r, now, d);
	else if (r && (r->has_schedule || r->sleep_after > 0))
		decide_awake(e, r, now, d);
	if (d->asleep) {
		if (d->next_wake > 0 && r) {
			prenv_buf_adds(&d->until, "until ");
			local_when(&d->until, &r->schedule, d->next_wake);
		}
		if (d->action == GC_KEEP && d->until.len)
			prenv_buf_printf(&d->why, " %s", d->until.ptr);
	}
}

int gc_decide(const struct prenv_config *cfg, const struct gc_env *e, const char *state,
	      time_t now, struct gc_decision *d)
{
	long pr = gc_env_pr(e);
	long long at = e->deployed_at;

	if (!d->until.ptr)
		prenv_buf_init(&d->until, 0);
	d->action = GC_KEEP;
	d->asleep = 0;
	d->next_wake = -1;
	prenv_buf_reset(&d->why);
	prenv_buf_reset(&d->until);
	d->rule = gc_rule(cfg, e->name, pr, &d->protected_);
	d->ttl = d->rule ? d->rule->ttl_seconds : 0;
	if (d->protected_) {
		prenv_buf_adds(&d->why, "protected");
	} else if (state && strcmp(state, "open") != 0) {
		d->action = GC_DESTROY;
		prenv_buf_printf(&d->why, "PR #%ld %s", pr, state);
	} else if (d->ttl > 0 && at >= 0 && (long long)now - at >= d->ttl) {
		d->action = GC_DESTROY;
		prenv_buf_adds(&d->why, "TTL ");
		gc_duration(&d->why, d->ttl);
		prenv_buf_adds(&d->why, " passed: deployed ");
		gc_duration(&d->why, (long)((long long)now - at));
		prenv_buf_adds(&d->why, " ago");
	} else {
		decide_sleep(e, now, d);
		if (d->action == GC_KEEP) {
			if (d->why.len)
				prenv_buf_adds(&d->why, "; ");
			why_kept(&d->why, pr, state, d->ttl, at, now);
		}
	}
	return d->why.failed || d->until.failed ? PRENV_ENOMEM : 0;
}

void gc_decision_clear(struct gc_decision *d)
{
	prenv_buf_free(&d->why);
	prenv_buf_free(&d->until);
	memset(d, 0, sizeof(*d));
	prenv_buf_init(&d->why, 0);
	prenv_buf_init(&d->until, 0);
}
