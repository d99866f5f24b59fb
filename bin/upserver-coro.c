/*
 * upserver-coro: the coroutine server, asyncio's model in C.
 *
 * One process, one thread, a coroutine per connection on the event
 * engine (lib/coro/ over lib/ev/: --backend select, poll, epoll,
 * kqueue, which say when a socket is ready; or uring, io_uring, which
 * does the reads and sends itself and says when they are done: the same
 * code below runs on both, lib/coro/io.c against lib/coro/uring.c being
 * the difference). serve() below reads like the blocking service every thread
 * runs (lib/server/serve.c's up_serve): read a request, do the work,
 * write the reply. Where a thread would block, the coroutine waits
 * instead: it parks on its socket or on a deadline, and the scheduler
 * runs another. `diff` the two and what differs is the waits. Each wait
 * is an `await` of the tutorial's asyncio server (see up(7), chapter 6):
 *
 *   reader_next()  await reader.read(1024)   parks until readable, or
 *                                            until the kernel has read
 *   work()         await asyncio.sleep(d)    parks until the deadline
 *   send_all()     writer.write(); await writer.drain()
 *
 * What to notice:
 *  - Four clients with a one-second delay are answered together after a
 *    second by one thread: every line of the log says the same pid= and
 *    tid=.
 *  - A wait is the only place another connection may run: --counter
 *    unsafe still loses updates, because the sleep sits between the
 *    read of the counter and its write; --cpu computes without a wait,
 *    so nobody else runs meanwhile, as in upserver-poll.
 *  - A connection costs its stack (--stack, 64 KiB mapped, of which
 *    only the pages touched are resident) and a struct conn.
 *  - --gil changes nothing: there is one thread, so no lock to share.
 *  - A client that pipelines gets the replies of every whole request
 *    already buffered in one send, as from upserver-poll (gathers()):
 *    with -d 0 a coroutine has nothing to wait for between them.
 *  - With -w N, N schedulers run this code in processes of their own
 *    sharing the listener (lib/pool/loops.c, as upserver-poll -w).
 */
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coro/coro.h"
#include "server/server.h"

#define DEFAULT_MAX_CONNS	16384	/* -c: or what the fd limit allows */
#define ACCEPT_BATCH		1024	/* accepts per wake-up, then serve */
#define GATHER_BYTES		(64 * 1024)	/* replies sent at once, at most */
#define GATHER_REPLIES		1024		/* and as many replies */

struct loop;

/* A connection: its coroutine serves it from accept to close. */
struct conn {
	int		 fd;
	char		 peer[UP_PEER_MAX];
	struct loop	*l;
	struct up_coro	*co;
	struct up_timer	 lockq;		/* --counter mutex: its place in line */
	int		 reading;	/* parked for a request: a stop wakes */
	struct conn	*prev, *next;	/* the loop's connections */
};

/* One scheduler, and what its connections share. */
struct loop {
	struct up_server *s;
	struct up_evloop e;
	struct up_sched	 sched;
	struct up_timeq	 lockq;		/* --counter mutex: waiters here */
	struct conn	*conns;		/* every connection of this loop */
	char		 who[48];	/* "pid=N tid=N" on every line */
};

/* A deadline ns from now, or 0 (none) for a zero time. */
static int64_t
after(int64_t ns)
{
	return ns > 0 ? up_now_ns() + ns : 0;
}

/*
 * No memory for c's buffers: waits as the loop's other connections do
 * (lib/robust/memory.c: the shortage logged once), -t at most, a stop
 * waking it. NULL: try again; or "idle" or "stop", errno to match.
 */
static const char *
starved(struct conn *c, struct up_memory_wait *w)
{
	struct loop *l = c->l;
	int rc;

	c->reading = 1;
	rc = up_memory_await(&l->e.memory, w, &l->sched, l->s->addr, ENOMEM,
	    l->s->opt.timeout_ns, &l->e.stopping);
	c->reading = 0;
	return rc == 0 ? NULL : errno == ETIMEDOUT ? "idle" : "stop";
}

/*
 * The next request from c's socket (lib/coro/reader.c: up_reader_next's,
 * waiting on the scheduler, and for memory), marked as reading
 * meanwhile, so that a stop wakes it to serve what came.
 */
