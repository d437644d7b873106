/*
 * Text to numbers, strictly.  Shared by the tariff loader and the tap
 * reader so that "1.08" means 108 cents everywhere.
 */
#include <stdio.h>
#include <string.h>

#include "parse.h"

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
parse_decimal(const char *s, int max_decimals, int64_t max_abs, int64_t *out,
    const char **why)
{
	int64_t v = 0;
	int neg = 0, ndec = 0, nint = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; is_digit(*s); s++, nint++) {
		v = v * 10 + (*s - '0');
		if (v > max_abs) {
			*why = "out of range";
			return -1;
		}
	}
	if (*s == '.') {
		for (s++; is_digit(*s); s++, ndec++) {
			if (ndec == max_decimals) {
				*why = max_decimals == 2 ?
				    "more than 2 decimals" : max_decimals == 5 ?
				    "more than 5 decimals" : "too many decimals";
				return -1;
			}
			v = v * 10 + (*s - '0');
		}
		if (ndec == 0) {
			*why = "not a number";
			return -1;
		}
	}
	if (*s != '\0' || nint == 0) {
		*why = "not a number";
		return -1;
	}
	for (; ndec < max_decimals; ndec++)
		v *= 10;
	if (v > max_abs) {
		*why = "out of range";
		return -1;
	}
	*out = neg ? -v : v;
	return 0;
}

int
parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out,
    const char **why)
{
	int64_t v = 0;
	int neg = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (!is_digit(*s)) {
		*why = "not an integer";
		return -1;
	}
	for (; is_digit(*s); s++) {
		v = v * 10 + (*s - '0');
		if (v > (int64_t)1 << 53) {
			*why = "out of range";
			return -1;
		}
	}
	if (*s != '\0') {
		*why = "not an integer";
		return -1;
	}
	if (neg)
		v = -v;
	if (v < lo || v > hi) {
		*why = "out of range";
		return -1;
	}
	*out = v;
	return 0;
}

static int
two_digits(const char *s, int *v)
{
	if (!is_digit(s[0]) || !is_digit(s[1]))
		return -1;
	*v = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

int
parse_hms(const char *s, int max_hours, int32_t *out, const char **why)
{
	int h, m, sec;
	const char *p = s;

	/* GTFS allows H:MM:SS with one hour digit. */
	if (is_digit(p[0]) && p[1] == ':') {
		h = p[0] - '0';
		p += 2;
	} else if (two_digits(p, &h) == 0 && p[2] == ':') {
		p += 3;
	} else {
		*why = "not a time (HH:MM:SS)";
		return -1;
	}
	if (two_digits(p, &m) == -1 || p[2] != ':' ||
	    two_digits(p + 3, &sec) == -1 || p[5] != '\0') {
		*why = "not a time (HH:MM:SS)";
		return -1;
	}
	if (m > 59 || sec > 59 || h > max_hours ||
	    (h == max_hours && (m != 0 || sec != 0))) {
		*why = "time out of range";
		return -1;
	}
	*out = h * 3600 + m * 60 + sec;
	return 0;
}

static const unsigned month_days[] = {
	31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
};

static int
valid_date(int y, unsigned m, unsigned d)
{
	unsigned md;

	if (m < 1 || m > 12 || d < 1)
		return 0;
	md = month_days[m - 1];
	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		md = 29;
	return d <= md;
}

int
parse_yyyymmdd(const char *s, int32_t *days, const char **why)
{
	int i, y = 0;
	unsigned m, d;

	for (i = 0; i < 8; i++)
		if (!is_digit(s[i])) {
			*why = "not a date (YYYYMMDD)";
			return -1;
		}
	if (s[8] != '\0') {
		*why = "not a date (YYYYMMDD)";
		return -1;
	}
	for (i = 0; i < 4; i++)
		y = y * 10 + (s[i] - '0');
	m = (unsigned)((s[4] - '0') * 10 + (s[5] - '0'));
	d = (unsigned)((s[6] - '0') * 10 + (s[7] - '0'));
	if (!valid_date(y, m, d)) {
		*why = "no such date";
		return -1;
	}
	*days = civil_to_days(y, m, d);
	return 0;
}

int
parse_day(const char *s, int32_t *days, const char **why)
{
	char g[9];

	/* The same digits as GTFS's YYYYMMDD, with the dashes. */
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
		*why = "not a day (YYYY-MM-DD)";
		return -1;
	}
	memcpy(g, s, 4);
	memcpy(g + 4, s + 5, 2);
	memcpy(g + 6, s + 8, 2);
	g[8] = '\0';
	if (parse_yyyymmdd(g, days, why) == -1) {
		if (strcmp(*why, "no such date") != 0)
			*why = "not a day (YYYY-MM-DD)";
		return -1;
	}
	return 0;
}

