/* quota_period.c — quota sizes and reset periods (see quota_period.h). Calendar arithmetic on
 * day numbers (Howard Hinnant's civil-from-days), so neither TZ nor the C library's mktime
 * matters: every quota resets at a UTC midnight. */
#include "bpf/quota_period.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"

#define DAY_SECS 86400

int quota_size_parse(const char *s, uint64_t *ret)
{
	static const struct {
		const char *unit;
		unsigned shift;
	} units[] = {
		{ "", 0 },    { "B", 0 },     { "K", 10 },    { "KiB", 10 }, { "M", 20 },
		{ "MiB", 20 }, { "G", 30 },   { "GiB", 30 },  { "T", 40 },   { "TiB", 40 },
	};
	size_t n_int = strspn(s, "0123456789"), n_frac = 0;
	const char *frac = NULL, *unit = s + n_int;
	uint64_t v = 0, f = 0, scale = 1;
	unsigned shift = 0;
	bool found = false;

	if (n_int == 0)
		return -EINVAL;
	if (*unit == '.') {
		frac = unit + 1;
		n_frac = strspn(frac, "0123456789");
		/* 19 digits keep f and scale below 10^19 < 2^64. */
		if (n_frac == 0 || n_frac > 19)
			return -EINVAL;
		unit = frac + n_frac;
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcmp(unit, units[i].unit)) {
			shift = units[i].shift;
			found = true;
			break;
		}
	/* A fraction of a byte means nothing; "1.5" was surely meant to carry a unit. */
	if (!found || (frac && shift == 0))
		return -EINVAL;

	for (size_t i = 0; i < n_int; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (shift && v > UINT64_MAX >> shift)
		return -ERANGE;
	v <<= shift;
	for (size_t i = 0; i < n_frac; i++) {
		f = f * 10 + (uint64_t)(frac[i] - '0');
		scale *= 10;
	}
	if (n_frac) {
		/* f / scale < 1, so (f << shift) / scale < 2^shift <= 2^40: computed in 128 bits to
		 * keep every digit of the fraction exact. */
		uint64_t part = (uint64_t)(((unsigned __int128)f << shift) / scale);
		if (v > UINT64_MAX - part)
			return -ERANGE;
		v += part;
	}
	*ret = v;
	return 0;
}

int quota_period_parse(const char *s, struct quota_period *ret)
{
	unsigned long day = 1;

	if (!strcmp(s, "none")) {
		*ret = (struct quota_period){ QUOTA_PERIOD_NONE, 0 };
		return 0;
	}
	if (!strcmp(s, "daily")) {
		*ret = (struct quota_period){ QUOTA_PERIOD_DAILY, 0 };
		return 0;
	}
	if (strncmp(s, "monthly", 7))
		return -EINVAL;
	s += 7;
	if (*s == ':') {
		size_t n = strspn(++s, "0123456789");
		if (n == 0 || n > 2 || s[n])
			return -EINVAL;
		day = strtoul(s, NULL, 10);
	} else if (*s) {
		return -EINVAL;
	}
	if (day < 1 || day > 31)
		return -EINVAL;
	*ret = (struct quota_period){ QUOTA_PERIOD_MONTHLY, (unsigned)day };
	return 0;
}

const char *quota_period_format(const struct quota_period *p, char *buf, size_t len)
{
	switch (p->kind) {
	case QUOTA_PERIOD_NONE:
		snprintf(buf, len, "none");
		break;
	case QUOTA_PERIOD_DAILY:
		snprintf(buf, len, "daily");
		break;
	case QUOTA_PERIOD_MONTHLY:
		snprintf(buf, len, "monthly:%u", p->day);
		break;
	default:
		snprintf(buf, len, "?");
	}
	return buf;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12, d 1..31). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m)
{
	int64_t era, y;
	unsigned doe, yoe, doy, mp, m;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	m = mp < 10 ? mp + 3 : mp - 9;
	*ret_y = y + (m <= 2);
	*ret_m = m;
}

static unsigned month_days(int64_t y, unsigned m)
{
	static const unsigned days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* The reset instant of month (y, m), shifted by delta months. */
static time_t monthly_reset(int64_t y, unsigned m, int delta, unsigned day)
{
	int64_t idx = y * 12 + (m - 1) + delta;
	int64_t ny = idx >= 0 ? idx / 12 : (idx - 11) / 12;
	unsigned nm = (unsigned)(idx - ny * 12) + 1;
	unsigned d = day < month_days(ny, nm) ? day : month_days(ny, nm);

	return (time_t)(days_from_civil(ny, nm, d) * DAY_SECS);
}

/* The reset instants around now: *ret_start <= now < *ret_next. */
static int period_bounds(const struct quota_period *p, time_t now, time_t *ret_start,
			 time_t *ret_next)
{
	int64_t days = (int64_t)(now >= 0 ? now / DAY_SECS : (now - DAY_SECS + 1) / DAY_SECS);
	time_t this_month;
	unsigned m;
	int64_t y;

	switch (p->kind) {
	case QUOTA_PERIOD_NONE:
		return -ENOENT;
	case QUOTA_PERIOD_DAILY:
		*ret_start = (time_t)(days * DAY_SECS);
		*ret_next = (time_t)((days + 1) * DAY_SECS);
		return 0;
	case QUOTA_PERIOD_MONTHLY:
		if (p->day < 1 || p->day > 31)
			return -EINVAL;
		civil_from_days(days, &y, &m);
		this_month = monthly_reset(y, m, 0, p->day);
		if (this_month <= now) {
			*ret_start = this_month;
			*ret_next = monthly_reset(y, m, 1, p->day);
		} else {
			*ret_start = monthly_reset(y, m, -1, p->day);
			*ret_next = this_month;
		}
		return 0;
	}
	return -EINVAL;
}

int quota_period_start(const struct quota_period *p, time_t now, time_t *ret)
{
	time_t start, next;
	int r = period_bounds(p, now, &start, &next);

	if (r < 0)
		return r;
	*ret = start;
	return 0;
}

int quota_period_next(const struct quota_period *p, time_t now, time_t *ret)
{
	time_t start, next;
	int r = period_bounds(p, now, &start, &next);

	if (r < 0)
		return r;
	*ret = next;
	return 0;
}
