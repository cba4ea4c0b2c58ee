/* test_schedule.c - awake windows (util/schedule.c): parsing, and where an
 * instant falls, in Europe/Paris across both DST changes of 2026 (the tz
 * database of the system), in UTC, overnight, merged and all-week windows. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/schedule.h"

/* "2026-03-29T00:30" (UTC) -> unix seconds; NULL -> -1 */
static time_t utc(const char *s)
{
	struct tm tm;

	if (!s)
		return -1;
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(s, "%Y-%m-%dT%H:%M", &tm));
	return timegm(&tm);
}

struct at_case {
	const char *awake, *tz, *at;
	int awake_now;
	const char *since, *until;   /* UTC, NULL: none */
	const char *until_local;     /* schedule_fmt_local(until) */
};

static const struct at_case at_cases[] = {
	/* spring forward, Sunday 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z):
	 * 01:00-05:00 local is 00:00Z-03:00Z, three hours */
	{ "Sun 01:00-05:00", "Europe/Paris", "2026-03-28T23:59", 0, "2026-03-22T04:00",
	  "2026-03-29T00:00", "Sun 01:00" },
	{ "Sun 01:00-05:00", "Europe/Paris", "2026-03-29T00:00", 1, "2026-03-29T00:00",
	  "2026-03-29T03:00", "Sun 05:00" },
	{ "Sun 01:00-05:00", "Europe/Paris", "2026-03-29T02:59", 1, "2026-03-29T00:00",
	  "2026-03-29T03:00", "Sun 05:00" },
	{ "Sun 01:00-05:00", "Europe/Paris", "2026-03-29T03:00", 0, "2026-03-29T03:00",
	  "2026-04-04T23:00", "Sun 01:00" },
	/* fall back, Sunday 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z): the
	 * same window is 23:00Z-04:00Z, five hours */
	{ "Sun 01:00-05:00", "Europe/Paris", "2026-10-24T22:59", 0, "2026-10-18T03:00",
	  "2026-10-24T23:00", "Sun 01:00" },
	{ "Sun 01:00-05:00", "Europe/Paris", "2026-10-25T03:59", 1, "2026-10-24T23:00",
	  "2026-10-25T04:00", "Sun 05:00" },
	{ "Sun 01:00-05:00", "Europe/Paris", "2026-10-25T04:00", 0, "2026-10-25T04:00",
	  "2026-11-01T00:00", "Sun 01:00" },
	/* working hours across the spring change: Friday closes 19:00Z (CET),
	 * Monday opens 06:00Z (CEST) */
	{ "Mon-Fri 08:00-20:00", "Europe/Paris", "2026-03-27T18:59", 1, "2026-03-27T07:00",
	  "2026-03-27T19:00", "Fri 20:00" },
	{ "Mon-Fri 08:00-20:00", "Europe/Paris", "2026-03-28T12:00", 0, "2026-03-27T19:00",
	  "2026-03-30T06:00", "Mon 08:00" },
	{ "Mon-Fri 08:00-20:00", "Europe/Paris", "2026-03-30T06:00", 1, "2026-03-30T06:00",
	  "2026-03-30T18:00", "Mon 20:00" },
	{ "Mon-Fri 08:00-20:00", "Europe/Paris", "2026-03-30T05:59", 0, "2026-03-27T19:00",
	  "2026-03-30T06:00", "Mon 08:00" },
	/* UTC by default; an overnight window belongs to the day it opens */
	{ "Fri 22:00-02:00", NULL, "2026-12-05T01:00", 1, "2026-12-04T22:00", "2026-12-05T02:00",
	  "Sat 02:00" },
	{ "Fri 22:00-02:00", "UTC", "2026-12-05T02:00", 0, "2026-12-05T02:00", "2026-12-11T22:00",
	  "Fri 22:00" },
	/* touching windows are one; a range may wrap the week */
	{ "Mon-Fri 08:00-12:00, Mon-Fri 12:00-18:00", NULL, "2026-12-02T11:00", 1,
	  "2026-12-02T08:00", "2026-12-02T18:00", "Wed 18:00" },
	{ "Fri-Mon 10:00-11:00", NULL, "2026-12-01T10:30", 0, "2026-11-30T11:00",
	  "2026-12-04T10:00", "Fri 10:00" },
	/* awake all week: no opening, no closing */
	{ "daily 00:00-24:00", "Europe/Paris", "2026-03-29T01:30", 1, NULL, NULL, NULL },
};

