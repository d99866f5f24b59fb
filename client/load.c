/*
 * load.c: many connections from one process, the load mode.
 *
 * The tutorials open five terminals and type fast; this opens -c
 * connections at once from one thread, the way upserver-poll serves them:
 * non-blocking sockets and one loop that waits for whichever is ready,
 * on the same event engine (lib/ev/ev.c). It picks the cheapest backend the
 * system has, epoll or kqueue (up_ev_best), because it must stay cheap at
 * 10 000 connections: poll(2) hands the kernel the whole array at every
 * wait, epoll and kqueue remember it and return only the sockets that are
 * ready, so each event costs O(1) whatever the number of connections.
 * Where neither exists (make PORTABLE=1), it falls back to poll.
 *
 * Each connection sends its -n requests one after another, the next as
 * soon as the reply to the previous one is complete; after the last it
 * shuts down its sending side and waits for the server to close. A reply
 * is complete when as many bytes came back as the request had, which
 * holds however the server cuts long lines. A connection is a job, from
 * its connect to its close, and with -j only that many jobs run at once,
 * the next connection starting when one ends, like a pool of workers
 * that each connect, send, receive and close. (Opening
 * every connection first and holding requests back would let a one-at-a-
 * time server accept a connection that has nothing to send, while those
 * that do wait behind it: a deadlock.) Timeouts are the same length for
 * everyone, so one of the library's timer queues (lib/ev/timeq.c: append
 * at the tail, expire from the head) is all the timer wheel needed.
 *
 * What is allocated is allocated once: the connections at the start, a
 * request buffer per connection at work (reused through a free list), and
 * the latencies go into a fixed-size histogram.
 *
 * With -R the load is open-loop instead (see "open loop" below): the
 * requests go out on a fixed schedule whatever the replies do, and a
 * connection still waiting when its next request is due pipelines it.
 *
 * SIGINT (Ctrl-C) ends a run early without losing what it measured: no
 * request is sent any more, the replies in flight get INTERRUPT_GRACE_NS
 * to arrive, and the timeline and statistics so far are printed, marked
 * as interrupted; the exit status is then 130, as for a shell's Ctrl-C.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev/ev.h"
#include "client.h"

#define CONNECT_BATCH	256	/* connects in progress at once */
#define RECV_SIZE	65536
#define OUT_SIZE	65536	/* replies printed are gathered here */
#define SHOWN_ERRORS	10	/* failures described; the rest counted */
#define SPARE_FDS	16	/* standard streams, the engine, the resolver */

#define MAX_ADDRS	16
#define INTERRUPT_GRACE_NS	UP_NS_PER_SEC	/* for replies in flight */
#define EXIT_INTERRUPTED	130		/* 128 + SIGINT */
#define LAG_WARN_NS	(100 * UP_NS_PER_MS)	/* -R: the client this late */
#define WAKE_SLACK_NS	(2 * UP_NS_PER_MS)	/* -R: the schedule's jitter */

enum reason {
	R_REFUSED, R_RESET, R_TIMEOUT, R_CLOSED, R_MISMATCH, R_OTHER,
	R_COUNT
};

static const char *const reason_names[R_COUNT] = {
	"refused", "reset", "timeout", "closed", "mismatch", "other"
};

enum conn_state {
	C_NEW,		/* not started */
	C_CONNECTING,	/* connect(2) in progress */
	C_IDLE,		/* connected, no request yet */
	C_BUSY,		/* a request sent or being sent, reply incomplete */
	C_DRAIN,	/* every reply in, waiting for the server to close */
	C_DONE		/* closed */
};

/* An open-loop request on its connection: when it was due, where it ends. */
struct due_req {
	int64_t		 due;		/* monotonic ns */
	uint64_t	 end;		/* stream offset after its last byte */
	size_t		 len;		/* its bytes */
};

/*
 * With -R, a connection's requests not answered yet: their bytes from
 * stream offset `head` (the first not replied to) to `end`, of which
 * those below `sent` are written, kept in buf from offset `base`; and
 * a ring of their due times, request k (from 0) at ring[k & mask].
 */
struct rate_conn {
	char		*buf;
	size_t		 cap;
	uint64_t	 base, head, sent, end;
	struct due_req	*ring;
	unsigned long	 mask;
	unsigned long	 made;		/* requests due so far */
	unsigned long	 wrote;		/* of them, written whole */
	unsigned long	 owed;		/* --paced: due, held for the reply */
	int		 shut;		/* no more to send: SHUT_WR done */
};

struct conn {
	struct up_timer	 timer;		/* on the timeout queue, when timed */
	struct rate_conn rq;		/* -R only */
	char		*buf;		/* request, and reply to print */
	int64_t		 sent_at;	/* when the request started */
	unsigned long	 id;		/* 1 to clients */
	unsigned long	 done;		/* requests answered */
	size_t		 len;		/* of the request, and of its reply */
	size_t		 sent, got;	/* bytes of each so far */
	int		 fd;
	int		 row;		/* on the timeline, or -1 */
	unsigned char	 state;
	unsigned char	 addr;		/* the address tried, in l->addrs */
	unsigned char	 tries;		/* addresses tried */
	unsigned char	 out;		/* watched for writing too */
	unsigned char	 job;		/* holds a job */
};

struct addr {
	struct sockaddr_storage ss;
	socklen_t	 len;
	char		 text[UP_PEER_MAX];
};

struct load {
	const struct load_options *o;
	struct addr	 addrs[MAX_ADDRS];
	int		 naddrs;
	int		 good;		/* the address that answered last */
	struct up_ev	*ev;		/* the event engine */
	struct conn	**byfd;		/* what the engine reports: sockets */
	size_t		 byfdcap;
	struct conn	*conns;
	unsigned long	 next;		/* the next connection to start */
	unsigned long	 connecting;	/* connects in progress */
	unsigned long	 active;	/* started and not closed */
	unsigned long	 open, open_max; /* connected at once */
	unsigned long	 running;	/* jobs: connecting or requesting */
	struct up_timeq	 timeq;		/* timed, earliest deadline first */
	char		*free_bufs;	/* request buffers to reuse */
	size_t		 reqmax;	/* longest request */
	size_t		 bufsize;
	int		 print;		/* replies go to standard output */
	char		*out;
	size_t		 outlen;
	int		 out_failed;
	char		*rbuf;		/* RECV_SIZE, for every recv(2) */
	uint64_t	 answered;	/* replies complete (and verified) */
	uint64_t	 errors[R_COUNT];
	uint64_t	 unanswered;	/* requests lost with a connection */
	uint64_t	 shown;		/* failures described */
	struct hist	 hist;
	struct timeline	*tl;
	int64_t		 start, end;
	int64_t		 interrupted;	/* when SIGINT came, or 0 */
	/* -R: the schedule */
	double		 step_ns;	/* between two requests: 1e9 / rate */
	int64_t		 sched_start;	/* when every connection was up, or 0 */
	uint64_t	 seq;		/* the next request due, from 0 */
	int		 sched_done;	/* no request is due any more */
	uint64_t	 made;		/* requests made */
	uint64_t	 written;	/* of them, written whole */
	int64_t		 last_write;	/* when the last was */
	int64_t		 last_due;	/* when the last request was due */
	uint64_t	 queued;	/* due while their connection waited */
	int64_t		 lag_max;	/* the most it was late making one */
	int64_t		 write_lag_max;	/* and writing one whole */
};

