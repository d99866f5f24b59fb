/*
 * upserver-poll: the event-loop server.
 *
 * One process, one thread, one loop over every socket, and nothing that
 * ever blocks: what asyncio is to the Python tutorials, without the
 * coroutines. Sockets are non-blocking; the simulated work is a deadline
 * on a timer queue, not a sleep, so while a request "works" the loop
 * reads, answers and accepts for everyone else. Which sockets are ready
 * is the event engine's business (lib/ev/: --backend select, poll, epoll,
 * kqueue), what a reply is the protocol service's (lib/proto/), as for
 * the blocking servers. This file is the state machine of a connection,
 * which run() moves on when its socket is ready or its timer fires:
 *
 *  accept -> READING --a whole request--> LOCKWAIT ------> WORKING
 *             ^    ^   is buffered      (--counter mutex)     | its delay
 *             |    |                                          v is over
 *             |  QUEUED <--more requests buffered--+------ WRITING
 *             |  (next turn)                       |    (until all sent)
 *             +----------- reply sent -------------+--> LINGER -> closed
 *                                             (--http, it ends: discard)
 *
 * A request --http refuses skips WORKING. After the client's end of
 * stream a connection drains: what it left is answered, then it closes.
 * READING with part of a request buffered runs two more clocks, each a
 * timer queue: the pause after which that part is a request (--framing
 * auto) and --request-timeout, by which the whole must be in.
 *
 * What to notice:
 *  - Four clients with a one-second delay are answered together after a
 *    second, as with fork or threads, but a connection costs a few
 *    hundred bytes here, not a process or a thread with its stack.
 *  - Nothing may block. A handler that sleeps or computes stalls every
 *    connection (--cpu shows it): nobody else is there to run them.
 *  - A race needs no threads: --counter unsafe reads the counter when a
 *    request starts and writes it after the delay; others run between.
 *  - Backpressure: a connection whose request is worked on or whose reply
 *    is unsent is not read: a client that sends without reading fills the
 *    kernel's buffers, not ours. So too when memory runs out: it waits,
 *    unread, for a later turn (lib/robust/memory.c).
 *  - Pipelining: with -d 0, every whole request one read brought is
 *    answered in that turn with one send(2); one read per connection per
 *    turn keeps a streaming client from starving the others.
 *  - One loop uses one core. With -w N, N loops run this code in
 *    processes of their own sharing the listener (lib/pool/).
 *
 * Memory per connection: a struct conn (about 400 bytes), the backend's
 * entry, a request buffer once bytes arrive (1 KiB, doubled as needed up
 * to --max-line, freed when empty), with --http a response buffer.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

#define DEFAULT_MAX_CONNS	16384	/* -c: or what the fd limit allows */
#define ACCEPT_BATCH		1024	/* accepts per wake-up, then serve */

enum conn_state {
	READING,	/* no whole request buffered: watched for reading */
	QUEUED,		/* whole requests buffered: served next turn */
	LOCKWAIT,	/* --counter mutex: in line for the lock */
	WORKING,	/* its delay runs on the timer queue; not watched */
	WRITING,	/* the reply did not all fit: watched for writing */
	LINGER		/* closing: discards input until the client closes */
};

struct conn {
	int		 fd;
	enum conn_state	 state;
	struct up_reader in;		/* what the client sent */
	struct up_request req;		/* the request served, its reply */
	unsigned long	 nreq;		/* requests the reply answers */
	size_t		 sent;		/* how much of the reply is sent */
	struct up_buf	 out;		/* --http: the response */
	long		 seen, count;	/* the counter, before and after */
	unsigned long	 served;	/* requests answered */
	struct up_timer	 timer;		/* on one of the loop's queues */
	struct up_timer	 whole;		/* --request-timeout, when begun */
	const char	*why;		/* LINGER: the reason it will close */
	struct up_linger linger;
	struct up_memory_wait mem;
	char		 peer[UP_PEER_MAX];
};

