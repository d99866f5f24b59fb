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
 * (--counter mutex puts LOCKWAIT before WORKING; with --http, a request
 * that is refused skips WORKING, and a connection that ends after its
 * answer goes through LINGER.) After the client's end of stream a
 * connection drains: the requests it left in its buffer are answered,
 * without reading any more, and then it closes.
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
 *
 * Memory per connection, whatever the client does: a struct conn, a
 * pollfd and a pointer (about 320 bytes), and a request buffer only once
 * bytes arrive: FIRST_BUF bytes, doubled while a long request is put
 * together, never beyond --max-line (the loop reads only while no whole
 * request is buffered, and a request is at most --max-line bytes). A
 * buffer that grew is freed once it is empty again. Replies are made in
 * place, so there is no second buffer, except with --http: a response
 * buffer of UP_HTTP_HEAD_MAX bytes plus the request target. 10 000
 * connections that have sent nothing cost about 3 MB, 10 000 between
 * requests about 14 MB, plus the kernel's socket buffers.
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
#define MALLOC_RETRY_NS		(20 * 1000000LL) /* out of memory */
#define LINGER_NS		UP_NS_PER_SEC	/* --http: see linger_start */
#define LINGER_MAX		(1024 * 1024)

/* The first slots of the pollfd array; connections follow. */
#define SLOT_STOP		0
#define SLOT_LISTEN		1
#define SLOT_FIRST_CONN		2

enum conn_state {
	READING,	/* no whole request buffered: POLLIN */
	LOCKWAIT,	/* --counter mutex: queued for the lock; not polled */
	WORKING,	/* its delay runs on the timer queue; not polled */
	WRITING,	/* the reply did not all fit: POLLOUT */
	LINGER		/* --http: answered, closing; discards input */
};

struct conn;

/*
 * A list of connections waiting with a deadline that is the same time
 * after `since` for all of them (idle, or lingering), so appending at the
 * tail keeps it sorted by deadline.
 */
struct clist {
	struct conn	*head, *tail;
};

struct conn {
	int		 fd;
	enum conn_state	 state;
	size_t		 slot;		/* its index in loop.pfd, loop.conn */
	char		*buf;		/* what the client sent, or NULL */
	size_t		 cap;		/* at most --max-line */
	size_t		 start, end;	/* unconsumed bytes: buf[start..end) */
	size_t		 reqlen;	/* the request at buf[start] served */
	const char	*reply;		/* its reply: in place, or in out */
	size_t		 replylen;
	size_t		 sent;		/* how much of the reply is sent */
	size_t		 body;		/* what "responded bytes=" says */
	char		*out;		/* --http: the response, or NULL */
	size_t		 outcap;
	struct up_http_request http;	/* --http: the request parsed */
	int		 eof;		/* the client ended its stream */
	int64_t		 deadline;	/* WORKING: when the delay is over */
	int64_t		 since;		/* on list: idle or lingering since */
	size_t		 drained;	/* LINGER: bytes discarded */
	long		 seen;		/* the counter read at the start */
	long		 count;		/* the counter after this request */
	unsigned long	 served;	/* requests answered */
	int		 starved;	/* waits for memory to read more */
	int64_t		 starved_in;	/* the shortage it waited in (since) */
	struct conn	*next;		/* on the timer or the lock queue */
	struct clist	*list;		/* the deadline list it is on */
	struct conn	*lprev, *lnext;
	char		 peer[UP_PEER_MAX];
};

/* A FIFO of connections linked through their next field. */
struct queue {
	struct conn	*head, *tail;
};