static void test_schedule_at_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(at_cases) / sizeof(at_cases[0]); i++) {
		const struct at_case *c = &at_cases[i];
		struct prenv_buf why = PRENV_BUF_INIT, loc = PRENV_BUF_INIT;
		struct schedule s;
		struct sched_state st;
		size_t at;

		printf("case %zu: %s (%s) at %s\n", i, c->awake, c->tz ? c->tz : "-", c->at);
		assert_int_equal(0, schedule_parse(&s, c->awake, c->tz, &why, &at));
		assert_int_equal(0, schedule_at(&s, utc(c->at), &st));
		assert_int_equal(c->awake_now, st.awake);
		assert_int_equal((long long)utc(c->since), (long long)st.since);
		assert_int_equal((long long)utc(c->until), (long long)st.until);
		if (c->until_local) {
			schedule_fmt_local(&loc, &s, st.until);
			assert_string_equal(c->until_local, loc.ptr);
		}
		prenv_buf_free(&why);
		prenv_buf_free(&loc);
	}
	/* TZ is restored */
	assert_null(getenv("TZ"));
}

struct bad_case {
	const char *awake, *tz;
	size_t at;
	const char *why;
};

static const struct bad_case bad_cases[] = {
	{ "Mon-Fry 08:00-20:00", NULL, 4, "expected a day after '-'" },
	{ "Mon-Fri 8:00-20:00", NULL, 8, "expected hours HH:MM-HH:MM" },
	{ "Mon-Fri 08:00-25:00", NULL, 8, "expected hours" },
	{ "Mon-Fri 24:00-08:00", NULL, 8, "expected hours" },
	{ "Mon-Fri 08:00-08:00", NULL, 8, "opens and closes at the same time" },
	{ "Mon-Fri08:00-20:00", NULL, 7, "expected a space" },
	{ "weekdays 08:00-20:00", NULL, 0, "expected a day" },
	{ "Mon-Fri 08:00-20:00; Sat 10:00-12:00", NULL, 19, "expected ','" },
	{ "", NULL, 0, "expected a day" },
	{ "Mon-Fri 08:00-20:00", "Europe/Nowhere", (size_t)-1, "unknown time zone 'Europe/Nowhere'" },
	{ "Mon-Fri 08:00-20:00", "../../etc/passwd", (size_t)-1, "unknown time zone" },
	{ "Mon-Fri 08:00-20:00", "/etc/passwd", (size_t)-1, "unknown time zone" },
};

static void test_schedule_parse_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct prenv_buf why = PRENV_BUF_INIT;
		struct schedule s;
		size_t at = 99;

		printf("bad %zu: '%s'\n", i, bad_cases[i].awake);
		assert_int_equal(-1, schedule_parse(&s, bad_cases[i].awake, bad_cases[i].tz, &why, &at));
		assert_non_null(strstr(why.ptr, bad_cases[i].why));
		assert_int_equal(bad_cases[i].at, at);
		prenv_buf_free(&why);
	}
}

/* An earlier TZ of the process is put back. */
static void test_schedule_keeps_tz(void **state)
{
	struct prenv_buf why = PRENV_BUF_INIT;
	struct schedule s;
	struct sched_state st;
	size_t at;

	(void)state;
	setenv("TZ", "America/New_York", 1);
	assert_int_equal(0, schedule_parse(&s, "Mon-Fri 08:00-20:00", "Asia/Tokyo", &why, &at));
	assert_int_equal(0, schedule_at(&s, utc("2026-12-02T00:00"), &st));
	assert_int_equal(1, st.awake); /* 09:00 in Tokyo */
	assert_string_equal("America/New_York", getenv("TZ"));
	unsetenv("TZ");
	prenv_buf_free(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule_at_table),
		cmocka_unit_test(test_schedule_parse_errors),
		cmocka_unit_test(test_schedule_keeps_tz),
	};

	unsetenv("TZ");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
