/*
 * check.h: the few macros the unit tests share, no framework.
 *
 * Each assertion prints one TAP-like line, "ok N - what" or "not ok N -
 * what", the failing ones followed by "#" lines saying where and what
 * was found. check_done() prints "# NAME: N passed, N failed" and gives
 * the exit status: 0 when all passed, 1 otherwise. `make unit` runs every
 * program and sums the "ok" and "not ok" lines into its last line,
 * "unit: N passed, N failed".
 */
#ifndef UP_UNIT_CHECK_H
#define UP_UNIT_CHECK_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

/* The number of elements of an array: a table of cases. */
#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Reports one assertion; returns ok, so that a test can stop early. */
static inline int
check_report(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		check_passed++;
	else
		check_failed++;
	printf("%sok %d - ", ok ? "" : "not ", check_passed + check_failed);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		printf("#   at %s:%d\n", file, line);
	fflush(stdout);
	return ok;
}

/* A condition: CHECK(x == 1, "x is %d", 1). */
#define CHECK(cond, ...) \
	check_report((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

/* Two integers, shown when they differ. */
#define CHECK_INT(got, want, ...) \
	check_int((long long)(got), (long long)(want), __FILE__, __LINE__, \
	    __VA_ARGS__)

static inline int
check_int(long long got, long long want, const char *file, int line,
    const char *what, ...)
{
	char desc[256];
	va_list ap;

	va_start(ap, what);
	vsnprintf(desc, sizeof(desc), what, ap);
	va_end(ap);
	if (!check_report(got == want, file, line, "%s", desc)) {
		printf("#   got %lld, want %lld\n", got, want);
		return 0;
	}
	return 1;
}

/* Prints len bytes as a C string literal would, for a failure report. */
static inline void
check_dump(const char *label, const char *p, size_t len)
{
	size_t i;

	printf("#   %s (%zu bytes): \"", label, len);
	for (i = 0; i < len && i < 200; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\\' || c == '"')
			printf("\\%c", c);
		else if (c >= ' ' && c < 0x7f)
			putchar(c);
		else if (c == '\r')
			printf("\\r");
		else if (c == '\n')
			printf("\\n");
		else
			printf("\\x%02x", c);
	}
	printf("\"%s\n", i < len ? "..." : "");
}

/* Byte strings, shown when they differ. */
#define CHECK_MEM(got, glen, want, wlen, ...) \
	check_mem((const char *)(got), (glen), (const char *)(want), (wlen), \
	    __FILE__, __LINE__, __VA_ARGS__)

static inline int
check_mem(const char *got, size_t glen, const char *want, size_t wlen,
    const char *file, int line, const char *what, ...)
{
	char desc[256];
	va_list ap;
	int ok;

	va_start(ap, what);
	vsnprintf(desc, sizeof(desc), what, ap);
	va_end(ap);
	ok = glen == wlen && (wlen == 0 || memcmp(got, want, wlen) == 0);
	if (!check_report(ok, file, line, "%s", desc)) {
		check_dump("got ", got, glen);
		check_dump("want", want, wlen);
		return 0;
	}
	return 1;
}

/* Does buf[0..len) hold the string s? (memmem is not POSIX.) */
static inline int
check_contains(const char *buf, size_t len, const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; n <= len && i <= len - n; i++)
		if (memcmp(buf + i, s, n) == 0)
			return 1;
	return 0;
}

/* Ends the program: its summary, and 0 when every assertion passed. */
static inline int
check_done(const char *name)
{
	printf("# %s: %d passed, %d failed\n", name, check_passed,
	    check_failed);
	return check_failed == 0 ? 0 : 1;
}

#endif /* UP_UNIT_CHECK_H */
