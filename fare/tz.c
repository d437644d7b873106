/*
 * TZif reader.  We read the version 2+ (64-bit) block when present and the
 * footer's POSIX rule (e.g. "CET-1CEST,M3.5.0,M10.5.0/3"), so that times
 * beyond 2037 follow the rule as the tz database intends.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "limits.h"
#include "parse.h"
#include "tz.h"

struct tz_rule_date {
	char	 kind;		/* 'J', 'n' or 'M' */
	int	 n, m, w, d;
	int32_t	 time_s;	/* local time of the change, default 2:00 */
};

struct tz {
	size_t		 ntrans;
	int64_t		*trans;		/* UTC times of transitions */
	int32_t		*off_after;	/* offset from trans[i] on */
	int32_t		 off_first;	/* before the first transition */
	int		 has_rule;
	int		 rule_has_dst;
	int32_t		 std_off, dst_off;	/* seconds east */
	struct tz_rule_date start, end;
};

static int64_t
be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	if (n == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

/* POSIX "[+-]hh[:mm[:ss]]" into seconds; returns chars used or -1. */
static int
tz_posix_hms(const char *s, int32_t *out)
{
	const char *p = s;
	int sign = 1, part[3] = {0, 0, 0}, i, n;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	for (i = 0; i < 3; i++) {
		if (i > 0) {
			if (*p != ':')
				break;
			p++;
		}
		if (*p < '0' || *p > '9')
			return -1;
		for (n = 0; *p >= '0' && *p <= '9' && n < 3; p++, n++)
			part[i] = part[i] * 10 + (*p - '0');
	}
	if (part[0] > 167 || part[1] > 59 || part[2] > 59)
		return -1;
	*out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	return (int)(p - s);
}

static int
tz_posix_name(const char *s)
{
	const char *p = s;

	if (*p == '<') {
		while (*p != '\0' && *p != '>')
			p++;
		return *p == '>' ? (int)(p - s + 1) : -1;
	}
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	return p - s >= 3 ? (int)(p - s) : -1;
}

static int
tz_posix_date(const char *s, struct tz_rule_date *r)
{
	const char *p = s;
	char *end;
	long a, b, c;
	int n;

	r->time_s = 7200;
	if (*p == 'M') {
		a = strtol(p + 1, &end, 10);
		if (*end != '.')
			return -1;
		b = strtol(end + 1, &end, 10);
		if (*end != '.')
			return -1;
		c = strtol(end + 1, &end, 10);
		if (a < 1 || a > 12 || b < 1 || b > 5 || c < 0 || c > 6)
			return -1;
		r->kind = 'M';
		r->m = (int)a;
		r->w = (int)b;
		r->d = (int)c;
	} else {
		r->kind = *p == 'J' ? 'J' : 'n';
		a = strtol(p + (*p == 'J'), &end, 10);
		if (end == p + (*p == 'J') || a < (r->kind == 'J') || a > 365)
			return -1;
		r->n = (int)a;
	}
	p = end;
	if (*p == '/') {
		if ((n = tz_posix_hms(p + 1, &r->time_s)) == -1)
			return -1;
		p += 1 + n;
	}
	return (int)(p - s);
}

/* Parses the footer; 0 on success (an empty footer means no rule). */
static int
tz_posix(struct tz *z, const char *s)
{
	int n;
	int32_t off;

	if (*s == '\0')
		return 0;
	if ((n = tz_posix_name(s)) == -1)
		return -1;
	s += n;
	if ((n = tz_posix_hms(s, &off)) == -1)
		return -1;
	s += n;
	z->std_off = -off;
	z->has_rule = 1;
	if (*s == '\0')
		return 0;
	if ((n = tz_posix_name(s)) == -1)
		return -1;
	s += n;
	z->dst_off = z->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if ((n = tz_posix_hms(s, &off)) == -1)
			return -1;
		s += n;
		z->dst_off = -off;
	}
	if (*s != ',')
		return -1;	/* DST without rules: not in the tz database */
	if ((n = tz_posix_date(s + 1, &z->start)) == -1)
		return -1;
	s += 1 + n;
	if (*s != ',' || (n = tz_posix_date(s + 1, &z->end)) == -1)
		return -1;
	s += 1 + n;
	z->rule_has_dst = 1;
	return *s == '\0' ? 0 : -1;
}