static volatile sig_atomic_t got_sigint;

static void fail(struct load *, struct conn *, enum reason, int,
    const char *, ...) __attribute__((format(printf, 5, 6)));

/* The reason a failed system call counts under. */
static enum reason
reason_of(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return R_REFUSED;
	case ECONNRESET:
	case EPIPE:
	case ECONNABORTED:
		return R_RESET;
	case ETIMEDOUT:
		return R_TIMEOUT;
	default:
		return R_OTHER;
	}
}

/* ---- timeouts: one timer queue ---------------------------------------- */

/*
 * Gives c a deadline of now plus the timeout, if there is one. Every
 * deadline is that far from when it is set, so the queue's tail is always
 * the latest: O(1).
 */
static void
timer_set(struct load *l, struct conn *c, int64_t now)
{
	if (l->o->timeout_ns != 0)
		up_timeq_push(&l->timeq, &c->timer, now + l->o->timeout_ns);
}

/* ---- output ------------------------------------------------------------ */

/* Writes the replies gathered so far to standard output. */
static void
out_flush(struct load *l)
{
	if (l->outlen == 0)
		return;
	if (!l->out_failed && up_write_all(STDOUT_FILENO, l->out,
	    l->outlen) == -1) {
		fprintf(stderr, "upclient: write standard output: %s\n",
		    strerror(errno));
		l->out_failed = 1;
	}
	l->outlen = 0;
}

/* Adds a whole reply to standard output's buffer. */
static void
out_reply(struct load *l, const char *p, size_t len)
{
	if (len > OUT_SIZE - l->outlen)
		out_flush(l);
	if (len > OUT_SIZE) {
		if (!l->out_failed && up_write_all(STDOUT_FILENO, p,
		    len) == -1) {
			fprintf(stderr, "upclient: write standard output:"
			    " %s\n", strerror(errno));
			l->out_failed = 1;
		}
		return;
	}
	memcpy(l->out + l->outlen, p, len);
	l->outlen += len;
}

/* ---- connections ------------------------------------------------------- */

/* The text of the server address c uses, for the event log. */
static const char *
peer(const struct load *l, const struct conn *c)
{
	return l->addrs[c->addr].text;
}

/* Records an event on the timeline when c has a row there. */
static void
draw(struct load *l, struct conn *c, int64_t t, int marks,
    enum tl_state state)
{
	if (c->row >= 0)
		timeline_event(l->tl, c->row, t, marks, state);
}

/* The connection whose socket is fd, or NULL. */
static struct conn *
fd_conn(struct load *l, int fd)
{
	return fd >= 0 && (size_t)fd < l->byfdcap ? l->byfd[fd] : NULL;
}

/* Notes that c's new socket is c->fd; 0, or -1 with errno. */
static int
remember(struct load *l, struct conn *c)
{
	struct conn **p;
	size_t cap = l->byfdcap > 0 ? l->byfdcap : 64;

	while (cap <= (size_t)c->fd)
		cap *= 2;
	if (cap != l->byfdcap) {
		if ((p = realloc(l->byfd, cap * sizeof(*p))) == NULL)
			return -1;
		memset(p + l->byfdcap, 0, (cap - l->byfdcap) * sizeof(*p));
		l->byfd = p;
		l->byfdcap = cap;
	}
	l->byfd[c->fd] = c;
	return 0;
}

/* Stops watching c's socket and closes it. */
static void
close_socket(struct load *l, struct conn *c)
{
	up_ev_set(l->ev, c->fd, 0);
	l->byfd[c->fd] = NULL;
	close(c->fd);
	c->fd = -1;
}

/* Watches c for input, and for output too when out is set. */
static int
watch(struct load *l, struct conn *c, int out)
{
	if (up_ev_set(l->ev, c->fd, UP_EV_READ | (out ? UP_EV_WRITE : 0)) ==
	    -1)
		return -1;
	c->out = (unsigned char)out;
	return 0;
}

/* Puts c's request buffer back on the free list. */
static void
free_buffer(struct load *l, struct conn *c)
{
	if (c->buf != NULL) {
		*(char **)(void *)c->buf = l->free_bufs;
		l->free_bufs = c->buf;
		c->buf = NULL;
	}
}

/* Hands c's job and its buffer back, for the next connection to start. */
static void
end_job(struct load *l, struct conn *c)
{
	free_buffer(l, c);
	if (c->job) {
		c->job = 0;
		l->running--;
	}
}

/* Closes c's socket and takes it out of every list. */
static void
close_conn(struct load *l, struct conn *c, int64_t now, int marks)
{
	if (c->state == C_CONNECTING)
		l->connecting--;
	else if (c->state != C_NEW && c->state != C_DONE)
		l->open--;
	end_job(l, c);
	up_timer_cancel(&c->timer);
	if (c->fd != -1)
		close_socket(l, c);
	c->state = C_DONE;
	l->active--;
	draw(l, c, now, marks, TL_NONE);
}

/*
 * Counts c as failed for reason, describes why on standard error (the
 * first SHOWN_ERRORS times) with its connection and request numbers,
 * logs "error" and "closed" with -v, and closes c. err is the errno
 * value, or 0.
 */