struct loop {
	struct up_evloop e;		/* the frame: engine, listener, stop */
	struct up_server *s;
	const struct up_options *o;
	const struct up_proto *p;
	int		 batch;		/* answer buffered requests together */
	struct up_timeq	 working;	/* WORKING: by the end of the delay */
	struct up_timeq	 lockq;		/* LOCKWAIT: by ticket */
	struct up_timeq	 ready;		/* QUEUED: for the next turn */
	struct up_timeq	 idle;		/* READING, WRITING: -t from progress */
	struct up_timeq	 pauses;	/* READING a line: --framing auto */
	struct up_timeq	 requests;	/* READING a request: it must end */
	struct up_timeq	 lingering;	/* LINGER: from its start */
};

/* The connection a timer belongs to, or NULL. */
static struct conn *
conn_of(struct up_timer *t)
{
	return t != NULL ? UP_CONTAINER_OF(t, struct conn, timer) : NULL;
}

/* The connection whose request a --request-timeout timer is, or NULL. */
static struct conn *
conn_of_whole(struct up_timer *t)
{
	return t != NULL ? UP_CONTAINER_OF(t, struct conn, whole) : NULL;
}

/* Closes c and logs it (reason NULL: a normal end); c owes no work. */
static void
conn_close(struct loop *l, struct conn *c, const char *reason)
{
	up_timer_cancel(&c->timer);
	up_timer_cancel(&c->whole);
	up_ev_set(l->e.ev, c->fd, 0);	/* the engine forgets it first */
	up_slots_drop(&l->e.conns, c->fd);
	up_memory_leave(&l->e.memory, &c->mem);
	close(c->fd);
	/* a line begun and never ended (not the request in flight) is lost */
	up_log_closed(c->peer, l->e.who, c->served, reason, reason == NULL ? 0 :
	    up_reader_pending(&c->in) - c->req.len);
	up_acceptor_release(&l->e.acc);	/* only now: the log keeps to -c */
	atomic_fetch_sub(&l->s->shared->conns, 1);
	up_reader_free(&c->in);
	free(c->out.p);
	free(c);
}

/* Logs a failed operation on c and closes it. */
static void
conn_fail(struct loop *l, struct conn *c, const char *op, int err)
{
	up_log_error(c->peer, l->e.who, op, err);
	conn_close(l, c, "error");
}

/* Watches c's socket for mask (0: not at all); -1 once c is closed. */
static int
conn_watch(struct loop *l, struct conn *c, int mask)
{
	if (up_ev_set(l->e.ev, c->fd, mask) == 0)
		return 0;
	conn_fail(l, c, "watch", errno);
	return -1;
}

/*
 * READING: c waits for its client's next bytes (its idle clock starts
 * again) or, starved, for memory to read them into: then it is not
 * watched until a later turn finds memory, and its idle clock runs on,
 * so -t still ends the wait. At a stop there is no waiting: c closes.
 * With part of a request buffered, two more clocks run: under --framing
 * auto the pause (restarted by every read, as the idle one is, and
 * sooner than it), after which that part is served; and the request's
 * own, --request-timeout from when its first bytes began to wait (again
 * from the start after a wait for memory, which is not the client's).
 */
static void
wait_input(struct loop *l, struct conn *c, int starved)
{
	int64_t idle = l->o->timeout_ns, pause = l->p->pause_ns;
	int partial = up_reader_pending(&c->in) > 0;

	if (l->e.stopping) {
		conn_close(l, c, "stop");
		return;
	}
	if (starved)
		up_memory_wait(&l->e.memory, &c->mem, l->s->addr, ENOMEM,
		    l->e.now);
	c->state = READING;
	if (conn_watch(l, c, starved ? 0 : UP_EV_READ) == -1)
		return;
	if (starved)	/* our shortage is no delay of the client's */
		up_timer_cancel(&c->whole);
	else if (partial && l->o->request_timeout_ns != 0 &&
	    c->whole.q == NULL)
		up_timeq_push(&l->requests, &c->whole,
		    l->e.now + l->o->request_timeout_ns);
	if (starved && c->timer.q != NULL)
		return;
	if (partial && pause != 0 && (idle == 0 || pause < idle))
		up_timeq_push(&l->pauses, &c->timer, l->e.now + pause);
	else if (idle != 0)
		up_timeq_push(&l->idle, &c->timer, l->e.now + idle);
}