static int
reader_next(struct conn *c, struct up_reader *in, struct up_memory_wait *w,
    char **req, size_t *len)
{
	int rc;

	do {
		c->reading = 1;
		/* await reader.read() */
		rc = up_coro_next_request(&c->l->sched, in, c->fd,
		    c->l->s->opt.max_line, c->l->s->opt.timeout_ns,
		    &c->l->e.stopping, req, len);
		c->reading = 0;
	} while (rc == -1 && errno == ENOMEM && starved(c, w) == NULL);
	return rc;
}

/*
 * --counter mutex: takes the lock, in line behind every request of
 * every loop that asked first, parking meanwhile.
 */
static void
lock_take(struct conn *c)
{
	struct loop *l = c->l;

	if (!up_loops_acquire(l->e.g, l->e.index, &l->lockq, &c->lockq))
		up_coro_park(&l->sched);	/* until the lock is handed */
}

/* Lets go of the lock, waking the next in line here, if any. */
static void
lock_drop(struct conn *c)
{
	struct up_timer *t;
	struct conn *next;

	t = up_loops_release(c->l->e.g, c->l->e.index, &c->l->lockq);
	if (t != NULL) {
		next = UP_CONTAINER_OF(t, struct conn, lockq);
		up_coro_ready(&c->l->sched, next->co);
	}
}

/*
 * Does the work of request r: logs "received" with the counter as read,
 * spends the delay, waiting on the scheduler (or computing, with --cpu:
 * no wait, nobody else runs), and returns the counter as it leaves it.
 */
static long
work(struct conn *c, const struct up_request *r)
{
	struct loop *l = c->l;
	const struct up_options *o = &l->s->opt;
	long seen;

	if (o->counter == UP_COUNTER_MUTEX)
		lock_take(c);
	seen = up_count_read(l->s->shared);
	up_log_received(c->peer, l->who, r->len, r->cut,
	    up_count_read_shown(o->counter), seen);
	if (o->cpu)
		up_compute_ns(o->delay_ns);
	else if (o->delay_ns > 0)
		up_coro_sleep(&l->sched, up_now_ns() + o->delay_ns); /* await */
	seen = up_count_write(l->s->shared, o->counter, seen);
	if (o->counter == UP_COUNTER_MUTEX)
		lock_drop(c);
	return seen;
}

#ifdef UP_FIU
/*
 * The fault point up/coro/overflow of the test build (FIU=1): a request
 * whose handling recurses without end, as a deep recursion or a large
 * local array would, to show how an overflow is reported. Returns only
 * in theory.
 */
static int
deep(int depth)
{
	volatile char frame[512];

	frame[0] = (char)depth;
	frame[sizeof(frame) - 1] = frame[0];
	if (depth == INT_MAX)	/* never, before the stack runs out */
		return frame[0];
	return deep(depth + 1) + frame[sizeof(frame) - 1];
}
#endif

/* The reason a read or a send failed, as "closed" says it. */
static const char *
failure(const struct conn *c, const char *op, int err)
{
	if (err == ETIMEDOUT)
		return "idle";
	if (err == ECANCELED)
		return "stop";
	up_log_error(c->peer, c->l->who, op, err);
	return "error";
}

/*
 * The lingering close: no more sending, what the client still sends is
 * discarded until it closes or a second passes, so that the reply is
 * not lost to a reset.
 */
static void
linger(struct conn *c)
{
	struct up_linger lg;

	if (up_linger_start(&lg, c->fd, up_now_ns()) == -1)
		return;
	while (!up_linger_read(&lg, c->fd))
		if (up_coro_wait(&c->l->sched, c->fd, UP_EV_READ,
		    lg.deadline) <= 0)
			return;
}

/* --http: a 408 to a client too slow to send its head, then linger. */
static void
too_slow(struct conn *c)
{
	char buf[UP_HTTP_HEAD_MAX];
	size_t n;

	if ((n = up_http_timeout_response(buf, sizeof(buf))) > 0 &&
	    up_coro_send_all(&c->l->sched, c->fd, buf, n,
	    up_now_ns() + UP_NS_PER_SEC) == 0)
		linger(c);
}

/* Closes c: logs "closed", frees its place. */
static void
conn_close(struct conn *c, unsigned long served, const char *reason,
    size_t pending)
{
	struct loop *l = c->l;

	up_coro_forget(&l->sched, c->fd);
	up_slots_drop(&l->e.conns, c->fd);
	close(c->fd);
	up_log_closed(c->peer, l->who, served, reason, pending);
	up_acceptor_release(&l->e.acc);
	atomic_fetch_sub(&l->s->shared->conns, 1);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
}