static int
is_leap(int y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* Local seconds (since the epoch, as if UTC) of a rule date in year y. */
static int64_t
tz_rule_local(const struct tz_rule_date *r, int y)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31};
	int64_t days;

	if (r->kind == 'J')
		days = civil_to_days(y, 1, 1) + r->n - 1 +
		    (is_leap(y) && r->n >= 60);
	else if (r->kind == 'n')
		days = civil_to_days(y, 1, 1) + r->n;
	else {
		int64_t first = civil_to_days(y, (unsigned)r->m, 1);
		int wd_sun = (civil_weekday(first) + 1) % 7;
		int day = 1 + (r->d - wd_sun + 7) % 7 + 7 * (r->w - 1);
		int ml = (int)mdays[r->m - 1] + (r->m == 2 && is_leap(y));
		while (day > ml)
			day -= 7;
		days = first + day - 1;
	}
	return days * 86400 + r->time_s;
}

static int32_t
tz_rule_offset(const struct tz *z, int64_t utc)
{
	int y;
	unsigned m, d;
	int64_t start, end;

	if (!z->rule_has_dst)
		return z->std_off;
	civil_from_days(civil_day_of(utc + z->std_off), &y, &m, &d);
	start = tz_rule_local(&z->start, y) - z->std_off;
	end = tz_rule_local(&z->end, y) - z->dst_off;
	if (start < end)
		return utc >= start && utc < end ? z->dst_off : z->std_off;
	return utc >= end && utc < start ? z->std_off : z->dst_off;
}

int32_t
tz_offset(const struct tz *z, int64_t utc)
{
	const int64_t *base;
	size_t n;

	if (z->ntrans == 0)
		return z->has_rule ? tz_rule_offset(z, utc) : z->off_first;
	if (utc < z->trans[0])
		return z->off_first;
	if (utc >= z->trans[z->ntrans - 1] && z->has_rule)
		return tz_rule_offset(z, utc);
	/* Branch-free binary search: the last transition at or before utc. */
	base = z->trans;
	for (n = z->ntrans; n > 1; n -= n / 2)
		base = base[n / 2] <= utc ? base + n / 2 : base;
	return z->off_after[base - z->trans];
}

static int
tz_in_window(int64_t change_utc, int32_t before, int32_t after, int32_t tod)
{
	int64_t lo = change_utc + (before < after ? before : after);
	int64_t len = after > before ? after - before : before - after;
	int64_t lo_tod = lo - civil_day_of(lo) * 86400, t = tod;

	if (t < lo_tod)
		t += 86400;
	return t < lo_tod + len;
}

int
tz_tod_unstable(const struct tz *z, int32_t tod)
{
	size_t i;
	int32_t prev = z->off_first;

	for (i = 0; i < z->ntrans; i++) {
		if (z->trans[i] >= 0 && z->off_after[i] != prev &&
		    tz_in_window(z->trans[i], prev, z->off_after[i], tod))
			return 1;
		prev = z->off_after[i];
	}
	if (z->has_rule && z->rule_has_dst) {
		int64_t s = tz_rule_local(&z->start, 2030) - z->std_off;
		int64_t e = tz_rule_local(&z->end, 2030) - z->dst_off;
		if (tz_in_window(s, z->std_off, z->dst_off, tod) ||
		    tz_in_window(e, z->dst_off, z->std_off, tod))
			return 1;
	}
	return 0;
}

void
tz_free(struct tz *z)
{
	if (z == NULL)
		return;
	free(z->trans);
	free(z->off_after);
	free(z);
}

struct tzif_counts {
	int64_t isut, isstd, leap, time, type, chr;
};

static int
tzif_header(const unsigned char *p, size_t len, struct tzif_counts *c)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	c->isut = be(p + 20, 4);
	c->isstd = be(p + 24, 4);
	c->leap = be(p + 28, 4);
	c->time = be(p + 32, 4);
	c->type = be(p + 36, 4);
	c->chr = be(p + 40, 4);
	if (c->isut < 0 || c->isstd < 0 || c->leap < 0 || c->time < 0 ||
	    c->type < 1 || c->type > 256 || c->chr < 0 ||
	    c->time > LIMIT_TZ_TRANSITIONS || c->leap > 1000 || c->chr > 1000)
		return -1;
	return 0;
}