int
parse_rfc3339(const char *s, int64_t *utc, const char **why)
{
	int y = 0, mo, d, h, mi, sec, oh, om, i;
	int64_t t;

	*why = "not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS and Z or an offset)";
	for (i = 0; i < 4; i++) {
		if (!is_digit(s[i]))
			return -1;
		y = y * 10 + (s[i] - '0');
	}
	if (s[4] != '-' || two_digits(s + 5, &mo) || s[7] != '-' ||
	    two_digits(s + 8, &d) || (s[10] != 'T' && s[10] != 't') ||
	    two_digits(s + 11, &h) || s[13] != ':' || two_digits(s + 14, &mi) ||
	    s[16] != ':' || two_digits(s + 17, &sec))
		return -1;
	s += 19;
	if (*s == '.') {
		if (!is_digit(s[1]))
			return -1;
		for (s++; is_digit(*s); s++)
			;
	}
	if (!valid_date(y, (unsigned)mo, (unsigned)d) || h > 23 || mi > 59 ||
	    sec > 59) {
		*why = "time out of range";
		return -1;
	}
	t = (int64_t)civil_to_days(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + sec;
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0') {
		*utc = t;
		return 0;
	}
	if ((*s != '+' && *s != '-') || two_digits(s + 1, &oh) ||
	    s[3] != ':' || two_digits(s + 4, &om) || s[6] != '\0')
		return -1;
	if (oh > 23 || om > 59) {
		*why = "offset out of range";
		return -1;
	}
	t += (*s == '+' ? -1 : 1) * (oh * 3600 + om * 60);
	*utc = t;
	return 0;
}

int32_t
civil_to_days(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int32_t)(era * 146097 + doe - 719468);
}

void
civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp, yy;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yy + (*m <= 2));
}

int
civil_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday (3). */
	int64_t w = (days + 3) % 7;

	return (int)(w < 0 ? w + 7 : w);
}

int64_t
civil_day_of(int64_t secs)
{
	return secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
}

static void
put_digits(char *p, unsigned v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
civil_format_day(int64_t days, char buf[11])
{
	int y;
	unsigned m, d;

	civil_from_days(days, &y, &m, &d);
	put_digits(buf, (unsigned)(y < 0 ? 0 : y % 10000), 4);
	buf[4] = '-';
	put_digits(buf + 5, m, 2);
	buf[7] = '-';
	put_digits(buf + 8, d, 2);
	buf[10] = '\0';
}

void
civil_format_utc(int64_t utc, char buf[21])
{
	int64_t day = civil_day_of(utc), s = utc - day * 86400;

	civil_format_day(day, buf);
	buf[10] = 'T';
	put_digits(buf + 11, (unsigned)(s / 3600), 2);
	buf[13] = ':';
	put_digits(buf + 14, (unsigned)(s / 60 % 60), 2);
	buf[16] = ':';
	put_digits(buf + 17, (unsigned)(s % 60), 2);
	buf[19] = 'Z';
	buf[20] = '\0';
}

/*
 * The length of the valid UTF-8 sequence at p (at most n bytes), or 0 with
 * *why saying what is wrong (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF).
 */
static size_t
utf8_seq(const unsigned char *p, size_t n, const char **why)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] < 0xc2) {
		*why = p[0] < 0xc0 ? "a stray continuation byte" :
		    "an overlong form";
		return 0;
	}
	len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : p[0] < 0xf5 ? 4 : 0;
	if (len == 0) {
		*why = "an invalid byte (0xF5 to 0xFF)";
		return 0;
	}
	cp = p[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if (i >= n || (p[i] & 0xc0) != 0x80) {
			*why = "a truncated sequence";
			return 0;
		}
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) {
		*why = "an overlong form";
		return 0;
	}
	if (cp >= 0xd800 && cp <= 0xdfff) {
		*why = "a surrogate (U+D800 to U+DFFF)";
		return 0;
	}
	if (cp > 0x10ffff) {
		*why = "a code point above U+10FFFF";
		return 0;
	}
	return len;
}

int
utf8_check(const char *s, size_t n, size_t *at, const char **why)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (p[i] < 0x20) {
			*why = "a control character";
			*at = i;
			return -1;
		}
		if ((k = utf8_seq(p + i, n - i, why)) == 0) {
			*at = i;
			return -1;
		}
		i += k;
	}
	return 0;
}

size_t
utf8_printable(const char *s, char *out, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, n = strlen(s), k;
	const char *why;

	if (len == 0)
		return 0;
	while (i < n) {
		if (p[i] >= 0x20 && p[i] != 0x7f &&
		    (k = utf8_seq(p + i, n - i, &why)) != 0) {
			if (o + k >= len)
				break;
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
			continue;
		}
		if (o + 4 >= len)
			break;
		snprintf(out + o, 5, "\\x%02X", p[i]);
		o += 4;
		i++;
	}
	out[o] = '\0';
	return o;
}

size_t
utf8_cut(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	/* Back off continuation bytes to the start of a character. */
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}