/* A reply gathered and not yet sent: what its "responded" will say. */
struct held {
	size_t		 body;
	int		 status;	/* as the log says it */
	int		 served;	/* a request served, not refused */
	long		 count;
};

/*
 * Replies gathered for one send, as upserver-poll gathers them: those of
 * requests that were already buffered, end to end in out, a struct held
 * each in log.
 */
struct gather {
	struct up_buf	 out;
	size_t		 len;
	struct up_buf	 log;
	size_t		 n;
};

/*
 * Whether the reply to r may wait for the next one: 1 when another whole
 * request is already in c's buffer (the reader frames it without a
 * read) and nothing before its reply waits (no -d to sleep), so that the
 * replies leave together; 0 when r's reply must go now: nothing more
 * buffered, or r ends the connection. Not with --counter nor --http, as
 * in upserver-poll: their lessons read a received and its responded side
 * by side in the log (each request's count; each curl's request).
 */
static int
gathers(const struct conn *c, const struct up_reader *in,
    const struct up_request *r)
{
	const struct up_options *o = &c->l->s->opt;

	if (o->delay_ns > 0 || o->counter != UP_COUNTER_OFF || o->http ||
	    r->next == UP_NEXT_LINGER || in->end == in->start)
		return 0;
	return in->frame(in->buf + in->start, in->end - in->start,
	    o->max_line, in->eof) > 0;
}

/*
 * Makes room in g for one more reply of at most need bytes; 0, or -1
 * when memory is short (then the reply goes alone).
 */
static int
gather_room(struct gather *g, size_t need)
{
	size_t bytes = g->len + need;

	if (bytes < GATHER_BYTES)
		bytes = GATHER_BYTES;	/* once, not a realloc a reply */
	if (up_buf_room(&g->out, bytes) == -1 ||
	    up_buf_room(&g->log, GATHER_REPLIES * sizeof(struct held)) == -1)
		return -1;
	return 0;
}

/* Where the next reply is made in g's buffer (NULL while none). */
static char *
gather_end(const struct gather *g)
{
	return g->out.p != NULL ? g->out.p + g->len : NULL;
}

/* Adds r's reply, made, to g; returns 1 when g is full: send it now. */
static int
gather_add(struct gather *g, const struct up_request *r, int status,
    long count)
{
	struct held *h = (struct held *)(void *)g->log.p + g->n++;

	if (r->reply != gather_end(g))	/* a line's, made in place */
		memcpy(g->out.p + g->len, r->reply, r->replylen);
	g->len += r->replylen;
	h->body = r->body;
	h->status = status;
	h->served = r->status == 200;
	h->count = count;
	return g->len >= GATHER_BYTES || g->n == GATHER_REPLIES;
}

/*
 * Sends the replies gathered in g with one send, then logs "responded"
 * for each, in order: a reply is responded once the kernel has it, as
 * alone. Returns how many, or -1 with errno when the send failed.
 */
static long
gather_send(struct conn *c, struct gather *g, int64_t deadline)
{
	const struct up_options *o = &c->l->s->opt;
	const struct held *h = (const struct held *)(void *)g->log.p;
	size_t i, n = g->n;

	if (n == 0)
		return 0;
	g->n = 0;
	if (up_coro_send_all(&c->l->sched, c->fd, g->out.p, g->len,
	    deadline) == -1)
		return -1;
	g->len = 0;
	for (i = 0; i < n; i++) {
		if (h[i].served)
			atomic_fetch_add(&c->l->s->shared->requests, 1);
		up_log_responded(c->peer, c->l->who, h[i].body, h[i].status,
		    o->counter != UP_COUNTER_OFF && h[i].served, h[i].count);
	}
	return (long)n;
}

/*
 * The coroutine of a connection, up_serve's steps with waits where the
 * blocking service blocks: serves c until the client's end of stream,
 * -t, an error or a stop, then closes it.
 */