static void
fail(struct load *l, struct conn *c, enum reason reason, int err,
    const char *fmt, ...)
{
	char msg[512], req[48], eno[48];
	const char *name;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	req[0] = '\0';
	if (c->state == C_BUSY)
		snprintf(req, sizeof(req), " request %lu", c->done + 1);
	if (l->shown++ < SHOWN_ERRORS)
		fprintf(stderr, "upclient: connection %lu%s: %s\n", c->id, req,
		    msg);
	if (l->o->verbose) {
		eno[0] = '\0';
		if (err != 0 && (name = up_errno_name(err)) != NULL)
			snprintf(eno, sizeof(eno), " errno=%s", name);
		if (c->state == C_BUSY)
			up_log_fd(STDERR_FILENO, "error", peer(l, c),
			    "conn=%lu request=%lu reason=%s%s", c->id,
			    c->done + 1, reason_names[reason], eno);
		else
			up_log_fd(STDERR_FILENO, "error", peer(l, c),
			    "conn=%lu reason=%s%s", c->id,
			    reason_names[reason], eno);
	}
	l->errors[reason]++;
	if (l->o->rate != 0 && l->o->duration_ns != 0)
		l->unanswered += c->rq.made + c->rq.owed - c->done; /* more
							   counted as due */
	else
		l->unanswered += l->o->requests - c->done;
	if (l->o->verbose)
		up_log_fd(STDERR_FILENO, "closed", peer(l, c),
		    "conn=%lu requests=%lu reason=%s", c->id, c->done,
		    reason_names[reason]);
	close_conn(l, c, up_now_ns(), TL_ERROR);
}

/* Closes c after the server closed it at the end: c succeeded. */
static void
finish(struct load *l, struct conn *c)
{
	if (l->o->verbose)
		up_log_fd(STDERR_FILENO, "closed", peer(l, c),
		    "conn=%lu requests=%lu", c->id, c->done);
	close_conn(l, c, up_now_ns(), 0);
}

static void connected(struct load *, struct conn *, int64_t);

/*
 * Starts connecting c to its current address, moving on to the next
 * address when one fails at once. Returns when c is connected, waiting
 * for its connect, or failed.
 */
static void
try_connect(struct load *l, struct conn *c)
{
	struct addr *a;
	int err;

	for (;;) {
		a = &l->addrs[c->addr];
		c->fd = up_socket(a->ss.ss_family, SOCK_STREAM, IPPROTO_TCP,
		    1);
		if (c->fd == -1 || remember(l, c) == -1) {
			err = errno;
			if (c->fd != -1)
				close(c->fd);
			c->fd = -1;
			fail(l, c, R_OTHER, err, "socket: %s", strerror(err));
			return;
		}
		if (connect(c->fd, (struct sockaddr *)&a->ss, a->len) == 0) {
			if (watch(l, c, 0) == -1)
				break;
			connected(l, c, up_now_ns());
			return;
		}
		if (errno == EINPROGRESS) {
			if (watch(l, c, 1) == -1)
				break;
			timer_set(l, c, up_now_ns());
			return;
		}
		err = errno;
		close_socket(l, c);
		if (++c->tries >= l->naddrs) {
			fail(l, c, reason_of(err), err, "connect %s: %s",
			    l->o->where, strerror(err));
			return;
		}
		c->addr = (unsigned char)((c->addr + 1) % l->naddrs);
	}
	err = errno;
	fail(l, c, R_OTHER, err, "watch: %s", strerror(err));
}

/* Starts the next connection, which takes a job. */
static void
start_connect(struct load *l, struct conn *c)
{
	int64_t now = up_now_ns();

	c->job = 1;
	l->running++;
	c->state = C_CONNECTING;
	c->addr = (unsigned char)l->good;
	c->tries = 0;
	l->connecting++;
	l->active++;
	draw(l, c, now, 0, TL_CONNECTING);
	try_connect(l, c);
}

/* A connect finished, well or not: see how, and go on. */
static void
connect_done(struct load *l, struct conn *c)
{
	socklen_t len = sizeof(int);
	int err = 0;

	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	/*
	 * An event meant for a socket closed earlier in the same batch, whose
	 * number this one took: still connecting, wait on.
	 */
	if (err == 0 && getpeername(c->fd, (struct sockaddr *)&ss,
	    &sslen) == -1 && errno == ENOTCONN)
		return;
	if (err == 0) {
		connected(l, c, up_now_ns());
		return;
	}
	up_timer_cancel(&c->timer);
	close_socket(l, c);
	if (++c->tries >= l->naddrs) {
		fail(l, c, reason_of(err), err, "connect %s: %s", l->o->where,
		    strerror(err));
		return;
	}
	c->addr = (unsigned char)((c->addr + 1) % l->naddrs);
	timer_set(l, c, up_now_ns());
	try_connect(l, c);
}

static void start_requests(struct load *, struct conn *);

/*
 * Closes c, cut short by SIGINT: not a failure. A request still in
 * flight counts as unanswered.
 */
static void
interrupt_close(struct load *l, struct conn *c, int64_t now)
{
	if (c->state == C_BUSY)
		l->unanswered += l->o->rate != 0 ?
		    c->rq.made + c->rq.owed - c->done : 1;
	if (l->o->verbose)
		up_log_fd(STDERR_FILENO, "closed", peer(l, c),
		    "conn=%lu requests=%lu reason=interrupted", c->id,
		    c->done);
	close_conn(l, c, now, 0);
}

/* c is connected: it sends its first request. */
static void
connected(struct load *l, struct conn *c, int64_t now)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char local[UP_PEER_MAX];
	int on = 1;

	l->connecting--;
	if (++l->open > l->open_max)
		l->open_max = l->open;
	l->good = c->addr;
	c->state = C_IDLE;
	up_timer_cancel(&c->timer);
	if (c->out && watch(l, c, 0) == -1) {
		fail(l, c, R_OTHER, errno, "watch: %s", strerror(errno));
		return;
	}
	/* Requests go out whole, in one write each: no reason to wait. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (l->o->verbose) {
		if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == 0)
			up_format_addr((struct sockaddr *)&ss, local,
			    sizeof(local));
		else
			snprintf(local, sizeof(local), "unknown");
		up_log_fd(STDERR_FILENO, "connected", peer(l, c),
		    "conn=%lu local=%s", c->id, local);
	}
	draw(l, c, now, 0, TL_IDLE);
	if (l->o->rate == 0)
		start_requests(l, c);
}

/*
 * Sends what is left of c's request. After the last request, shuts down
 * the sending side: the server answers and closes.
 */
static void
try_send(struct load *l, struct conn *c)
{
	ssize_t n;
	int err;

	while (c->sent < c->len) {
		n = up_send(c->fd, c->buf + c->sent, c->len - c->sent,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (!c->out && watch(l, c, 1) == -1)
					break;
				return;
			}
			err = errno;
			fail(l, c, reason_of(err), err, "write %s: %s",
			    l->o->where, strerror(err));
			return;
		}
		c->sent += (size_t)n;
		timer_set(l, c, up_now_ns());
	}
	if (c->sent < c->len) {
		err = errno;
		fail(l, c, R_OTHER, err, "watch: %s", strerror(err));
		return;
	}
	if (c->out && watch(l, c, 0) == -1) {
		err = errno;
		fail(l, c, R_OTHER, err, "watch: %s", strerror(err));
		return;
	}
	if (l->o->verbose)
		up_log_fd(STDERR_FILENO, "sent", peer(l, c),
		    "conn=%lu request=%lu bytes=%zu", c->id, c->done + 1,
		    c->len);
	if (c->done + 1 == l->o->requests)
		shutdown(c->fd, SHUT_WR);	/* an error shows in recv */
}

