/*
 * timeline.c: the picture of connections over time that upclient -T and
 * uptimeline draw, one row per connection on one shared time axis.
 *
 * The picture is what the tutorials' five terminals showed: against the
 * sequential server four clients are served one delay apart, a
 * staircase; against a concurrent server all at once, one column.
 *
 * Memory stays bounded however long the run: each row is recorded in
 * UP_TL_CELLS cells of one shared width, and when time runs past the last
 * cell every row folds pairs of cells into one and the width doubles.
 * A cell holds the flags of everything that happened in it (the states
 * and moments of timeline.h); a drawing asks for the flags of a span of
 * time and gets the cells of that span folded together the same way.
 *
 * Nothing here prints: the callers lay out the text or the SVG.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeline/timeline.h"

#define FIRST_WIDTH	1000		/* ns per cell to begin with */

struct up_tl_row {
	int64_t		 last;		/* time of its latest event */
	enum up_tl_state state;		/* since then */
	unsigned char	*cells;		/* UP_TL_CELLS flags */
};

struct up_timeline {
	int64_t		 start;		/* ns of the first cell */
	int64_t		 origin;	/* ns of a drawing's time 0 */
	int64_t		 width;		/* ns per cell */
	int		 nrows, cap;
	struct up_tl_row *rows;
};

struct up_timeline *
up_timeline_new(int64_t start_ns)
{
	struct up_timeline *tl;

	if ((tl = calloc(1, sizeof(*tl))) == NULL)
		return NULL;
	tl->start = start_ns;
	tl->origin = start_ns;
	tl->width = FIRST_WIDTH;
	return tl;
}

struct up_timeline *
up_timeline_copy(const struct up_timeline *tl)
{
	struct up_timeline *c;
	int i;

	if ((c = up_timeline_new(tl->start)) == NULL)
		return NULL;
	c->origin = tl->origin;
	c->width = tl->width;
	for (i = 0; i < tl->nrows; i++) {
		if (up_timeline_add_row(c) == -1) {
			up_timeline_free(c);
			return NULL;
		}
		memcpy(c->rows[i].cells, tl->rows[i].cells, UP_TL_CELLS);
		c->rows[i].last = tl->rows[i].last;
		c->rows[i].state = tl->rows[i].state;
	}
	return c;
}

void
up_timeline_free(struct up_timeline *tl)
{
	int i;

	if (tl == NULL)
		return;
	for (i = 0; i < tl->nrows; i++)
		free(tl->rows[i].cells);
	free(tl->rows);
	free(tl);
}

int
up_timeline_add_row(struct up_timeline *tl)
{
	struct up_tl_row *r;
	int cap;

	if (tl->nrows == tl->cap) {
		if (tl->cap > INT32_MAX / 2) {
			errno = ENOMEM;
			return -1;
		}
		cap = tl->cap ? 2 * tl->cap : 16;
		if ((r = realloc(tl->rows, (size_t)cap * sizeof(*r))) == NULL)
			return -1;
		tl->rows = r;
		tl->cap = cap;
	}
	r = &tl->rows[tl->nrows];
	if ((r->cells = calloc(1, UP_TL_CELLS)) == NULL)
		return -1;
	r->last = INT64_MIN;	/* no event yet */
	r->state = UP_TL_NONE;
	return tl->nrows++;
}

void
up_timeline_clear_row(struct up_timeline *tl, int row)
{
	struct up_tl_row *r = &tl->rows[row];

	memset(r->cells, 0, UP_TL_CELLS);
	r->last = INT64_MIN;
	r->state = UP_TL_NONE;
}

int
up_timeline_rows(const struct up_timeline *tl)
{
	return tl->nrows;
}

/* Halves the resolution: every pair of cells becomes one, on every row. */
static void
fold(struct up_timeline *tl)
{
	unsigned char *c;
	int i, b;

	for (i = 0; i < tl->nrows; i++) {
		c = tl->rows[i].cells;
		for (b = 0; b < UP_TL_CELLS / 2; b++)
			c[b] = c[2 * b] | c[2 * b + 1];
		memset(c + UP_TL_CELLS / 2, 0, UP_TL_CELLS / 2);
	}
	tl->width *= 2;
}

/* The cell of time t (before the start counts as the start), folding. */
static int
cell_of(struct up_timeline *tl, int64_t t)
{
	int64_t d = t - tl->start;

	if (d < 0)
		d = 0;
	while (d / tl->width >= UP_TL_CELLS)
		fold(tl);
	return (int)(d / tl->width);
}