static void
serve(void *arg)
{
	struct conn *c = arg;
	struct loop *l = c->l;
	const struct up_options *o = &l->s->opt;
	struct up_proto *p = &l->s->proto;
	const char *reason = NULL;
	unsigned long served = 0;
	struct up_request r;
	struct up_reader in = { 0 };	/* its buffer comes with bytes */
	struct gather g = { { NULL, 0 }, 0, { NULL, 0 }, 0 };
	struct up_memory_wait mem = { 0 };
	char *req;
	size_t len, pending;
	long count, sent;
	int rc, more;

	in.frame = p->frame;
	in.pause_ns = p->pause_ns;
	in.request_ns = o->request_timeout_ns;
	for (;;) {
		rc = reader_next(c, &in, &mem, &req, &len);
		if (rc == 0)
			break;		/* the client is done */
		if (rc == -1 && in.expired) {
			/* a request begun and not whole in time: slowloris */
			reason = "request-timeout";
			if (p->http)
				too_slow(c);
			break;
		}
		if (rc == -1) {
			reason = failure(c, "read", errno);
			break;
		}
#ifdef UP_FIU
		if (UP_FAULT("up/coro/overflow"))
			(void)deep(0);
#endif
		up_request_open(p, &r, req, len);
		r.cut = up_request_cut(p, req, len, in.eof);
		/* the reply joins those gathered while more are buffered */
		more = gathers(c, &in, &r);
		if ((more || g.len > 0) && gather_room(&g, r.room > 0 ?
		    r.room : len) == -1) {
			if ((sent = gather_send(c, &g,
			    after(o->timeout_ns))) == -1) {
				reason = failure(c, "write", errno);
				break;
			}
			served += (unsigned long)sent;
			more = 0;	/* no memory: it goes alone */
		}
		if (g.len == 0 && !more)	/* the reply's, alone */
			while (up_buf_room(&g.out, r.room) == -1)
				if ((reason = starved(c, &mem)) != NULL)
					goto out;
		up_memory_had(&l->e.memory, &mem, l->s->addr);
		/* a request refused (HTTP) costs no work */
		count = 0;
		if (r.status == 200)
			count = work(c, &r);
		else
			up_log_received(c->peer, l->who, r.len, NULL, 0, 0);
		up_request_reply(p, &r, gather_end(&g));
		if (more || g.len > 0) {
			/* sent when none is left, or at GATHER_BYTES */
			if (gather_add(&g, &r, up_request_status(p, &r),
			    count) || !more) {
				if ((sent = gather_send(c, &g,
				    after(o->timeout_ns))) == -1) {
					reason = failure(c, "write", errno);
					break;
				}
				served += (unsigned long)sent;
			}
			if (more)
				continue;
			up_buf_trim(&g.out, GATHER_BYTES - 1);	/* give back */
			up_buf_trim(&g.log, 0);
		} else {
			/* a client that takes none of its reply for -t: idle */
			if (up_coro_send_all(&l->sched, c->fd, r.reply,
			    r.replylen, after(o->timeout_ns)) == -1) {
				reason = failure(c, "write", errno);
				break;
			}
			served++;
			if (r.status == 200)
				atomic_fetch_add(&l->s->shared->requests, 1);
			up_log_responded(c->peer, l->who, r.body,
			    up_request_status(p, &r), o->counter !=
			    UP_COUNTER_OFF && r.status == 200, count);
		}
		if (r.next == UP_NEXT_LINGER) {
			linger(c);
			break;
		}
		up_reader_shrink(&in);
	}
out:
	/* A line the client began and never ended is lost: say so. */
	pending = reason != NULL ? up_reader_pending(&in) : 0;
	up_memory_leave(&l->e.memory, &mem);
	up_reader_free(&in);
	free(g.out.p);
	free(g.log.p);
	conn_close(c, served, reason, pending);
}

/*
 * Accepts what waits (lib/pool/accept.c: within -c, into memory and a
 * coroutine made first, or not at all), each connection a coroutine of
 * its own; with -w one a turn, so that a free loop takes the next.
 */
static void
accept_ready(struct loop *l)
{
	char peer[UP_PEER_MAX];
	struct conn *c;
	int i, fd, batch = l->s->opt.workers > 1 ? 1 : ACCEPT_BATCH;

	for (i = 0; i < batch && (c = up_acceptor_next(&l->e.acc, l->e.now,
	    &fd, peer, sizeof(peer))) != NULL; i++) {
		c->fd = fd;
		c->l = l;
		memcpy(c->peer, peer, sizeof(c->peer));
		atomic_fetch_add(&l->s->shared->conns, 1);
		up_log("accepted", c->peer, "%s", l->who);
		c->prev = NULL;
		if ((c->next = l->conns) != NULL)
			c->next->prev = c;
		l->conns = c;
		/* loop.create_task(handle(reader, writer)): made first,
		 * by up_acceptor_next, it cannot fail */
		c->co = up_coro_spawn(&l->sched, serve, c, c->peer);
	}
}