/* Makes c's next request and starts sending it. */
static void
next_request(struct load *l, struct conn *c, int64_t now)
{
	const struct load_options *o = l->o;

	if (o->text != NULL && o->literal) {
		memcpy(c->buf, o->text, o->textlen);
		c->buf[o->textlen] = '\n';
		c->len = o->textlen + 1;
	} else if (o->text != NULL)
		c->len = payload_text(c->buf, o->text, o->textlen, c->id,
		    c->done + 1);
	else {
		if (payload_random(c->buf, (size_t)o->random) == -1) {
			fprintf(stderr, "upclient: random bytes: %s\n",
			    strerror(errno));
			exit(1);
		}
		c->len = (size_t)o->random + 1;
	}
	c->sent = c->got = 0;
	c->sent_at = now;
	c->state = C_BUSY;
	draw(l, c, now, TL_SENT, TL_WAIT);
	timer_set(l, c, now);
	try_send(l, c);
}

/* Gives c a request buffer and sends its first request. */
static void
start_requests(struct load *l, struct conn *c)
{
	if (l->free_bufs != NULL) {
		c->buf = l->free_bufs;
		l->free_bufs = *(char **)(void *)c->buf;
	} else if ((c->buf = malloc(l->bufsize)) == NULL) {
		fail(l, c, R_OTHER, errno, "malloc: %s", strerror(errno));
		return;
	}
	next_request(l, c, up_now_ns());
}

/* The reply to c's request is complete and right: go on. */
static void
reply_done(struct load *l, struct conn *c)
{
	int64_t now = up_now_ns();

	hist_add(&l->hist, now - c->sent_at);
	l->answered++;
	c->done++;
	if (l->o->verbose)
		up_log_fd(STDERR_FILENO, "received", peer(l, c),
		    "conn=%lu request=%lu bytes=%zu latency=%.6f", c->id,
		    c->done, c->len, (double)(now - c->sent_at) / 1e9);
	if (l->print)
		out_reply(l, c->buf + l->reqmax, c->len);
	if (c->done < l->o->requests && l->interrupted != 0) {
		draw(l, c, now, TL_RECEIVED, TL_IDLE);
		c->state = C_IDLE;	/* nothing in flight any more */
		interrupt_close(l, c, now);
		return;
	}
	if (c->done < l->o->requests) {
		draw(l, c, now, TL_RECEIVED, TL_IDLE);
		next_request(l, c, now);
		return;
	}
	draw(l, c, now, TL_RECEIVED, TL_IDLE);
	free_buffer(l, c);	/* the job ends when the server closes */
	c->state = C_DRAIN;
	timer_set(l, c, now);
}

/* The position of the first byte of reply that is not req uppercased. */
static size_t
first_difference(const char *req, const char *reply, size_t n)
{
	size_t i;
	char want;

	for (i = 0; i < n; i++) {
		want = req[i];
		if (want >= 'a' && want <= 'z')
			want = (char)(want - 'a' + 'A');
		if (reply[i] != want)
			break;
	}
	return i;
}

/* Takes n bytes that arrived on c; they belong to its reply. */
static void
take_reply(struct load *l, struct conn *c, const char *p, size_t n)
{
	size_t take, d;

	while (n > 0) {
		if (c->state != C_BUSY) {
			fail(l, c, R_MISMATCH, 0, "%zu bytes came with no"
			    " request in flight", n);
			return;
		}
		take = c->len - c->got;
		if (take > n)
			take = n;
		if (l->o->verify) {
			d = first_difference(c->buf + c->got, p, take);
			if (d < take) {
				fail(l, c, R_MISMATCH, 0, "reply differs from"
				    " the request at byte %zu of %zu",
				    c->got + d + 1, c->len);
				return;
			}
		}
		if (take < n) {
			fail(l, c, R_MISMATCH, 0, "reply longer than the"
			    " request (%zu bytes)", c->len);
			return;
		}
		if (l->print)
			memcpy(c->buf + l->reqmax + c->got, p, take);
		c->got += take;
		p += take;
		n -= take;
		if (c->got == c->len)
			reply_done(l, c);
		else
			timer_set(l, c, up_now_ns());
	}
}

/* ---- open loop (-R) ---------------------------------------------------- */

/*
 * Closed loop, a connection sends its next request when the last reply
 * is in: when the server stalls, the clients stop asking, and the stall
 * is measured once per connection instead of once per request that
 * would have come meanwhile (coordinated omission). Open loop, request s
 * (from 0, over all connections in turn: connection s % clients) is due
 * at sched_start + s / rate, whatever happened to the others; its
 * latency counts from then, so a stall shows in every request due during
 * it. A connection still waiting when its next request is due queues it
 * behind (pipelining: the protocol answers in order), never skips it.
 * The schedule starts once every connection is up, so connecting is not
 * counted. --paced keeps the schedule but closes the loop again, for
 * comparison: a request due while its connection waits is held until
 * the reply is in, and its latency counts from when it was sent. A
 * request made late because this process itself was busy still counts
 * from its due time, and the lateness is reported.
 */

/* When request seq (from 0) is due: monotonic ns. */
static int64_t
due_time(const struct load *l, uint64_t seq)
{
	return l->sched_start + (int64_t)((double)seq * l->step_ns);
}

/*
 * Makes room in c's stream buffer for need more bytes, moving what is
 * not answered yet to its start first. Returns 0, or -1 with errno.
 */
static int
rate_room(struct rate_conn *q, size_t need)
{
	size_t used = (size_t)(q->end - q->head), cap;
	char *p;

	if ((size_t)(q->end - q->base) + need <= q->cap)
		return 0;
	if (used > 0)
		memmove(q->buf, q->buf + (q->head - q->base), used);
	q->base = q->head;
	if (used + need <= q->cap)
		return 0;
	for (cap = q->cap > 0 ? q->cap * 2 : 4096; cap < used + need; )
		cap *= 2;
	if ((p = realloc(q->buf, cap)) == NULL)
		return -1;
	q->buf = p;
	q->cap = cap;
	return 0;
}

/*
 * Makes room in c's ring for one more request due, doubling it when
 * full. Returns 0, or -1 with errno.
 */
