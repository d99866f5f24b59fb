/*
 * upserver-poll: the event-loop server.
 *
 * One process, one thread, one event loop over every socket, and nothing
 * that ever blocks: this is what asyncio is to the Python tutorials,
 * without the coroutines. The sockets are non-blocking, and the simulated
 * work is not a sleep but a deadline on a timer queue, so while a request
 * "works" the loop goes on reading, answering and accepting for everyone
 * else. How the loop learns which sockets are ready is the event engine's
 * business (lib/ev/: --backend select, poll, epoll or kqueue); what the
 * bytes of a reply are is the protocol service's (lib/proto/), the same
 * as the blocking servers'. This file is the connection's state machine:
 *
 *	        accept
 *	          |
 *	          v        a whole request          (--counter mutex:
 *	+----> READING ------- is buffered ------+    LOCKWAIT first)
 *	|         ^                              v
 *	|         | more whole requests       WORKING  its delay runs on
 *	|         | buffered: wait a turn        |      the timer queue
 *	|       QUEUED                           v
 *	|         ^                           reply made; it did not all
 *	|         +--------- reply sent ---- WRITING  fit: wait until the
 *	+------------------- reply sent --------+     socket is writable
 *	                                        |
 *	       --http, the connection ends: LINGER (discard, then close)
 *
 * A request refused by --http skips WORKING. After the client's end of
 * stream a connection drains: what it left in its buffer is answered,
 * nothing more is read, and it closes.
 *
 * What to notice:
 *  - Four clients with a one-second delay are all answered after about
 *    one second, as with fork or threads, but a connection costs a few
 *    hundred bytes here, not a process or a thread with its stack.
 *  - Nothing may block, ever. One handler that sleeps, reads a blocking
 *    socket or computes for long stalls every connection, because there
 *    is nobody else to run them: the delay has to be a timer (and --cpu,
 *    which computes in the loop, shows what happens otherwise).
 *  - A race needs no threads: with --counter unsafe a request reads the
 *    counter when it starts and writes it back after its delay, and other
 *    requests run in between. Every wait is a point where others run.
 *  - Backpressure: while a request is worked on or its reply is unsent,
 *    the loop does not read that connection, so a client that sends
 *    without reading fills the kernel's buffers, not the server's memory.
 *    The same when memory runs out: a connection whose buffer cannot be
 *    had waits, unread, for a later turn (lib/robust/memory.c), and a
 *    connection is accepted only once the memory to hold it is there.
 *  - Pipelining: with -d 0 (lines, no counter) every whole request one
 *    read brought is answered in that turn, the replies made in place end
 *    to end and sent with one send(2). One read per connection per turn
 *    keeps a streaming client from starving the others.
 *  - One loop uses one core. With -w N, N loops run this same code, each
 *    in a process under lib/pool/pool.c, sharing the listening socket;
 *    lib/pool/loops.c keeps what they share: who accepts next, -c in
 *    all, and the lock of --counter mutex.
 *
 * Memory per connection: a struct conn (about 400 bytes), what the
 * backend keeps per descriptor, and a request buffer only once bytes
 * arrive: 1 KiB, doubled while a request is put together or reads keep
 * filling it, never beyond --max-line, freed once it is empty again.
 * Replies are made in place; --http adds a response buffer of
 * UP_HTTP_HEAD_MAX bytes plus the request target.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

#define DEFAULT_MAX_CONNS	16384	/* -c: or what the fd limit allows */
#define ACCEPT_BATCH		1024	/* accepts per wake-up, then serve */
#define ACCEPT_PAUSE_NS		(100 * UP_NS_PER_MS) /* out of descriptors */

enum conn_state {
	READING,	/* no whole request buffered: watched for reading */
	QUEUED,		/* whole requests buffered: served next turn */
	LOCKWAIT,	/* --counter mutex: in line for the lock; not watched */
	WORKING,	/* its delay runs on the timer queue; not watched */
	WRITING,	/* the reply did not all fit: watched for writing */
	LINGER		/* --http: answered, closing; discards input */
};

struct conn {
	int		 fd;
	enum conn_state	 state;
	struct up_reader in;		/* what the client sent */
	struct up_request req;		/* the request served, and its reply */
	unsigned long	 nreq;		/* requests the reply answers */
	size_t		 sent;		/* how much of the reply is sent */
	struct up_buf	 out;		/* --http: the response */
	long		 seen, count;	/* the counter, before and after */
	unsigned long	 served;	/* requests answered */
	struct up_timer	 timer;		/* on one of the loop's queues */
	struct up_linger linger;
	struct up_memory_wait mem;
	char		 peer[UP_PEER_MAX];
};

