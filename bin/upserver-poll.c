/*
 * upserver-poll: the event-loop server.
 *
 * One process, one thread, one poll(2) over every socket, and nothing
 * that ever blocks: this is what asyncio is to the Python tutorials,
 * without the coroutines. The sockets are non-blocking, and the simulated
 * work is not a sleep but a deadline on a timer queue, so while a request
 * "works" the loop goes on reading, answering and accepting for everyone
 * else. Each connection is a small state machine that the loop moves on
 * when poll(2) says its socket is ready or when its timer fires:
 *
 *	accept -> READING --a whole request is buffered--> WORKING
 *	            ^                                         | its delay
 *	            |                                         v is over
 *	            +-------------- reply sent ------------ WRITING
 *
 * (--counter mutex puts LOCKWAIT before WORKING.) After the client's end
 * of stream a connection drains: the requests it left in its buffer are
 * answered, without reading any more, and then it closes.
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
 *
 * Memory per connection, whatever the client does: a struct conn, a
 * pollfd and a pointer (about 240 bytes), and a request buffer only once
 * bytes arrive: FIRST_BUF bytes, doubled while a long request is put
 * together, never beyond --max-line (the loop reads only while no whole
 * request is buffered, and a request is at most --max-line bytes). A
 * buffer that grew is freed once it is empty again, and replies are made
 * in place, so there is no second buffer. 10 000 connections that have
 * sent nothing cost about 2.5 MB, 10 000 between requests about 13 MB,
 * plus the kernel's socket buffers.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "up.h"

#define DEFAULT_MAX_CONNS	16384	/* -c: or what the fd limit allows */
#define RESERVED_FDS		16	/* stdio, stop pipe, listener, slack */
#define ACCEPT_BATCH		1024	/* accepts per wakeup, then serve */
#define ACCEPT_PAUSE_NS		(100 * 1000000LL) /* out of descriptors */
#define FIRST_BUF		1024	/* a request buffer's first size */

/* The first slots of the pollfd array; connections follow. */
#define SLOT_STOP		0
#define SLOT_LISTEN		1
#define SLOT_FIRST_CONN		2

enum conn_state {
	READING,	/* no whole request buffered: POLLIN */
	LOCKWAIT,	/* --counter mutex: queued for the lock; not polled */
	WORKING,	/* its delay runs on the timer queue; not polled */
	WRITING		/* the reply did not all fit: POLLOUT */
};

struct conn {
	int		 fd;
	enum conn_state	 state;
	size_t		 slot;		/* its index in loop.pfd, loop.conn */
	char		*buf;		/* what the client sent, or NULL */
	size_t		 cap;		/* at most --max-line */
	size_t		 start, end;	/* unconsumed bytes: buf[start..end) */
	size_t		 reqlen;	/* the request at buf[start] served */
	size_t		 sent;		/* how much of its reply is sent */
	int		 eof;		/* the client ended its stream */
	int		 idle_listed;	/* on loop.idle_head's list */
	int64_t		 deadline;	/* WORKING: when the delay is over */
	int64_t		 idle_since;	/* last progress while on idle list */
	long		 seen;		/* the counter read at the start */
	long		 count;		/* the counter after this request */
	unsigned long	 served;	/* requests answered */
	struct conn	*next;		/* on the timer or the lock queue */
	struct conn	*idle_prev, *idle_next;
	char		 peer[UP_PEER_MAX];
};

/* A FIFO of connections linked through their next field. */
struct queue {
	struct conn	*head, *tail;
};

struct loop {
	struct up_server *s;
	const struct up_options *o;
	struct pollfd	*pfd;		/* what poll(2) watches */
	struct conn	**conn;		/* conn[i] owns pfd[i] */
	size_t		 n, cap;	/* slots used, slots allocated */
	size_t		 nconns;
	struct queue	 timers;	/* WORKING, by deadline */
	struct queue	 lockq;		/* LOCKWAIT, by arrival */
	struct conn	*lock_holder;	/* --counter mutex */
	struct conn	*idle_head, *idle_tail; /* by idle_since */
	int64_t		 now;		/* monotonic, after each poll(2) */
	int64_t		 accept_pause;	/* no accepting until then, or 0 */
	int		 stopping;
};

static void	conn_advance(struct loop *, struct conn *, int);

/* Appends c to q. */
static void
queue_push(struct queue *q, struct conn *c)
{
	c->next = NULL;
	if (q->tail != NULL)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
}

/* Removes and returns the head of q, or NULL when q is empty. */
static struct conn *
queue_pop(struct queue *q)
{
	struct conn *c = q->head;

	if (c != NULL) {
		q->head = c->next;
		if (q->head == NULL)
			q->tail = NULL;
		c->next = NULL;
	}
	return c;
}

