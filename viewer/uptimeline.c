/*
 * uptimeline: draws any server's event log, one row per connection on a
 * shared time axis, in the terminal or as SVG.
 *
 * It is the picture upclient -T draws, from the other side: what the
 * server saw. Against upserver-seq four clients make a staircase, each
 * accepted when the one before it is closed; against upserver-fork they
 * are all accepted at once and answered together, one column. Any client
 * will do (the tutorial's, curl, ab), since only the server's log is read.
 *
 * Only what can be drawn is kept, so time grows with the log and memory
 * does not: the connections open at the moment, in a hash table keyed by
 * peer, and a timeline of at most KEEP_ROWS + 1 rows (every stride-th
 * connection, the stride doubling as they come, and the latest), whose
 * cells fold as time runs on. Each drawing ends a copy of it, so that a
 * log read from a pipe can be drawn again as it grows.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timeline/timeline.h"

#define PROG		"uptimeline"
#define LINE_MAX_LEN	4096	/* a longer line is not an event */
#define ALL_ROWS	40	/* more connections are drawn as a sample */
#define SAMPLE_ROWS	32
#define KEEP_ROWS	64	/* kept while reading: ALL_ROWS and more */
#define MAX_TICKS	8
#define MIN_WIDTH	40
#define MAX_WIDTH	1000
#define SVG_WIDTH	960
#define REDRAW_NS	(200 * 1000000LL)

/* The options, for up_getopt; getopt itself reports a bad one (opterr). */
static const char options[] =
    "a(absolute)h(help)s(svg)V(version)w:(width)";

static const char synopsis[] =
    "[-ahsV] [-w width] [file ...]";

static const char help[] =
    "Draws servers' event logs (the files, or standard input) as one row per\n"
    "connection on a shared time axis, from accepted to closed.\n"
    "\n"
    "  -a, --absolute   place the logs on one wall clock, from the earliest\n"
    "                   event of all (default: each from its own first event)\n"
    "  -s, --svg        write a standalone SVG picture instead of text\n"
    "  -w, --width N    columns of text (default: $COLUMNS, the terminal's,\n"
    "                   or 80), or pixels with --svg (default 960)\n"
    "  -h, --help       print this help and exit\n"
    "  -V, --version    print the version and exit\n"
    "\n"
    "Reading a pipe with a terminal on standard output, the picture is drawn\n"
    "again as the log grows. Lines that are not events are skipped and\n"
    "counted on standard error. Exit status: 0 drawn; 1 an input could not be\n"
    "read or held no event; 2 usage.\n";

/*
 * A connection open in the log, in the table of open connections. Its
 * identity is its peer: two connections open at once have two peers, and
 * a peer reused after its `closed` line is a new connection.
 */
struct conn {
	char		 peer[UP_PEER_MAX];	/* "" for a free slot */
	unsigned long	 serial;	/* connections before it in the log */
	int		 row;		/* its row in the timeline, or -1 */
	int		 state;		/* since its latest event */
};

/* The longest accepted= or wasted= list kept from a "stopped" line. */
#define SPREAD_MAX	512

/* A connection kept for drawing: a row of the log's timeline. */
struct kept {
	int		 used;
	unsigned long	 serial;	/* the connection's, numbered from 0 */
	char		 peer[UP_PEER_MAX];
	char		 who[32];	/* "pid=12", "tid=3", or "" */
	int		 gil;		/* its "responded" carry gil-waits= */
	long		 gil_waits;	/* their sum: waits for the GIL */
};

/* One log: the lines read so far, turned into connections and rows. */
struct log {
	const char	*name;		/* as given, "-" for standard input */
	int		 fd;
	char		 line[LINE_MAX_LEN];
	size_t		 len;		/* bytes in line */
	int		 overlong;	/* skipping the rest of a long line */
	int		 eof;
	unsigned long	 skipped;	/* lines that are not events */
	unsigned long	 nevents;	/* events of any kind */
	unsigned long	 nreceived;	/* received events (newer servers) */
	unsigned long	 nmoments;	/* events of connections */
	int64_t		 first, last;	/* of the connections' events */
	char		 model[24];
	char		 pid[24];
	char		 accepted[SPREAD_MAX]; /* stopped's, per worker (-w) */
	char		 wasted[SPREAD_MAX];
	unsigned long	 nconns;	/* connections seen */
	struct conn	*open;		/* a hash table of the open, by peer */
	size_t		 nopen, capopen;
	struct up_timeline *tl;		/* KEEP_ROWS + 1 rows, from the first */
	struct kept	 kept[KEEP_ROWS + 1];
	unsigned long	 stride;	/* kept: every stride-th connection */
	int		 nstride;	/* rows kept on the stride */
	int		 newest;	/* the row of the latest connection */
};

static int	absolute;

static void
usage(FILE *f, int full)
{
	fprintf(f, "usage: %s %s\n", PROG, synopsis);
	if (full)
		fprintf(f, "\n%s", help);
}

/* ---- the open connections: a hash table keyed by peer ------------------ */