struct loop {
	struct up_server *s;
	const struct up_options *o;
	const struct up_proto *p;
	int		 batch;		/* answer buffered requests together */
	struct up_ev	*ev;		/* the event engine */
	struct up_slots	 conns;		/* by descriptor */
	/* a connection is on one queue at most, each in deadline order */
	struct up_timeq	 working;	/* WORKING: when the delay ends */
	struct up_timeq	 lockq;		/* LOCKWAIT: by ticket */
	struct up_timeq	 ready;		/* QUEUED: for the next turn */
	struct up_timeq	 idle;		/* READING, WRITING: -t from progress */
	struct up_timeq	 lingering;	/* LINGER: from its start */
	int64_t		 now;		/* monotonic, after each wait */
	int64_t		 accept_pause;	/* no accepting until then, or 0 */
	struct up_memory memory;	/* connections waiting for memory */
	int		 stopping;
	struct up_loops	*g;		/* what the loops share (-w) */
	long		 index;		/* this loop's place among them */
	const char	*who;		/* "pid=N" with -w, else NULL */
};

static void	conn_advance(struct loop *, struct conn *, int);
static void	work_start(struct loop *, struct conn *);

/* The connection a timer belongs to. */
static struct conn *
conn_of(struct up_timer *t)
{
	return t != NULL ? UP_CONTAINER_OF(t, struct conn, timer) : NULL;
}

/* Restarts c's idle clock: c waits for its client from now on. */
static void
idle_touch(struct loop *l, struct conn *c)
{
	if (l->o->timeout_ns != 0)
		up_timeq_push(&l->idle, &c->timer, l->now + l->o->timeout_ns);
}

/*
 * Closes c and logs it; reason is NULL for a normal end. c must not be
 * working or waiting for the lock. The engine forgets the socket first.
 */
static void
conn_close(struct loop *l, struct conn *c, const char *reason)
{
	up_timer_cancel(&c->timer);
	up_ev_set(l->ev, c->fd, 0);
	up_slots_drop(&l->conns, c->fd);
	up_memory_leave(&l->memory, &c->mem);
	close(c->fd);
	/* a line begun and never ended (not the request in flight) is lost */
	up_log_closed(c->peer, l->who, c->served, reason, reason == NULL ? 0 :
	    up_reader_pending(&c->in) - c->req.len);
	/* only now may another loop take its place: the log keeps to -c */
	up_loops_unreserve(l->g, l->index);
	up_reader_free(&c->in);
	free(c->out.p);
	free(c);
}

/* Logs a failed operation on c and closes it. */
static void
conn_fail(struct loop *l, struct conn *c, const char *op, int err)
{
	up_log_error(c->peer, l->who, op, err);
	conn_close(l, c, "error");
}

/* Watches c's socket for mask (0: not at all); -1 once c is closed. */
static int
conn_watch(struct loop *l, struct conn *c, int mask)
{
	if (up_ev_set(l->ev, c->fd, mask) == 0)
		return 0;
	conn_fail(l, c, "watch", errno);
	return -1;
}

/*
 * No memory for c's buffers: c is not read until a later turn finds
 * memory (retry_starved). Its idle clock runs on from its last
 * progress, so -t still closes it if memory never comes back.
 */
static void
conn_starve(struct loop *l, struct conn *c, int err)
{
	if (l->stopping) {
		conn_close(l, c, "stop");
		return;
	}
	up_memory_wait(&l->memory, &c->mem, l->s->addr, err, l->now);
	c->state = READING;
	if (conn_watch(l, c, 0) == 0 && c->timer.q == NULL)
		idle_touch(l, c);
}

/* Makes c wait for its client's next bytes, giving back grown buffers. */
static void
wait_input(struct loop *l, struct conn *c)
{
	up_reader_shrink(&c->in);
	up_buf_trim(&c->out, UP_HTTP_HEAD_MAX + UP_FIRST_BUF);
	c->state = READING;
	if (conn_watch(l, c, UP_EV_READ) == 0)
		idle_touch(l, c);
}

