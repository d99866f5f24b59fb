/*
 * uring.c: the waits a coroutine makes where a blocking server blocks,
 * on a completion engine (io_uring, lib/ev/uring.c): submit the call,
 * park until the kernel has done it, take its result. Nothing is tried
 * first and nothing is polled: the receive waits in the kernel, and
 * every coroutine's submissions of a turn go in with the loop's one
 * io_uring_enter. io.c has the same functions on a readiness engine:
 * diff the two.
 *
 * A wait that ends before its operation (a deadline: -t, the pause of
 * --framing auto, --request-timeout; a stop that wakes the coroutine)
 * cancels the operation and still parks until it completes, since the
 * kernel may be writing into the buffer until then: no operation
 * outlives the call that submitted it, so the op (on the coroutine's
 * stack), the buffer and the connection are never freed under the
 * kernel, and no stale completion can wake the coroutine later. A
 * cancel that comes too late completes with what the call did, which is
 * kept: bytes received at the deadline are not lost.
 *
 * Where the engine has buffers of its own (Linux 5.19 and later), a
 * connection's receives are one standing (multishot) receive, asked
 * once: the kernel receives whenever bytes come, into the engine's
 * buffers, whether or not the coroutine waits, and fill copies them into
 * the connection's reader; each buffer goes back to the kernel once
 * copied. There is then no submission a request to receive it, and a
 * deadline costs no cancel: the receive stands. When the kernel ends it
 * (its buffers all taken: ENOBUFS; too much waiting: the engine's
 * cancel), the next fill asks again, the first time with a receive of
 * its own into the reader's memory when no buffer was free.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro/coro.h"

#ifdef UP_URING

/* An operation completed: its coroutine runs again. */
static void
op_done(struct up_ev_op *op)
{
	struct up_coro *c = op->arg;

	up_coro_ready(c->s, c);
}

/*
 * Submits op and parks until it completes or deadline (0: none) passes;
 * then cancels it and parks until it completes all the same. Returns
 * what the call returned, or -1 with errno: ETIMEDOUT when the deadline
 * (or up_coro_ready) came first and the cancel stopped it, the call's
 * own error otherwise.
 */
