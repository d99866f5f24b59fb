/*
 * timeline.c: the rows of lib/timeline/timeline.c and its axis, as
 * uptimeline and upclient -T draw them.
 *
 * uptimeline keeps one timeline per log while reading it and draws a
 * copy, from an origin that may lie before the first cell (-a), with a
 * start moved back for a log that goes back in time, and rows cleared
 * for the next connection: each is checked here on the text of a row.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timeline/timeline.h"
#include "check.h"

#define SEC	UP_NS_PER_SEC
#define T0	(1722293200 * SEC)	/* any wall clock */

/* The cols symbols of row over total ns, NUL-terminated, in buf. */
static const char *
text(const struct up_timeline *tl, int row, int64_t total, int cols,
    char *buf)
{
	up_timeline_text(tl, row, total, cols, buf);
	buf[cols] = '\0';
	return buf;
}

/* Compares a row's text with want, showing both when they differ. */
static void
check_text(const struct up_timeline *tl, int row, int64_t total,
    const char *want, const char *what)
{
	char buf[128];
	int cols = (int)strlen(want);

	if (!CHECK(strcmp(text(tl, row, total, cols, buf), want) == 0, "%s",
	    what)) {
		check_dump("got", buf, (size_t)cols);
		check_dump("want", want, (size_t)cols);
	}
}

/*
 * A connection accepted at a, read at b, answered at c, closed at d, in
 * seconds and a half: each in the middle of a column of a second, away
 * from where the cells' grid meets the columns'.
 */
static void
one_request(struct up_timeline *tl, int row, int64_t a, int64_t b, int64_t c,
    int64_t d)
{
	int64_t half = SEC / 2;

	up_timeline_event(tl, row, T0 + a * SEC + half, 0, UP_TL_IDLE);
	up_timeline_event(tl, row, T0 + b * SEC + half, UP_TL_REQUEST,
	    UP_TL_BUSY);
	up_timeline_event(tl, row, T0 + c * SEC + half, UP_TL_REPLY,
	    UP_TL_IDLE);
	up_timeline_event(tl, row, T0 + d * SEC + half, 0, UP_TL_NONE);
}

static void
test_row(void)
{
	struct up_timeline *tl;

	if ((tl = up_timeline_new(T0)) == NULL || up_timeline_add_row(tl) != 0)
		abort();
	one_request(tl, 0, 0, 2, 6, 8);
	check_text(tl, 0, 10 * SEC, "..>===<.. ",
	    "a row: waiting, read, served, answered, closed");
	up_timeline_free(tl);
}

static void
test_copy_and_clear(void)
{
	struct up_timeline *tl, *c;

	if ((tl = up_timeline_new(T0)) == NULL ||
	    up_timeline_add_row(tl) != 0 || up_timeline_add_row(tl) != 1)
		abort();
	up_timeline_event(tl, 0, T0, 0, UP_TL_IDLE);
	up_timeline_event(tl, 0, T0 + 2 * SEC + SEC / 2, UP_TL_REQUEST,
	    UP_TL_BUSY);
	if ((c = up_timeline_copy(tl)) == NULL)
		abort();
	up_timeline_end(c, T0 + 4 * SEC);
	check_text(c, 0, 4 * SEC, "..>=",
	    "a copy ended at 4s draws the open connection up to 4s");
	check_text(tl, 0, 4 * SEC, "..> ",
	    "the original is left open, as it was");
	up_timeline_event(tl, 0, T0 + 3 * SEC + SEC / 2, UP_TL_REPLY,
	    UP_TL_IDLE);
	check_text(tl, 0, 4 * SEC, "..><",
	    "and goes on from where it was");
	up_timeline_free(c);

	up_timeline_clear_row(tl, 0);
	check_text(tl, 0, 4 * SEC, "    ", "a cleared row is empty");
	up_timeline_event(tl, 0, T0 + 1 * SEC + SEC / 2, 0, UP_TL_IDLE);
	up_timeline_event(tl, 0, T0 + 2 * SEC + SEC / 2, 0, UP_TL_NONE);
	check_text(tl, 0, 4 * SEC, " .. ",
	    "and begins anew at its next connection's first event");
	up_timeline_free(tl);
}

static void
test_origin(void)
{
	struct up_timeline *tl;

	if ((tl = up_timeline_new(T0)) == NULL || up_timeline_add_row(tl) != 0)
		abort();
	one_request(tl, 0, 0, 2, 6, 8);
	up_timeline_set_origin(tl, T0 - 10 * SEC);
	check_text(tl, 0, 20 * SEC, "          ..>===<.. ",
	    "from an origin 10s before the first cell, nothing before it");
	up_timeline_set_origin(tl, T0 + 4 * SEC);
	check_text(tl, 0, 6 * SEC, "==<.. ", "from an origin 4s after it");
	up_timeline_free(tl);
}

static void
test_move_start(void)
{
	struct up_timeline *tl;

	if ((tl = up_timeline_new(T0 + 5 * SEC)) == NULL ||
	    up_timeline_add_row(tl) != 0 || up_timeline_add_row(tl) != 1)
		abort();
	one_request(tl, 0, 5, 7, 8, 9);
	up_timeline_move_start(tl, T0);
	CHECK(up_timeline_start(tl) <= T0, "the start moved back to 0");
	one_request(tl, 1, 0, 1, 2, 3);
	up_timeline_set_origin(tl, T0);
	check_text(tl, 0, 10 * SEC, "     ..><.",
	    "a row drawn before the move keeps its times");
	check_text(tl, 1, 10 * SEC, ".><.      ",
	    "an event before the old start is drawn where it happened");
	/* Back far enough to fold: 1000s before, the same picture. */
	up_timeline_move_start(tl, T0 - 1000 * SEC);
	check_text(tl, 0, 10 * SEC, "     ..><.",
	    "moved back 1000s, folding, the row is where it was");
	up_timeline_free(tl);
}

/* The top line of an axis of cols columns after 5, over total ns. */
static void
check_axis(int cols, int64_t total, const char *want, const char *what)
{
	char top[128], ruler[128];

	up_timeline_axis(top, ruler, 5, cols, total, 8);
	if (!CHECK(strcmp(top, want) == 0, "%s", what)) {
		check_dump("got", top, strlen(top));
		check_dump("want", want, strlen(want));
	}
}

static void
test_axis(void)
{
	check_axis(74, 4002 * UP_NS_PER_MS,
	    "     0                 1s                2s                 3s"
	    "               4s",
	    "the last tick, 4s at the end of 4.002s, is labelled, ending the"
	    " axis");
	check_axis(74, 4600 * UP_NS_PER_MS,
	    "     0               1s              2s              3s"
	    "              4s",
	    "a last tick with room is labelled where it is");
	check_axis(20, 1000 * SEC,
	    "     0   200s    600s",
	    "seconds, not minutes, on a long axis");
}

int
main(void)
{
	test_row();
	test_copy_and_clear();
	test_origin();
	test_move_start();
	test_axis();
	return check_done("timeline");
}
