/*
 * time.c: parsing durations and numbers, and the clocks the servers use.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

/*
 * Parses "1.5", "250ms", "2s", "100us", "1m" or "0" into nanoseconds.
 * Digits with at most nine decimals, then an optional unit. Returns 0, or
 * -1 with EINVAL (garbage, a sign, an unknown unit) or ERANGE (> max_ns).
 */
int
up_parse_time(const char *s, int64_t max_ns, int64_t *ns)
{
	int64_t whole = 0, frac = 0, unit;
	int fdigits = 0, digits = 0;
	const char *p = s;

	if (s == NULL)
		goto invalid;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (whole > (INT64_MAX - 9) / 10)
			goto range;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			if (fdigits == 9)
				goto invalid;	/* finer than a nanosecond */
			frac = frac * 10 + (*p - '0');
			fdigits++;
		}
	}
	if (digits == 0)
		goto invalid;
	if (*p == '\0' || strcmp(p, "s") == 0)
		unit = UP_NS_PER_SEC;
	else if (strcmp(p, "ms") == 0)
		unit = 1000000;
	else if (strcmp(p, "us") == 0)
		unit = 1000;
	else if (strcmp(p, "m") == 0)
		unit = 60 * UP_NS_PER_SEC;
	else
		goto invalid;

	/* Every value we accept fits easily; check before multiplying. */
	if (whole > INT64_MAX / unit)
		goto range;
	for (; fdigits < 9; fdigits++)
		frac *= 10;
	/* frac is the fraction in billionths; units divide a second evenly. */
	if (unit >= UP_NS_PER_SEC)
		frac *= unit / UP_NS_PER_SEC;
	else
		frac /= UP_NS_PER_SEC / unit;
	if (whole * unit > INT64_MAX - frac)
		goto range;
	*ns = whole * unit + frac;
	if (*ns < 0 || *ns > max_ns)
		goto range;
	return 0;
invalid:
	errno = EINVAL;
	return -1;
range:
	errno = ERANGE;
	return -1;
}

/* Parses a decimal integer in [min, max]; 0, or -1 with EINVAL/ERANGE. */
int
up_parse_number(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9'))) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * Formats ns as "0", "2s", "250ms" or seconds with the decimals it needs
 * ("1.5s", "0.000001234s"), so that up_parse_time reads back the same
 * value. Returns buf.
 */
const char *
up_format_time(int64_t ns, char *buf, size_t len)
{
	char frac[16];
	int i;

	if (ns == 0)
		snprintf(buf, len, "0");
	else if (ns % UP_NS_PER_SEC == 0)
		snprintf(buf, len, "%llds", (long long)(ns / UP_NS_PER_SEC));
	else if (ns < UP_NS_PER_SEC && ns % 1000000 == 0)
		snprintf(buf, len, "%lldms", (long long)(ns / 1000000));
	else {
		snprintf(frac, sizeof(frac), "%09lld",
		    (long long)(ns % UP_NS_PER_SEC));
		for (i = 8; i > 0 && frac[i] == '0'; i--)
			frac[i] = '\0';
		snprintf(buf, len, "%lld.%ss", (long long)(ns / UP_NS_PER_SEC),
		    frac);
	}
	return buf;
}

/*
 * Formats ns for a person, as the man pages write durations: whole
 * minutes in minutes ("5m" for 300 s), other whole seconds in seconds
 * ("90s"), under a second whole milliseconds or microseconds ("250ms",
 * "100us"), anything else in seconds with the decimals it needs ("1.5s"),
 * and 0 as "0". One unit, never "1m30s", so that up_parse_time reads
 * back the same value. Returns buf.
 */
const char *
up_format_time_human(int64_t ns, char *buf, size_t len)
{
	int64_t minute = 60 * UP_NS_PER_SEC;

	if (ns != 0 && ns % minute == 0)
		snprintf(buf, len, "%lldm", (long long)(ns / minute));
	else if (ns > 0 && ns < 1000000 && ns % 1000 == 0)
		snprintf(buf, len, "%lldus", (long long)(ns / 1000));
	else
		up_format_time(ns, buf, len);
	return buf;
}

/* The monotonic clock in nanoseconds. */
int64_t
up_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * UP_NS_PER_SEC + ts.tv_nsec;
}

/* Sleeps ns nanoseconds; a signal does not cut the work short. */
void
up_sleep_ns(int64_t ns)
{
	struct timespec ts;

	if (ns <= 0)
		return;
	ts.tv_sec = ns / UP_NS_PER_SEC;
	ts.tv_nsec = ns % UP_NS_PER_SEC;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Milliseconds until deadline, rounded up; -1 (forever) when deadline is 0. */
int
up_ms_left(int64_t deadline_ns, int64_t now)
{
	int64_t left;

	if (deadline_ns == 0)
		return -1;
	left = deadline_ns - now;
	if (left <= 0)
		return 0;
	if (left > (int64_t)INT_MAX * UP_NS_PER_MS)
		return INT_MAX;		/* and no overflow rounding up */
	return (int)((left + UP_NS_PER_MS - 1) / UP_NS_PER_MS);
}

int
up_ms_until(int64_t deadline_ns)
{
	return up_ms_left(deadline_ns, up_now_ns());
}

int64_t
up_earliest(int64_t a, int64_t b)
{
	if (a == 0 || (b != 0 && b < a))
		return b;
	return a;
}

/* A duration as a poll(2) timeout: milliseconds rounded up, -1 for 0. */
int
up_timeout_ms(int64_t ns)
{
	int64_t ms;

	if (ns <= 0)
		return -1;
	ms = (ns + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}