/*
 * c's reply is all sent: logs it, one line per request it answers (a
 * batch is cut again where its requests were), and goes on: to linger
 * and close, to the next request buffered (on the next turn, so that no
 * connection keeps the loop to itself), or to reading.
 */
static void
reply_done(struct loop *l, struct conn *c)
{
	struct up_request *r = &c->req;
	int status = up_request_status(l->p, r), counted =
	    l->o->counter != UP_COUNTER_OFF && r->status == 200;
	size_t len, end = c->in.start + r->len;

	if (c->nreq == 1) {
		up_log_responded(c->peer, l->who, r->body, status, counted,
		    c->count);
		c->in.start = end;
	}
	for (; c->in.start < end; c->in.start += len) {
		len = l->p->frame(c->in.buf + c->in.start, end - c->in.start,
		    l->p->max_line, 1);
		up_log_responded(c->peer, l->who, len, status, 0, 0);
	}
	c->served += c->nreq;
	if (r->status == 200)	/* not an HTTP request refused */
		atomic_fetch_add(&l->s->shared->requests, c->nreq);
	r->len = 0;
	up_timer_cancel(&c->timer);
	if (r->next == UP_NEXT_LINGER) {
		c->state = LINGER;
		if (up_linger_start(&c->linger, c->fd, l->now) == -1)
			conn_close(l, c, NULL);
		else if (conn_watch(l, c, UP_EV_READ) == 0)
			up_timeq_push(&l->lingering, &c->timer,
			    c->linger.deadline);
	} else if (c->in.eof || l->stopping || (c->in.end > c->in.start &&
	    l->p->frame(c->in.buf + c->in.start, c->in.end - c->in.start,
	    l->p->max_line, 0) > 0)) {
		c->state = QUEUED;
		up_timeq_push(&l->ready, &c->timer, 0);
	} else
		wait_input(l, c);
}

/*
 * Sends what is left of c's reply with one send(2). What does not fit
 * waits for the socket to be writable; a client that reads nothing for
 * the idle timeout is dropped like a silent one.
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
	if (c->state != WRITING || n > 0)
		idle_touch(l, c);
	c->state = WRITING;
	conn_watch(l, c, UP_EV_WRITE);
}

/* Makes c's reply (the service's) and sends it. */
static void
reply_start(struct loop *l, struct conn *c)
{
	up_request_reply(l->p, &c->req, c->out.p);
	c->nreq = 1;
	c->sent = 0;
	conn_send(l, c);
}

/*
 * With no work to wait for: answers the request at the front of c's
 * buffer and every whole one behind it, each made into its reply in
 * place, so that the replies lie end to end and leave in one send(2).
 */
static void
reply_batch(struct loop *l, struct conn *c, size_t len)
{
	struct up_request r;
	size_t pos = c->in.start;

	c->nreq = 0;
	do {
		up_request_open(l->p, &r, c->in.buf + pos, len);
		up_log_received(c->peer, l->who, len, 0, 0);
		up_request_reply(l->p, &r, NULL);
		pos += len;
		c->nreq++;
	} while (pos < c->in.end && (len = l->p->frame(c->in.buf + pos,
	    c->in.end - pos, l->p->max_line, c->in.eof)) > 0);
	c->req = r;	/* the last; one alone is all the log says */
	c->req.body = c->req.len = c->req.replylen = pos - c->in.start;
	c->req.reply = c->in.buf + c->in.start;
	c->sent = 0;
	conn_send(l, c);
}

/*
 * Starts on the request of len bytes at the front of c's buffer: opens
 * it with the service, makes room for its reply before any work (memory
 * that runs short then costs a wait, never the connection), and starts
 * its work, or answers at once one that needs none. While the work runs
 * the socket is not watched: that is the backpressure.
 */
