/*
 * upserver-poll: the event-loop server.
 *
 * One process, one thread, one event loop over every socket, and nothing
 * that ever blocks: this is what asyncio is to the Python tutorials,
 * without the coroutines. The sockets are non-blocking, and the simulated
 * work is not a sleep but a deadline on a timer queue, so while a request
 * "works" the loop goes on reading, answering and accepting for everyone
 * else. How the loop asks which sockets are ready is the event engine's
 * business (lib/ev.c, and one file per mechanism: --backend select, poll,
 * epoll or kqueue); this file is the connection's state machine, which
 * the loop moves on when a socket is ready or a timer fires:
 *
 *	accept -> READING --a whole request is buffered--> WORKING
 *	            ^                                         | its delay
 *	            |                                         v is over
 *	            +-------------- reply sent ------------ WRITING
 *
 * (--counter mutex puts LOCKWAIT before WORKING; with --http, a request
 * that is refused skips WORKING, and a connection that ends after its
 * answer goes through LINGER; a connection with more whole requests
 * buffered after a reply waits its next turn in QUEUED.) After the
 * client's end of stream a connection drains: the requests it left in
 * its buffer are answered, without reading any more, and then it closes.
 *
 * What to notice:
 *  - Four clients with a one-second delay are all answered after about
 *    one second, as with fork or threads, but a connection costs a few
 *    hundred bytes here, not a process or a thread with its stack.
 *  - Nothing may block, ever. One handler that sleeps, reads a blocking
 *    socket or computes for long stalls every connection, because there
 *    is nobody else to run them: the delay has to be a timer.
 *  - A race needs no threads: with --counter unsafe a request reads the
 *    counter when it starts and writes it back after its delay, and other
 *    requests run in between. Every wait is a point where others run.
 *  - Backpressure: while a connection's request is worked on or its reply
 *    is unsent, the loop does not read from it, so a client that sends
 *    without reading fills the kernel's buffers, not the server's memory.
 *    The same when memory runs out: a connection whose buffer cannot be
 *    allocated or grown is not read until a later turn of the loop finds
 *    memory again, and a connection is accepted only once the memory to
 *    hold it is there. Nothing is lost; only the idle timeout closes a
 *    connection that waits for memory too long.
 *  - Pipelining: with -d 0 (and lines, no counter) every whole request
 *    that one read brought is answered in that turn, the replies made in
 *    place end to end and sent with one send(2). One read per connection
 *    per turn is the bound that keeps a streaming client from starving
 *    the others.
 *  - One loop uses one core. With -w N, N loops run this same code, each
 *    in a process of its own under lib/pool.c's supervision, and share
 *    the listening socket; lib/loops.c keeps what they must share: who
 *    may accept next, -c in all, and the lock of --counter mutex.
 *
 * Memory per connection, whatever the client does: a struct conn and a
 * pointer (about 320 bytes), what the backend keeps per descriptor, and a
 * request buffer only once bytes arrive: 1 KiB, doubled while
 * a long request is put together or reads keep filling it, never beyond
 * --max-line. A buffer that grew is freed once it is empty and the client
 * paused. Replies are made in place, so there is no second buffer, except
 * with --http: a response buffer of UP_HTTP_HEAD_MAX bytes plus the
 * request target. 10 000 connections that have sent nothing cost about
 * 3 MB, 10 000 between requests about 14 MB, plus the kernel's buffers.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "up.h"

#define DEFAULT_MAX_CONNS	16384	/* -c: or what the fd limit allows */
#define ACCEPT_BATCH		1024	/* accepts per wakeup, then serve */
#define ACCEPT_PAUSE_NS		(100 * 1000000LL) /* out of descriptors */
#define MALLOC_RETRY_NS		(20 * 1000000LL) /* out of memory */
#define LINGER_NS		UP_NS_PER_SEC	/* --http: see linger_start */
#define LINGER_MAX		(1024 * 1024)

enum conn_state {
	READING,	/* no whole request buffered: watched for reading */
	QUEUED,		/* whole requests buffered: served next turn */
	LOCKWAIT,	/* --counter mutex: queued for the lock; not watched */
	WORKING,	/* its delay runs on the timer queue; not watched */
	WRITING,	/* the reply did not all fit: watched for writing */
	LINGER		/* --http: answered, closing; discards input */
};

struct conn;

/*
 * A list of connections in deadline order. A connection is on one list
 * at most, whatever its state: the timer queue, the lock queue, the
 * ready queue, the idle or the linger list. Every connection on a list
 * waits the same time (the delay, the idle timeout, the linger time), so
 * appending at the tail keeps it sorted, and the next deadline is always
 * at the head: O(1) at both ends, where a heap or a timer wheel would be
 * for deadlines that differ.
 */