static size_t
tzif_block_len(const struct tzif_counts *c, int tsize)
{
	return (size_t)(c->time * tsize + c->time + c->type * 6 + c->chr +
	    c->leap * (tsize + 4) + c->isstd + c->isut);
}

struct tz *
tz_parse(const unsigned char *buf, size_t len, char *err, size_t errlen)
{
	struct tzif_counts c;
	const unsigned char *p = buf, *types;
	struct tz *z = NULL;
	int tsize = 4;
	size_t blen, i;
	char footer[128];

	if (tzif_header(p, len, &c) == -1)
		goto bad;
	blen = tzif_block_len(&c, 4);
	if (p[4] >= '2') {
		if (44 + blen > len)
			goto bad;
		p += 44 + blen;
		len -= 44 + blen;
		if (tzif_header(p, len, &c) == -1)
			goto bad;
		tsize = 8;
		blen = tzif_block_len(&c, 8);
	}
	if (44 + blen > len)
		goto bad;
	if ((z = calloc(1, sizeof *z)) == NULL)
		goto nomem;
	z->ntrans = (size_t)c.time;
	z->trans = calloc(z->ntrans + 1, sizeof *z->trans);
	z->off_after = calloc(z->ntrans + 1, sizeof *z->off_after);
	if (z->trans == NULL || z->off_after == NULL)
		goto nomem;
	types = p + 44 + c.time * tsize + c.time;
	for (i = 0; i < z->ntrans; i++) {
		unsigned ti = p[44 + c.time * tsize + (int64_t)i];
		z->trans[i] = be(p + 44 + (int64_t)i * tsize, tsize);
		if (ti >= c.type || (i > 0 && z->trans[i] <= z->trans[i - 1]))
			goto bad;
		z->off_after[i] = (int32_t)be(types + ti * 6, 4);
	}
	z->off_first = (int32_t)be(types, 4);
	if (tsize == 8) {
		const unsigned char *f = p + 44 + blen;
		size_t flen = len - 44 - blen, n;
		if (flen < 2 || f[0] != '\n')
			goto bad;
		for (n = 1; n < flen && f[n] != '\n'; n++)
			;
		if (n == flen || n - 1 >= sizeof footer)
			goto bad;
		memcpy(footer, f + 1, n - 1);
		footer[n - 1] = '\0';
		if (tz_posix(z, footer) == -1)
			goto bad;
	}
	return z;
nomem:
	snprintf(err, errlen, "out of memory");
	tz_free(z);
	return NULL;
bad:
	snprintf(err, errlen, "not a valid TZif file");
	tz_free(z);
	return NULL;
}

int
tz_name_ok(const char *name)
{
	const char *p;

	if (*name == '\0' || *name == '/' || strstr(name, "..") != NULL ||
	    strlen(name) > 64)
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' ||
		    *p == '-' || *p == '+'))
			return 0;
	return 1;
}

struct tz *
tz_load(const char *name, char *err, size_t errlen)
{
	const char *dir = getenv("TZDIR");
	char path[512];
	unsigned char *buf;
	ssize_t n;
	size_t len = 0;
	struct tz *z;
	int fd;

	if (!tz_name_ok(name)) {
		snprintf(err, errlen, "'%s' is not an IANA time zone name", name);
		return NULL;
	}
	snprintf(path, sizeof path, "%s/%s",
	    dir != NULL && *dir != '\0' ? dir : "/usr/share/zoneinfo", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "unknown time zone '%s' (%s: %s)", name,
		    path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(LIMIT_TZ_FILE)) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (len < LIMIT_TZ_FILE &&
	    (n = read(fd, buf + len, LIMIT_TZ_FILE - len)) > 0)
		len += (size_t)n;
	close(fd);
	z = tz_parse(buf, len, err, errlen);
	if (z == NULL)
		snprintf(err, errlen, "time zone '%s': %s is not a valid TZif "
		    "file", name, path);
	free(buf);
	return z;
}