/* FNV-1a of peer: where its search in a table of cap slots begins. */
static size_t
slot_of(const char *peer, size_t cap)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *peer != '\0'; peer++)
		h = (h ^ (unsigned char)*peer) * 1099511628211ULL;
	return (size_t)(h & (cap - 1));
}

/*
 * The slot of peer in l's table: where it is, or the free slot where it
 * would go. The table is never full (at most half), so the search ends.
 */
static size_t
find_slot(const struct log *l, const char *peer)
{
	size_t i;

	for (i = slot_of(peer, l->capopen); l->open[i].peer[0] != '\0';
	    i = (i + 1) & (l->capopen - 1))
		if (strcmp(l->open[i].peer, peer) == 0)
			break;
	return i;
}

/* The open connection of peer, or NULL. */
static struct conn *
find_conn(const struct log *l, const char *peer)
{
	size_t i;

	if (l->nopen == 0)
		return NULL;
	i = find_slot(l, peer);
	return l->open[i].peer[0] != '\0' ? &l->open[i] : NULL;
}

/* Doubles l's table (64 slots to begin with); 0, or -1 with errno. */
static int
grow_table(struct log *l)
{
	struct conn *old = l->open;
	size_t i, oldcap = l->capopen, cap = oldcap ? 2 * oldcap : 64;

	if (cap > SIZE_MAX / sizeof(*old) / 2) {
		errno = ENOMEM;
		return -1;
	}
	if ((l->open = calloc(cap, sizeof(*old))) == NULL) {
		l->open = old;
		return -1;
	}
	l->capopen = cap;
	for (i = 0; i < oldcap; i++)
		if (old[i].peer[0] != '\0')
			l->open[find_slot(l, old[i].peer)] = old[i];
	free(old);
	return 0;
}

/*
 * Removes c from l's table, moving back the entries after it that would
 * no longer be found (linear probing's deletion, no tombstones).
 */
static void
remove_conn(struct log *l, struct conn *c)
{
	size_t mask = l->capopen - 1, hole = (size_t)(c - l->open), i, home;

	for (i = (hole + 1) & mask; l->open[i].peer[0] != '\0';
	    i = (i + 1) & mask) {
		home = slot_of(l->open[i].peer, l->capopen);
		/* It may fill the hole when its home is not in (hole, i]. */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			l->open[hole] = l->open[i];
			hole = i;
		}
	}
	l->open[hole].peer[0] = '\0';
	l->nopen--;
}

/* ---- the rows kept for drawing ----------------------------------------- */

/* Frees row r of l for another connection. */
static void
drop_row(struct log *l, int r)
{
	if (l->kept[r].serial % l->stride == 0)
		l->nstride--;
	l->kept[r].used = 0;
	up_timeline_clear_row(l->tl, r);
}

/*
 * Gives connection serial of peer a row, when it is to be kept: every
 * stride-th connection is, and the latest one until the next comes. When
 * KEEP_ROWS are on the stride, the stride doubles and half of them go.
 * Returns the row, or -1 (not drawn).
 */
static int
keep_row(struct log *l, unsigned long serial, const char *peer)
{
	int r;

	if (l->newest != -1 && l->kept[l->newest].used &&
	    l->kept[l->newest].serial % l->stride != 0)
		drop_row(l, l->newest);
	l->newest = -1;
	if (serial % l->stride == 0 && l->nstride == KEEP_ROWS) {
		l->stride *= 2;
		l->nstride = 0;
		for (r = 0; r <= KEEP_ROWS; r++)
			if (l->kept[r].used) {
				if (l->kept[r].serial % l->stride != 0) {
					l->kept[r].used = 0;
					up_timeline_clear_row(l->tl, r);
				} else
					l->nstride++;
			}
	}
	for (r = 0; r <= KEEP_ROWS && l->kept[r].used; r++)
		continue;
	if (r > KEEP_ROWS)
		return -1;	/* cannot happen: one row is always free */
	memset(&l->kept[r], 0, sizeof(l->kept[r]));
	l->kept[r].used = 1;
	l->kept[r].serial = serial;
	snprintf(l->kept[r].peer, sizeof(l->kept[r].peer), "%s", peer);
	if (serial % l->stride == 0)
		l->nstride++;
	l->newest = r;
	return r;
}

/*
 * A new open connection of peer (replacing in the table one still open
 * with that peer, which stays drawn as open); NULL with errno.
 */
static struct conn *
new_conn(struct log *l, const char *peer)
{
	struct conn *c;

	if ((l->nopen + 1) * 2 > l->capopen && grow_table(l) == -1)
		return NULL;
	c = &l->open[find_slot(l, peer)];
	if (c->peer[0] == '\0')
		l->nopen++;
	memset(c, 0, sizeof(*c));
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->serial = l->nconns++;
	c->row = keep_row(l, c->serial, peer);
	return c;
}