struct clist {
	struct conn	*head, *tail;
};

struct conn {
	int		 fd;
	enum conn_state	 state;
	struct up_reader in;		/* what the client sent */
	size_t		 reqlen;	/* the request at buf[start] served */
	const char	*reply;		/* its reply: in place, or in out */
	size_t		 replylen;
	size_t		 sent;		/* how much of the reply is sent */
	size_t		 body;		/* what "responded bytes=" says */
	unsigned long	 nreq;		/* requests the reply answers */
	char		*out;		/* --http: the response, or NULL */
	size_t		 outcap;
	struct up_http_request http;	/* --http: the request parsed */
	int64_t		 deadline;	/* on a list: when its wait ends */
	size_t		 drained;	/* LINGER: bytes discarded */
	long		 seen;		/* the counter read at the start */
	unsigned long	 ticket;	/* LOCKWAIT: its place in line */
	long		 count;		/* the counter after this request */
	unsigned long	 served;	/* requests answered */
	int		 starved;	/* waits for memory to read more */
	int64_t		 starved_in;	/* the shortage it waited in (since) */
	struct clist	*list;		/* the list it is on, or NULL */
	struct conn	*lprev, *lnext;
	char		 peer[UP_PEER_MAX];
};

struct loop {
	struct up_server *s;
	const struct up_options *o;
	up_frame_func	 frame;		/* lines, reads or HTTP heads */
	int		 batch;		/* answer buffered requests together */
	struct up_ev	*ev;		/* the event engine */
	struct conn	**conn;		/* by descriptor */
	size_t		 conncap;
	size_t		 nconns;
	struct clist	 timers;	/* WORKING */
	struct clist	 lockq;		/* LOCKWAIT, by ticket */
	struct clist	 ready;		/* QUEUED, for the next turn */
	struct clist	 idle;		/* READING, WRITING: by progress */
	struct clist	 linger;	/* LINGER: by start */
	int64_t		 now;		/* monotonic, after each wait */
	int64_t		 accept_pause;	/* no accepting until then, or 0 */
	struct conn	*spare;		/* the next accepted connection's */
	struct up_shortage memory;	/* malloc failing, as logged */
	size_t		 nstarved;	/* connections waiting for memory */
	int64_t		 retry_at;	/* when to try malloc again, or 0 */
	int		 stopping;
	struct up_loops	*g;		/* what the loops share (-w) */
	long		 index;		/* this loop's place among them */
	const char	*who;		/* "pid=N" with -w, else NULL */
	int		 wake;		/* readable: another loop woke us */
	int		 parent_stop;	/* -w: the parent's stop, or -1 */
};

static void	conn_advance(struct loop *, struct conn *, int);

/* Takes c off its deadline list, if it is on one. */
static void
list_remove(struct conn *c)
{
	struct clist *q = c->list;

	if (q == NULL)
		return;
	if (c->lprev != NULL)
		c->lprev->lnext = c->lnext;
	else
		q->head = c->lnext;
	if (c->lnext != NULL)
		c->lnext->lprev = c->lprev;
	else
		q->tail = c->lprev;
	c->lprev = c->lnext = NULL;
	c->list = NULL;
}

/* Moves c to the tail of q, with a deadline (0 for none). */
static void
list_append(struct clist *q, struct conn *c, int64_t deadline)
{
	list_remove(c);
	c->deadline = deadline;
	c->lprev = q->tail;
	c->lnext = NULL;
	if (q->tail != NULL)
		q->tail->lnext = c;
	else
		q->head = c;
	q->tail = c;
	c->list = q;
}

/* Restarts c's idle clock: c waits for its client from now on. */
static void
idle_touch(struct loop *l, struct conn *c)
{
	if (l->o->timeout_ns != 0)
		list_append(&l->idle, c, l->now + l->o->timeout_ns);
}

/*
 * Closes c and logs it; reason is NULL for a normal end. c must not be
 * working or waiting for the lock. The engine forgets the socket first.
 */
static void
conn_close(struct loop *l, struct conn *c, const char *reason)
{
	list_remove(c);
	up_ev_set(l->ev, c->fd, 0);
	l->conn[c->fd] = NULL;
	l->nconns--;
	if (c->starved)
		l->nstarved--;
	close(c->fd);
	/* a line begun and never ended (not the request in flight) is lost */
	up_log_closed(c->peer, l->who, c->served, reason, reason != NULL ?
	    c->in.end - c->in.start - c->reqlen : 0);
	/* only now may another loop take its place: the log keeps to -c */
	up_loops_unreserve(l->g, l->index);
	up_reader_free(&c->in);
	free(c->out);
	free(c);
}

