/*
 * timeline.c: the picture of when each connection waited and
 * when it was served, one row per connection on one shared time axis.
 *
 * lib/timeline/timeline.c keeps the rows in bounded memory and draws
 * each column; this file chooses the rows and lays out upclient's text.
 * More than TL_ALL_ROWS connections are drawn as TL_SAMPLE_ROWS rows,
 * evenly spaced from the first to the last, and the picture says so.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeline/timeline.h"
#include "client.h"

_Static_assert((int)TL_NONE == (int)UP_TL_NONE &&
    (int)TL_CONNECTING == (int)UP_TL_CONNECTING &&
    (int)TL_IDLE == (int)UP_TL_IDLE && (int)TL_WAIT == (int)UP_TL_BUSY,
    "tl_state is up_tl_state");
_Static_assert(TL_SENT == UP_TL_REQUEST && TL_RECEIVED == UP_TL_REPLY &&
    TL_ERROR == UP_TL_ERROR, "the moments are timeline.h's");

#define LINE_WIDTH	79		/* fits 80 columns */
#define MAX_TICKS	8

struct timeline {
	struct up_timeline *tl;
	int64_t		 start_ns;	/* time 0 */
	unsigned long	 clients;
	unsigned long	*conn;		/* the connection of each row */
};

/* A new timeline with its rows chosen; NULL with errno. */
struct timeline *
timeline_new(unsigned long clients, int64_t start_ns)
{
	struct timeline *t;
	int i, n;

	n = clients <= TL_ALL_ROWS ? (int)clients : TL_SAMPLE_ROWS;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->clients = clients;
	t->start_ns = start_ns;
	if ((t->tl = up_timeline_new(start_ns)) == NULL ||
	    (t->conn = calloc((size_t)n + 1, sizeof(*t->conn))) == NULL) {
		timeline_free(t);
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (up_timeline_add_row(t->tl) == -1) {
			timeline_free(t);
			errno = ENOMEM;
			return NULL;
		}
		if (clients <= TL_ALL_ROWS)
			t->conn[i] = (unsigned long)i + 1;
		else	/* 1 to clients, evenly spaced */
			t->conn[i] = 1 + (unsigned long)((unsigned long
			    long)i * (clients - 1) / (unsigned long)(n - 1));
	}
	return t;
}

/* Frees t (NULL is fine). */
void
timeline_free(struct timeline *t)
{
	if (t == NULL)
		return;
	up_timeline_free(t->tl);
	free(t->conn);
	free(t);
}

/* The number of rows drawn. */
int
timeline_rows(const struct timeline *t)
{
	return up_timeline_rows(t->tl);
}

/* The connection drawn on row. */
unsigned long
timeline_conn(const struct timeline *t, int row)
{
	return t->conn[row];
}

/* Records an event of row's connection; see client.h. */
void
timeline_event(struct timeline *t, int row, int64_t when, int marks,
    enum tl_state state)
{
	up_timeline_event(t->tl, row, when, marks, (enum up_tl_state)state);
}

/* Draws the picture; see upclient(1). */
void
timeline_print(struct timeline *t, FILE *f, int64_t end_ns)
{
	char line[LINE_WIDTH + 1], top[LINE_WIDTH + 1], ruler[LINE_WIDTH + 1];
	char d1[32], d2[32], digits[24];
	int64_t total;
	int label, cols, i, n;

	up_timeline_end(t->tl, end_ns);
	total = end_ns - t->start_ns;
	if (total <= 0)
		total = 1;

	label = snprintf(digits, sizeof(digits), "%lu", t->clients);
	if (label < 4)
		label = 4;	/* "conn" */
	label++;		/* and a space */
	cols = LINE_WIDTH - label;

	fprintf(f, "timeline: %lu connection%s, %s, one column = %s\n",
	    t->clients, t->clients == 1 ? "" : "s",
	    up_format_duration(total, d1, sizeof(d1)),
	    up_format_duration(total / cols, d2, sizeof(d2)));
	if (t->clients > TL_ALL_ROWS)
		fprintf(f, "(%d of them shown, evenly spaced from the first"
		    " to the last)\n", timeline_rows(t));
	up_timeline_axis(top, ruler, label, cols, total, MAX_TICKS);
	memcpy(top, "conn", 4);
	fprintf(f, "%s\n%s\n", top, ruler);

	for (i = 0; i < timeline_rows(t); i++) {
		n = snprintf(line, sizeof(line), "%*lu ", label - 1,
		    t->conn[i]);
		up_timeline_text(t->tl, i, total, cols, line + n);
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