/* The row of c, when it is still kept; -1 when not drawn. */
static int
row_of(const struct log *l, const struct conn *c)
{
	if (c->row == -1 || !l->kept[c->row].used ||
	    l->kept[c->row].serial != c->serial)
		return -1;
	return c->row;
}

/*
 * A timeline of KEEP_ROWS + 1 empty rows from start; NULL with errno.
 */
static struct up_timeline *
new_timeline(int64_t start)
{
	struct up_timeline *tl;
	int r;

	if ((tl = up_timeline_new(start)) == NULL)
		return NULL;
	for (r = 0; r <= KEEP_ROWS; r++)
		if (up_timeline_add_row(tl) == -1) {
			up_timeline_free(tl);
			return NULL;
		}
	return tl;
}

/*
 * Takes one line of l: an event of a connection becomes one of its
 * moments (a server event of a peer never accepted in this log begins a
 * row there, the log having started late). Returns 0, or -1 with errno
 * when memory runs out.
 */
static int
take_line(struct log *l, const char *line, size_t len)
{
	struct up_event ev;
	struct conn *c;
	struct kept *k;
	char v[24];
	int r, marks, state;

	if (len == 0 || (len == 1 && line[0] == '\n'))
		return 0;
	if (up_event_parse(line, len, &ev) == -1) {
		l->skipped++;
		return 0;
	}
	l->nevents++;
	if (strcmp(ev.name, "listening") == 0) {
		if (up_event_value(&ev, "model", v, sizeof(v)) == 0)
			snprintf(l->model, sizeof(l->model), "%s", v);
		if (up_event_value(&ev, "pid", v, sizeof(v)) == 0)
			snprintf(l->pid, sizeof(l->pid), "%s", v);
		return 0;
	}
	if (strcmp(ev.name, "stopped") == 0) {
		/* -w: each worker's connections and wasted wake-ups */
		if (up_event_value(&ev, "accepted", l->accepted,
		    sizeof(l->accepted)) == -1 ||
		    up_event_value(&ev, "wasted", l->wasted,
		    sizeof(l->wasted)) == -1)
			l->accepted[0] = l->wasted[0] = '\0';
		return 0;
	}
	if (strcmp(ev.name, "accepted") == 0) {
		marks = 0;
		state = UP_TL_IDLE;
	} else if (strcmp(ev.name, "received") == 0) {
		l->nreceived++;
		marks = UP_TL_REQUEST;
		state = UP_TL_BUSY;
	} else if (strcmp(ev.name, "responded") == 0) {
		marks = UP_TL_REPLY;
		state = UP_TL_IDLE;
	} else if (strcmp(ev.name, "closed") == 0) {
		marks = 0;
		state = UP_TL_NONE;
	} else if (strcmp(ev.name, "error") == 0) {
		marks = UP_TL_ERROR;
		state = -1;	/* as it was */
	} else
		return 0;	/* listening, stopped, or one to come */

	c = strcmp(ev.name, "accepted") == 0 ? NULL : find_conn(l, ev.peer);
	if (c == NULL) {
		if (state == -1)	/* the server's own: op=accept */
			return 0;
		if (l->tl == NULL && (l->tl = new_timeline(ev.ns)) == NULL)
			return -1;
		if ((c = new_conn(l, ev.peer)) == NULL)
			return -1;
	}
	if (l->nmoments++ == 0 || ev.ns < l->first)
		l->first = ev.ns;
	if (l->nmoments == 1 || ev.ns > l->last)
		l->last = ev.ns;
	if (state == -1)
		state = c->state;
	c->state = state;
	if ((r = row_of(l, c)) != -1) {
		k = &l->kept[r];
		if (k->who[0] == '\0') {
			if (up_event_value(&ev, "pid", v, sizeof(v)) == 0)
				snprintf(k->who, sizeof(k->who), "pid=%s", v);
			else if (up_event_value(&ev, "tid", v, sizeof(v)) == 0)
				snprintf(k->who, sizeof(k->who), "tid=%s", v);
		}
		if (up_event_value(&ev, "gil-waits", v, sizeof(v)) == 0) {
			k->gil = 1;
			k->gil_waits += strtol(v, NULL, 10);
		}
		if (ev.ns < up_timeline_start(l->tl))
			up_timeline_move_start(l->tl, ev.ns);
		up_timeline_event(l->tl, r, ev.ns, marks,
		    (enum up_tl_state)state);
	}
	if (state == UP_TL_NONE)
		remove_conn(l, c);
	return 0;
}

/*
 * The line gathered in l is complete: takes it (or counts it skipped,
 * when it was too long) and starts the next. Returns 0, or -1 with errno.
 */
static int
end_line(struct log *l)
{
	int r = 0;

	if (l->overlong)
		l->skipped++;
	else
		r = take_line(l, l->line, l->len);
	l->len = 0;
	l->overlong = 0;
	return r;
}

/*
 * Reads what is there from l's descriptor (blocking until something is)
 * and takes each complete line; at the end of input, the last line even
 * without its newline. Returns 0, or -1 with errno.
 */