/* Logs a failed operation on c and closes it. */
static void
conn_fail(struct loop *l, struct conn *c, const char *op, int err)
{
	up_log_error(c->peer, l->who, op, err);
	conn_close(l, c, "error");
}

/*
 * Makes the engine watch c's socket for mask (UP_EV_*, 0 for nothing).
 * Returns 0, or -1 once c is closed for the engine's error.
 */
static int
conn_watch(struct loop *l, struct conn *c, int mask)
{
	if (up_ev_set(l->ev, c->fd, mask) == 0)
		return 0;
	conn_fail(l, c, "watch", errno);
	return -1;
}

/* c's work begins: reads the counter as it stands and logs "received". */
static void
work_begin(struct loop *l, struct conn *c)
{
	c->seen = atomic_load_explicit(&l->s->shared->count,
	    memory_order_relaxed);
	up_log_received(c->peer, l->who, c->reqlen,
	    l->o->counter != UP_COUNTER_OFF, c->seen);
}

/*
 * Puts c on the timer queue. A waited delay begins now and is a deadline;
 * with --cpu the deadline is now, and work_done computes the delay when
 * the timer fires.
 */
static void
timer_start(struct loop *l, struct conn *c)
{
	c->state = WORKING;
	if (!l->o->cpu)
		work_begin(l, c);
	list_append(&l->timers, c, up_now_ns() +
	    (l->o->cpu ? 0 : l->o->delay_ns));
}

/*
 * An allocation succeeded: the memory shortage, if one is on, is over
 * once no connection waits for memory any more.
 */
static void
memory_back(struct loop *l)
{
	if (l->memory.active && l->nstarved == 0)
		up_shortage_over(&l->memory, l->s->addr);
}

/*
 * No memory for c's buffer: c is not read (backpressure) until
 * retry_starved() finds memory, on a later turn of the loop. Its idle
 * clock runs on from its last progress, so -t still closes it if memory
 * never comes back. At a stop it is closed at once.
 */
static void
conn_starve(struct loop *l, struct conn *c, int err)
{
	if (l->stopping) {
		conn_close(l, c, "stop");
		return;
	}
	up_shortage_failed(&l->memory, l->s->addr, "malloc", err,
	    !l->memory.active || c->starved_in != l->memory.since);
	c->starved_in = l->memory.since;
	if (!c->starved) {
		c->starved = 1;
		l->nstarved++;
	}
	c->state = READING;
	if (conn_watch(l, c, 0) == -1)
		return;
	if (c->list == NULL)
		idle_touch(l, c);
	if (l->retry_at == 0)
		l->retry_at = l->now + MALLOC_RETRY_NS;
}

/* Makes c wait for its client's next bytes, giving back grown buffers. */
static void
wait_input(struct loop *l, struct conn *c)
{
	up_reader_shrink(&c->in);
	if (c->outcap > UP_HTTP_HEAD_MAX + UP_FIRST_BUF) {
		free(c->out);
		c->out = NULL;
		c->outcap = 0;
	}
	c->state = READING;
	if (conn_watch(l, c, UP_EV_READ) == 0)
		idle_touch(l, c);
}

/*
 * --http, after a response that closes the connection: stops sending,
 * then reads and throws away what the client still sends, until it
 * closes too, LINGER_MAX bytes or LINGER_NS. Closing with unread input
 * would make the kernel reset the connection, which can destroy the
 * response still on its way (the blocking models do the same).
 */
static void
linger_start(struct loop *l, struct conn *c)
{
	if (shutdown(c->fd, SHUT_WR) == -1) {
		conn_close(l, c, NULL);
		return;
	}
	c->state = LINGER;
	c->drained = 0;
	if (conn_watch(l, c, UP_EV_READ) == 0)
		list_append(&l->linger, c, l->now + LINGER_NS);
}

