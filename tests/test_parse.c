/* Exact parsers, calendar arithmetic, time zones and daylight saving. */
#include "testutil.h"
#include "parse.h"
#include "tz.h"

/* Money is parsed exactly into cents: 1.08 is 108, never via a float. */
static void
test_decimal_exact(void **state)
{
	const char *why;
	int64_t v;

	(void)state;
	assert_int_equal(parse_decimal("1.08", 2, 1000000, &v, &why), 0);
	assert_int_equal(v, 108);
	assert_int_equal(parse_decimal("-1.08", 2, 1000000, &v, &why), 0);
	assert_int_equal(v, -108);
	assert_int_equal(parse_decimal("17.5", 2, 1000000, &v, &why), 0);
	assert_int_equal(v, 1750);
	assert_int_equal(parse_decimal("20", 2, 1000000, &v, &why), 0);
	assert_int_equal(v, 2000);
	assert_int_equal(parse_decimal("0.187", 5, 100000000, &v, &why), 0);
	assert_int_equal(v, 18700);
	assert_int_equal(parse_decimal("1.085", 2, 1000000, &v, &why), -1);
	assert_string_equal(why, "more than 2 decimals");
	assert_int_equal(parse_decimal("1.", 2, 1000000, &v, &why), -1);
	assert_int_equal(parse_decimal(".5", 2, 1000000, &v, &why), -1);
	assert_int_equal(parse_decimal("1e3", 2, 1000000, &v, &why), -1);
	assert_int_equal(parse_decimal("+1", 2, 1000000, &v, &why), -1);
	assert_int_equal(parse_decimal("", 2, 1000000, &v, &why), -1);
	assert_int_equal(parse_decimal("99999999999999999999", 2, 1000000, &v,
	    &why), -1);
	assert_string_equal(why, "out of range");
}

/* RFC 3339 times with offsets convert to UTC; fractions are dropped. */
static void
test_rfc3339(void **state)
{
	const char *why;
	int64_t a, b;

	(void)state;
	assert_int_equal(parse_rfc3339("2026-11-28T08:00:00Z", &a, &why), 0);
	assert_int_equal(parse_rfc3339("2026-11-28T09:00:00.999+01:00", &b,
	    &why), 0);
	assert_int_equal(a, b);
	assert_int_equal(a, 1795852800);
	assert_int_equal(parse_rfc3339("2026-11-28T03:30:00-04:30", &b, &why), 0);
	assert_int_equal(b, a);
	assert_int_equal(parse_rfc3339("2026-11-28 08:00:00Z", &a, &why), -1);
	assert_int_equal(parse_rfc3339("2026-11-28T08:00:00", &a, &why), -1);
	assert_int_equal(parse_rfc3339("2026-02-29T08:00:00Z", &a, &why), -1);
	assert_int_equal(parse_rfc3339("2026-11-28T24:00:00Z", &a, &why), -1);
	assert_int_equal(parse_rfc3339("2026-11-28T08:00:00.Z", &a, &why), -1);
	assert_int_equal(parse_rfc3339("2026-11-28T08:00:00+0100", &a, &why), -1);
}

/* HH:MM:SS within bounds; 24:00:00 only where allowed. */
static void
test_hms(void **state)
{
	const char *why;
	int32_t v;

	(void)state;
	assert_int_equal(parse_hms("04:00:00", 23, &v, &why), 0);
	assert_int_equal(v, 14400);
	assert_int_equal(parse_hms("7:30:00", 24, &v, &why), 0);
	assert_int_equal(v, 27000);
	assert_int_equal(parse_hms("24:00:00", 24, &v, &why), 0);
	assert_int_equal(v, 86400);
	assert_int_equal(parse_hms("24:00:01", 24, &v, &why), -1);
	assert_int_equal(parse_hms("12:60:00", 24, &v, &why), -1);
	assert_int_equal(parse_hms("12:00", 24, &v, &why), -1);
}

/* Civil dates round-trip and weekdays are right (Monday = 0). */
static void
test_civil(void **state)
{
	char buf[21];
	int y;
	unsigned m, d;
	int32_t days;
	const char *why;

	(void)state;
	days = civil_to_days(2026, 11, 30);
	assert_int_equal(civil_weekday(days), 0);
	civil_from_days(days, &y, &m, &d);
	assert_int_equal(y, 2026);
	assert_int_equal(m, 11);
	assert_int_equal(d, 30);
	civil_format_day(days, buf);
	assert_string_equal(buf, "2026-11-30");
	civil_format_utc(1795852800, buf);
	assert_string_equal(buf, "2026-11-28T08:00:00Z");
	assert_int_equal(parse_yyyymmdd("20240229", &days, &why), 0);
	assert_int_equal(parse_yyyymmdd("20230229", &days, &why), -1);
	assert_int_equal(civil_day_of(-1), -1);
}

