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
 */
#include <errno.h>
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

/* up_coro_fill on a completion engine: receive, parked meanwhile. */
static ssize_t
fill(struct up_sched *s, struct up_reader *in, int fd, size_t max,
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

const struct up_coro_io up_coro_completion = { fill, co_read, send_all };

#endif /* UP_URING */