/*
 * c's reply is sent: logs it, a line per request it answers (a batch is
 * cut again where its requests were), and goes on: to linger and close,
 * to the next request buffered (next turn, so that nobody keeps the loop
 * to itself), or to reading, with the buffers that grew given back.
 */
static void
reply_done(struct loop *l, struct conn *c)
{
	struct up_request *r = &c->req;
	size_t len, end = c->in.start + r->len;
	int counted = l->o->counter != UP_COUNTER_OFF && r->status == 200;

	for (; c->in.start < end; c->in.start += len) {
		len = c->nreq == 1 ? r->len : l->p->frame(c->in.buf +
		    c->in.start, end - c->in.start, l->p->max_line, 1);
		up_log_responded(c->peer, l->e.who, c->nreq == 1 ? r->body :
		    len, up_request_status(l->p, r), counted, c->count);
	}
	c->served += c->nreq;
	if (r->status == 200)	/* not an HTTP request refused */
		atomic_fetch_add(&l->s->shared->requests, c->nreq);
	r->len = 0;
	up_timer_cancel(&c->timer);
	if (r->next == UP_NEXT_LINGER) {
		c->state = LINGER;
		if (up_linger_start(&c->linger, c->fd, l->e.now) == -1)
			conn_close(l, c, NULL);
		else if (conn_watch(l, c, UP_EV_READ) == 0)
			up_timeq_push(&l->lingering, &c->timer,
			    c->linger.deadline);
	} else if (c->in.eof || l->e.stopping || (c->in.end > c->in.start &&
	    l->p->frame(c->in.buf + c->in.start, c->in.end - c->in.start,
	    l->p->max_line, 0) > 0)) {
		c->state = QUEUED;
		up_timeq_push(&l->ready, &c->timer, 0);
	} else {
		up_reader_shrink(&c->in);
		up_buf_trim(&c->out, UP_HTTP_HEAD_MAX + UP_FIRST_BUF);
		wait_input(l, c, 0);
	}
}

/*
 * WRITING: sends what is left of c's reply; the rest waits until the
 * socket is writable. A client that reads nothing for -t is idle too.
 */
static void
conn_send(struct loop *l, struct conn *c)
{
	ssize_t n;

	do
		n = up_send(c->fd, c->req.reply + c->sent,
		    c->req.replylen - c->sent, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		conn_fail(l, c, "write", errno);
		return;
	}
	if (n > 0)
		c->sent += (size_t)n;
	if (c->sent == c->req.replylen) {
		reply_done(l, c);
		return;
	}
	if ((c->state != WRITING || n > 0) && l->o->timeout_ns != 0)
		up_timeq_push(&l->idle, &c->timer, l->e.now + l->o->timeout_ns);
	c->state = WRITING;
	conn_watch(l, c, UP_EV_WRITE);
}

/*
 * Replies to the request of len bytes at the front of c's buffer, the
 * service making the reply; in batch mode (no work to wait for) to every
 * whole one behind it too, each made in place, so that the replies lie
 * end to end and leave with one send(2).
 */
static void
reply_start(struct loop *l, struct conn *c, size_t len)
{
	struct up_request *r = &c->req;
	size_t pos = c->in.start;

	c->nreq = 1;
	c->sent = 0;
	if (!l->batch) {
		up_request_reply(l->p, r, c->out.p);
		conn_send(l, c);
		return;
	}
	for (c->nreq = 0; len > 0; c->nreq++) {
		up_request_open(l->p, r, c->in.buf + pos, len);
		up_log_received(c->peer, l->e.who, len, up_request_cut(l->p,
		    c->in.buf + pos, len, c->in.eof), 0, 0);
		up_request_reply(l->p, r, NULL);
		pos += len;
		len = pos < c->in.end ? l->p->frame(c->in.buf + pos,
		    c->in.end - pos, l->p->max_line, c->in.eof) : 0;
	}
	/* one request alone is all the log needs to know of a batch */
	r->body = r->len = r->replylen = pos - c->in.start;
	r->reply = c->in.buf + c->in.start;
	conn_send(l, c);
}