static ssize_t
await(struct up_sched *s, struct up_ev_op *op, int64_t deadline)
{
	op->done = op_done;
	op->arg = s->cur;
	if (up_ev_submit(s->ev, op) == -1)
		return -1;
	/* await fut: the completion readies this coroutine */
	if (deadline != 0)
		up_coro_sleep(s, deadline);
	else
		up_coro_park(s);
	if (op->busy) {
		/* the deadline came first: cancel, and wait for the kernel
		 * to let go of the buffer (a stop's wake-up changes nothing) */
		(void)up_ev_cancel(s->ev, op);
		while (op->busy)
			up_coro_park(s);
		if (op->res == -ECANCELED) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	if (op->res < 0) {
		errno = -op->res;
		return -1;
	}
	return op->res;
}

/* up_coro_fill by one receive, parked meanwhile. */
static ssize_t
fill_once(struct up_sched *s, struct up_reader *in, int fd, size_t max,
    int64_t deadline)
{
	struct up_ev_op op = { .kind = UP_EV_OP_RECV, .fd = fd };
	size_t room;
	ssize_t n;
	char *p, byte;

	/* a stop: only what has come, with no wait */
	if (deadline == UP_CORO_NOW)
		return up_reader_fill(in, fd, max);
	if (in->buf == NULL) {
		/*
		 * One byte peeked first: a client that sent nothing costs
		 * no buffer, and one the memory cannot be found for loses
		 * none.
		 */
		op.buf = &byte;
		op.len = 1;
		op.flags = MSG_PEEK;
		if ((n = await(s, &op, deadline)) <= 0) {
			if (n == 0)
				in->eof = 1;
			return n;
		}
	}
	if (up_reader_room(in, max, &p, &room) == -1)
		return -1;
	op.buf = p;
	op.len = room;
	op.flags = 0;
	return up_reader_got(in, await(s, &op, deadline), room);
}

/* A coroutine's standing receive, on its connection. */
struct up_coro_rx {
	struct up_ev_op	 op;		/* UP_EV_OP_RECV_MULTI; arg: this */
	struct up_sched	*s;
	struct up_coro	*c;		/* its coroutine; NULL once it ended */
	struct up_coro	*waiter;	/* parked in fill for its bytes */
	int		 once;		/* the next fill: one receive */
	int		 err;		/* it ended on this error, or 0 */
	int		 eof;		/* it ended at the end of stream */
};

#define RX_WINDOW	(64 * 1024)	/* bytes waiting, then cancelled */

/* The standing receive completed: bytes came, or it ended. */
static void
rx_done(struct up_ev_op *op)
{
	struct up_coro_rx *rx = op->arg;

	if (rx->c == NULL) {
		/* its coroutine ended (drop): nobody takes its bytes */
		up_ev_consume(rx->s->ev, op, SIZE_MAX);
		if (!op->busy)
			free(rx);
		return;
	}
	if (!op->busy) {
		if (op->res == 0)
			rx->eof = 1;
		else if (op->res == -ENOBUFS)
			rx->once = 1;	/* asked again after one of its own */
		else if (op->res == -EINVAL && op->waiting == 0)
			rx->once = -1;	/* no multishot receive: never again */
		else if (op->res < 0 && op->res != -ECANCELED)
			rx->err = -op->res;
	}
	if (rx->waiter != NULL)
		up_coro_ready(rx->s, rx->waiter);
}

/*
 * The running coroutine's standing receive on fd, made the first time;
 * NULL when fill must receive once instead: an engine without buffers,
 * a kernel without multishot receives, no memory for it.
 */
static struct up_coro_rx *
rx_get(struct up_sched *s, int fd)
{
	struct up_coro *c = s->cur;

	if (c == &s->main || !up_ev_multishot(s->ev))
		return NULL;
	if (c->rx == NULL) {
		if ((c->rx = calloc(1, sizeof(*c->rx))) == NULL)
			return NULL;
		c->rx->op.kind = UP_EV_OP_RECV_MULTI;
		c->rx->op.fd = fd;
		c->rx->op.len = RX_WINDOW;
		c->rx->op.done = rx_done;
		c->rx->op.arg = c->rx;
		c->rx->s = s;
		c->rx->c = c;
	}
	return c->rx->op.fd == fd && c->rx->once != -1 ? c->rx : NULL;
}

/*
 * Copies into in what the standing receive holds, as much as in has
 * room for. Returns how many bytes, 0 with none waiting, or -1 with
 * errno ENOMEM (they wait on).
 */
static ssize_t
take(struct up_sched *s, struct up_coro_rx *rx, struct up_reader *in,
    size_t max)
{
	size_t room, got = 0, n;
	char *p, *from;

	if (rx->op.nbufs == 0)
		return 0;
	if (up_reader_room(in, max, &p, &room) == -1)
		return -1;
	while (got < room && (n = up_ev_received(s->ev, &rx->op,
	    &from)) > 0) {
		if (n > room - got)
			n = room - got;
		memcpy(p + got, from, n);
		up_ev_consume(s->ev, &rx->op, n);
		got += n;
	}
	return up_reader_got(in, (ssize_t)got, room);
}

/*
 * up_coro_fill on a completion engine: what the standing receive has
 * taken in, and while nothing, parked until it does.
 */
static ssize_t
fill(struct up_sched *s, struct up_reader *in, int fd, size_t max,
    int64_t deadline)
{
	struct up_coro_rx *rx;
	ssize_t n;

	if ((rx = rx_get(s, fd)) == NULL)
		return fill_once(s, in, fd, max, deadline);
	for (;;) {
		if ((n = take(s, rx, in, max)) != 0)
			return n;
		if (rx->eof) {
			in->eof = 1;
			return 0;
		}
		if (rx->err != 0) {
			errno = rx->err;
			return -1;
		}
		if (!rx->op.busy) {
			if (rx->once == 1) {
				/* no buffer was free: one receive of its own */
				rx->once = 0;
				return fill_once(s, in, fd, max, deadline);
			}
			if (deadline == UP_CORO_NOW)
				return up_reader_fill(in, fd, max);
			if (up_ev_submit(s->ev, &rx->op) == -1)
				return fill_once(s, in, fd, max, deadline);
		} else if (deadline == UP_CORO_NOW) {
			errno = EAGAIN;	/* a stop: none came */
			return -1;
		}
		/* await: the receive stands, a deadline cancels nothing */
		rx->waiter = s->cur;
		if (deadline != 0)
			up_coro_sleep(s, deadline);
		else
			up_coro_park(s);
		rx->waiter = NULL;
		if (rx->op.nbufs == 0 && rx->op.busy) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

/*
 * Coroutine c ended with its receive maybe standing (it never called
 * up_coro_forget): the receive is cancelled, and freed when the kernel
 * has let go of it.
 */
static void
drop(struct up_sched *s, struct up_coro *c)
{
	struct up_coro_rx *rx = c->rx;

	if (rx == NULL)
		return;
	c->rx = NULL;
	up_ev_consume(s->ev, &rx->op, SIZE_MAX);
	if (!rx->op.busy) {
		free(rx);
		return;
	}
	rx->c = NULL;
	rx->waiter = NULL;
	(void)up_ev_cancel(s->ev, &rx->op);
}

/*
 * Ends the running coroutine's standing receive on fd, before fd is
 * closed: a receive in flight holds the socket open. Parks until the
 * kernel has let go of it; drop then gives back its buffers.
 */
static void
forget(struct up_sched *s, int fd)
{
	struct up_coro *c = s->cur;
	struct up_coro_rx *rx = c->rx;
	int asked = 0;

	if (c == &s->main || rx == NULL || rx->op.fd != fd)
		return;
	while (rx->op.busy) {
		if (!asked)
			asked = up_ev_cancel(s->ev, &rx->op) == 0;
		rx->waiter = c;
		if (asked)
			up_coro_park(s);
		else	/* no room to ask: again in a moment */
			up_coro_sleep(s, up_now_ns() + UP_NS_PER_SEC / 100);
	}
	drop(s, c);	/* no longer busy: freed now */
}

/* up_coro_read on a completion engine. */
static ssize_t
co_read(struct up_sched *s, int fd, void *buf, size_t len,
    int64_t deadline)
{
	struct up_ev_op op = { .kind = UP_EV_OP_READ, .fd = fd, .buf = buf,
	    .len = len };
	ssize_t n;
	int w;

	for (;;) {
		if ((n = await(s, &op, deadline)) >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		/* a non-blocking pipe: the kernel would not wait on it */
		if ((w = up_coro_wait(s, fd, UP_EV_READ, deadline)) == -1)
			return -1;
		if (w == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

/* up_coro_send_all on a completion engine. */
static int
send_all(struct up_sched *s, int fd, const void *buf, size_t len,
    int64_t deadline)
{
	struct up_ev_op op = { .kind = UP_EV_OP_SEND, .fd = fd,
	    .flags = MSG_NOSIGNAL };
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		op.buf = (void *)(uintptr_t)p;
		op.len = len;
		if ((n = await(s, &op, deadline)) >= 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

const struct up_coro_io up_coro_completion = {
	fill, co_read, send_all, forget, drop
};

#endif /* UP_URING */