static void
start_request(struct loop *l, struct conn *c, size_t len)
{
	up_timer_cancel(&c->timer);
	if (l->batch) {
		reply_batch(l, c, len);
		return;
	}
	up_request_open(l->p, &c->req, c->in.buf + c->in.start, len);
	if (up_buf_room(&c->out, c->req.room) == -1) {
		c->req.len = 0;		/* not begun: still pending */
		conn_starve(l, c, errno);
		return;
	}
	up_memory_back(&l->memory, l->s->addr);
	if (c->req.status != 200) {	/* refused: no work */
		up_log_received(c->peer, l->who, len, 0, 0);
		reply_start(l, c);
		return;
	}
	if (conn_watch(l, c, 0) == -1)
		return;
	/*
	 * --counter mutex: a lock that never blocks the loop. A request
	 * that finds it taken waits in line, and its work begins when the
	 * lock is handed to it (work_done). With -w the line runs across
	 * every loop (lib/pool/loops.c), in ticket order.
	 */
	if (l->o->counter == UP_COUNTER_MUTEX &&
	    !up_loops_acquire(l->g, l->index, &l->lockq, &c->timer)) {
		c->state = LOCKWAIT;
		return;
	}
	work_start(l, c);
}

/* c's work begins: it reads the counter and logs "received". */
static void
work_begin(struct loop *l, struct conn *c)
{
	c->seen = atomic_load_explicit(&l->s->shared->count,
	    memory_order_relaxed);
	up_log_received(c->peer, l->who, c->req.len,
	    l->o->counter != UP_COUNTER_OFF, c->seen);
}

/*
 * Puts c on the timer queue. A waited delay begins now and is a
 * deadline; with --cpu the deadline is now, and work_done begins the
 * work and computes the delay when the timer fires.
 */
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
 * c's work is over: finishes the counter's read-work-write section (and
 * hands the lock on in mutex mode), then replies. With --cpu the delay
 * is computed here, in the loop itself: nothing else runs meanwhile, no
 * accept, no read, no reply for anyone. One thread that computes serves
 * one client at a time, whatever the cores.
 */
static void
work_done(struct loop *l, struct conn *c)
{
	atomic_long *count = &l->s->shared->count;
	struct conn *next;

	if (l->o->cpu) {
		work_begin(l, c);
		up_compute_ns(l->o->delay_ns);
	}
	switch (l->o->counter) {
	case UP_COUNTER_UNSAFE:
	case UP_COUNTER_MUTEX:
		/* Whatever others wrote since c read it is overwritten. */
		c->count = c->seen + 1;
		atomic_store_explicit(count, c->count, memory_order_relaxed);
		if (l->o->counter == UP_COUNTER_MUTEX && (next = conn_of(
		    up_loops_release(l->g, l->index, &l->lockq))) != NULL)
			work_start(l, next);	/* the next in line, here */
		break;
	case UP_COUNTER_ATOMIC:
		c->count = atomic_fetch_add(count, 1) + 1;
		break;
	default:
		c->count = 0;
		break;
	}
	reply_start(l, c);
}

/*
 * Moves c on when it owes no reply: starts the next request in its
 * buffer, or closes it after its end of stream, or reads, or waits for
 * its socket to be readable. It reads only when try_read says the socket
 * is likely readable, or when stopping (then what has arrived is served,
 * and no more): one read a turn.
 */
static void
conn_advance(struct loop *l, struct conn *c, int try_read)
{
	size_t len;
	ssize_t n;

	up_memory_leave(&l->memory, &c->mem);	/* it may starve again */
	for (;;) {
		if (c->in.end > c->in.start) {
			len = l->p->frame(c->in.buf + c->in.start,
			    c->in.end - c->in.start, l->p->max_line, c->in.eof);
			if (len > 0) {
				start_request(l, c, len);
				return;
			}
		} else if (c->in.eof) {
			conn_close(l, c, NULL);
			return;
		}
		if (!try_read && !l->stopping) {
			wait_input(l, c);
			return;
		}
		if ((n = up_reader_fill(&c->in, c->fd, l->p->max_line)) >= 0) {
			up_memory_back(&l->memory, l->s->addr);
			try_read = 0;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (l->stopping)
				conn_close(l, c, "stop");
			else
				wait_input(l, c);
			return;
		} else if (up_shortage_error(errno)) {
			conn_starve(l, c, errno);
			return;
		} else if (errno != EINTR) {
			conn_fail(l, c, errno == ENOMEM ? "malloc" : "read",
			    errno);
			return;
		}
	}
}

/*
 * Accepts what is waiting, at most ACCEPT_BATCH so that the connections
 * already served are not kept waiting by a flood of new ones; with -w,
 * one a turn (nginx's multi_accept off), so that a loop serves what it
 * took before it takes more, and a free loop takes the next. Out of
 * descriptors or memory, accepting pauses: the listening socket stays
 * readable, and watching it would spin.
 */