/* c's work begins: it reads the counter and logs "received". */
static void
work_begin(struct loop *l, struct conn *c)
{
	c->seen = up_count_read(l->s->shared);
	up_log_received(c->peer, l->e.who, c->req.len, c->req.cut,
	    up_count_read_shown(l->o->counter), c->seen);
}

/* WORKING: the delay is a deadline; with --cpu, work_done computes. */
static void
work_start(struct loop *l, struct conn *c)
{
	c->state = WORKING;
	if (!l->o->cpu)
		work_begin(l, c);
	up_timeq_push(&l->working, &c->timer, up_now_ns() +
	    (l->o->cpu ? 0 : l->o->delay_ns));
}

/*
 * c's work is over: writes the counter back (handing the lock of mutex
 * mode to the next in line) and replies. With --cpu the delay is
 * computed here, in the loop: meanwhile nothing else runs, no accept, no
 * read, no reply for anyone. One thread serves one computation at a time.
 */
static void
work_done(struct loop *l, struct conn *c)
{
	struct conn *next;

	if (l->o->cpu) {
		work_begin(l, c);
		up_compute_ns(l->o->delay_ns);
	}
	c->count = up_count_write(l->s->shared, l->o->counter, c->seen);
	if (l->o->counter == UP_COUNTER_MUTEX && (next = conn_of(
	    up_loops_release(l->e.g, l->e.index, &l->lockq))) != NULL)
		work_start(l, next);
	reply_start(l, c, c->req.len);
}

/*
 * A whole request of len bytes is at the front of c's buffer: the
 * service opens it, room is made for its reply before any work (memory
 * that runs short costs a wait, never the connection), and its work
 * starts, the socket unwatched meanwhile: that is the backpressure.
 * --counter mutex is a lock that never blocks the loop: a request that
 * finds it held waits in line (across the -w loops, by ticket), and its
 * work starts once the lock is handed to it.
 */
static void
start_request(struct loop *l, struct conn *c, size_t len)
{
	int now = l->o->delay_ns == 0 && !l->o->cpu;	/* nothing to wait */

	up_timer_cancel(&c->timer);
	up_timer_cancel(&c->whole);	/* the request is whole */
	if (!l->batch) {
		up_request_open(l->p, &c->req, c->in.buf + c->in.start, len);
		c->req.cut = up_request_cut(l->p, c->req.data, len,
		    c->in.eof);
		if (up_buf_room(&c->out, c->req.room) == -1) {
			c->req.len = 0;		/* not begun: still pending */
			wait_input(l, c, 1);
			return;
		}
		up_memory_back(&l->e.memory, l->s->addr);
	}
	if (l->batch || c->req.status != 200) {	/* refused: no work */
		if (!l->batch)
			up_log_received(c->peer, l->e.who, len, NULL, 0, 0);
		reply_start(l, c, len);
	} else if (now || conn_watch(l, c, 0) == 0) {
		c->state = LOCKWAIT;
		if (l->o->counter == UP_COUNTER_MUTEX && !up_loops_acquire(
		    l->e.g, l->e.index, &l->lockq, &c->timer))
			return;
		if (!now)
			work_start(l, c);
		else {
			work_begin(l, c);
			work_done(l, c);
		}
	}
}

/*
 * Moves c on when it owes no reply: to the next request buffered, to its
 * close after its end of stream, or to reading: at once when try_read
 * says the socket is likely readable or at a stop (what has arrived is
 * served, no more), else once it is. One read a turn.
 */
static void
conn_advance(struct loop *l, struct conn *c, int try_read)
{
	size_t len;

	up_memory_leave(&l->e.memory, &c->mem);	/* it may starve again */
	for (;;) {
		len = c->in.end == c->in.start ? 0 : l->p->frame(c->in.buf +
		    c->in.start, c->in.end - c->in.start, l->p->max_line,
		    c->in.eof);
		if (len > 0)
			start_request(l, c, len);
		else if (c->in.eof)
			conn_close(l, c, NULL);
		else if (!try_read && !l->e.stopping)
			wait_input(l, c, 0);
		else if (up_reader_fill(&c->in, c->fd, l->p->max_line) >= 0) {
			up_memory_back(&l->e.memory, l->s->addr);
			try_read = 0;
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOMEM)
			wait_input(l, c, errno == ENOMEM);
		else if (errno == EINTR)
			continue;
		else
			conn_fail(l, c, "read", errno);
		return;
	}
}