static int
read_log(struct log *l)
{
	char buf[65536], *p, *nl, *end;
	ssize_t n;
	size_t k;

	if ((n = up_read(l->fd, buf, sizeof(buf))) == -1)
		return -1;
	if (n == 0) {
		l->eof = 1;
		return end_line(l);
	}
	for (p = buf, end = buf + n; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		k = (size_t)(nl - p);
		if (!l->overlong && l->len + k <= sizeof(l->line)) {
			memcpy(l->line + l->len, p, k);
			l->len += k;
		} else
			l->overlong = 1;
		if (nl == end)
			break;
		if (end_line(l) == -1)
			return -1;
	}
	return 0;
}

/* ---- drawing ----------------------------------------------------------- */

struct view {
	int64_t		 start;		/* of this log, on its own clock */
	int64_t		 total;		/* ns the axis spans, every log alike */
	int64_t		 end;		/* where open connections end, ditto */
	struct up_timeline *tl;		/* a copy of the log's, ended */
	int		*rows;		/* the timeline row of each row drawn */
	int		 nrows;
};

/*
 * Chooses the rows of l to draw into v->rows: every connection when
 * there are at most ALL_ROWS, else SAMPLE_ROWS spaced evenly from the
 * first to the last, each the kept connection nearest to its place.
 * Returns how many.
 */
static int
choose_rows(const struct log *l, int *rows)
{
	int kept[KEEP_ROWS + 1], nk = 0, r, j, at, n, best;
	unsigned long want, d, bestd;

	for (r = 0; r <= KEEP_ROWS; r++)
		if (l->kept[r].used) {	/* in order of serial: insertion */
			for (j = nk; j > 0 && l->kept[kept[j - 1]].serial >
			    l->kept[r].serial; j--)
				kept[j] = kept[j - 1];
			kept[j] = r;
			nk++;
		}
	n = l->nconns <= ALL_ROWS ? nk : SAMPLE_ROWS < nk ? SAMPLE_ROWS : nk;
	if (n == nk) {
		memcpy(rows, kept, (size_t)n * sizeof(int));
		return n;
	}
	for (r = 0, at = 0; r < n; r++) {
		want = (unsigned long)((unsigned long long)r * (l->nconns - 1) /
		    (unsigned long)(n - 1));
		/* The nearest after the one before, leaving enough after. */
		best = at;
		bestd = ULONG_MAX;
		for (j = at; j <= nk - (n - r); j++) {
			d = l->kept[kept[j]].serial > want ?
			    l->kept[kept[j]].serial - want :
			    want - l->kept[kept[j]].serial;
			if (d < bestd) {
				best = j;
				bestd = d;
			}
		}
		rows[r] = kept[best];
		at = best + 1;
	}
	return n;
}

/*
 * Builds the picture of l into v: a copy of its timeline with time 0 at
 * v->start and open connections ending at v->end (on l's clock), and
 * the rows to draw. Returns 0, or -1 with errno.
 */
static int
build(const struct log *l, struct view *v)
{
	if ((v->rows = calloc(KEEP_ROWS + 1, sizeof(int))) == NULL)
		return -1;
	if (l->tl == NULL) {
		v->nrows = 0;
		return (v->tl = up_timeline_new(v->start)) == NULL ? -1 : 0;
	}
	if ((v->tl = up_timeline_copy(l->tl)) == NULL)
		return -1;
	up_timeline_set_origin(v->tl, v->start);
	up_timeline_end(v->tl, v->end);
	v->nrows = choose_rows(l, v->rows);
	return 0;
}

static void
unbuild(struct view *v)
{
	up_timeline_free(v->tl);
	free(v->rows);
	v->tl = NULL;
	v->rows = NULL;
}

/* The first time of every log, the end of every log and the axis span. */
static void
place(struct log *logs, int nlogs, int64_t extra, struct view *views)
{
	int64_t first = 0, total = 1;
	int i;

	for (i = 0; i < nlogs; i++)
		if (logs[i].nmoments > 0 && (first == 0 ||
		    logs[i].first < first))
			first = logs[i].first;
	for (i = 0; i < nlogs; i++) {
		views[i].start = absolute ? first : logs[i].first;
		views[i].end = logs[i].last + extra;
		if (logs[i].nmoments > 0 && views[i].end - views[i].start >
		    total)
			total = views[i].end - views[i].start;
	}
	for (i = 0; i < nlogs; i++)
		views[i].total = total;
}

/* The name of l for people: its file's, or "standard input". */
static const char *
display_name(const struct log *l)
{
	return strcmp(l->name, "-") == 0 ? "standard input" : l->name;
}

/* "seq.log: upserver-seq pid 4312, 4 connections" and the span. */
static void
heading(const struct log *l, const char *name, char *buf, size_t len)
{
	char d[32];
	int n;

	n = snprintf(buf, len, "%s:", name);
	if (l->model[0] != '\0' && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " upserver-%s%s%s,",
		    l->model, l->pid[0] ? " pid " : "", l->pid);
	if (n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n,
		    " %lu connection%s in %s", l->nconns,
		    l->nconns == 1 ? "" : "s", up_format_duration(l->nmoments ?
		    l->last - l->first : 0, d, sizeof(d)));
	/* A server older than the event: its waiting includes serving. */
	if (l->nconns > 0 && l->nreceived == 0 && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " (no received events)");
}