static void
accept_ready(struct loop *l)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct conn *c;
	int fd, i, on = 1, batch = l->o->workers > 1 ? 1 : ACCEPT_BATCH;

	for (i = 0; i < batch; i++) {
		switch (up_slots_reserve(&l->conns, l->ev, sizeof(*c))) {
		case -1:
			l->accept_pause = up_memory_failed(&l->memory,
			    l->s->addr, errno, l->now);
			return;
		case 1:
			up_memory_back(&l->memory, l->s->addr);
		}
		/* -c across the loops, and each loop its share */
		if (!up_loops_reserve(l->g, l->index))
			return;
		len = sizeof(ss);
		fd = up_accept_fd(l->s->lfd, (struct sockaddr *)&ss, &len, 1);
		if (fd == -1 || (c = up_slots_take(&l->conns, fd)) == NULL) {
			up_loops_unreserve(l->g, l->index);
			if (fd == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK))
				return;
			if (fd == -1 && up_accept_transient(errno))
				continue;
			/* EMFILE, ENFILE, ENOBUFS...: wait for a close */
			up_log_error(l->s->addr, l->who, fd == -1 ? "accept" :
			    "malloc", errno);
			if (fd != -1)
				close(fd);
			l->accept_pause = l->now + ACCEPT_PAUSE_NS;
			return;
		}
		c->fd = fd;
		up_format_addr((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
		/* pipelined replies go out back to back, not held by Nagle */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		up_log("accepted", c->peer, l->who != NULL ? "%s" : NULL,
		    l->who);
		/* A client often sends its request right after connecting. */
		conn_advance(l, c, 1);
	}
}

/*
 * Every connection in state, moved on as after a read: those that wait
 * for memory once it may be back, those waiting for a request at a stop.
 */
static void
advance_all(struct loop *l, enum conn_state state, int starved)
{
	struct conn *c;
	size_t fd;

	for (fd = 0; fd < l->conns.cap; fd++)
		if ((c = up_slots_at(&l->conns, (int)fd)) != NULL &&
		    c->state == state && (!starved || c->mem.waiting))
			conn_advance(l, c, 1);
}

/*
 * SIGINT or SIGTERM: stops accepting, and ends the connections that
 * wait for a request, once what they have sent already is served. The
 * others finish the requests in flight and are closed after them.
 */
static void
begin_stop(struct loop *l, int parent_stop)
{
	l->stopping = 1;
	up_ev_set(l->ev, l->s->lfd, 0);
	close(l->s->lfd);
	l->s->lfd = -1;
	up_ev_set(l->ev, up_stop_fd(), 0);	/* readable for good now */
	if (parent_stop != -1)
		up_ev_set(l->ev, parent_stop, 0);
	advance_all(l, READING, 0);
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
		conn_close(l, c, NULL);
}

/*
 * The timers and queues, after the engine's wait: the work that is
 * over, the connections left whole requests last turn (those that queue
 * again now wait for the next turn), and the idle and lingering ones
 * whose time is up. The clock is read again before giving up on the
 * work, so that work started here is done in this pass too.
 */
static void
run_queues(struct loop *l)
{
	struct up_timer *t, *last = l->ready.tail;
	int64_t now = up_now_ns();
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
	while ((t = up_timeq_due(&l->idle, l->now)) != NULL)
		conn_close(l, conn_of(t), "idle");
	while ((t = up_timeq_due(&l->lingering, l->now)) != NULL)
		conn_close(l, conn_of(t), NULL);
}

/*
 * How long the engine may wait: not at all with connections queued,
 * else until the first deadline of any queue, of an accept pause or of
 * a retry for memory; for ever when none is due.
 */
static int
next_timeout(struct loop *l)
{
	int64_t next = up_timeq_next(&l->working);

	if (l->ready.head != NULL)
		return 0;
	if (up_timeq_next(&l->idle) < next)
		next = up_timeq_next(&l->idle);
	if (up_timeq_next(&l->lingering) < next)
		next = up_timeq_next(&l->lingering);
	if (l->accept_pause != 0 && l->accept_pause < next)
		next = l->accept_pause;
	if (l->memory.retry_at != 0 && l->memory.retry_at < next)
		next = l->memory.retry_at;
	return up_ev_timeout(next, up_now_ns());
}

/*
 * The event loop: loop index of those g shares, tagged who in the log
 * (NULL for the only one). Returns 0 once stopped with every connection
 * closed, or 1 when the engine itself fails.
 */
