/*
 * client.h: what the files of upclient share.
 *
 * main.c parses the command line and runs either the everyday
 * streaming mode (stream.c) or the load mode: load.c holds the event
 * loop over many connections, payload.c makes the requests, hist.c keeps
 * the latencies and timeline.c draws the picture.
 */
#ifndef UP_CLIENT_H
#define UP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * --timeout's default, in both modes: five minutes without a byte moving
 * while the server owes a reply (or its close). Generous on purpose: a
 * client queued behind others on upserver-seq gets nothing until its
 * turn, and the lessons' queues (-d 10s, several clients) wait 40 s and
 * more; five minutes is far beyond any lesson, and still not for ever.
 */
#define DEFAULT_TIMEOUT_NS	(300LL * 1000000000)

/* ---- stream.c: the everyday mode, one connection ---------------------- */

struct stream_options {
	const char	*host;		/* -H */
	const char	*port;		/* -p */
	const char	*where;		/* "host:port", for messages */
	const char	*text;		/* TEXT joined, with its newline; */
	size_t		 textlen;	/* NULL: standard input */
	int64_t		 timeout_ns;	/* --timeout: 0 for never */
	int		 verify;	/* --verify */
	int		 verbose;	/* -v */
};

/*
 * Connects, sends TEXT or standard input and writes the replies to
 * standard output as they come, byte for byte, until the server closes.
 * On a terminal, says on standard error how to end and shows a prompt.
 * Returns the exit status: 0 when every byte sent came back (and, with
 * verify, right) and no more, 1 otherwise.
 */
int	stream_run(const struct stream_options *o);

/* ---- load.c: many connections from one process ------------------------ */

struct load_options {
	const char	*host;		/* -H */
	const char	*port;		/* -p */
	const char	*where;		/* "host:port", for messages */
	unsigned long	 clients;	/* -c: connections */
	unsigned long	 requests;	/* -n: requests per connection */
	unsigned long	 jobs;		/* -j: requests in flight, 0 no limit */
	const char	*text;		/* TEXT joined by spaces, or NULL */
	size_t		 textlen;
	long		 random;	/* -r: letters per request, or -1 */
	int64_t		 timeout_ns;	/* --timeout: 0 for never */
	int		 verify;	/* --verify */
	int		 literal;	/* --literal: TEXT not numbered */
	int		 timeline;	/* -T */
	int		 stats;		/* -s */
	int		 verbose;	/* -v */
	unsigned long	 rate;		/* -R: requests a second, 0 closed */
	int64_t		 duration_ns;	/* -D: with -R, 0 for -n instead */
	int		 paced;		/* --paced: -R, but closed loop */
	const char	*hist;		/* --hist FILE, or NULL */
};

/*
 * Runs the load described by o to its end and prints what was asked for.
 * Returns the exit status: 0 when every request got its whole (and, with
 * verify, correct) reply, 1 otherwise.
 */
int	load_run(const struct load_options *o);

/* ---- payload.c: the requests ------------------------------------------- */

/* Longest request for TEXT: TEXT, " ", two 20-digit numbers, ".", "\n". */
#define PAYLOAD_NUMBERS_MAX	43

/*
 * Prepares the random source (sodium_init() when built with libsodium).
 * Returns 0, or -1 with errno.
 */
int	payload_init(void);

/* The random source: "libsodium", "getrandom" or "/dev/urandom". */
const char *payload_source(void);

/*
 * Fills buf with len random letters 'a' to 'z', each equally likely,
 * then a newline: len + 1 bytes. Returns 0, or -1 with errno.
 */
int	payload_random(char *buf, size_t len);

/*
 * Writes "TEXT CONN.REQ\n" into buf, which has room for textlen +
 * PAYLOAD_NUMBERS_MAX bytes. Returns the length.
 */
size_t	payload_text(char *buf, const char *text, size_t textlen,
	    unsigned long conn, unsigned long req);

/* ---- hist.c: latencies in bounded memory ------------------------------- */

/*
 * A log-linear histogram of microseconds, like HdrHistogram: exact below
 * 64 us, then 32 buckets per power of two (each 1/32 = 3% wide),
 * up to 2^36 us (19 hours); longer values count as that. 8 KiB.
 */
#define HIST_SUB_BITS	5
#define HIST_BUCKETS	1024

struct hist {
	uint64_t	count[HIST_BUCKETS];
	uint64_t	total;
	int64_t		max_us;		/* the exact largest value */
};

void	hist_add(struct hist *h, int64_t ns);

/*
 * The value in microseconds that percent (0 to 100) of the values are at
 * or below: the middle of its bucket, never above the largest value seen,
 * and that value itself for the last rank. Returns 0 for an empty
 * histogram.
 */
int64_t	hist_percentile(const struct hist *h, double percent);

/*
 * Writes the whole distribution to f for plotting, one line per bucket
 * that counted anything (see upclient(1), --hist). Returns 0, or -1 with
 * errno.
 */
int	hist_write(const struct hist *h, FILE *f);

/* ---- timeline.c: the picture (lib/timeline/timeline.c draws it) ------- */

/*
 * What a connection is doing between two events (one at a time), and
 * what happened at one moment: the client's names for the values of
 * timeline/timeline.h's UP_TL_* (timeline.c checks that they agree), so
 * that this
 * header stands alone.
 */
enum tl_state {
	TL_NONE = 0,		/* not connected */
	TL_CONNECTING = 0x01,	/* connect(2) in progress */
	TL_IDLE = 0x02,		/* connected, no request in flight */
	TL_WAIT = 0x04		/* a request sent, its reply not complete */
};
#define TL_SENT		0x10	/* a request was sent */
#define TL_RECEIVED	0x20	/* a reply was complete */
#define TL_ERROR	0x40	/* the connection failed */

/* More connections than this are drawn as an evenly spaced sample. */
#define TL_ALL_ROWS	40
#define TL_SAMPLE_ROWS	32

struct timeline;

/*
 * A timeline for clients connections starting at start_ns (monotonic).
 * Returns NULL with errno.
 */
struct timeline *timeline_new(unsigned long clients, int64_t start_ns);
void	timeline_free(struct timeline *tl);

/* How many rows are drawn, and which connection (1-based) each one is. */
int	timeline_rows(const struct timeline *tl);
unsigned long timeline_conn(const struct timeline *tl, int row);

/*
 * Records on row, at time t (monotonic ns, never earlier than the row's
 * previous event), the moment flags `marks` (TL_SENT, ...) and that from
 * now on the connection is in `state`.
 */
void	timeline_event(struct timeline *tl, int row, int64_t t, int marks,
	    enum tl_state state);

/*
 * Draws the picture of the run that ended at end_ns on f, at most 80
 * columns wide.
 */
void	timeline_print(struct timeline *tl, FILE *f, int64_t end_ns);

#endif /* UP_CLIENT_H */