/*
 * The text after a row: " 127.0.0.1:58620 pid=4312", and under --gil the
 * times its requests waited for the lock, " gil-waits=172". Returns its
 * length (as snprintf: what it would be untruncated).
 */
static int
row_note(const struct kept *c, char *buf, size_t len)
{
	char gil[40] = "";
	int n;

	if (c->gil)
		snprintf(gil, sizeof(gil), " gil-waits=%ld", c->gil_waits);
	n = snprintf(buf, len, " %s%s%s%s", c->peer, c->who[0] ? " " : "",
	    c->who, gil);
	return n < 0 ? 0 : n;
}

/*
 * The spread of log l's connections over its workers, from its "stopped"
 * line: "spread: 3 to 5 connections a worker (accepted=3,5), wasted
 * wake-ups 12 (wasted=0,12)". Returns the length written as snprintf, 0
 * (nothing written) when the log has no such line.
 */
static int
spread(const struct log *l, char *buf, size_t len)
{
	const char *p;
	long least = -1, most = 0, v, wasted = 0;
	char *end;

	if (l->accepted[0] == '\0')
		return 0;
	for (p = l->accepted; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		v = strtol(p, &end, 10);
		if (end == p)
			return 0;
		if (least == -1 || v < least)
			least = v;
		if (v > most)
			most = v;
	}
	for (p = l->wasted; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		wasted += strtol(p, &end, 10);
		if (end == p)
			return 0;
	}
	return snprintf(buf, len, "spread: %ld to %ld connections a worker "
	    "(accepted=%s), %ld wasted wake-ups (wasted=%s)", least, most,
	    l->accepted, wasted, l->wasted);
}

/* The legend and the scale, wrapped to width columns. */
static void
legend(FILE *f, int width, const char *column)
{
	static const char *items[] = {
		"> request read", "= being served", "< reply sent", "* both",
		". connected, waiting for a request", "x error",
		"blank: not connected", NULL, NULL
	};
	char scale[64];
	int i, at, n;

	snprintf(scale, sizeof(scale), "one column = %s", column);
	items[7] = scale;
	fputs("legend:", f);
	at = 7;
	for (i = 0; items[i] != NULL; i++) {
		n = (int)strlen(items[i]);
		if (at > 8 && at + 2 + n > width) {
			fputs("\n       ", f);
			at = 7;
		}
		fprintf(f, "%s%s", at == 7 ? " " : "  ", items[i]);
		at += (at == 7 ? 1 : 2) + n;
	}
	fputc('\n', f);
}

/*
 * Prints a log's heading cut to width columns: a long file name loses
 * its directories first.
 */
static void
print_heading(FILE *f, const struct log *l, int width)
{
	char head[512];
	const char *slash;

	heading(l, display_name(l), head, sizeof(head));
	if ((int)strlen(head) > width && (slash = strrchr(l->name, '/')) !=
	    NULL)
		heading(l, slash + 1, head, sizeof(head));
	fprintf(f, "%.*s\n", width, head);
}

/* Draws the logs as text, width columns wide. Returns 0 or -1. */
static int
draw_text(FILE *f, struct log *logs, int nlogs, struct view *views,
    int width)
{
	char top[MAX_WIDTH + 1], ruler[MAX_WIDTH + 1], line[MAX_WIDTH + 1];
	char note[UP_PEER_MAX + 40], d[32];
	int label = 4, notes = 0, cols, i, r, n, k;
	const struct view *v;

	for (i = 0; i < nlogs; i++) {
		n = snprintf(note, sizeof(note), "%lu", logs[i].nconns);
		if (n > label)
			label = n;
		for (r = 0; r < views[i].nrows; r++) {
			n = row_note(&logs[i].kept[views[i].rows[r]], note,
			    sizeof(note));
			if (n > notes)
				notes = n;
		}
	}
	label++;
	if (width - label - notes < 20)
		notes = 0;	/* no room: the bars matter more */
	cols = width - label - notes;
	for (i = 0; i < nlogs; i++) {
		v = &views[i];
		print_heading(f, &logs[i], width);
		if (logs[i].nconns > (unsigned long)v->nrows)
			fprintf(f, "(%d of them shown, evenly spaced from the"
			    " first to the last)\n", v->nrows);
		up_timeline_axis(top, ruler, label, cols, v->total, MAX_TICKS);
		memcpy(top, "conn", 4);
		fprintf(f, "%s\n%s\n", top, ruler);
		for (r = 0; r < v->nrows; r++) {
			n = snprintf(line, sizeof(line), "%*lu ", label - 1,
			    logs[i].kept[v->rows[r]].serial + 1);
			up_timeline_text(v->tl, v->rows[r], v->total, cols,
			    line + n);
			n += cols;
			if (notes > 0) {
				k = row_note(&logs[i].kept[v->rows[r]], note,
				    sizeof(note));
				memcpy(line + n, note, (size_t)k);
				n += k;
			}
			while (n > 0 && line[n - 1] == ' ')
				n--;
			fprintf(f, "%.*s\n", n, line);
		}
	}
	legend(f, width, up_format_duration(views[0].total / cols, d,
	    sizeof(d)));
	for (i = 0; i < nlogs; i++)
		if (spread(&logs[i], line, sizeof(line)) > 0)
			fprintf(f, "%s%s%s\n", nlogs > 1 ? logs[i].name : "",
			    nlogs > 1 ? ": " : "", line);
	return fflush(f);
}