static int
rate_ring_room(struct rate_conn *q, unsigned long done)
{
	unsigned long cap = q->ring != NULL ? q->mask + 1 : 0, k;
	struct due_req *r;

	if (q->made - done < cap)
		return 0;
	cap = cap > 0 ? cap * 2 : 16;
	if ((r = malloc(cap * sizeof(*r))) == NULL)
		return -1;
	for (k = done; k < q->made; k++)
		r[k & (cap - 1)] = q->ring[k & q->mask];
	free(q->ring);
	q->ring = r;
	q->mask = cap - 1;
	return 0;
}

/*
 * c has nothing left to send and no request will be due any more: shuts
 * down its sending side, so that the server answers and closes.
 */
static void
rate_shut(struct load *l, struct conn *c, int64_t now)
{
	if (c->rq.shut || !l->sched_done || c->rq.sent < c->rq.end ||
	    c->rq.owed > 0)
		return;
	shutdown(c->fd, SHUT_WR);	/* an error shows in recv */
	c->rq.shut = 1;
	if (c->state == C_IDLE) {
		c->state = C_DRAIN;
		timer_set(l, c, now);
	}
}

/* Writes what c has not written yet, as far as its socket takes it. */
static void
rate_send(struct load *l, struct conn *c)
{
	struct rate_conn *q = &c->rq;
	struct due_req *r;
	int64_t now;
	ssize_t n;
	int err;

	while (q->sent < q->end) {
		n = up_send(c->fd, q->buf + (q->sent - q->base),
		    (size_t)(q->end - q->sent), MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			err = errno;
			fail(l, c, reason_of(err), err, "write %s: %s",
			    l->o->where, strerror(err));
			return;
		}
		q->sent += (uint64_t)n;
		timer_set(l, c, up_now_ns());	/* the server reads */
	}
	now = up_now_ns();
	while (q->wrote < q->made &&
	    (r = &q->ring[q->wrote & q->mask])->end <= q->sent) {
		q->wrote++;
		l->written++;
		l->last_write = now;
		if (now - r->due > l->write_lag_max)
			l->write_lag_max = now - r->due;
		if (l->o->verbose)
			up_log_fd(STDERR_FILENO, "sent", peer(l, c),
			    "conn=%lu request=%lu bytes=%zu late=%.6f", c->id,
			    q->wrote, r->len, (double)(now - r->due) / 1e9);
	}
	if ((q->sent < q->end) != c->out &&
	    watch(l, c, q->sent < q->end) == -1) {
		err = errno;
		fail(l, c, R_OTHER, err, "watch: %s", strerror(err));
		return;
	}
	rate_shut(l, c, now);
}

/* Request due at due is c's next: makes it, queues it, sends it. */
static void
rate_request(struct load *l, struct conn *c, int64_t due, int64_t now)
{
	const struct load_options *o = l->o;
	struct rate_conn *q = &c->rq;
	char *p;
	size_t len;

	if (o->paced && c->state == C_BUSY) {
		q->owed++;	/* sent when the reply is in, as wrk does */
		l->queued++;
		return;
	}
	if (rate_room(q, l->reqmax) == -1 ||
	    rate_ring_room(q, c->done) == -1) {
		fail(l, c, R_OTHER, errno, "malloc: %s", strerror(errno));
		return;
	}
	p = q->buf + (q->end - q->base);
	if (o->text != NULL && o->literal) {
		memcpy(p, o->text, o->textlen);
		p[o->textlen] = '\n';
		len = o->textlen + 1;
	} else if (o->text != NULL)
		len = payload_text(p, o->text, o->textlen, c->id,
		    q->made + 1);
	else {
		if (payload_random(p, (size_t)o->random) == -1) {
			fprintf(stderr, "upclient: random bytes: %s\n",
			    strerror(errno));
			exit(1);
		}
		len = (size_t)o->random + 1;
	}
	q->end += len;
	q->ring[q->made & q->mask].due = due;
	q->ring[q->made & q->mask].end = q->end;
	q->ring[q->made & q->mask].len = len;
	q->made++;
	l->made++;
	if (c->state == C_BUSY)
		l->queued++;	/* behind a request still unanswered */
	else {
		c->state = C_BUSY;
		draw(l, c, now, TL_SENT, TL_WAIT);
		timer_set(l, c, now);
	}
	if (q->sent == q->end - len)	/* nothing else waits to go */
		rate_send(l, c);
}

/*
 * Makes every request due by now on its connection. A connection that
 * failed loses its turn: the request counts as unanswered (with -n, fail
 * counted it already). When the schedule is over, every connection with
 * nothing left to send shuts down its sending side.
 */
static void
rate_schedule(struct load *l, int64_t now)
{
	const struct load_options *o = l->o;
	struct conn *c;
	unsigned long i;
	int64_t due;

	while (!l->sched_done) {
		due = due_time(l, l->seq);
		if (o->duration_ns != 0 ?
		    due - l->sched_start >= o->duration_ns :
		    l->seq >= (uint64_t)o->requests * o->clients) {
			l->sched_done = 1;
			for (i = 0; i < o->clients; i++) {
				c = &l->conns[i];
				if (c->state != C_DONE)
					rate_shut(l, c, now);
			}
			break;
		}
		if (due > now)
			break;
		if (now - due > l->lag_max)
			l->lag_max = now - due;
		l->last_due = due;
		c = &l->conns[l->seq++ % o->clients];
		if (c->state == C_DONE) {
			if (o->duration_ns != 0)
				l->unanswered++;
			continue;
		}
		rate_request(l, c, due, now);
	}
}

/*
 * Takes n bytes that arrived on c: replies to its requests in order, each
 * counted from when it was due.
 */
