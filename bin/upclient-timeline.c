/*
 * upclient-timeline.c: a picture of when each connection waited and when
 * it was served, one row per connection on one shared time axis.
 *
 * The picture is what the tutorials' five terminals showed: against the
 * sequential server four clients send at once, but their replies come one
 * delay apart, a staircase; against a concurrent server they all come at
 * once, one column.
 *
 * Memory stays bounded however long the run: each row is recorded in
 * FINE_BINS cells of one shared width, and when time runs past the last
 * cell every row folds pairs of cells into one and the width doubles.
 * A cell holds the flags of everything that happened in it (the states
 * and moments of upclient-load.h), and printing folds cells into the
 * columns of the screen the same way. More than TL_ALL_ROWS connections
 * are drawn as TL_SAMPLE_ROWS rows, evenly spaced from the first to the
 * last, and the picture says so.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "up.h"
#include "upclient-load.h"

#define FINE_BINS	1024		/* cells recorded per row */
#define FIRST_WIDTH	1000		/* ns per cell to begin with */
#define LINE_WIDTH	79		/* fits 80 columns */
#define MAX_TICKS	8

struct row {
	unsigned long	 conn;		/* 1-based connection number */
	int64_t		 last;		/* time of its latest event */
	enum tl_state	 state;		/* since then */
	unsigned char	*cells;		/* FINE_BINS flags */
};

struct timeline {
	int64_t		 start;		/* monotonic ns of time 0 */
	int64_t		 width;		/* ns per cell */
	unsigned long	 clients;
	int		 nrows;
	struct row	*rows;
	unsigned char	*cells;		/* nrows * FINE_BINS */
};

/* A new timeline with its rows chosen; NULL with errno. */
struct timeline *
timeline_new(unsigned long clients, int64_t start_ns)
{
	struct timeline *tl;
	int i, n;

	n = clients <= TL_ALL_ROWS ? (int)clients : TL_SAMPLE_ROWS;
	if ((tl = calloc(1, sizeof(*tl))) == NULL)
		return NULL;
	tl->rows = calloc((size_t)n, sizeof(*tl->rows));
	tl->cells = calloc((size_t)n, FINE_BINS);
	if (tl->rows == NULL || tl->cells == NULL) {
		timeline_free(tl);
		errno = ENOMEM;
		return NULL;
	}
	tl->start = start_ns;
	tl->width = FIRST_WIDTH;
	tl->clients = clients;
	tl->nrows = n;
	for (i = 0; i < n; i++) {
		if (clients <= TL_ALL_ROWS)
			tl->rows[i].conn = (unsigned long)i + 1;
		else	/* 1 to clients, evenly spaced */
			tl->rows[i].conn = 1 + (unsigned long)((unsigned long
			    long)i * (clients - 1) / (unsigned long)(n - 1));
		tl->rows[i].last = start_ns;
		tl->rows[i].state = TL_NONE;
		tl->rows[i].cells = tl->cells + (size_t)i * FINE_BINS;
	}
	return tl;
}

/* Frees tl (NULL is fine). */
void
timeline_free(struct timeline *tl)
{
	if (tl == NULL)
		return;
	free(tl->rows);
	free(tl->cells);
	free(tl);
}

/* The number of rows drawn. */
int
timeline_rows(const struct timeline *tl)
{
	return tl->nrows;
}

/* The connection drawn on row. */
unsigned long
timeline_conn(const struct timeline *tl, int row)
{
	return tl->rows[row].conn;
}

/* Halves the resolution: every pair of cells becomes one, on every row. */
static void
fold(struct timeline *tl)
{
	unsigned char *c;
	int i, b;

	for (i = 0; i < tl->nrows; i++) {
		c = tl->rows[i].cells;
		for (b = 0; b < FINE_BINS / 2; b++)
			c[b] = c[2 * b] | c[2 * b + 1];
		memset(c + FINE_BINS / 2, 0, FINE_BINS / 2);
	}
	tl->width *= 2;
}

/* The cell of time t, folding until it fits. */
static int
cell_of(struct timeline *tl, int64_t t)
{
	int64_t d = t - tl->start;

	if (d < 0)
		d = 0;
	while (d / tl->width >= FINE_BINS)
		fold(tl);
	return (int)(d / tl->width);
}

/* Records an event of row's connection; see upclient-load.h. */
void
timeline_event(struct timeline *tl, int row, int64_t t, int marks,
    enum tl_state state)
{
	struct row *r = &tl->rows[row];
	int b, from, to;

	to = cell_of(tl, t);
	from = cell_of(tl, r->last);	/* after folding for t */
	if (r->state != TL_NONE)
		for (b = from; b <= to; b++)
			r->cells[b] |= (unsigned char)r->state;
	r->cells[to] |= (unsigned char)marks;
	r->state = state;
	r->last = t;
}

/*
 * The character for the flags of one column: the moments first (an error,
 * a reply and a request, a reply, a request), then the states (waiting
 * for a reply, connected, connecting).
 */
static char
symbol(int f)
{
	if (f & TL_ERROR)
		return 'x';
	if ((f & TL_SENT) && (f & TL_RECEIVED))
		return '*';
	if (f & TL_RECEIVED)
		return '<';
	if (f & TL_SENT)
		return '>';
	if (f & TL_WAIT)
		return '=';
	if (f & TL_IDLE)
		return '.';
	if (f & TL_CONNECTING)
		return '-';
	return ' ';
}