/* Takes c off the idle list, if it is on it. */
static void
idle_remove(struct loop *l, struct conn *c)
{
	if (!c->idle_listed)
		return;
	if (c->idle_prev != NULL)
		c->idle_prev->idle_next = c->idle_next;
	else
		l->idle_head = c->idle_next;
	if (c->idle_next != NULL)
		c->idle_next->idle_prev = c->idle_prev;
	else
		l->idle_tail = c->idle_prev;
	c->idle_prev = c->idle_next = NULL;
	c->idle_listed = 0;
}

/*
 * Restarts c's idle clock: c waits for its client from now on. The idle
 * list is a FIFO for the same reason as the timer queue (see run_timers):
 * every connection gets the same timeout, so moving a connection to the
 * tail when it makes progress keeps the list sorted by deadline, and the
 * next one to time out is always at the head.
 */
static void
idle_touch(struct loop *l, struct conn *c)
{
	if (l->o->timeout_ns == 0)
		return;
	idle_remove(l, c);
	c->idle_since = l->now;
	c->idle_prev = l->idle_tail;
	c->idle_next = NULL;
	if (l->idle_tail != NULL)
		l->idle_tail->idle_next = c;
	else
		l->idle_head = c;
	l->idle_tail = c;
	c->idle_listed = 1;
}

/* Makes poll(2) watch c's socket for events, or ignore it (events 0). */
static void
conn_watch(struct loop *l, struct conn *c, short events)
{
	l->pfd[c->slot].fd = events != 0 ? c->fd : -1;
	l->pfd[c->slot].events = events;
}

/*
 * Closes c and logs it; reason is NULL for a normal end. c must not be on
 * the timer or the lock queue. Its slot goes to the last connection, so
 * the arrays stay dense; the loop walks them from the end for that reason.
 */
static void
conn_close(struct loop *l, struct conn *c, const char *reason)
{
	size_t last = l->n - 1;

	idle_remove(l, c);
	if (c->slot != last) {
		l->pfd[c->slot] = l->pfd[last];
		l->conn[c->slot] = l->conn[last];
		l->conn[c->slot]->slot = c->slot;
	}
	l->n--;
	l->nconns--;
	close(c->fd);
	if (reason != NULL)
		up_log("closed", c->peer, "requests=%lu reason=%s", c->served,
		    reason);
	else
		up_log("closed", c->peer, "requests=%lu", c->served);
	free(c->buf);
	free(c);
}

/* Logs a failed operation on c and closes it. */
static void
conn_fail(struct loop *l, struct conn *c, const char *op, int err)
{
	up_log_error(c->peer, NULL, op, err);
	conn_close(l, c, "error");
}

/* Puts c on the timer queue: its delay starts now. */
static void
timer_start(struct loop *l, struct conn *c)
{
	c->state = WORKING;
	c->deadline = up_now_ns() + l->o->delay_ns;
	queue_push(&l->timers, c);
}

/*
 * Starts work on the request of len bytes at the front of c's buffer. The
 * socket is not watched meanwhile: that is the backpressure, and a client
 * that resets now is found out when its reply is sent.
 */
static void
start_request(struct loop *l, struct conn *c, size_t len)
{
	struct up_shared *sh = l->s->shared;

	c->reqlen = len;
	c->sent = 0;
	idle_remove(l, c);
	conn_watch(l, c, 0);
	switch (l->o->counter) {
	case UP_COUNTER_MUTEX:
		/*
		 * An asynchronous lock: a request that finds it taken waits
		 * in line, without blocking the loop, and its delay starts
		 * only when the lock is handed to it (see work_done).
		 */
		if (l->lock_holder != NULL) {
			c->state = LOCKWAIT;
			queue_push(&l->lockq, c);
			return;
		}
		l->lock_holder = c;
		/* FALLTHROUGH */
	case UP_COUNTER_UNSAFE:
		c->seen = atomic_load_explicit(&sh->count,
		    memory_order_relaxed);
		break;
	default:
		break;
	}
	timer_start(l, c);
}

/*
 * Reads once from c into its buffer, allocating or growing the buffer as
 * needed. Returns what recv(2) returned (-1 with errno, and *op naming
 * what failed). A connection that has not sent anything has no buffer,
 * so the first bytes are read into a scratch buffer and copied.
 */