/*
 * A coroutine ran over its stack (in the SIGSEGV handler): says which
 * connection, the size and how to raise it; the process then dies of
 * the SIGSEGV, with its core if enabled, but never unexplained.
 */
static void
overflow(const struct up_coro *co, size_t stack)
{
	char msg[256];
	int n;

	n = snprintf(msg, sizeof(msg), "upserver-coro: connection %s: "
	    "stack overflow: its stack of %zu bytes is too small; raise it "
	    "with --stack (now %zuk)\n", co->name, stack, stack / 1024);
	if (n > 0)
		(void)!write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n :
		    sizeof(msg) - 1);
}

/*
 * A scheduler: loop index of those g shares, tagged who in the log
 * with -w. Returns 0 once stopped with every connection closed, or 1
 * when the engine fails.
 */
static int
run(struct up_loops *g, long index, const char *who, void *server)
{
	struct up_server *s = server;
	struct loop l = { .s = s };
	struct up_ev_fired *fired;
	struct up_timer *t;
	struct conn *c;
	int i, n, what, timeout = 0;
	int64_t next;

	(void)who;
	if (up_evloop_init(&l.e, s->opt.backend, &s->lfd, s->addr,
	    s->opt.max_conns, sizeof(struct conn), g, index, NULL) == -1) {
		warn("event loop: %s (--backend %s)", l.e.failed,
		    s->opt.backend);
		return 1;
	}
	snprintf(l.who, sizeof(l.who), "pid=%ld tid=%ld", (long)getpid(),
	    up_thread_id());
	l.e.acc.sched = &l.sched;	/* a connection's coroutine first */
	if (up_sched_init(&l.sched, l.e.ev, s->opt.stack) == -1 ||
	    up_coro_overflow_report(&l.sched, overflow) == -1) {
		warn("scheduler");
		return 1;
	}
	while (!l.e.stopping || l.conns != NULL) {
		if ((n = up_evloop_wait(&l.e, timeout, &fired, &what)) == -1) {
			warn("event loop: waiting (--backend %s)",
			    s->opt.backend);
			return 1;
		}
		for (i = 0; i < n; i++)
			up_sched_fire(&l.sched, fired[i].fd, fired[i].events);
		/* another loop handed us the lock of --counter mutex */
		if ((what & UP_EVLOOP_WOKEN) && (t = up_loops_handed(g, index,
		    &l.lockq)) != NULL)
			up_coro_ready(&l.sched,
			    UP_CONTAINER_OF(t, struct conn, lockq)->co);
		/* a stop: those waiting for a request read what came, end */
		if (what & UP_EVLOOP_STOP)
			for (c = l.conns; c != NULL; c = c->next)
				if (c->reading)
					up_coro_ready(&l.sched, c->co);
		if (what & UP_EVLOOP_ACCEPT)
			accept_ready(&l);
		up_sched_expire(&l.sched, up_now_ns());
		up_sched_run(&l.sched);
		next = up_sched_deadline(&l.sched);
		timeout = next == -1 ? 0 : up_evloop_timeout(&l.e, next);
	}
	up_sched_free(&l.sched);
	up_evloop_free(&l.e);
	return 0;
}

static const struct up_model coro_model = {
	.name = "coro",
	.max_conns = DEFAULT_MAX_CONNS,	/* or what the fd limit allows */
	.workers = 1,			/* -w: schedulers */
	.event_loop = 1,
	.processes = 1,			/* -w: the loops share the counters */
	.stack = UP_CORO_STACK_DEFAULT,
};

int
main(int argc, char **argv)
{
	struct up_server s;
	int status, child;

	if (up_server_start(&s, &coro_model, argc, argv) == -1) {
		fputs(s.msg, s.exit == 0 ? stdout : stderr);
		return s.exit;
	}
	/* one scheduler here, or with -w one in each of N processes */
	status = up_loops_run_accept(s.addr, s.opt.workers, s.opt.max_conns,
	    s.opt.accept, run, &s, &child, &s.loops);
	if (child)
		_exit(status);
	if (status == -1)
		err(1, "starting %ld schedulers", s.opt.workers);
	return status == 0 ? up_server_stop(&s) : 1;
}