/* Writes s with the five characters XML reserves escaped. */
static void
xml_text(FILE *f, const char *s)
{
	static const char reserved[] = "&<>\"'";
	static const char *const entities[] = {
		"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"
	};
	const char *r;

	for (; *s != '\0'; s++)
		if ((r = strchr(reserved, *s)) != NULL)
			fputs(entities[r - reserved], f);
		else if ((unsigned char)*s >= ' ' && (unsigned char)*s < 0x7f)
			fputc(*s, f);
		else
			fputc('?', f);	/* valid UTF-8 or nothing */
}

#define SVG_MARGIN	12
#define SVG_LABEL	36	/* the connection numbers */
#define SVG_NOTE	230	/* peer and pid/tid */
#define SVG_GIL_NOTE	100	/* and gil-waits= */
#define SVG_ROW		16
#define SVG_HEAD	44	/* a log's title and axis */
#define SVG_GAP		16
#define SVG_LEGEND	40

/*
 * One entry of the legend at x, y: a w by h swatch in the colour of
 * flags, centred in a 20 by 12 box, and its text after it, on the
 * baseline ty.
 */
static void
svg_key(FILE *f, int x, int y, int w, int h, int flags, int ty,
    const char *text)
{
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
	    "fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n",
	    x + (20 - w) / 2, y + (12 - h) / 2, w, h, up_timeline_color(flags),
	    x + 26, ty, text);
}

/* One row of pixels: runs of one state as bars, then the moments. */
static void
svg_row(FILE *f, const struct view *v, int r, int x0, int y, int pw)
{
	const char *c, *run = NULL, *busy = up_timeline_color(UP_TL_BUSY);
	int j, from = 0, h;

	for (j = 0; j <= pw; j++) {
		c = j < pw ? up_timeline_color(up_timeline_column(v->tl, r,
		    v->total, j, pw) & UP_TL_STATES) : NULL;
		if (c == run)
			continue;
		if (run != NULL) {
			h = strcmp(run, busy) == 0 ? 10 : 4;
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" "
			    "height=\"%d\" fill=\"%s\"/>\n", x0 + from,
			    y + (SVG_ROW - h) / 2, j - from, h, run);
		}
		run = c;
		from = j;
	}
	for (j = 0; j < pw; j++) {
		c = up_timeline_color(up_timeline_column(v->tl, r, v->total,
		    j, pw) & UP_TL_MARKS);
		if (c != NULL)
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"2\" "
			    "height=\"%d\" fill=\"%s\"/>\n", x0 + j - 1, y + 1,
			    SVG_ROW - 2, c);
	}
}

/* 1 when a row of the logs has a gil-waits= note, else 0. */
static int
any_gil(const struct log *logs, int nlogs)
{
	int i, r;

	for (i = 0; i < nlogs; i++)
		for (r = 0; r <= KEEP_ROWS; r++)
			if (logs[i].kept[r].used && logs[i].kept[r].gil)
				return 1;
	return 0;
}

/*
 * The colour of a row's worker ("pid=12", "tid=3"): one of eight, the
 * same for every row of that worker. Returns NULL for no worker.
 */
static const char *
worker_color(const char *who)
{
	static const char *palette[] = { "#e6194b", "#3cb44b", "#4363d8",
	    "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324" };
	unsigned long h = 5381;

	if (who[0] == '\0')
		return NULL;
	while (*who != '\0')
		h = h * 33 + (unsigned char)*who++;
	return palette[h % (sizeof(palette) / sizeof(palette[0]))];
}