int64_t
up_timeline_start(const struct up_timeline *tl)
{
	return tl->start;
}

/* The highest cell set on any row, or -1. */
static int
last_used(const struct up_timeline *tl)
{
	int i, b, used = -1;

	for (i = 0; i < tl->nrows; i++)
		for (b = UP_TL_CELLS - 1; b > used; b--)
			if (tl->rows[i].cells[b] != 0) {
				used = b;
				break;
			}
	return used;
}

void
up_timeline_move_start(struct up_timeline *tl, int64_t t)
{
	int64_t k;
	int i, used;

	if (t >= tl->start)
		return;
	used = last_used(tl);
	for (;;) {
		/* Whole cells, so that every cell keeps its span of time. */
		k = (tl->start - t + tl->width - 1) / tl->width;
		if (used + k < UP_TL_CELLS)
			break;
		fold(tl);
		used /= 2;
	}
	for (i = 0; i < tl->nrows; i++) {
		memmove(tl->rows[i].cells + k, tl->rows[i].cells,
		    (size_t)(UP_TL_CELLS - k));
		memset(tl->rows[i].cells, 0, (size_t)k);
	}
	tl->start -= k * tl->width;
}

void
up_timeline_set_origin(struct up_timeline *tl, int64_t origin_ns)
{
	tl->origin = origin_ns;
}

void
up_timeline_event(struct up_timeline *tl, int row, int64_t t, int marks,
    enum up_tl_state state)
{
	struct up_tl_row *r = &tl->rows[row];
	int b, from, to;

	if (t < r->last)	/* out of order: it happened at the last */
		t = r->last;
	to = cell_of(tl, t);
	if (r->state != UP_TL_NONE) {
		from = cell_of(tl, r->last);	/* after folding for t */
		for (b = from; b <= to; b++)
			r->cells[b] |= (unsigned char)r->state;
	}
	r->cells[to] |= (unsigned char)marks;
	r->state = state;
	r->last = t;
}

void
up_timeline_end(struct up_timeline *tl, int64_t end_ns)
{
	int i;

	for (i = 0; i < tl->nrows; i++)
		if (tl->rows[i].state != UP_TL_NONE)
			up_timeline_event(tl, i, end_ns, 0, UP_TL_NONE);
}

int
up_timeline_flags(const struct up_timeline *tl, int row, int64_t a,
    int64_t z)
{
	const unsigned char *c = tl->rows[row].cells;
	int64_t from, to, b;
	int flags = 0;

	/*
	 * The span takes the cells that begin in it, so that each cell
	 * shows in one span only; a span narrower than a cell shows the
	 * cell it lies in. Nothing happened before the first cell or
	 * after the last.
	 */
	a += tl->origin - tl->start;
	z += tl->origin - tl->start;
	if (a < 0 && z <= 0)
		return 0;
	if (a < 0)
		a = 0;
	from = (a + tl->width - 1) / tl->width;
	to = (z + tl->width - 1) / tl->width - 1;
	if (to < from)
		from = to = a / tl->width;
	if (from >= UP_TL_CELLS)
		return 0;
	if (to >= UP_TL_CELLS)
		to = UP_TL_CELLS - 1;
	for (b = from; b <= to; b++)
		flags |= c[b];
	return flags;
}

/* The flags of row in column col, when cols columns span total ns. */
int
up_timeline_column(const struct up_timeline *tl, int row, int64_t total,
    int col, int cols)
{
	return up_timeline_flags(tl, row, (int64_t)((double)total * col / cols),
	    (int64_t)((double)total * (col + 1) / cols));
}

/*
 * How flags are drawn, the first entry whose flags are all set winning:
 * the moments before the states, an error before anything.
 */
static const struct look {
	int		 flags;
	char		 symbol;	/* in text */
	const char	*color;		/* in SVG */
} looks[] = {
	{ UP_TL_ERROR,			'x', "#d62728" },
	{ UP_TL_REQUEST | UP_TL_REPLY,	'*', "#f58518" },
	{ UP_TL_REPLY,			'<', "#f58518" },
	{ UP_TL_REQUEST,		'>', "#2ca02c" },
	{ UP_TL_BUSY,			'=', "#4c78a8" },
	{ UP_TL_IDLE,			'.', "#bbbbbb" },
	{ UP_TL_CONNECTING,		'-', "#dddddd" },
};