struct loop {
	struct up_server *s;
	const struct up_options *o;
	up_frame_func	 frame;		/* lines, reads or HTTP heads */
	struct pollfd	*pfd;		/* what poll(2) watches */
	struct conn	**conn;		/* conn[i] owns pfd[i] */
	size_t		 n, cap;	/* slots used, slots allocated */
	size_t		 nconns;
	struct queue	 timers;	/* WORKING, by deadline */
	struct queue	 lockq;		/* LOCKWAIT, by arrival */
	struct conn	*lock_holder;	/* --counter mutex */
	struct clist	 idle;		/* READING, WRITING: by progress */
	struct clist	 linger;	/* LINGER: by start */
	int64_t		 now;		/* monotonic, after each poll(2) */
	int64_t		 accept_pause;	/* no accepting until then, or 0 */
	struct conn	*spare;		/* the next accepted connection's */
	struct up_shortage memory;	/* malloc failing, as logged */
	size_t		 nstarved;	/* connections waiting for memory */
	int64_t		 retry_at;	/* when to try malloc again, or 0 */
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

/* Moves c to the tail of q, waiting since now. */
static void
list_append(struct clist *q, struct conn *c, int64_t now)
{
	list_remove(c);
	c->since = now;
	c->lprev = q->tail;
	c->lnext = NULL;
	if (q->tail != NULL)
		q->tail->lnext = c;
	else
		q->head = c;
	q->tail = c;
	c->list = q;
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
	if (l->o->timeout_ns != 0)
		list_append(&l->idle, c, l->now);
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

	list_remove(c);
	if (c->slot != last) {
		l->pfd[c->slot] = l->pfd[last];
		l->conn[c->slot] = l->conn[last];
		l->conn[c->slot]->slot = c->slot;
	}
	l->n--;
	l->nconns--;
	if (c->starved)
		l->nstarved--;
	close(c->fd);
	/* a line begun and never ended (not the request in flight) is lost */
	up_log_closed(c->peer, NULL, c->served, reason, reason != NULL &&
	    c->buf != NULL ? c->end - c->start - c->reqlen : 0);
	free(c->buf);
	free(c->out);
	free(c);
}

/* Logs a failed operation on c and closes it. */
static void
conn_fail(struct loop *l, struct conn *c, const char *op, int err)
{
	up_log_error(c->peer, NULL, op, err);
	conn_close(l, c, "error");
}

/*
 * c's work begins: reads the counter as it stands and logs "received".
 */
static void
work_begin(struct loop *l, struct conn *c)
{
	c->seen = atomic_load_explicit(&l->s->shared->count,
	    memory_order_relaxed);
	up_log_received(c->peer, NULL, c->reqlen,
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
	c->deadline = up_now_ns() + (l->o->cpu ? 0 : l->o->delay_ns);
	queue_push(&l->timers, c);
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
 * Reads once from c into its buffer, allocating or growing the buffer
 * first as needed. A connection that has sent nothing has none: one
 * byte is peeked at to learn whether one is needed yet. Returns what
 * recv(2) returned, or -1 with errno (*op naming what failed). When the
 * memory is not there, nothing has been read, and nothing is lost.
 */
static ssize_t
conn_read(struct loop *l, struct conn *c, const char **op)
{
	size_t first = l->o->max_line < FIRST_BUF ? l->o->max_line : FIRST_BUF;
	size_t cap;
	ssize_t n;
	char *p, byte;

	*op = "read";
	if (c->buf == NULL) {
		if ((n = recv(c->fd, &byte, 1, MSG_PEEK)) <= 0)
			return n;
		*op = "malloc";
		if ((c->buf = malloc(first)) == NULL)
			return -1;
		c->cap = first;
		c->start = c->end = 0;
		memory_back(l);
	}
	/* Only a piece of a request is left: slide it to the front. */
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	/* Full and still no whole request: cap < max_line, so double it. */
	*op = "malloc";
	if (c->end == c->cap) {
		cap = c->cap * 2 < l->o->max_line ? c->cap * 2 :
		    l->o->max_line;
		if ((p = realloc(c->buf, cap)) == NULL)
			return -1;
		c->buf = p;
		c->cap = cap;
		memory_back(l);
	}
	*op = "read";
	n = recv(c->fd, c->buf + c->end, c->cap - c->end, 0);
	if (n > 0)
		c->end += (size_t)n;
	return n;
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
	conn_watch(l, c, 0);
	if (c->list == NULL)
		idle_touch(l, c);
	if (l->retry_at == 0)
		l->retry_at = l->now + MALLOC_RETRY_NS;
}

/* Makes c wait for its client's next bytes, giving back grown buffers. */
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
	if (c->outcap > UP_HTTP_HEAD_MAX + FIRST_BUF) {
		free(c->out);
		c->out = NULL;
		c->outcap = 0;
	}
	c->state = READING;
	conn_watch(l, c, POLLIN);
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
	conn_watch(l, c, POLLIN);
	list_append(&l->linger, c, l->now);
}

/* Discards what a lingering connection sent; closes it once done. */
static void
linger_read(struct loop *l, struct conn *c)
{
	static char sink[16384];
	ssize_t n;

	while (c->drained < LINGER_MAX) {
		n = recv(c->fd, sink, sizeof(sink), 0);
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

/* Logs c's reply as sent. */
static void
log_responded(struct loop *l, struct conn *c)
{
	int counted = l->o->counter != UP_COUNTER_OFF &&
	    (!l->o->http || c->http.status == 200);

	if (l->o->http && counted)
		up_log("responded", c->peer, "bytes=%zu status=%d count=%ld",
		    c->body, c->http.status, c->count);
	else if (l->o->http)
		up_log("responded", c->peer, "bytes=%zu status=%d", c->body,
		    c->http.status);
	else if (counted)
		up_log("responded", c->peer, "bytes=%zu count=%ld", c->body,
		    c->count);
	else
		up_log("responded", c->peer, "bytes=%zu", c->body);
}

/* c's reply is all sent: logs it and goes on to the next request. */
static void
reply_done(struct loop *l, struct conn *c)
{
	c->start += c->reqlen;
	c->reqlen = 0;
	c->served++;
	/* Only requests served count: not an HTTP request refused. */
	if (!l->o->http || c->http.status == 200)
		atomic_fetch_add(&l->s->shared->requests, 1);
	log_responded(l, c);
	if (l->o->http && !c->http.keep_alive) {
		linger_start(l, c);
		return;
	}
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
		n = send(c->fd, c->reply + c->sent, c->replylen - c->sent,
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
	conn_watch(l, c, POLLOUT);
}

/*
 * Makes c's reply and sends it: the request uppercased in place, or
 * with --http the response to the parsed request in c->out.
 */
static void
reply_start(struct loop *l, struct conn *c)
{
	size_t need;
	char *p;

	c->sent = 0;
	if (!l->o->http) {
		up_uppercase(c->buf + c->start, c->reqlen);
		c->reply = c->buf + c->start;
		c->replylen = c->body = c->reqlen;
		conn_send(l, c);
		return;
	}
	need = UP_HTTP_HEAD_MAX + c->http.target_len + 1;
	if (c->outcap < need) {
		if ((p = realloc(c->out, need)) == NULL) {
			conn_fail(l, c, "malloc", errno);
			return;
		}
		c->out = p;
		c->outcap = need;
	}
	c->replylen = up_http_response(&c->http, c->out, c->outcap, &c->body);
	c->reply = c->out;
	conn_send(l, c);
}

/*
 * Starts work on the request of len bytes at the front of c's buffer. The
 * socket is not watched meanwhile: that is the backpressure, and a client
 * that resets now is found out when its reply is sent.
 */
static void
start_request(struct loop *l, struct conn *c, size_t len)
{
	c->reqlen = len;
	list_remove(c);
	conn_watch(l, c, 0);
	if (l->o->http) {
		up_http_parse(c->buf + c->start, len, l->o->max_line,
		    &c->http);
		if (c->http.status != 200) {
			/* refused: no work */
			up_log_received(c->peer, NULL, len, 0, 0);
			reply_start(l, c);
			return;
		}
	}
	/*
	 * --counter mutex: an asynchronous lock. A request that finds it
	 * taken waits in line, without blocking the loop, and its work
	 * begins only when the lock is handed to it (see work_done).
	 */
	if (l->o->counter == UP_COUNTER_MUTEX) {
		if (l->lock_holder != NULL) {
			c->state = LOCKWAIT;
			queue_push(&l->lockq, c);
			return;
		}
		l->lock_holder = c;
	}
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
	const char *op;
	size_t len;
	ssize_t n;

	if (c->starved) {	/* it may read again; it may starve again */
		c->starved = 0;
		l->nstarved--;
	}
	for (;;) {
		if (c->end > c->start) {
			len = l->frame(c->buf + c->start, c->end - c->start,
			    l->o->max_line, c->eof);
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
		if (strcmp(op, "malloc") == 0 && up_shortage_error(errno)) {
			conn_starve(l, c, errno);
			return;
		}
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

/*
 * c's delay is over: finishes the counter's read-work-write section (and
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
		atomic_store_explicit(&sh->count, c->count,
		    memory_order_relaxed);
		if (l->o->counter == UP_COUNTER_MUTEX) {
			l->lock_holder = next = queue_pop(&l->lockq);
			if (next != NULL)
				timer_start(l, next);
		}
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

/*
 * Closes every connection whose client has made no progress for -t, and
 * every lingering one whose time is up.
 */
static void
expire(struct loop *l)
{
	struct conn *c;

	while ((c = l->idle.head) != NULL &&
	    c->since + l->o->timeout_ns <= l->now)
		conn_close(l, c, "idle");
	while ((c = l->linger.head) != NULL && c->since + LINGER_NS <= l->now)
		conn_close(l, c, NULL);
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

/*
 * The memory the next connection needs: a free slot and a struct conn
 * (l->spare). Returns 0, or -1 with errno: then accepting waits, and the
 * client in the backlog, rather than accept a connection with no room.
 */
static int
reserve_conn(struct loop *l)
{
	if (grow_slots(l) == -1)
		return -1;
	if (l->spare == NULL) {
		if ((l->spare = calloc(1, sizeof(*l->spare))) == NULL)
			return -1;
		memory_back(l);
	}
	return 0;
}

/* A new connection on socket fd in the last slot (reserved). */
static struct conn *
conn_new(struct loop *l, int fd, const struct sockaddr *sa)
{
	struct conn *c;
	int on = 1;

	c = l->spare;
	l->spare = NULL;
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
		if (reserve_conn(l) == -1) {
			up_shortage_failed(&l->memory, l->s->addr, "malloc",
			    errno, 0);
			l->accept_pause = l->now + MALLOC_RETRY_NS;
			return;
		}
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
		c = conn_new(l, fd, (struct sockaddr *)&ss);
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
	struct conn *c;
	size_t i;

	l->retry_at = 0;
	for (i = l->n; i-- > SLOT_FIRST_CONN; ) {
		if (i < l->n && (c = l->conn[i])->starved)
			conn_advance(l, c, 1);
	}
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
	const short any = POLLHUP | POLLERR | POLLNVAL;

	if (revents & POLLNVAL) {	/* a bug, but never a spin */
		if (c->state == READING || c->state == WRITING)
			conn_fail(l, c, "poll", EBADF);
		else if (c->state == LINGER)
			conn_close(l, c, NULL);
		return;
	}
	/* POLLHUP and POLLERR show as the read's or the send's error. */
	switch (c->state) {
	case READING:
		if (revents & (POLLIN | any))
			conn_advance(l, c, 1);
		break;
	case WRITING:
		if (revents & (POLLOUT | any))
			conn_send(l, c);
		break;
	case LINGER:
		if (revents & (POLLIN | any))
			linger_read(l, c);
		break;
	default:			/* not polled */
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
 * Milliseconds poll(2) may sleep: until the next timer, idle or linger
 * deadline or the end of an accept pause, rounded up; -1 when nothing is
 * due.
 */
static int
next_timeout(struct loop *l)
{
	int64_t next = INT64_MAX, now, ms;

	if (l->timers.head != NULL)
		next = l->timers.head->deadline;
	if (l->idle.head != NULL)
		next = earlier(next, l->idle.head->since + l->o->timeout_ns);
	if (l->linger.head != NULL)
		next = earlier(next, l->linger.head->since + LINGER_NS);
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

	l.frame = up_framer(&s->opt);
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
			accept_resume(&l);
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
		if (l.retry_at != 0 && l.now >= l.retry_at)
			retry_starved(&l);
		run_timers(&l);
		expire(&l);
	}
	free(l.spare);
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