/* parse_day takes real YYYY-MM-DD dates only (--day, --date, audit). */
static void
test_day(void **state)
{
	const char *why;
	int32_t days;

	(void)state;
	assert_int_equal(parse_day("2026-11-30", &days, &why), 0);
	assert_int_equal(days, civil_to_days(2026, 11, 30));
	assert_int_equal(parse_day("2024-02-29", &days, &why), 0);
	assert_int_equal(parse_day("2023-02-29", &days, &why), -1);
	assert_string_equal(why, "no such date");
	assert_int_equal(parse_day("2026-13-01", &days, &why), -1);
	assert_int_equal(parse_day("20261130", &days, &why), -1);
	assert_string_equal(why, "not a day (YYYY-MM-DD)");
	assert_int_equal(parse_day("2026-11-3", &days, &why), -1);
	assert_int_equal(parse_day("2026-11-300", &days, &why), -1);
	assert_int_equal(parse_day("2026/11/30", &days, &why), -1);
	assert_int_equal(parse_day("2026-1a-30", &days, &why), -1);
	assert_string_equal(why, "not a day (YYYY-MM-DD)");
	assert_int_equal(parse_day("", &days, &why), -1);
}

/* Europe/Amsterdam: CET in winter, CEST from 2026-03-29 01:00 UTC. */
static void
test_tz_amsterdam_2026(void **state)
{
	char err[256];
	struct tz *z = tz_load("Europe/Amsterdam", err, sizeof err);
	int64_t t;
	const char *why;

	(void)state;
	assert_non_null(z);
	parse_rfc3339("2026-03-29T00:59:59Z", &t, &why);
	assert_int_equal(tz_offset(z, t), 3600);
	parse_rfc3339("2026-03-29T01:00:00Z", &t, &why);
	assert_int_equal(tz_offset(z, t), 7200);
	parse_rfc3339("2026-10-25T00:59:59Z", &t, &why);
	assert_int_equal(tz_offset(z, t), 7200);
	parse_rfc3339("2026-10-25T01:00:00Z", &t, &why);
	assert_int_equal(tz_offset(z, t), 3600);
	/* Past the table's end the POSIX rule takes over: 2090 too. */
	parse_rfc3339("2090-07-01T12:00:00Z", &t, &why);
	assert_int_equal(tz_offset(z, t), 7200);
	parse_rfc3339("2090-12-01T12:00:00Z", &t, &why);
	assert_int_equal(tz_offset(z, t), 3600);
	/* 02:00-02:59 is skipped in March and repeated in October. */
	assert_true(tz_tod_unstable(z, 2 * 3600));
	assert_true(tz_tod_unstable(z, 2 * 3600 + 3599));
	assert_false(tz_tod_unstable(z, 3 * 3600));
	assert_false(tz_tod_unstable(z, 4 * 3600));
	assert_false(tz_tod_unstable(z, 3600 + 3599));
	tz_free(z);
}

/* Unknown or hostile zone names are refused with a clear message. */
static void
test_tz_bad_names(void **state)
{
	char err[256];

	(void)state;
	assert_null(tz_load("../../etc/passwd", err, sizeof err));
	assert_non_null(strstr(err, "not an IANA time zone name"));
	assert_null(tz_load("Mars/Base", err, sizeof err));
	assert_non_null(strstr(err, "unknown time zone"));
	assert_null(tz_parse((const unsigned char *)"TZif2junk", 9, err,
	    sizeof err));
}

/* UTC and fixed zones have no unstable hours. */
static void
test_tz_utc(void **state)
{
	char err[256];
	struct tz *z = tz_load("UTC", err, sizeof err);

	(void)state;
	assert_non_null(z);
	assert_int_equal(tz_offset(z, 1795852800), 0);
	assert_false(tz_tod_unstable(z, 2 * 3600));
	tz_free(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decimal_exact),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_hms),
		cmocka_unit_test(test_civil),
		cmocka_unit_test(test_day),
		cmocka_unit_test(test_tz_amsterdam_2026),
		cmocka_unit_test(test_tz_bad_names),
		cmocka_unit_test(test_tz_utc),
	};

	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