/* Draws the logs as one standalone SVG, width pixels wide. */
static int
draw_svg(FILE *f, struct log *logs, int nlogs, struct view *views,
    int width)
{
	char head[512], lab[32], note[UP_PEER_MAX + 40];
	char sp[2 * SPREAD_MAX + 100];
	const char *c;
	int height, i, r, x0, pw, notes = SVG_NOTE, y, x;
	int64_t step, t;
	const struct view *v;

	x0 = SVG_MARGIN + SVG_LABEL;
	if (any_gil(logs, nlogs))
		notes += SVG_GIL_NOTE;
	if (width - x0 - notes - SVG_MARGIN < 100)
		notes = 0;
	pw = width - x0 - notes - SVG_MARGIN;
	height = SVG_MARGIN + SVG_LEGEND;
	for (i = 0; i < nlogs; i++) {
		height += SVG_HEAD + views[i].nrows * SVG_ROW + SVG_GAP;
		if (spread(&logs[i], note, sizeof(note)) > 0)
			height += SVG_ROW;
	}

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"monospace\" "
	    "font-size=\"12\">\n"
	    "<title>uptimeline</title>\n"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
	    width, height, width, height);
	y = SVG_MARGIN;
	for (i = 0; i < nlogs; i++) {
		v = &views[i];
		heading(&logs[i], display_name(&logs[i]), head, sizeof(head));
		fprintf(f, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">",
		    SVG_MARGIN, y + 12);
		xml_text(f, head);
		if (logs[i].nconns > (unsigned long)v->nrows)
			fprintf(f, " (%d shown)", v->nrows);
		fprintf(f, "</text>\n");
		y += 20;
		step = up_timeline_step(v->total, MAX_TICKS);
		for (t = 0; t <= v->total; t += step) {
			x = x0 + (int)((double)t / (double)v->total * pw);
			up_timeline_tick_label(t, lab, sizeof(lab));
			fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#555555\">"
			    "%s</text>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
			    "y2=\"%d\" stroke=\"#dddddd\"/>\n", x, y + 12, lab,
			    x, y + 16, x, y + 24 + v->nrows * SVG_ROW);
			if (t > INT64_MAX - step)
				break;
		}
		y += 24;
		for (r = 0; r < v->nrows; r++) {
			fprintf(f, "<text x=\"%d\" y=\"%d\" "
			    "text-anchor=\"end\">%lu</text>\n", x0 - 6, y + 12,
			    logs[i].kept[v->rows[r]].serial + 1);
			svg_row(f, v, v->rows[r], x0, y, pw);
			/* a stripe in the colour of the row's worker */
			if ((c = worker_color(logs[i].kept[v->rows[r]].who)) !=
			    NULL)
				fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"4\""
				    " height=\"%d\" fill=\"%s\"/>\n", x0 - 5,
				    y + 1, SVG_ROW - 2, c);
			if (notes > 0) {
				row_note(&logs[i].kept[v->rows[r]], note,
				    sizeof(note));
				fprintf(f, "<text x=\"%d\" y=\"%d\" "
				    "fill=\"#555555\">", x0 + pw + 4, y + 12);
				xml_text(f, note + 1);
				fprintf(f, "</text>\n");
			}
			y += SVG_ROW;
		}
		if (spread(&logs[i], sp, sizeof(sp)) > 0) {
			fprintf(f, "<text x=\"%d\" y=\"%d\">", SVG_MARGIN,
			    y + 12);
			xml_text(f, sp);
			fprintf(f, "</text>\n");
			y += SVG_ROW;
		}
		y += SVG_GAP;
	}
	y += 4;
	svg_key(f, SVG_MARGIN, y, 20, 4, UP_TL_IDLE, y + 9,
	    "connected, waiting for a request");
	svg_key(f, SVG_MARGIN + 290, y, 20, 10, UP_TL_BUSY, y + 9,
	    "being served");
	y += 18;
	svg_key(f, SVG_MARGIN, y, 2, 12, UP_TL_REQUEST, y + 10,
	    "request read");
	svg_key(f, SVG_MARGIN + 290, y, 2, 12, UP_TL_REPLY, y + 10,
	    "reply sent");
	svg_key(f, SVG_MARGIN + 450, y, 2, 12, UP_TL_ERROR, y + 10, "error");
	fprintf(f, "</svg>\n");
	return fflush(f);
}

/* The width of the picture: -w, $COLUMNS, the terminal's, or 80. */
static int
text_width(long opt)
{
	struct winsize ws;
	const char *s;
	long n;

	if (opt > 0)
		return (int)opt;
	if ((s = getenv("COLUMNS")) != NULL && up_parse_number(s, MIN_WIDTH,
	    MAX_WIDTH, &n) == 0)
		return (int)n;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col < MIN_WIDTH ? MIN_WIDTH : ws.ws_col >
		    MAX_WIDTH ? MAX_WIDTH : ws.ws_col;
	return 80;
}

/*
 * Draws every log, open connections reaching extra ns past each log's
 * last event; clear first wipes the terminal. Returns 0, or -1 with errno.
 */
static int
draw(struct log *logs, int nlogs, int svg, long width, int64_t extra,
    int clear)
{
	struct view *views;
	int i, r = -1;

	if ((views = calloc((size_t)nlogs, sizeof(*views))) == NULL)
		return -1;
	place(logs, nlogs, extra, views);
	for (i = 0; i < nlogs; i++)
		if (build(&logs[i], &views[i]) == -1)
			goto out;
	if (clear)
		fputs("\033[H\033[J", stdout);
	if (svg)
		r = draw_svg(stdout, logs, nlogs, views, width > 0 ?
		    (int)width : SVG_WIDTH);
	else
		r = draw_text(stdout, logs, nlogs, views, text_width(width));
out:
	for (i = 0; i < nlogs; i++)
		unbuild(&views[i]);
	free(views);
	return r;
}

