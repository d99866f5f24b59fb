/*
 * timeline.h: the event log read back (event.c), and connections drawn
 * over time (timeline.c): what uptimeline and upclient -T share.
 */
#ifndef UP_TIMELINE_H
#define UP_TIMELINE_H

#include "core/core.h"

/* ---- event.c: reading the event log back ---------------------------- */

struct up_event {
	int64_t		 ns;		/* the wall-clock time, in ns */
	char		 name[16];	/* "accepted", "responded", ... */
	char		 peer[UP_PEER_MAX];
	const char	*rest;		/* the key=value pairs, in the line */
	size_t		 restlen;
};

/*
 * Parses one line of the event log (len bytes, a final '\n' allowed; no
 * NUL needed) into *ev. Returns 0, or -1 with EINVAL when the line is not
 * an event. ev->rest points into line.
 */
int	up_event_parse(const char *line, size_t len, struct up_event *ev);

/*
 * Copies the value of key=value in ev's pairs into buf (NUL-terminated).
 * Returns 0, or -1 with ENOENT (no such key) or ENOSPC (too long for len).
 */
int	up_event_value(const struct up_event *ev, const char *key, char *buf,
	    size_t len);

/* ---- timeline.c: connections over time, for upclient -T and uptimeline - */

/* What a connection is doing between two events (one at a time). */
enum up_tl_state {
	UP_TL_NONE = 0,		/* not connected */
	UP_TL_CONNECTING = 0x01,	/* connect(2) in progress */
	UP_TL_IDLE = 0x02,	/* connected, no request in flight */
	UP_TL_BUSY = 0x04	/* a request in flight: sent, or being served */
};

/* What happened at one moment (may be combined). */
#define UP_TL_REQUEST	0x10	/* a request was sent, or read */
#define UP_TL_REPLY	0x20	/* a reply was received, or sent */
#define UP_TL_ERROR	0x40	/* the connection failed */

#define UP_TL_STATES	0x0f	/* the states' bits of a cell's flags */
#define UP_TL_MARKS	0x70	/* the moments' */

#define UP_TL_CELLS	1024	/* the resolution each row is kept at */

struct up_timeline;

/*
 * An empty timeline whose time 0 is start_ns (any clock, in ns). Returns
 * NULL with errno.
 */
struct up_timeline *up_timeline_new(int64_t start_ns);
void	up_timeline_free(struct up_timeline *tl);

/* A copy of tl, rows and all, to end or draw apart; NULL with errno. */
struct up_timeline *up_timeline_copy(const struct up_timeline *tl);

/* Adds a row (UP_TL_CELLS bytes); returns its index, or -1 with errno. */
int	up_timeline_add_row(struct up_timeline *tl);
int	up_timeline_rows(const struct up_timeline *tl);

/* Empties row, to be used again for another connection. */
void	up_timeline_clear_row(struct up_timeline *tl, int row);

/* The time of the first cell (start_ns, or earlier once moved). */
int64_t	up_timeline_start(const struct up_timeline *tl);

/*
 * Makes the first cell begin at or before t, when t is earlier than it:
 * the cells move later by whole cells (folding first when they would run
 * past the last), so a log that goes back in time loses nothing.
 */
void	up_timeline_move_start(struct up_timeline *tl, int64_t t);

/*
 * Sets the time the drawing functions below measure from (their time 0):
 * start_ns until set. Before the first cell, nothing is drawn.
 */
void	up_timeline_set_origin(struct up_timeline *tl, int64_t origin_ns);

/*
 * Records on row, at time t, the moment flags `marks` (UP_TL_REQUEST...)
 * and that from now on the connection is in `state`. A time before the
 * row's previous event counts as that event's time.
 */
void	up_timeline_event(struct up_timeline *tl, int row, int64_t t,
	    int marks, enum up_tl_state state);

/* Ends every row still in a state at end_ns, so open spans reach it. */
void	up_timeline_end(struct up_timeline *tl, int64_t end_ns);

/*
 * The flags of row between a and z ns after the origin: the cells that
 * begin in [a, z), or the one cell it lies in when the span is narrower;
 * 0 before the first cell and after the last.
 */
int	up_timeline_flags(const struct up_timeline *tl, int row, int64_t a,
	    int64_t z);

/* The flags of column col of cols that span total ns (up_timeline_flags). */
int	up_timeline_column(const struct up_timeline *tl, int row,
	    int64_t total, int col, int cols);

/*
 * The character for the flags of one column: the moments first (x an
 * error, * a request and a reply, < a reply, > a request), then the states
 * (= busy, . idle, - connecting), blank for none.
 */
char	up_timeline_symbol(int flags);

/* The colour of the same, "#4c78a8" for busy, ...; NULL for none. */
const char *up_timeline_color(int flags);

/* Writes the cols symbols of row, spanning total ns, to out (no NUL). */
void	up_timeline_text(const struct up_timeline *tl, int row, int64_t total,
	    int cols, char *out);

/* "4.012s", "12.5ms", "80us": a duration short enough for a heading. */
const char *up_format_duration(int64_t ns, char *buf, size_t len);

/* A tick label: "0", "1s", "2.5s", "250ms", "100us", "600s". */
const char *up_timeline_tick_label(int64_t ns, char *buf, size_t len);

/*
 * The tick step: the smallest 1, 2 or 5 times a power of ten that makes
 * at most `ticks` steps of total ns.
 */
int64_t	up_timeline_step(int64_t total, int ticks);

/*
 * Draws an axis of `cols` columns after `label` blank ones, for total ns
 * with at most `ticks` steps: tick labels in top, each starting at the
 * column of its tick, but the last tick's ending the axis when it would
 * run past it (one that would run into the one before it is left out),
 * and the ruler with a '+' per tick. Both need
 * label + cols + 1 bytes; both end up NUL-terminated, top without
 * trailing blanks.
 */
void	up_timeline_axis(char *top, char *ruler, int label, int cols,
	    int64_t total, int ticks);

#endif /* UP_TIMELINE_H */
