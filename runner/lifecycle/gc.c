/* gc.c - the gc decision (pure: no I/O); see gc.h */
#include "lifecycle/gc.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/plan.h"
#include "util/err.h"
#include "util/names.h"

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

int gc_decide(const struct prenv_config *cfg, const struct gc_env *e, const char *state,
	      time_t now, struct gc_decision *d)
{
	long pr = gc_env_pr(e);
	long long at = e->deployed_at;

	d->action = GC_KEEP;
	prenv_buf_reset(&d->why);
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
		why_kept(&d->why, pr, state, d->ttl, at, now);
	}
	return d->why.failed ? PRENV_ENOMEM : 0;
}

void gc_decision_clear(struct gc_decision *d)
{
	prenv_buf_free(&d->why);
	memset(d, 0, sizeof(*d));
	prenv_buf_init(&d->why, 0);
}