static ssize_t
conn_read(struct loop *l, struct conn *c, const char **op)
{
	static char scratch[FIRST_BUF];
	size_t first = l->o->max_line < FIRST_BUF ? l->o->max_line : FIRST_BUF;
	size_t cap;
	ssize_t n;
	char *p;

	*op = "read";
	if (c->buf == NULL) {
		n = recv(c->fd, scratch, first, 0);
		if (n <= 0)
			return n;
		if ((c->buf = malloc(first)) == NULL) {
			*op = "malloc";
			return -1;
		}
		memcpy(c->buf, scratch, (size_t)n);
		c->cap = first;
		c->start = 0;
		c->end = (size_t)n;
		return n;
	}
	/* Only a piece of a request is left: slide it to the front. */
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	/* Full and still no whole request: cap < max_line, so double it. */
	if (c->end == c->cap) {
		cap = c->cap * 2 < l->o->max_line ? c->cap * 2 :
		    l->o->max_line;
		if ((p = realloc(c->buf, cap)) == NULL) {
			*op = "malloc";
			return -1;
		}
		c->buf = p;
		c->cap = cap;
	}
	n = recv(c->fd, c->buf + c->end, c->cap - c->end, 0);
	if (n > 0)
		c->end += (size_t)n;
	return n;
}