/* "4.012s", "12.5ms", "80us": a duration short enough for an axis. */
const char *
format_duration(int64_t ns, char *buf, size_t len)
{
	if (ns >= 10 * UP_NS_PER_SEC)
		snprintf(buf, len, "%.1fs", (double)ns / 1e9);
	else if (ns >= UP_NS_PER_SEC)
		snprintf(buf, len, "%.3fs", (double)ns / 1e9);
	else if (ns >= 10000000)
		snprintf(buf, len, "%.0fms", (double)ns / 1e6);
	else if (ns >= 1000000)
		snprintf(buf, len, "%.1fms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.0fus", (double)ns / 1e3);
	return buf;
}

/* A tick label: "0", "1s", "2.5s", "250ms", "100us", "2m". */
static const char *
tick_label(int64_t ns, char *buf, size_t len)
{
	if (ns == 0)
		snprintf(buf, len, "0");
	else if (ns % (60 * UP_NS_PER_SEC) == 0 && ns >= 120 *
	    UP_NS_PER_SEC)
		snprintf(buf, len, "%lldm", (long long)(ns / (60 *
		    UP_NS_PER_SEC)));
	else if (ns >= UP_NS_PER_SEC)
		snprintf(buf, len, "%gs", (double)ns / 1e9);
	else if (ns >= 1000000)
		snprintf(buf, len, "%gms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%gus", (double)ns / 1e3);
	return buf;
}

/* The smallest of 1, 2, 5 times a power of ten that is at least ns. */
static int64_t
nice_step(int64_t ns)
{
	int64_t p = 1;

	for (;;) {
		if (p >= ns)
			return p;
		if (2 * p >= ns)
			return 2 * p;
		if (5 * p >= ns)
			return 5 * p;
		p *= 10;
	}
}

/*
 * Prints the axis: tick labels above a ruler, each label starting at the
 * column of its tick, leaving out a label that would run into the one
 * before it or past the line.
 */
static void
print_axis(FILE *f, int label, int cols, int64_t total)
{
	char top[LINE_WIDTH + 1], ruler[LINE_WIDTH + 1], lab[32];
	int64_t step, t;
	int col, free_from = 0, n;

	memset(top, ' ', sizeof(top));
	memset(ruler, ' ', sizeof(ruler));
	memcpy(top, "conn", 4);
	memset(ruler + label, '-', (size_t)cols);
	step = nice_step(total / MAX_TICKS > 0 ? total / MAX_TICKS : 1);
	for (t = 0; t <= total; t += step) {
		col = label + (int)((double)t / (double)total * cols);
		if (col >= label + cols)
			col = label + cols - 1;
		ruler[col] = '+';
		tick_label(t, lab, sizeof(lab));
		n = (int)strlen(lab);
		if (col >= free_from && col + n <= LINE_WIDTH) {
			memcpy(top + col, lab, (size_t)n);
			free_from = col + n + 1;
		}
	}
	n = LINE_WIDTH;
	while (n > 0 && top[n - 1] == ' ')
		n--;
	fprintf(f, "%.*s\n", n, top);
	n = label + cols;
	fprintf(f, "%.*s\n", n, ruler);
}

/* Draws the picture; see the top of this file and upclient(1). */
void
timeline_print(struct timeline *tl, FILE *f, int64_t end_ns)
{
	char line[LINE_WIDTH + 1], d1[32], d2[32];
	int64_t total = end_ns - tl->start, a, z;
	int label, cols, i, j, b, from, to, flags, n;
	struct row *r;
	char digits[24];

	if (total <= 0)
		total = 1;
	/* Close every row at the end, so open spans reach it. */
	for (i = 0; i < tl->nrows; i++)
		if (tl->rows[i].state != TL_NONE)
			timeline_event(tl, i, end_ns, 0, TL_NONE);

	label = snprintf(digits, sizeof(digits), "%lu", tl->clients);
	if (label < 4)
		label = 4;	/* "conn" */
	label++;		/* and a space */
	cols = LINE_WIDTH - label;

	fprintf(f, "timeline: %lu connection%s, %s, one column = %s\n",
	    tl->clients, tl->clients == 1 ? "" : "s",
	    format_duration(total, d1, sizeof(d1)),
	    format_duration(total / cols, d2, sizeof(d2)));
	if (tl->clients > TL_ALL_ROWS)
		fprintf(f, "(%d of them shown, evenly spaced from the first"
		    " to the last)\n", tl->nrows);
	print_axis(f, label, cols, total);

	for (i = 0; i < tl->nrows; i++) {
		r = &tl->rows[i];
		n = snprintf(line, sizeof(line), "%*lu ", label - 1, r->conn);
		for (j = 0; j < cols; j++) {
			/*
			 * The column covers [a, z) ns from the start, and
			 * takes the cells that begin there, so that each
			 * cell shows in one column only; a column narrower
			 * than a cell shows the cell it lies in.
			 */
			a = (int64_t)((double)total * j / cols);
			z = (int64_t)((double)total * (j + 1) / cols);
			from = (int)((a + tl->width - 1) / tl->width);
			to = (int)((z + tl->width - 1) / tl->width) - 1;
			if (to < from)
				from = to = (int)(a / tl->width);
			if (from >= FINE_BINS)
				from = FINE_BINS - 1;
			if (to >= FINE_BINS)
				to = FINE_BINS - 1;
			for (flags = 0, b = from; b <= to; b++)
				flags |= r->cells[b];
			line[n + j] = symbol(flags);
		}
		n += cols;
		while (n > 0 && line[n - 1] == ' ')
			n--;
		fprintf(f, "%.*s\n", n, line);
	}
	fprintf(f, "legend: > request sent  = waiting for its reply  < reply"
	    " received  * both\n"
	    "        - connecting  . connected, idle  x failed"
	    "  blank: not connected\n");
}