/* The connections in state (starved: those waiting for memory). */
static void
advance_all(struct loop *l, enum conn_state state, int starved)
{
	struct conn *c;
	size_t fd;

	for (fd = 0; fd < l->e.conns.cap; fd++)
		if ((c = up_slots_at(&l->e.conns, (int)fd)) != NULL &&
		    c->state == state && (!starved || c->mem.waiting))
			conn_advance(l, c, 1);
}

/*
 * Accepts what waits (lib/pool/accept.c: into memory reserved first,
 * within -c), at most ACCEPT_BATCH so that a flood of new clients keeps
 * nobody waiting; with -w one a turn, so that a free loop takes the next.
 */
static void
accept_ready(struct loop *l)
{
	char peer[UP_PEER_MAX];
	struct conn *c;
	int i, fd, batch = l->o->workers > 1 ? 1 : ACCEPT_BATCH;

	for (i = 0; i < batch && (c = up_acceptor_next(&l->e.acc, l->e.now, &fd,
	    peer, sizeof(peer))) != NULL; i++) {
		c->fd = fd;
		memcpy(c->peer, peer, sizeof(c->peer));
		atomic_fetch_add(&l->s->shared->conns, 1);
		up_log("accepted", c->peer, l->e.who != NULL ? "%s" : NULL,
		    l->e.who);
		conn_advance(l, c, 1);	/* a request often comes at once */
	}
}

/* Handles what the engine reported for c's socket. */
static void
conn_event(struct loop *l, struct conn *c, int events)
{
	/* A hangup or an error shows as the read's or the send's error. */
	if (c->state == READING && (events & UP_EV_READ))
		conn_advance(l, c, 1);
	else if (c->state == WRITING && (events & UP_EV_WRITE))
		conn_send(l, c);
	else if (c->state == LINGER && (events & UP_EV_READ) &&
	    up_linger_read(&c->linger, c->fd))
		conn_close(l, c, c->why);
}

/*
 * c's request did not arrive whole within --request-timeout of its first
 * bytes: c closes, and under --http first says 408 (its send buffer is
 * empty, so one send(2) does it or nothing will) and lingers, so that
 * the response is not lost to a reset.
 */