static void
rate_reply(struct load *l, struct conn *c, const char *p, size_t n)
{
	struct rate_conn *q = &c->rq;
	struct due_req *r;
	int64_t now;
	size_t d;

	if (n > q->sent - q->head) {
		if (q->sent == q->head)
			fail(l, c, R_MISMATCH, 0, "%zu bytes came with no"
			    " request in flight", n);
		else
			fail(l, c, R_MISMATCH, 0, "more bytes came than were"
			    " sent (%zu, %llu owed)", n,
			    (unsigned long long)(q->sent - q->head));
		return;
	}
	if (l->o->verify) {
		d = first_difference(q->buf + (q->head - q->base), p, n);
		if (d < n) {
			fail(l, c, R_MISMATCH, 0, "reply differs from the"
			    " request at byte %llu of the stream",
			    (unsigned long long)(q->head + d + 1));
			return;
		}
	}
	q->head += n;
	now = up_now_ns();
	while (c->done < q->wrote &&
	    (r = &q->ring[c->done & q->mask])->end <= q->head) {
		hist_add(&l->hist, now - r->due);
		l->answered++;
		c->done++;
		if (l->o->verbose)
			up_log_fd(STDERR_FILENO, "received", peer(l, c),
			    "conn=%lu request=%lu bytes=%zu latency=%.6f",
			    c->id, c->done, r->len,
			    (double)(now - r->due) / 1e9);
		draw(l, c, now, TL_RECEIVED,
		    c->done < q->made ? TL_WAIT : TL_IDLE);
	}
	if (c->done < q->made) {
		timer_set(l, c, now);
		return;
	}
	if (q->owed > 0 && l->interrupted == 0) {
		q->owed--;
		c->state = C_IDLE;
		rate_request(l, c, now, now);	/* counted from now */
		return;
	}
	if (q->shut) {
		c->state = C_DRAIN;
		timer_set(l, c, now);
		return;
	}
	c->state = C_IDLE;
	up_timer_cancel(&c->timer);
	if (l->interrupted != 0)
		interrupt_close(l, c, now);
}

/* Reads what arrived on c: replies, the server's close, or an error. */
static void
readable(struct load *l, struct conn *c)
{
	ssize_t n;
	int err;

	for (;;) {
		n = up_recv(c->fd, l->rbuf, RECV_SIZE, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			err = errno;
			fail(l, c, reason_of(err), err, "read %s: %s",
			    l->o->where, strerror(err));
			return;
		}
		if (n == 0) {
			if (c->state == C_DRAIN)
				finish(l, c);
			else if (c->state == C_BUSY && c->got > 0)
				fail(l, c, R_CLOSED, 0, "the server closed the"
				    " connection after %zu of the %zu bytes of"
				    " the reply", c->got, c->len);
			else if (c->state == C_BUSY)
				fail(l, c, R_CLOSED, 0, "the server closed the"
				    " connection before the reply");
			else
				fail(l, c, R_CLOSED, 0, "the server closed the"
				    " connection before request %lu",
				    c->done + 1);
			return;
		}
		if (l->o->rate != 0)
			rate_reply(l, c, l->rbuf, (size_t)n);
		else
			take_reply(l, c, l->rbuf, (size_t)n);
		if (c->state == C_DONE || n < RECV_SIZE)
			return;
	}
}

/* Handles what the engine reported for c. */
static void
handle(struct load *l, struct conn *c, int events)
{
	switch (c->state) {
	case C_CONNECTING:
		connect_done(l, c);
		break;
	case C_IDLE:
	case C_BUSY:
	case C_DRAIN:
		if (events & UP_EV_READ)
			readable(l, c);
		if (l->o->rate != 0 && c->state != C_DONE &&
		    (events & UP_EV_WRITE) && c->rq.sent < c->rq.end)
			rate_send(l, c);
		else if (c->state == C_BUSY && (events & UP_EV_WRITE) &&
		    c->sent < c->len)
			try_send(l, c);
		break;
	default:		/* closed since it was reported */
		break;
	}
}

/* Fails every connection whose deadline has passed. */
static void
expire(struct load *l, int64_t now)
{
	struct up_timer *due;
	struct conn *c;
	char t[32];

	while ((due = up_timeq_due(&l->timeq, now)) != NULL) {
		c = UP_CONTAINER_OF(due, struct conn, timer);
		up_format_time_human(l->o->timeout_ns, t, sizeof(t));
		switch (c->state) {
		case C_CONNECTING:
			fail(l, c, R_TIMEOUT, ETIMEDOUT, "connect %s: no"
			    " answer within %s", l->o->where, t);
			break;
		case C_BUSY:
			fail(l, c, R_TIMEOUT, ETIMEDOUT, c->got == 0 ?
			    "no reply within %s" : "reply stalled for %s", t);
			break;
		default:
			fail(l, c, R_TIMEOUT, ETIMEDOUT, "the server did not"
			    " close the connection within %s of the last"
			    " reply", t);
			break;
		}
	}
}

/* ---- SIGINT ------------------------------------------------------------ */

static void
on_sigint(int signo)
{
	(void)signo;
	got_sigint = 1;
}

/*
 * SIGINT came: no connection starts and no request is sent from now on.
 * Connections with a request in flight have INTERRUPT_GRACE_NS for its
 * reply (see interrupt_expire); the others close now.
 */
static void
interrupt_begin(struct load *l)
{
	int64_t now = up_now_ns();
	unsigned long i;
	struct conn *c;

	l->interrupted = now;
	for (i = 0; i < l->next; i++) {
		c = &l->conns[i];
		if (c->state != C_DONE && c->state != C_BUSY)
			interrupt_close(l, c, now);
	}
}

/* The grace is over: what is still in flight is given up. */
static void
interrupt_expire(struct load *l)
{
	int64_t now = up_now_ns();
	unsigned long i;

	for (i = 0; i < l->next; i++)
		if (l->conns[i].state != C_DONE)
			interrupt_close(l, &l->conns[i], now);
}

/*
 * Milliseconds the engine may wait: the next timeout, the grace's end or
 * the next request due.
 */
static int
wait_ms(const struct load *l)
{
	int64_t due = 0;

	if (l->sched_start != 0 && !l->sched_done && l->interrupted == 0)
		due = due_time(l, l->seq);
	return up_ms_until(up_earliest(up_earliest(up_timeq_next(&l->timeq),
	    l->interrupted != 0 ? l->interrupted + INTERRUPT_GRACE_NS : 0),
	    due));
}

/* ---- start and end ----------------------------------------------------- */

/*
 * Resolves the server's name into l->addrs. Returns 0, or -1 after
 * saying why.
 */
static int
resolve(struct load *l)
{
	struct addrinfo hints, *res, *ai;
	int gai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = up_resolve(l->o->host, l->o->port, &hints, &res)) != 0) {
		fprintf(stderr, "upclient: connect %s: %s\n", l->o->where,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai != NULL && l->naddrs < MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(l->addrs[0].ss))
			continue;
		memcpy(&l->addrs[l->naddrs].ss, ai->ai_addr, ai->ai_addrlen);
		l->addrs[l->naddrs].len = ai->ai_addrlen;
		up_format_addr(ai->ai_addr, l->addrs[l->naddrs].text,
		    sizeof(l->addrs[0].text));
		l->naddrs++;
	}
	freeaddrinfo(res);
	if (l->naddrs == 0) {
		fprintf(stderr, "upclient: connect %s: no usable address\n",
		    l->o->where);
		return -1;
	}
	return 0;
}