static int
run(struct up_server *s, struct up_loops *g, long index, const char *who)
{
	struct loop l = { .s = s, .o = &s->opt, .p = &s->proto, .g = g,
	    .index = index, .who = who };
	struct up_ev_fired *fired;
	struct conn *c;
	int i, n, accepting, stop_seen = 0, stop = up_stop_fd(),
	    parent_stop = up_parent_stop_fd(), wake = up_loops_enter(g, index);

	l.batch = !s->opt.http && s->opt.delay_ns == 0 &&
	    s->opt.counter == UP_COUNTER_OFF;
	l.memory.sh.who = who;
	if ((l.ev = up_ev_new(s->opt.backend)) == NULL ||
	    up_ev_set(l.ev, stop, UP_EV_READ) == -1 ||
	    up_ev_set(l.ev, wake, UP_EV_READ) == -1 || (parent_stop != -1 &&
	    up_ev_set(l.ev, parent_stop, UP_EV_READ) == -1)) {
		warn("%s", s->opt.backend);
		return 1;
	}
	l.now = up_now_ns();

	while (!l.stopping || l.conns.count > 0) {
		/* a pause for descriptors or memory over: try the memory */
		if (l.accept_pause != 0 && l.now >= l.accept_pause) {
			l.accept_pause = 0;
			if (l.memory.sh.active && up_slots_reserve(&l.conns,
			    l.ev, sizeof(*c)) == -1)
				l.accept_pause = up_memory_failed(&l.memory,
				    s->addr, errno, l.now);
		}
		/* listen with room for one more, here and across the loops */
		if (!l.stopping)
			up_ev_set(l.ev, s->lfd, l.accept_pause == 0 &&
			    l.conns.count < (size_t)s->opt.max_conns &&
			    up_loops_may_accept(g, index) ? UP_EV_READ : 0);

		n = up_ev_wait(l.ev, next_timeout(&l), &fired);
		l.now = up_now_ns();
		if (n == -1 && errno != EINTR) {
			warn("%s", s->opt.backend);
			return 1;
		}
		/*
		 * The listener is handled after the connections: a socket
		 * closed in this batch keeps its number until then, so a
		 * late event for it cannot reach a new connection.
		 */
		accepting = 0;
		for (i = 0; i < n; i++) {
			if (fired[i].fd == parent_stop)
				stop_seen = 1;
			else if (fired[i].fd == wake) {
				/* another loop woke us: the lock, or -c */
				up_loops_drain(g, index);
				if ((c = conn_of(up_loops_handed(g, index,
				    &l.lockq))) != NULL)
					work_start(&l, c);
			} else if (fired[i].fd == s->lfd)
				accepting = 1;
			else if ((c = up_slots_at(&l.conns, fired[i].fd)))
				conn_event(&l, c, fired[i].events);
		}
		if (!l.stopping && (up_stopping() || stop_seen))
			begin_stop(&l, parent_stop);
		if (!l.stopping && accepting)
			accept_ready(&l);
		if (l.memory.retry_at != 0 && l.now >= l.memory.retry_at) {
			l.memory.retry_at = 0;
			advance_all(&l, READING, 1);
		}
		run_queues(&l);
	}
	up_slots_free(&l.conns);
	up_ev_free(l.ev);
	return 0;
}

/* The parent of -w: a loop died, and its share goes to the others. */
static void
loop_died(long index, void *g)
{
	up_loops_died(g, index);
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
	struct up_loops *g;
	char who[32];
	long index;

	if (up_server_start(&s, &poll_model, argc, argv) == -1) {
		fputs(s.msg, s.exit == 0 ? stdout : stderr);
		return s.exit;
	}
	if ((g = up_loops_new(s.opt.workers > 0 ? s.opt.workers : 1,
	    s.opt.max_conns)) == NULL)
		err(1, "shared memory");

	if (s.opt.workers == 0)
		return run(&s, g, 0, NULL) != 0 ? 1 : up_server_stop(&s);
	switch (up_pool_run(s.addr, s.opt.workers, loop_died, g, &index)) {
	case 1:
		snprintf(who, sizeof(who), "pid=%ld", (long)getpid());
		_exit(run(&s, g, index, who));
	case 0:
		return up_server_stop(&s);
	default:
		err(1, "pool");
	}
}