/*
 * Reads the one log l from a pipe while a terminal watches: draws it
 * again at most every REDRAW_NS as it grows (and as its open connections
 * grow longer), and once more at its end. Ctrl-C stops the reading after
 * at most a second more of it. Returns 0, or -1 with errno.
 */
static int
live(struct log *l, long width)
{
	struct pollfd pfd[2];
	int64_t now, drawn = 0, seen = up_now_ns(), stop = 0;
	unsigned long had = 0;
	int dirty = 1;

	if (up_signals_init() == -1)
		return -1;
	pfd[0].fd = l->fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = up_stop_fd();
	pfd[1].events = POLLIN;
	while (!l->eof) {
		if (poll(pfd, stop ? 1 : 2, 100) == -1 && errno != EINTR)
			return -1;
		now = up_now_ns();
		if (up_stopping() && stop == 0)
			stop = now + UP_NS_PER_SEC;
		if (stop != 0 && now >= stop)
			break;
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (read_log(l) == -1)
				return -1;
			if (l->nevents != had) {
				had = l->nevents;
				seen = now;
				dirty = 1;
			}
		}
		if (now - drawn >= REDRAW_NS && (dirty || l->nopen > 0)) {
			if (draw(l, 1, 0, width, l->nmoments ? now - seen : 0,
			    1) == -1)
				return -1;
			drawn = now;
			dirty = 0;
		}
	}
	return draw(l, 1, 0, width, 0, 1);
}

int
main(int argc, char **argv)
{
	struct log *logs;
	struct stat st;
	long width = 0;
	int ch, nlogs, i, svg = 0, status = 0;

	while ((ch = up_getopt(argc, argv, options)) != -1) {
		switch (ch) {
		case 'a':
			absolute = 1;
			break;
		case 'h':
			usage(stdout, 1);
			return 0;
		case 's':
			svg = 1;
			break;
		case 'V':
			printf("%s (up) %s\n", PROG, UP_VERSION);
			return 0;
		case 'w':
			if (up_parse_number(optarg, MIN_WIDTH, MAX_WIDTH,
			    &width) == -1) {
				fprintf(stderr, "%s: --width: '%s' is not a "
				    "number from %d to %d\n", PROG, optarg,
				    MIN_WIDTH, MAX_WIDTH);
				usage(stderr, 0);
				return 2;
			}
			break;
		default:
			usage(stderr, 0);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;

	nlogs = argc > 0 ? argc : 1;
	if ((logs = calloc((size_t)nlogs, sizeof(*logs))) == NULL) {
		fprintf(stderr, "%s: %s\n", PROG, strerror(errno));
		return 1;
	}
	for (i = 0; i < nlogs; i++) {
		logs[i].name = argc > 0 ? argv[i] : "-";
		logs[i].stride = 1;
		logs[i].newest = -1;
		if (strcmp(logs[i].name, "-") == 0)
			logs[i].fd = STDIN_FILENO;
		else if ((logs[i].fd = open(logs[i].name, O_RDONLY |
		    O_CLOEXEC)) == -1) {
			fprintf(stderr, "%s: %s: %s\n", PROG, logs[i].name,
			    strerror(errno));
			logs[i].eof = 1;
			status = 1;
		}
	}

	if (nlogs == 1 && !svg && !logs[0].eof && isatty(STDOUT_FILENO) &&
	    fstat(logs[0].fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (live(&logs[0], width) == -1) {
			fprintf(stderr, "%s: %s\n", PROG, strerror(errno));
			return 1;
		}
	} else {
		for (i = 0; i < nlogs; i++)
			while (!logs[i].eof)
				if (read_log(&logs[i]) == -1) {
					fprintf(stderr, "%s: %s: %s\n", PROG,
					    logs[i].name, strerror(errno));
					logs[i].eof = 1;
					status = 1;
				}
		if (draw(logs, nlogs, svg, width, 0, 0) == -1) {
			fprintf(stderr, "%s: %s\n", PROG, strerror(errno));
			return 1;
		}
	}

	for (i = 0; i < nlogs; i++) {
		if (logs[i].skipped > 0)
			fprintf(stderr, "%s: %s%sskipped %lu %s\n", PROG,
			    argc > 0 ? display_name(&logs[i]) : "",
			    argc > 0 ? ": " : "",
			    logs[i].skipped, logs[i].skipped == 1 ?
			    "line that is not an event" :
			    "lines that are not events");
		if (logs[i].nevents == 0 && logs[i].fd != -1) {
			fprintf(stderr, "%s: %s: no events\n", PROG,
			    display_name(&logs[i]));
			status = 1;
		}
		if (logs[i].fd > STDIN_FILENO)
			close(logs[i].fd);
		free(logs[i].open);
		up_timeline_free(logs[i].tl);
	}
	free(logs);
	return status;
}