/*
 * Raises the soft descriptor limit to the hard one and checks that the
 * connections open at once (all of them, or -j of them) fit. Returns 0,
 * or -1 after saying why.
 */
static int
enough_descriptors(unsigned long clients, unsigned long open)
{
	int64_t limit;

	if ((limit = up_raise_nofile()) == -1) {
		fprintf(stderr, "upclient: getrlimit: %s\n", strerror(errno));
		return -1;
	}
	if (limit < (int64_t)open + SPARE_FDS) {
		fprintf(stderr, "upclient: %s %lu needs %lu descriptors, the"
		    " limit is %lld (ulimit -n)\n", open < clients ? "-j" :
		    "-c", open, open + SPARE_FDS, (long long)limit);
		return -1;
	}
	return 0;
}

/*
 * The rate the requests went out at with -R: those written whole, over
 * the time from the schedule's start to the last of them, or to the last
 * request due if that is later (requests never written count as not
 * sent), plus one step, so that a schedule kept to the nanosecond gives
 * the rate asked for.
 */
static double
achieved_rate(const struct load *l)
{
	double secs;
	int64_t last = l->last_write > l->last_due ? l->last_write :
	    l->last_due;

	if (l->written == 0 || l->sched_start == 0)
		return 0.0;
	secs = ((double)(last - l->sched_start) + l->step_ns) / 1e9;
	return (double)l->written / secs;
}

/*
 * Says on standard error when the client did not keep the rate asked
 * for (less than 99% of it, with a request never written or the last
 * written more than WAKE_SLACK_NS late: in a short run the event loop's
 * millisecond wake-ups alone would cost 1%), or made a request
 * LAG_WARN_NS or more late: the latencies then include the client's own
 * lateness. Says why it was late.
 */
static void
rate_warn(const struct load *l)
{
	double got = achieved_rate(l);
	int behind = got < 0.99 * (double)l->o->rate &&
	    (l->written < l->made ||
	    l->last_write - l->last_due > WAKE_SLACK_NS);

	if (l->o->rate == 0 || l->interrupted != 0 || l->written == 0 ||
	    (!behind && l->write_lag_max < LAG_WARN_NS))
		return;
	if (behind)
		fprintf(stderr, "upclient: warning: %lu requests/s asked, %.1f"
		    " achieved: the client fell behind\n", l->o->rate, got);
	if (l->written < l->made)
		fprintf(stderr, "upclient: warning: %llu requests made and "
		    "never written: send buffers full, the server is not "
		    "reading\n",
		    (unsigned long long)(l->made - l->written));
	else if (l->write_lag_max > l->lag_max + UP_NS_PER_MS)
		fprintf(stderr, "upclient: warning: requests written up to"
		    " %.3f ms late: send buffers full, the server is not"
		    " reading\n", (double)l->write_lag_max / 1e6);
	else
		fprintf(stderr, "upclient: warning: requests made up to %.3f"
		    " ms late: its own CPU was busy\n",
		    (double)l->lag_max / 1e6);
}

/*
 * Writes the histogram to --hist's file, opened by setup(). Returns 0,
 * or -1 after saying why.
 */