/* Makes c wait for its client's next bytes, giving back a grown buffer. */
static void
wait_input(struct loop *l, struct conn *c)
{
	if (c->start == c->end) {
		c->start = c->end = 0;
		if (c->cap > FIRST_BUF) {
			free(c->buf);
			c->buf = NULL;
			c->cap = 0;
		}
	}
	c->state = READING;
	conn_watch(l, c, POLLIN);
	idle_touch(l, c);
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
	const char *op;
	size_t len;
	ssize_t n;

	for (;;) {
		if (c->end > c->start) {
			len = up_request_length(c->buf + c->start,
			    c->end - c->start, l->o->max_line, c->eof);
			if (len > 0) {
				start_request(l, c, len);
				return;
			}
		} else if (c->eof) {
			conn_close(l, c, NULL);
			return;
		}
		if (!try_read && !l->stopping) {
			wait_input(l, c);
			return;
		}
		n = conn_read(l, c, &op);
		if (n > 0) {
			try_read = 1;
			continue;
		}
		if (n == 0) {
			c->eof = 1;
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
		conn_fail(l, c, op, errno);
		return;
	}
}

/* Logs c's reply as sent and goes on to its next request. */
static void
reply_done(struct loop *l, struct conn *c)
{
	size_t len = c->reqlen;

	c->start += len;
	c->reqlen = 0;
	c->served++;
	atomic_fetch_add(&l->s->shared->requests, 1);
	if (l->o->counter != UP_COUNTER_OFF)
		up_log("responded", c->peer, "bytes=%zu count=%ld", len,
		    c->count);
	else
		up_log("responded", c->peer, "bytes=%zu", len);
	/*
	 * Pipelined requests are already buffered; otherwise the client
	 * has most likely not sent its next one yet, so wait for it.
	 */
	conn_advance(l, c, 0);
}

/*
 * Sends what is left of c's reply with one send(2), from where the last
 * one stopped. What does not fit waits for POLLOUT, and a client that
 * reads nothing for the idle timeout is dropped like a silent one.
 */
static void
conn_send(struct loop *l, struct conn *c)
{
	ssize_t n;

	do
		n = send(c->fd, c->buf + c->start + c->sent,
		    c->reqlen - c->sent, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		conn_fail(l, c, "write", errno);
		return;
	}
	if (n > 0)
		c->sent += (size_t)n;
	if (c->sent == c->reqlen) {
		reply_done(l, c);
		return;
	}
	if (c->state != WRITING || n > 0)
		idle_touch(l, c);
	c->state = WRITING;
	conn_watch(l, c, POLLOUT);
}

/*
 * c's delay is over: finishes the counter's read-work-write section (and
 * hands the lock on in mutex mode), then makes and sends the reply.
 */
static void
work_done(struct loop *l, struct conn *c)
{
	struct up_shared *sh = l->s->shared;
	struct conn *next;

	switch (l->o->counter) {
	case UP_COUNTER_UNSAFE:
	case UP_COUNTER_MUTEX:
		/* Whatever others wrote since c read it is overwritten. */
		c->count = c->seen + 1;
		atomic_store_explicit(&sh->count, c->count,
		    memory_order_relaxed);
		if (l->o->counter == UP_COUNTER_MUTEX) {
			l->lock_holder = next = queue_pop(&l->lockq);
			if (next != NULL) {
				next->seen = atomic_load_explicit(&sh->count,
				    memory_order_relaxed);
				timer_start(l, next);
			}
		}
		break;
	case UP_COUNTER_ATOMIC:
		c->count = atomic_fetch_add(&sh->count, 1) + 1;
		break;
	default:
		c->count = 0;
		break;
	}
	up_uppercase(c->buf + c->start, c->reqlen);
	conn_send(l, c);
}

/*
 * Fires every timer that is due. The timer queue is a plain FIFO, not a
 * heap: every request waits the same delay, and each deadline is the
 * monotonic clock at the start plus that delay, so deadlines arrive in
 * the order they were set. Insertion order is deadline order, the head is
 * always the next to fire, and both ends cost O(1). (A heap or a timer
 * wheel is for delays that differ.) The clock is read again before giving
 * up, so that work started here with no delay is done in this pass too.
 */
static void
run_timers(struct loop *l)
{
	int64_t now = up_now_ns();
	struct conn *c;

	while ((c = l->timers.head) != NULL) {
		if (c->deadline > now && c->deadline > (now = up_now_ns()))
			break;
		queue_pop(&l->timers);
		work_done(l, c);
	}
}

/* Closes every connection whose client has made no progress for -t. */
static void
expire_idle(struct loop *l)
{
	struct conn *c;

	if (l->o->timeout_ns == 0)
		return;
	while ((c = l->idle_head) != NULL &&
	    c->idle_since + l->o->timeout_ns <= l->now)
		conn_close(l, c, "idle");
}

/* Makes room for one more slot; 0, or -1 with errno. */
static int
grow_slots(struct loop *l)
{
	struct pollfd *pfd;
	struct conn **conn;
	size_t cap;

	if (l->n < l->cap)
		return 0;
	cap = l->cap * 2;
	if ((pfd = realloc(l->pfd, cap * sizeof(*pfd))) == NULL)
		return -1;
	l->pfd = pfd;
	if ((conn = realloc(l->conn, cap * sizeof(*conn))) == NULL)
		return -1;
	l->conn = conn;
	l->cap = cap;
	return 0;
}

/* A new connection on socket fd in the last slot, or NULL with errno. */
static struct conn *
conn_new(struct loop *l, int fd, const struct sockaddr *sa)
{
	struct conn *c;
	int on = 1;

	if (grow_slots(l) == -1 || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = fd;
	c->slot = l->n++;
	l->conn[c->slot] = c;
	l->pfd[c->slot].revents = 0;
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
 * already served are not kept waiting by a flood of new ones. Out of
 * descriptors (or memory), accepting pauses for ACCEPT_PAUSE_NS: the
 * listening socket stays readable, and polling it would spin.
 */
static void
accept_ready(struct loop *l)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct conn *c;
	int fd, i;

	for (i = 0; i < ACCEPT_BATCH &&
	    l->nconns < (size_t)l->o->max_conns; i++) {
		len = sizeof(ss);
		fd = accept4(l->s->lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
#if EWOULDBLOCK != EAGAIN
			case EWOULDBLOCK:
#endif
				return;
			case EINTR:
			case ECONNABORTED:	/* gave up while waiting */
			case EPROTO:
			case EPERM:		/* a firewall said no */
			case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN:
			case ENONET: case EHOSTUNREACH: case EOPNOTSUPP:
			case ENETUNREACH:	/* see accept(2) */
				continue;
			default:		/* EMFILE, ENFILE, ENOBUFS... */
				up_log_error(l->s->addr, NULL, "accept", errno);
				l->accept_pause = l->now + ACCEPT_PAUSE_NS;
				return;
			}
		}
		if ((c = conn_new(l, fd, (struct sockaddr *)&ss)) == NULL) {
			up_log_error(l->s->addr, NULL, "malloc", errno);
			close(fd);
			l->accept_pause = l->now + ACCEPT_PAUSE_NS;
			return;
		}
		up_log("accepted", c->peer, NULL);
		/* A client often sends its request right after connecting. */
		conn_advance(l, c, 1);
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
	size_t i;

	l->stopping = 1;
	close(l->s->lfd);
	l->s->lfd = -1;
	l->pfd[SLOT_LISTEN].fd = -1;
	l->pfd[SLOT_STOP].fd = -1;	/* readable for good from now on */
	for (i = l->n; i-- > SLOT_FIRST_CONN; )
		if (l->conn[i]->state == READING)
			conn_advance(l, l->conn[i], 1);
}

/* Handles the events poll(2) reported for c (revents of its slot). */
static void
conn_event(struct loop *l, struct conn *c, short revents)
{
	if (revents & POLLNVAL) {	/* a bug, but never a spin */
		if (c->state == READING || c->state == WRITING)
			conn_fail(l, c, "poll", EBADF);
		return;
	}
	/* POLLHUP and POLLERR show as the read's or the send's error. */
	if (c->state == READING && (revents & (POLLIN | POLLHUP | POLLERR)))
		conn_advance(l, c, 1);
	else if (c->state == WRITING &&
	    (revents & (POLLOUT | POLLHUP | POLLERR)))
		conn_send(l, c);
}

/*
 * Milliseconds poll(2) may sleep: until the next timer, idle deadline or
 * the end of an accept pause, rounded up; -1 when nothing is due.
 */
static int
next_timeout(struct loop *l)
{
	int64_t next = INT64_MAX, now, ms;

	if (l->timers.head != NULL)
		next = l->timers.head->deadline;
	if (l->idle_head != NULL &&
	    l->idle_head->idle_since + l->o->timeout_ns < next)
		next = l->idle_head->idle_since + l->o->timeout_ns;
	if (l->accept_pause != 0 && l->accept_pause < next)
		next = l->accept_pause;
	if (next == INT64_MAX)
		return -1;
	now = up_now_ns();
	if (next <= now)
		return 0;
	ms = (next - now + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/*
 * The event loop. Returns 0 once stopped with every connection closed, or
 * 1 when poll(2) itself fails.
 */
static int
run(struct up_server *s)
{
	struct loop l = { .s = s, .o = &s->opt };
	struct conn *c;
	size_t i;
	int r;

	l.cap = 64;
	l.pfd = calloc(l.cap, sizeof(*l.pfd));
	l.conn = calloc(l.cap, sizeof(*l.conn));
	if (l.pfd == NULL || l.conn == NULL) {
		fprintf(stderr, "upserver-poll: malloc: %s\n", strerror(errno));
		return 1;
	}
	l.pfd[SLOT_STOP].fd = up_stop_fd();
	l.pfd[SLOT_STOP].events = POLLIN;
	l.pfd[SLOT_LISTEN].events = POLLIN;
	l.n = SLOT_FIRST_CONN;
	l.now = up_now_ns();

	while (!l.stopping || l.nconns > 0) {
		/* Listen only with room for another connection. */
		if (l.accept_pause != 0 && l.now >= l.accept_pause)
			l.accept_pause = 0;
		l.pfd[SLOT_LISTEN].fd = !l.stopping && l.accept_pause == 0 &&
		    l.nconns < (size_t)s->opt.max_conns ? s->lfd : -1;

		r = poll(l.pfd, l.n, next_timeout(&l));
		l.now = up_now_ns();
		if (r == -1 && errno != EINTR) {
			fprintf(stderr, "upserver-poll: poll: %s\n",
			    strerror(errno));
			return 1;
		}
		if (r == -1) {		/* a signal: the stop pipe tells */
			for (i = 0; i < l.n; i++)
				l.pfd[i].revents = 0;
		}
		if (!l.stopping && (l.pfd[SLOT_STOP].revents != 0 ||
		    up_stopping()))
			begin_stop(&l);
		/*
		 * From the end: closing the connection in slot i moves the
		 * last one, already seen, into it.
		 */
		for (i = l.n; i-- > SLOT_FIRST_CONN; ) {
			if (i >= l.n || l.pfd[i].revents == 0)
				continue;
			c = l.conn[i];
			conn_event(&l, c, l.pfd[i].revents);
		}
		if (!l.stopping && l.pfd[SLOT_LISTEN].revents != 0)
			accept_ready(&l);
		run_timers(&l);
		expire_idle(&l);
	}
	free(l.pfd);
	free(l.conn);
	return 0;
}

/*
 * The default for -c: DEFAULT_MAX_CONNS, or fewer when the descriptor
 * limit (raised to its hard maximum at start) could not hold them.
 */
static long
default_max_conns(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < DEFAULT_MAX_CONNS + RESERVED_FDS)
		return rl.rlim_max > 2 * RESERVED_FDS ?
		    (long)rl.rlim_max - RESERVED_FDS : RESERVED_FDS;
	return DEFAULT_MAX_CONNS;
}

int
main(int argc, char **argv)
{
	struct up_server s = { .opt.max_conns = default_max_conns() };
	char msg[UP_MSG_MAX];
	int status;

	status = up_server_start(&s, argc, argv, "poll", UP_REFUSE_WORKERS, 0,
	    msg, sizeof(msg));
	if (status >= 0) {
		fputs(msg, status == 0 ? stdout : stderr);
		return status;
	}

	if (run(&s) != 0)
		return 1;

	return up_server_stop(&s);
}