static void
request_expired(struct loop *l, struct conn *c)
{
	char buf[UP_HTTP_HEAD_MAX];
	size_t n;

	up_timer_cancel(&c->whole);
	c->why = "request-timeout";
	if (!l->p->http ||
	    (n = up_http_timeout_response(buf, sizeof(buf))) == 0 ||
	    up_send(c->fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n ||
	    up_linger_start(&c->linger, c->fd, l->e.now) == -1) {
		conn_close(l, c, c->why);
		return;
	}
	up_timer_cancel(&c->timer);
	up_memory_leave(&l->e.memory, &c->mem);
	c->state = LINGER;
	if (conn_watch(l, c, UP_EV_READ) == 0)
		up_timeq_push(&l->lingering, &c->timer, c->linger.deadline);
}

/*
 * After the engine's wait: the work that is over (the clock read again
 * before giving up, so that work started here ends in this pass too),
 * the connections queued last turn (those queued now wait for the next),
 * the idle and lingering ones whose time is up. Returns how long the
 * next wait may last: until the first deadline, 0 with some queued.
 */
static int
run_queues(struct loop *l)
{
	struct up_timer *t, *last = l->ready.tail;
	struct conn *c;
	int64_t now = up_now_ns(), next;
	int end = 0;

	while ((t = l->working.head) != NULL && (t->deadline <= now ||
	    t->deadline <= (now = up_now_ns()))) {
		up_timer_cancel(t);
		work_done(l, conn_of(t));
	}
	while (!end && (t = l->ready.head) != NULL) {
		end = t == last;
		up_timer_cancel(t);
		conn_advance(l, conn_of(t), 0);
	}
	while ((t = up_timeq_due(&l->requests, l->e.now)) != NULL)
		request_expired(l, conn_of_whole(t));
	while ((t = up_timeq_due(&l->pauses, l->e.now)) != NULL) {
		/* the client paused: what it sent is a request */
		c = conn_of(t);
		start_request(l, c, c->in.end - c->in.start);
	}
	while ((t = up_timeq_due(&l->idle, l->e.now)) != NULL)
		conn_close(l, conn_of(t), "idle");
	while ((t = up_timeq_due(&l->lingering, l->e.now)) != NULL)
		conn_close(l, conn_of(t), conn_of(t)->why);
	if (l->ready.head != NULL)
		return 0;
	next = up_earliest(up_timeq_next(&l->working), up_timeq_next(&l->idle));
	next = up_earliest(next, up_earliest(up_timeq_next(&l->pauses),
	    up_timeq_next(&l->requests)));
	return up_evloop_timeout(&l->e, up_earliest(next,
	    up_timeq_next(&l->lingering)));
}

/*
 * The event loop: loop index of those g shares, tagged who in the log
 * (NULL for the only one). Returns 0 once stopped with every connection
 * closed, or 1 when the engine itself fails.
 */
static int
run(struct up_loops *g, long index, const char *who, void *server)
{
	struct up_server *s = server;
	struct loop l = { .s = s, .o = &s->opt, .p = &s->proto,
	    .batch = !s->opt.http && s->opt.delay_ns == 0 &&
	    s->opt.counter == UP_COUNTER_OFF };
	struct up_ev_fired *fired;
	struct conn *c;
	int i, n, what, timeout = 0;

	if (up_evloop_init(&l.e, s->opt.backend, &s->lfd, s->addr,
	    s->opt.max_conns, sizeof(struct conn), g, index, who) == -1) {
		warn("event loop%s%s: %s (--backend %s)", who != NULL ? " " :
		    "", who != NULL ? who : "", l.e.failed, s->opt.backend);
		return 1;
	}
	while (!l.e.stopping || l.e.conns.count > 0) {
		if ((n = up_evloop_wait(&l.e, timeout, &fired, &what)) == -1) {
			warn("event loop%s%s: waiting (--backend %s)",
			    who != NULL ? " " : "", who != NULL ? who : "",
			    s->opt.backend);
			return 1;
		}
		for (i = 0; i < n; i++)
			if ((c = up_slots_at(&l.e.conns, fired[i].fd)) != NULL)
				conn_event(&l, c, fired[i].events);
		/* another loop handed us the lock of --counter mutex */
		if ((what & UP_EVLOOP_WOKEN) && (c = conn_of(up_loops_handed(g,
		    index, &l.lockq))) != NULL)
			work_start(&l, c);
		/*
		 * A stop closed the listener: the connections that
		 * wait for a request end once what they sent is served, the
		 * others once the requests in flight are answered.
		 */
		if (what & UP_EVLOOP_STOP)
			advance_all(&l, READING, 0);
		if (what & UP_EVLOOP_ACCEPT)
			accept_ready(&l);
		if (what & UP_EVLOOP_MEMORY)
			advance_all(&l, READING, 1);	/* memory back? */
		timeout = run_queues(&l);
	}
	up_evloop_free(&l.e);
	return 0;
}

static const struct up_model poll_model = {
	.name = "poll",
	.max_conns = DEFAULT_MAX_CONNS,	/* or what the fd limit allows */
	.workers = 1,			/* -w: loops */
	.event_loop = 1,
	.processes = 1,			/* -w: the loops share the counters */
};

int
main(int argc, char **argv)
{
	struct up_server s;
	int status, child;

	if (up_server_start(&s, &poll_model, argc, argv) == -1) {
		fputs(s.msg, s.exit == 0 ? stdout : stderr);
		return s.exit;
	}
	/* one loop here, or with -w a loop in each of N processes */
	status = up_loops_run_accept(s.addr, s.opt.workers, s.opt.max_conns,
	    s.opt.accept, run, &s, &child, &s.loops);
	if (child)
		_exit(status);
	if (status == -1)
		err(1, "starting %ld event loops", s.opt.workers);
	return status == 0 ? up_server_stop(&s) : 1;
}