static int
write_hist(struct load *l, FILE *f)
{
	int bad = hist_write(&l->hist, f) == -1;

	if (fclose(f) == EOF || bad) {
		fprintf(stderr, "upclient: --hist %s: %s\n", l->o->hist,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Prints the summary of -s in "key: value" lines; see upclient(1). */
static void
print_stats(struct load *l, FILE *f)
{
	double secs = (double)(l->end - l->start) / 1e9;
	uint64_t errors = 0;
	int r;

	for (r = 0; r < R_COUNT; r++)
		errors += l->errors[r];
	fprintf(f, "connections: %lu\n", l->o->clients);
	fprintf(f, "connections_open_max: %lu\n", l->open_max);
	fprintf(f, "requests: %llu\n", (unsigned long long)l->answered);
	fprintf(f, "requests_unanswered: %llu\n",
	    (unsigned long long)l->unanswered);
	fprintf(f, "errors: %llu\n", (unsigned long long)errors);
	for (r = 0; r < R_COUNT; r++)
		fprintf(f, "errors_%s: %llu\n", reason_names[r],
		    (unsigned long long)l->errors[r]);
	fprintf(f, "wall_s: %.6f\n", secs);
	fprintf(f, "requests_per_s: %.1f\n",
	    secs > 0 ? (double)l->answered / secs : 0.0);
	fprintf(f, "latency_p50_ms: %.3f\n",
	    (double)hist_percentile(&l->hist, 50) / 1e3);
	fprintf(f, "latency_p90_ms: %.3f\n",
	    (double)hist_percentile(&l->hist, 90) / 1e3);
	fprintf(f, "latency_p99_ms: %.3f\n",
	    (double)hist_percentile(&l->hist, 99) / 1e3);
	fprintf(f, "latency_max_ms: %.3f\n", (double)l->hist.max_us / 1e3);
	fprintf(f, "latency_p99_9_ms: %.3f\n",
	    (double)hist_percentile(&l->hist, 99.9) / 1e3);
	fprintf(f, "latency_p99_99_ms: %.3f\n",
	    (double)hist_percentile(&l->hist, 99.99) / 1e3);
	if (l->o->rate != 0) {
		fprintf(f, "rate_requested_per_s: %lu\n", l->o->rate);
		fprintf(f, "rate_achieved_per_s: %.1f\n", achieved_rate(l));
		fprintf(f, "requests_queued: %llu\n",
		    (unsigned long long)l->queued);
		fprintf(f, "schedule_lag_max_ms: %.3f\n",
		    (double)l->lag_max / 1e6);
	}
	/* The same for people, as comments that scripts reading keys skip. */
	fprintf(f, "# latency ms %9s %9s %9s %9s %9s %9s\n", "p50", "p90",
	    "p99", "p99.9", "p99.99", "max");
	fprintf(f, "#            %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n",
	    (double)hist_percentile(&l->hist, 50) / 1e3,
	    (double)hist_percentile(&l->hist, 90) / 1e3,
	    (double)hist_percentile(&l->hist, 99) / 1e3,
	    (double)hist_percentile(&l->hist, 99.9) / 1e3,
	    (double)hist_percentile(&l->hist, 99.99) / 1e3,
	    (double)l->hist.max_us / 1e3);
	if (l->o->rate != 0)
		fprintf(f, "# %s at %lu/s (achieved %.1f/s): latency from %s\n",
		    l->o->paced ? "closed loop paced" : "open loop",
		    l->o->rate, achieved_rate(l), l->o->paced ? "sending" :
		    "when each was due");
	else
		fprintf(f, "# closed loop: each request sent when the reply"
		    " before it was in\n");
}

/*
 * Prints the timeline and the statistics asked for on standard error,
 * gathered first so that they leave in one write.
 */
static void
report(struct load *l)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!l->o->timeline && !l->o->stats)
		return;
	if ((f = open_memstream(&text, &len)) == NULL) {
		fprintf(stderr, "upclient: open_memstream: %s\n",
		    strerror(errno));
		return;
	}
	if (l->interrupted != 0)
		fprintf(f, "upclient: interrupted after %.3f s: the"
		    " replies until then\n",
		    (double)(l->interrupted - l->start) / 1e9);
	if (l->o->timeline)
		timeline_print(l->tl, f, l->end);
	if (l->o->stats)
		print_stats(l, f);
	if (fclose(f) == 0)
		up_write_all(STDERR_FILENO, text, len);
	free(text);
}

/* Allocates what the run needs; 0, or -1 after saying why. */
static int
setup(struct load *l, const struct load_options *o)
{
	unsigned long i;
	int row;

	l->o = o;
	l->print = o->text != NULL && o->rate == 0;
	if (o->rate != 0)
		l->step_ns = 1e9 / (double)o->rate;
	l->reqmax = o->text != NULL ? o->textlen + PAYLOAD_NUMBERS_MAX :
	    (size_t)o->random + 1;
	l->bufsize = l->reqmax * (l->print ? 2 : 1);
	if (l->bufsize < sizeof(char *))
		l->bufsize = sizeof(char *);
	if (resolve(l) == -1 || enough_descriptors(o->clients,
	    o->jobs != 0 && o->jobs < o->clients ? o->jobs : o->clients) == -1)
		return -1;
	if (o->text == NULL && payload_init() == -1) {
		fprintf(stderr, "upclient: %s: %s\n", payload_source(),
		    strerror(errno));
		return -1;
	}
	l->conns = calloc(o->clients, sizeof(*l->conns));
	l->rbuf = malloc(RECV_SIZE);
	l->out = malloc(OUT_SIZE);
	if (l->conns == NULL || l->rbuf == NULL || l->out == NULL) {
		fprintf(stderr, "upclient: %s\n", strerror(ENOMEM));
		return -1;
	}
	for (i = 0; i < o->clients; i++) {
		l->conns[i].id = i + 1;
		l->conns[i].fd = -1;
		l->conns[i].row = -1;
	}
	l->start = up_now_ns();
	if (o->timeline) {
		if ((l->tl = timeline_new(o->clients, l->start)) == NULL) {
			fprintf(stderr, "upclient: %s\n", strerror(errno));
			return -1;
		}
		for (row = 0; row < timeline_rows(l->tl); row++)
			l->conns[timeline_conn(l->tl, row) - 1].row = row;
	}
	if ((l->ev = up_ev_new(up_ev_best())) == NULL) {
		fprintf(stderr, "upclient: %s: %s\n", up_ev_best(),
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Frees what setup() allocated. */
static void
cleanup(struct load *l)
{
	char *b;

	unsigned long i;

	while ((b = l->free_bufs) != NULL) {
		l->free_bufs = *(char **)(void *)b;
		free(b);
	}
	for (i = 0; l->conns != NULL && i < l->o->clients; i++) {
		free(l->conns[i].rq.buf);
		free(l->conns[i].rq.ring);
	}
	up_ev_free(l->ev);
	free(l->byfd);
	timeline_free(l->tl);
	free(l->conns);
	free(l->rbuf);
	free(l->out);
}

/*
 * The load mode: connects in batches, lets the engine say which one can
 * move, and ends when every connection is closed. Returns the exit
 * status.
 */
int
load_run(const struct load_options *o)
{
	struct up_ev_fired *fired;
	FILE *histf = NULL;
	struct load l;
	uint64_t errors = 0;
	struct conn *c;
	int i, n, r, status;

	memset(&l, 0, sizeof(l));
	l.o = o;
	if (o->hist != NULL && (histf = fopen(o->hist, "w")) == NULL) {
		fprintf(stderr, "upclient: --hist %s: %s\n", o->hist,
		    strerror(errno));
		return 1;
	}
	/*
	 * SIGINT ends the run early (see the top of the file), not the
	 * process; with no SA_RESTART, the engine's wait returns EINTR.
	 */
	if (setup(&l, o) == -1 || up_catch(SIGINT, on_sigint, 0) == -1) {
		if (histf != NULL)
			fclose(histf);
		cleanup(&l);
		return 1;
	}
	for (;;) {
		if (got_sigint && l.interrupted == 0)
			interrupt_begin(&l);
		if (l.interrupted != 0 &&
		    up_now_ns() >= l.interrupted + INTERRUPT_GRACE_NS)
			interrupt_expire(&l);
		while (l.interrupted == 0 && l.connecting < CONNECT_BATCH &&
		    l.next < o->clients &&
		    (o->jobs == 0 || l.running < o->jobs))
			start_connect(&l, &l.conns[l.next++]);
		if (o->rate != 0 && l.interrupted == 0 &&
		    l.next == o->clients && l.connecting == 0) {
			if (l.sched_start == 0)
				l.sched_start = up_now_ns();
			rate_schedule(&l, up_now_ns());
		}
		out_flush(&l);
		if (l.active == 0 &&
		    (l.next == o->clients || l.interrupted != 0))
			break;
		n = up_ev_wait(l.ev, wait_ms(&l), &fired);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "upclient: %s: %s\n", up_ev_best(),
			    strerror(errno));
			if (histf != NULL)
				fclose(histf);
			cleanup(&l);
			return 1;
		}
		for (i = 0; i < n; i++)
			if ((c = fd_conn(&l, fired[i].fd)) != NULL)
				handle(&l, c, fired[i].events);
		if (up_timeq_next(&l.timeq) != 0)
			expire(&l, up_now_ns());
	}
	l.end = up_now_ns();

	for (r = 0; r < R_COUNT; r++)
		errors += l.errors[r];
	if (l.shown > SHOWN_ERRORS)
		fprintf(stderr, "upclient: %llu more failures not described"
		    " (-s counts them, -v logs them)\n",
		    (unsigned long long)(l.shown - SHOWN_ERRORS));
	report(&l);
	rate_warn(&l);
	status = errors > 0 || l.out_failed ? 1 : 0;
	if (histf != NULL && write_hist(&l, histf) == -1)
		status = 1;
	if (l.interrupted != 0)
		status = EXIT_INTERRUPTED;
	cleanup(&l);
	return status;
}