/* Discards what a lingering connection sent; closes it once done. */
static void
linger_read(struct loop *l, struct conn *c)
{
	static char sink[16384];
	ssize_t n;

	while (c->drained < LINGER_MAX) {
		n = up_recv(c->fd, sink, sizeof(sink), 0);
		if (n > 0) {
			c->drained += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;		/* the client closed too, or reset */
	}
	conn_close(l, c, NULL);
}

/* Logs one reply of bytes as sent. */
static void
log_responded(struct loop *l, struct conn *c, size_t bytes)
{
	up_log_responded(c->peer, l->o, bytes, l->o->http ? c->http.status :
	    200, c->count, l->who);
}

/*
 * c's reply is all sent: logs it, one line per request it answers (a
 * batch is cut again where its requests were: uppercasing moved no
 * newline), and goes on to the next request. A connection with more
 * whole requests buffered waits for the next turn, so that it cannot
 * keep the loop to itself.
 */
static void
reply_done(struct loop *l, struct conn *c)
{
	size_t len, stop = c->in.start + c->replylen;

	if (c->nreq == 1) {
		log_responded(l, c, c->body);
		c->in.start += c->reqlen;
	} else {
		while (c->in.start < stop) {
			len = l->frame(c->in.buf + c->in.start, stop - c->in.start,
			    l->o->max_line, 1);
			log_responded(l, c, len);
			c->in.start += len;
		}
	}
	c->served += c->nreq;
	/* Only requests served count: not an HTTP request refused. */
	if (!l->o->http || c->http.status == 200)
		atomic_fetch_add(&l->s->shared->requests, c->nreq);
	c->reqlen = c->nreq = 0;
	list_remove(c);
	if (l->o->http && !c->http.keep_alive) {
		linger_start(l, c);
		return;
	}
	if (c->in.eof || l->stopping || (c->in.end > c->in.start &&
	    l->frame(c->in.buf + c->in.start, c->in.end - c->in.start, l->o->max_line,
	    0) > 0)) {
		c->state = QUEUED;
		list_append(&l->ready, c, 0);
		return;
	}
	wait_input(l, c);
}

/*
 * Sends what is left of c's reply with one send(2), from where the last
 * one stopped. What does not fit waits for the socket to be writable, and
 * a client that reads nothing for the idle timeout is dropped like a
 * silent one.
 */
static void
conn_send(struct loop *l, struct conn *c)
{
	ssize_t n;

	do
		n = up_send(c->fd, c->reply + c->sent, c->replylen - c->sent,
		    MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		conn_fail(l, c, "write", errno);
		return;
	}
	if (n > 0)
		c->sent += (size_t)n;
	if (c->sent == c->replylen) {
		reply_done(l, c);
		return;
	}
	if (c->state != WRITING || n > 0)
		idle_touch(l, c);
	c->state = WRITING;
	conn_watch(l, c, UP_EV_WRITE);
}

/*
 * Makes c's reply to the request at the front of its buffer and sends
 * it: the request uppercased in place, or with --http the response to
 * the parsed request in c->out.
 */
static void
reply_start(struct loop *l, struct conn *c)
{
	c->sent = 0;
	c->nreq = 1;
	if (!l->o->http) {
		up_uppercase(c->in.buf + c->in.start, c->reqlen);
		c->reply = c->in.buf + c->in.start;
		c->replylen = c->body = c->reqlen;
		conn_send(l, c);
		return;
	}
	/* response_room made room for it before the work began */
	c->replylen = up_http_response(&c->http, c->out, c->outcap, &c->body);
	c->reply = c->out;
	conn_send(l, c);
}

/*
 * With no work to wait for: answers the request at the front of c's
 * buffer and every whole one behind it, uppercased in place, so that
 * the replies lie end to end and leave in one send(2).
 */
static void
reply_batch(struct loop *l, struct conn *c)
{
	size_t pos = c->in.start, len = c->reqlen;

	c->nreq = 0;
	do {
		up_log_received(c->peer, l->who, len, 0, 0);
		up_uppercase(c->in.buf + pos, len);
		pos += len;
		c->nreq++;
	} while (pos < c->in.end && (len = l->frame(c->in.buf + pos, c->in.end - pos,
	    l->o->max_line, c->in.eof)) > 0);
	c->reply = c->in.buf + c->in.start;
	c->body = c->reqlen;		/* what one request alone says */
	c->replylen = c->reqlen = pos - c->in.start;
	c->sent = 0;
	conn_send(l, c);
}

static void	work_done(struct loop *, struct conn *);

/*
 * --http: makes room in c->out for the response to the request just
 * parsed, before its work begins, so that memory that runs short costs
 * the request a wait (conn_starve, then the same request again), never
 * the connection. Returns 0, or -1 when c waits for memory.
 */
static int
response_room(struct loop *l, struct conn *c)
{
	size_t need = UP_HTTP_HEAD_MAX + c->http.target_len + 1;
	char *p;

	if (c->outcap >= need)
		return 0;
	if ((p = realloc(c->out, need)) == NULL) {
		c->reqlen = 0;		/* not begun: still pending */
		conn_starve(l, c, errno);
		return -1;
	}
	c->out = p;
	c->outcap = need;
	memory_back(l);
	return 0;
}

/*
 * --counter mutex: once the lock has been handed to this loop, its
 * first waiter takes it and its work begins. (Should nobody wait here
 * any more, the lock is handed on at once rather than held by no one.)
 */
static void
lock_granted(struct loop *l)
{
	struct conn *c = l->lockq.head;

	if (!up_loops_granted(l->g, l->index,
	    c != NULL && c->lnext != NULL ? c->lnext->ticket : 0))
		return;
	if (c == NULL) {
		up_loops_unlock(l->g, l->index);
		return;
	}
	list_remove(c);
	timer_start(l, c);
}

/*
 * Starts work on the request of len bytes at the front of c's buffer.
 * While its delay runs the socket is not watched: that is the
 * backpressure, and a client that resets now is found out when its reply
 * is sent. With no delay the request is answered at once.
 */
static void
start_request(struct loop *l, struct conn *c, size_t len)
{
	int now = l->o->delay_ns == 0 && !l->o->cpu;	/* no work to wait */

	c->reqlen = len;
	list_remove(c);
	if (l->batch) {
		reply_batch(l, c);
		return;
	}
	if (l->o->http) {
		up_http_parse(c->in.buf + c->in.start, len, l->o->max_line,
		    &c->http);
		if (response_room(l, c) == -1)
			return;
		if (c->http.status != 200) {
			/* refused: no work */
			up_log_received(c->peer, l->who, len, 0, 0);
			reply_start(l, c);
			return;
		}
	}
	if (!now && conn_watch(l, c, 0) == -1)
		return;
	/*
	 * --counter mutex: an asynchronous lock. A request that finds it
	 * taken waits in line, without blocking the loop, and its work
	 * begins only when the lock is handed to it (see work_done). With
	 * -w the line runs across every loop (lib/loops.c), in ticket order.
	 */
	if (l->o->counter == UP_COUNTER_MUTEX &&
	    (c->ticket = up_loops_lock(l->g, l->index)) != 0) {
		c->state = LOCKWAIT;
		list_append(&l->lockq, c, 0);
		return;
	}
	if (now) {
		work_begin(l, c);
		work_done(l, c);
	} else
		timer_start(l, c);
}

/*
 * Moves c on when it owes no reply: starts the next request in its
 * buffer, or closes it after its end of stream, or reads for more, or
 * waits for its socket to be readable. It reads first only when try_read
 * is set (the socket is known or likely to be readable) or when stopping,
 * since then there is no waiting: what has arrived is served, no more.
 */
static void
conn_advance(struct loop *l, struct conn *c, int try_read)
{
	size_t len;
	ssize_t n;

	if (c->starved) {	/* it may read again; it may starve again */
		c->starved = 0;
		l->nstarved--;
	}
	for (;;) {
		if (c->in.end > c->in.start) {
			len = l->frame(c->in.buf + c->in.start, c->in.end - c->in.start,
			    l->o->max_line, c->in.eof);
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
		n = up_reader_fill(&c->in, c->fd, l->o->max_line);
		if (n >= 0) {
			memory_back(l);
			try_read = 0;	/* one read a turn */
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (l->stopping)
				conn_close(l, c, "stop");
			else
				wait_input(l, c);
			return;
		}
		if (up_shortage_error(errno)) {
			conn_starve(l, c, errno);
			return;
		}
		conn_fail(l, c, errno == ENOMEM ? "malloc" : "read", errno);
		return;
	}
}

/*
 * c's work is over: finishes the counter's read-work-write section (and
 * hands the lock on in mutex mode), then makes and sends the reply.
 * With --cpu the work begins and the delay is computed here, in the loop
 * itself: nothing else runs meanwhile, no accept, no read, no reply for
 * anyone. One thread that computes serves one client at a time, whatever
 * the cores.
 */
static void
work_done(struct loop *l, struct conn *c)
{
	struct up_shared *sh = l->s->shared;

	if (l->o->cpu) {
		work_begin(l, c);
		up_compute_ns(l->o->delay_ns);
	}
	switch (l->o->counter) {
	case UP_COUNTER_UNSAFE:
	case UP_COUNTER_MUTEX:
		/* Whatever others wrote since c read it is overwritten. */
		c->count = c->seen + 1;
		atomic_store_explicit(&sh->count, c->count,
		    memory_order_relaxed);
		if (l->o->counter == UP_COUNTER_MUTEX &&
		    up_loops_unlock(l->g, l->index))
			lock_granted(l);
		break;
	case UP_COUNTER_ATOMIC:
		c->count = atomic_fetch_add(&sh->count, 1) + 1;
		break;
	default:
		c->count = 0;
		break;
	}
	reply_start(l, c);
}

/*
 * Fires every timer that is due. The clock is read again before giving
 * up, so that work started here is done in this pass too.
 */
static void
run_timers(struct loop *l)
{
	int64_t now = up_now_ns();
	struct conn *c;

	while ((c = l->timers.head) != NULL) {
		if (c->deadline > now && c->deadline > (now = up_now_ns()))
			break;
		list_remove(c);
		work_done(l, c);
	}
}

/*
 * Serves the connections that were left whole requests in their buffers
 * last turn; those that queue again now wait for the next one.
 */
static void
run_ready(struct loop *l)
{
	struct conn *c, *last = l->ready.tail;
	int end = 0;

	while (!end && (c = l->ready.head) != NULL) {
		end = c == last;
		list_remove(c);
		conn_advance(l, c, 0);
	}
}

/*
 * Closes every connection whose client has made no progress for -t, and
 * every lingering one whose time is up.
 */
static void
expire(struct loop *l)
{
	struct conn *c;

	while ((c = l->idle.head) != NULL && c->deadline <= l->now)
		conn_close(l, c, "idle");
	while ((c = l->linger.head) != NULL && c->deadline <= l->now)
		conn_close(l, c, NULL);
}

/* Makes the table of connections cover descriptor fd; 0 or -1. */
static int
cover_fd(struct loop *l, size_t fd)
{
	struct conn **p;
	size_t cap = l->conncap;

	if (fd < cap)
		return 0;
	while (cap <= fd)
		cap *= 2;
	if ((p = realloc(l->conn, cap * sizeof(*p))) == NULL)
		return -1;
	memset(p + l->conncap, 0, (cap - l->conncap) * sizeof(*p));
	l->conn = p;
	l->conncap = cap;
	return 0;
}

/*
 * The memory the next connection needs: a struct conn (l->spare), and a
 * table and an engine that cover its descriptor, which is at most the
 * number open (accept takes the lowest free one), well within the
 * connections and a margin. Returns 0, or -1 with errno: then accepting
 * waits, and the client in the backlog, rather than accept a connection
 * with no room.
 */
static int
reserve_conn(struct loop *l)
{
	size_t room = l->nconns + 4 * UP_RESERVED_FDS;

	if (cover_fd(l, room) == -1 || up_ev_reserve(l->ev, (int)room) == -1)
		return -1;
	if (l->spare == NULL) {
		if ((l->spare = calloc(1, sizeof(*l->spare))) == NULL)
			return -1;
		memory_back(l);
	}
	return 0;
}

/* A new connection on socket fd, in the memory reserved; NULL if none. */
static struct conn *
conn_new(struct loop *l, int fd, const struct sockaddr *sa)
{
	struct conn *c;
	int on = 1;

	if (cover_fd(l, (size_t)fd) == -1)	/* beyond the margin */
		return NULL;
	c = l->spare;
	l->spare = NULL;
	c->fd = fd;
	l->conn[fd] = c;
	l->nconns++;
	up_format_addr(sa, c->peer, sizeof(c->peer));
	/*
	 * Pipelined replies go out back to back; without this, Nagle's
	 * algorithm holds the second until the first is acknowledged.
	 */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return c;
}

/*
 * Accepts what is waiting, at most ACCEPT_BATCH so that the connections
 * already served are not kept waiting by a flood of new ones; with
 * several loops, one a turn (nginx's multi_accept off), so that a loop
 * serves what it took before it takes more, and a loop that is free
 * meanwhile takes the next: otherwise, with --cpu, one loop could take
 * every client waiting and compute their requests one after another
 * while another loop sits idle. Out of
 * descriptors (or memory), accepting pauses for ACCEPT_PAUSE_NS: the
 * listening socket stays readable, and watching it would spin.
 */
static void
accept_ready(struct loop *l)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct conn *c;
	int fd, i, batch = l->o->workers > 1 ? 1 : ACCEPT_BATCH;

	for (i = 0; i < batch; i++) {
		if (reserve_conn(l) == -1) {
			up_shortage_failed(&l->memory, l->s->addr, "malloc",
			    errno, 0);
			l->accept_pause = l->now + MALLOC_RETRY_NS;
			return;
		}
		/* -c across the loops, and each loop its share */
		if (!up_loops_reserve(l->g, l->index))
			return;
		len = sizeof(ss);
		fd = up_accept_fd(l->s->lfd, (struct sockaddr *)&ss, &len, 1);
		if (fd == -1) {
			up_loops_unreserve(l->g, l->index);
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (up_accept_transient(errno))
				continue;
			/* EMFILE, ENFILE, ENOBUFS...: wait for a close */
			up_log_error(l->s->addr, l->who, "accept", errno);
			l->accept_pause = l->now + ACCEPT_PAUSE_NS;
			return;
		}
		if ((c = conn_new(l, fd, (struct sockaddr *)&ss)) == NULL) {
			up_loops_unreserve(l->g, l->index);
			up_log_error(l->s->addr, l->who, "malloc", errno);
			close(fd);
			l->accept_pause = l->now + ACCEPT_PAUSE_NS;
			return;
		}
		if (l->who != NULL)
			up_log("accepted", c->peer, "%s", l->who);
		else
			up_log("accepted", c->peer, NULL);
		/* A client often sends its request right after connecting. */
		conn_advance(l, c, 1);
	}
}

/*
 * A later turn of the loop after a malloc failed: every connection that
 * waits for memory tries to read again (and may wait again, the retry
 * then backing off). The shortage is over once none waits.
 */
static void
retry_starved(struct loop *l)
{
	size_t fd;

	l->retry_at = 0;
	for (fd = 0; fd < l->conncap; fd++)
		if (l->conn[fd] != NULL && l->conn[fd]->starved)
			conn_advance(l, l->conn[fd], 1);
}

/*
 * The end of an accept pause. After a malloc failure the memory for the
 * next connection is tried for now, whether one waits or not, so that
 * the shortage is seen to end; if it fails again, the pause goes on.
 */
static void
accept_resume(struct loop *l)
{
	l->accept_pause = 0;
	if (l->memory.active && reserve_conn(l) == -1) {
		up_shortage_failed(&l->memory, l->s->addr, "malloc", errno, 0);
		l->accept_pause = l->now + MALLOC_RETRY_NS;
	}
}

/*
 * SIGINT or SIGTERM: stops accepting, and ends the connections that
 * wait for a request, once what they have sent already is served. The
 * others finish the requests in flight and are closed after them.
 */
static void
begin_stop(struct loop *l)
{
	size_t fd;

	l->stopping = 1;
	up_ev_set(l->ev, l->s->lfd, 0);
	close(l->s->lfd);
	l->s->lfd = -1;
	up_ev_set(l->ev, up_stop_fd(), 0);	/* readable for good now */
	if (l->parent_stop != -1)
		up_ev_set(l->ev, l->parent_stop, 0);
	for (fd = 0; fd < l->conncap; fd++)
		if (l->conn[fd] != NULL && l->conn[fd]->state == READING)
			conn_advance(l, l->conn[fd], 1);
}

/* Handles what the engine reported for c's socket. */
static void
conn_event(struct loop *l, struct conn *c, int events)
{
	/* A hangup or an error shows as the read's or the send's error. */
	switch (c->state) {
	case READING:
		if (events & UP_EV_READ)
			conn_advance(l, c, 1);
		break;
	case WRITING:
		if (events & UP_EV_WRITE)
			conn_send(l, c);
		break;
	case LINGER:
		if (events & UP_EV_READ)
			linger_read(l, c);
		break;
	default:	/* not watched, or QUEUED: served this turn anyway */
		break;
	}
}

/* The earlier of deadline a and b. */
static int64_t
earlier(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/*
 * Milliseconds the engine may wait: none with connections queued, else
 * until the next timer, idle or linger deadline or the end of an accept
 * pause, rounded up; -1 when nothing is due.
 */
static int
next_timeout(struct loop *l)
{
	int64_t next = INT64_MAX, now, ms;

	if (l->ready.head != NULL)
		return 0;
	if (l->timers.head != NULL)
		next = l->timers.head->deadline;
	if (l->idle.head != NULL)
		next = earlier(next, l->idle.head->deadline);
	if (l->linger.head != NULL)
		next = earlier(next, l->linger.head->deadline);
	if (l->accept_pause != 0)
		next = earlier(next, l->accept_pause);
	if (l->retry_at != 0)
		next = earlier(next, l->retry_at);
	if (next == INT64_MAX)
		return -1;
	now = up_now_ns();
	if (next <= now)
		return 0;
	ms = (next - now + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/*
 * The event loop: loop index of those g shares, tagged who in the log
 * (NULL for the only one). Returns 0 once stopped with every connection
 * closed, or 1 when the engine itself fails.
 */
static int
run(struct up_server *s, struct up_loops *g, long index, const char *who)
{
	struct loop l = { .s = s, .o = &s->opt, .g = g, .index = index,
	    .who = who, .parent_stop = up_parent_stop_fd() };
	struct up_ev_fired *fired;
	struct conn *c;
	int i, n, accepting, stop = up_stop_fd(), stop_seen = 0;

	l.frame = up_framer(&s->opt);
	l.batch = !s->opt.http && s->opt.delay_ns == 0 &&
	    s->opt.counter == UP_COUNTER_OFF;
	l.memory.who = who;
	l.wake = up_loops_enter(g, index);
	l.conncap = 64;
	if ((l.conn = calloc(l.conncap, sizeof(*l.conn))) == NULL ||
	    (l.ev = up_ev_new(s->opt.backend)) == NULL ||
	    up_ev_set(l.ev, stop, UP_EV_READ) == -1 ||
	    up_ev_set(l.ev, l.wake, UP_EV_READ) == -1 ||
	    (l.parent_stop != -1 &&
	    up_ev_set(l.ev, l.parent_stop, UP_EV_READ) == -1)) {
		fprintf(stderr, "upserver-poll: %s: %s\n", s->opt.backend,
		    strerror(errno));
		return 1;
	}
	l.now = up_now_ns();

	while (!l.stopping || l.nconns > 0) {
		/*
		 * Listen only with room for another connection, here and
		 * across the loops, and no more than the others serve.
		 */
		if (l.accept_pause != 0 && l.now >= l.accept_pause)
			accept_resume(&l);
		if (!l.stopping)
			up_ev_set(l.ev, s->lfd, l.accept_pause == 0 &&
			    l.nconns < (size_t)s->opt.max_conns &&
			    up_loops_may_accept(g, index) ? UP_EV_READ : 0);

		n = up_ev_wait(l.ev, next_timeout(&l), &fired);
		l.now = up_now_ns();
		if (n == -1 && errno != EINTR) {
			fprintf(stderr, "upserver-poll: %s: %s\n",
			    s->opt.backend, strerror(errno));
			return 1;
		}
		/*
		 * The listener is handled after the connections: a socket
		 * closed in this batch keeps its number until then, so a
		 * late event for it cannot reach a new connection.
		 */
		accepting = 0;
		for (i = 0; i < n; i++) {
			if (fired[i].fd == stop)
				continue;
			if (fired[i].fd == l.parent_stop) {
				stop_seen = 1;
				continue;
			}
			if (fired[i].fd == l.wake) {
				up_loops_drain(g, index);
				if (s->opt.counter == UP_COUNTER_MUTEX)
					lock_granted(&l);
				continue;
			}
			if (fired[i].fd == s->lfd) {
				accepting = 1;
				continue;
			}
			if ((size_t)fired[i].fd < l.conncap &&
			    (c = l.conn[fired[i].fd]) != NULL)
				conn_event(&l, c, fired[i].events);
		}
		if (!l.stopping && (up_stopping() || stop_seen))
			begin_stop(&l);
		if (!l.stopping && accepting)
			accept_ready(&l);
		if (l.retry_at != 0 && l.now >= l.retry_at)
			retry_starved(&l);
		run_timers(&l);
		run_ready(&l);
		expire(&l);
	}
	free(l.spare);
	up_ev_free(l.ev);
	free(l.conn);
	return 0;
}

/* The parent of -w: a loop died, and its share goes to the others. */
static void
loop_died(long index, void *g)
{
	up_loops_died(g, index);
}

int
main(int argc, char **argv)
{
	struct up_server s = {
		.opt.max_conns = up_fd_room(DEFAULT_MAX_CONNS)
	};
	struct up_loops *g;
	char msg[UP_MSG_MAX], who[32];
	long index;
	int status;

	/* With -w the loops are processes: the counters are MAP_SHARED. */
	status = up_server_start(&s, argc, argv, "poll", UP_EVENT_LOOP, 1,
	    msg, sizeof(msg));
	if (status >= 0) {
		fputs(msg, status == 0 ? stdout : stderr);
		return status;
	}
	if ((g = up_loops_new(s.opt.workers > 0 ? s.opt.workers : 1,
	    s.opt.max_conns)) == NULL)
		err(1, "shared memory");

	if (s.opt.workers == 0) {
		if (run(&s, g, 0, NULL) != 0)
			return 1;
		return up_server_stop(&s);
	}
	switch (up_pool_run(&s, s.opt.workers, loop_died, g, &index)) {
	case 1:
		snprintf(who, sizeof(who), "pid=%ld", (long)getpid());
		_exit(run(&s, g, index, who));
	case 0:
		return up_server_stop(&s);
	default:
		err(1, "pool");
	}
}