/* The look of flags, or NULL for none. */
static const struct look *
look_of(int flags)
{
	size_t i;

	for (i = 0; i < sizeof(looks) / sizeof(looks[0]); i++)
		if ((flags & looks[i].flags) == looks[i].flags)
			return &looks[i];
	return NULL;
}

/* The character for flags: x * < > = . - or blank (see timeline.h). */
char
up_timeline_symbol(int flags)
{
	const struct look *l = look_of(flags);

	return l != NULL ? l->symbol : ' ';
}

/* The colour for flags, or NULL when they draw nothing. */
const char *
up_timeline_color(int flags)
{
	const struct look *l = look_of(flags);

	return l != NULL ? l->color : NULL;
}

/* Writes the cols characters of row, spanning total ns, to out. */
void
up_timeline_text(const struct up_timeline *tl, int row, int64_t total,
    int cols, char *out)
{
	int j;

	for (j = 0; j < cols; j++)
		out[j] = up_timeline_symbol(up_timeline_column(tl, row, total,
		    j, cols));
}

/*
 * A duration in a unit: the first of the list that ns reaches (from), the
 * value printed with fmt. The last entry is reached by every duration.
 */
struct unit {
	int64_t		 from;
	const char	*fmt;
	double		 ns;		/* in the unit */
};

/* Formats ns in the first unit of u it reaches; returns buf. */
static const char *
in_unit(int64_t ns, const struct unit *u, char *buf, size_t len)
{
	while (ns < u->from)
		u++;
	snprintf(buf, len, u->fmt, (double)ns / u->ns);
	return buf;
}

const char *
up_format_duration(int64_t ns, char *buf, size_t len)
{
	static const struct unit units[] = {
		{ 10 * UP_NS_PER_SEC,	"%.1fs",	1e9 },
		{ UP_NS_PER_SEC,	"%.3fs",	1e9 },
		{ 10 * UP_NS_PER_MS,	"%.0fms",	1e6 },
		{ UP_NS_PER_MS,		"%.1fms",	1e6 },
		{ INT64_MIN,		"%.0fus",	1e3 },
	};

	return in_unit(ns, units, buf, len);
}

const char *
up_timeline_tick_label(int64_t ns, char *buf, size_t len)
{
	static const struct unit units[] = {
		{ UP_NS_PER_SEC,	"%gs",		1e9 },
		{ UP_NS_PER_MS,		"%gms",		1e6 },
		{ INT64_MIN,		"%gus",		1e3 },
	};

	/*
	 * Seconds however long, never minutes: the steps (1, 2 or 5 times a
	 * power of ten) are never whole minutes, so an axis in minutes would
	 * mix "400s" and "10m".
	 */
	if (ns == 0)
		snprintf(buf, len, "0");
	else
		in_unit(ns, units, buf, len);
	return buf;
}

int64_t
up_timeline_step(int64_t total, int ticks)
{
	int64_t p = 1, ns;

	ns = ticks > 0 && total / ticks > 0 ? total / ticks : 1;
	while (p <= INT64_MAX / 10) {
		if (p >= ns)
			return p;
		if (2 * p >= ns)
			return 2 * p;
		if (5 * p >= ns)
			return 5 * p;
		p *= 10;
	}
	return p;
}

void
up_timeline_axis(char *top, char *ruler, int label, int cols, int64_t total,
    int ticks)
{
	char lab[32];
	int64_t step, t;
	int col, free_from = 0, n, width = label + cols;

	if (total <= 0)
		total = 1;
	memset(top, ' ', (size_t)width);
	memset(ruler, ' ', (size_t)label);
	memset(ruler + label, '-', (size_t)cols);
	step = up_timeline_step(total, ticks);
	for (t = 0; t <= total; t += step) {
		col = label + (int)((double)t / (double)total * cols);
		if (col >= width)
			col = width - 1;
		ruler[col] = '+';
		up_timeline_tick_label(t, lab, sizeof(lab));
		n = (int)strlen(lab);
		if (col + n > width && t > total - step)
			col = width - n;	/* the last: ends the axis */
		if (col >= free_from && col + n <= width) {
			memcpy(top + col, lab, (size_t)n);
			free_from = col + n + 1;
		}
		if (t > INT64_MAX - step)
			break;
	}
	n = width;
	while (n > 0 && top[n - 1] == ' ')
		n--;
	top[n] = '\0';
	ruler[width] = '\0';
}
