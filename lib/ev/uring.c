/*
 * uring.c: the event engine on io_uring(7), Linux's answer after epoll:
 * completion, not readiness.
 *
 * select, poll and epoll answer "which descriptors may I read now?", and
 * the program then makes the call itself, a system call per read and per
 * write. io_uring takes the call instead: the program writes requests
 * (a receive, a send) into a ring shared with the kernel, and collects
 * their results from another ring, as many of each as it likes per
 * io_uring_enter(2). Here, every turn of the loop is one
 * io_uring_enter: it submits what the turn queued and waits for the
 * first completion, the nearest deadline as its timeout.
 *
 * Two kinds of request:
 *  - operations (up_ev_submit: a receive, a send) for a caller that can
 *    wait for their completion, a coroutine (lib/coro/uring.c): done(op)
 *    is called when it completes. user_data is the op's address.
 *  - readiness, for what the engine's API watches (the stop pipes, the
 *    wake pipe, the listener; a coroutine's linger): a one-shot poll
 *    request per descriptor, armed again after it fires while the
 *    descriptor is still watched, which keeps poll(2)'s level-triggered
 *    meaning. user_data is the descriptor, a generation (a poll of a
 *    watch since changed is stale) and a low bit set.
 *
 * A standing receive (UP_EV_OP_RECV_MULTI, a multishot recv) asks once
 * and completes once per arrival, into a buffer the kernel takes from a
 * ring of the engine's (a provided buffer ring, registered by hand:
 * io_uring_setup_buf_ring came in liburing 2.4). A connection that sends
 * nothing holds no buffer; the bytes wait on the op, a list of buffer
 * ids, until the coroutine takes them, and each buffer goes back on the
 * ring once taken. An op holding more than its len waiting is cancelled,
 * so that one client that pipelines cannot take every buffer.
 *
 * Stopping a watch cancels its poll request, which holds a reference to
 * the socket: without the cancel, close(2) would not close it; the same
 * holds for a standing receive.
 */
#include "ev/backend.h"

#ifdef EV_HAVE_URING
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RING_ENTRIES	4096	/* submissions queued per turn, at most */
#define CQ_ENTRIES	16384	/* completions in the ring before overflow */
#define FIRST_FDS	64

#define NBUFS		512	/* buffers for standing receives: a power */
#define BUFSZ		2048	/* of 2, and their size: 1 MiB a loop */
#define BGID		1	/* the group id of the ring of them */

#define UD_IGNORE	2	/* a cancel's own completion: nothing to do */
#define UD_POLL		1	/* low bit: a poll request, not an op */

/* A watched descriptor. */
struct watch {
	int		 mask;		/* what it is watched for */
	int		 armed;		/* what its poll in flight asks, or 0 */
	int		 queued;	/* on the list to arm */
	uint32_t	 gen;		/* the poll that counts */
};

struct state {
	struct io_uring	 ring;
	struct watch	*w;		/* by descriptor */
	int		 nw;
	int		*arm;		/* descriptors to arm before waiting */
	int		 narm, armcap;
	/* the buffers of standing receives, or br NULL */
	struct io_uring_buf_ring *br;	/* the ring the kernel takes from */
	char		*bufs;		/* nbufs of BUFSZ bytes */
	int		 nbufs;
	int		*next;		/* by buffer id: the op's next one */
	unsigned	*len;		/* by buffer id: the bytes in it */
};

/* The user_data of fd's poll request of generation gen. */
static uint64_t
poll_data(int fd, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint64_t)fd << 2 | UD_POLL;
}

/*
 * A submission queue entry, submitting what is queued when the ring is
 * full. NULL with errno when even that fails.
 */
static struct io_uring_sqe *
sqe_get(struct state *s)
{
	struct io_uring_sqe *sqe;
	int rc;

	if ((sqe = io_uring_get_sqe(&s->ring)) != NULL)
		return sqe;
	if ((rc = io_uring_submit(&s->ring)) < 0) {
		errno = -rc;
		return NULL;
	}
	if ((sqe = io_uring_get_sqe(&s->ring)) == NULL)
		errno = EBUSY;
	return sqe;
}

/* Gives buffer bid back to the kernel. */
static void
give_back(struct state *s, int bid)
{
	io_uring_buf_ring_add(s->br, s->bufs + (size_t)bid * BUFSZ, BUFSZ,
	    (unsigned short)bid, io_uring_buf_ring_mask((unsigned)s->nbufs),
	    0);
	io_uring_buf_ring_advance(s->br, 1);
}

/*
 * The buffers of standing receives, all given to the kernel. Where the
 * kernel refuses a ring of them (before Linux 5.19), or the memory is
 * not there, s->br stays NULL and receives go one at a time.
 */
static void
buffers(struct state *s)
{
	struct io_uring_buf_reg reg;
	size_t ringsz;
	void *br;
	int i, n = NBUFS;

#ifdef UP_FIU
	/* up/ev/uring-buffers: two buffers, soon all taken (ENOBUFS) */
	if (UP_FAULT("up/ev/uring-buffers"))
		n = 2;
#endif
	ringsz = (size_t)n * sizeof(struct io_uring_buf);
	if (posix_memalign(&br, (size_t)sysconf(_SC_PAGESIZE),
	    ringsz) != 0)
		return;
	/* untouched pages: a loop that never receives costs no memory */
	s->bufs = mmap(NULL, (size_t)n * BUFSZ, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	s->next = calloc((size_t)n, sizeof(*s->next));
	s->len = calloc((size_t)n, sizeof(*s->len));
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)br;
	reg.ring_entries = (unsigned)n;
	reg.bgid = BGID;
	if (s->bufs == MAP_FAILED || s->next == NULL || s->len == NULL ||
	    io_uring_register_buf_ring(&s->ring, &reg, 0) < 0) {
		if (s->bufs != MAP_FAILED)
			munmap(s->bufs, (size_t)n * BUFSZ);
		free(s->next);
		free(s->len);
		free(br);
		s->bufs = NULL;
		s->next = NULL;
		s->len = NULL;
		return;
	}
	s->br = br;
	s->nbufs = n;
	io_uring_buf_ring_init(s->br);
	for (i = 0; i < n; i++)
		give_back(s, i);
}

static void *
create(void)
{
	struct io_uring_params p;
	struct state *s;
	int rc;

#ifdef UP_FIU
	/* up/ev/uring: the kernel refuses io_uring, as under a seccomp
	 * filter or kernel.io_uring_disabled (failinfo: the errno) */
	if (UP_FAULT("up/ev/uring")) {
		errno = UP_FAULT_ERRNO() != 0 ? UP_FAULT_ERRNO() : ENOSYS;
		return NULL;
	}
#endif
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	/*
	 * One thread submits (SINGLE_ISSUER), and the kernel's completion
	 * work runs when that thread enters the ring to wait, not in an
	 * interrupt of whatever it was doing (DEFER_TASKRUN, Linux 6.1);
	 * an older kernel gets a plain ring.
	 */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
	    IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = CQ_ENTRIES;
	if ((rc = io_uring_queue_init_params(RING_ENTRIES, &s->ring,
	    &p)) == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = CQ_ENTRIES;
		rc = io_uring_queue_init_params(RING_ENTRIES, &s->ring, &p);
	}
	if (rc < 0) {
		free(s);
		errno = -rc;
		return NULL;
	}
	buffers(s);
	return s;
}

static void
destroy(void *p)
{
	struct state *s = p;

	io_uring_queue_exit(&s->ring);	/* cancels what is in flight */
	if (s->br != NULL) {
		munmap(s->bufs, (size_t)s->nbufs * BUFSZ);
		free(s->br);
		free(s->next);
		free(s->len);
	}
	free(s->w);
	free(s->arm);
	free(s);
}

/* Makes s->w cover descriptors below nfds. 0, or -1 with errno. */
static int
reserve(void *p, int nfds)
{
	struct state *s = p;
	struct watch *w;
	int *a, n = s->nw > 0 ? s->nw : FIRST_FDS;

	if (nfds <= s->nw)
		return 0;
	while (n < nfds)
		n = n > INT_MAX / 2 ? INT_MAX : n * 2;
	if ((w = realloc(s->w, (size_t)n * sizeof(*w))) == NULL)
		return -1;
	memset(w + s->nw, 0, (size_t)(n - s->nw) * sizeof(*w));
	s->w = w;
	s->nw = n;
	/* the list to arm holds each descriptor once at most */
	if ((a = realloc(s->arm, (size_t)n * sizeof(*a))) == NULL)
		return -1;
	s->arm = a;
	s->armcap = n;
	return 0;
}

/* Puts fd on the list to arm at the next wait. */
static void
queue_arm(struct state *s, int fd)
{
	if (!s->w[fd].queued) {
		s->w[fd].queued = 1;
		s->arm[s->narm++] = fd;
	}
}

static int
change(void *p, int fd, int old, int mask)
{
	struct state *s = p;
	struct io_uring_sqe *sqe;
	struct watch *w;

	(void)old;
	if (reserve(s, fd + 1) == -1)
		return -1;
	w = &s->w[fd];
	if (w->armed != 0 && w->armed != mask) {
		/* the poll in flight asks the wrong thing: take it back */
		if ((sqe = sqe_get(s)) == NULL)
			return -1;
		io_uring_prep_poll_remove(sqe, poll_data(fd, w->gen));
		io_uring_sqe_set_data64(sqe, UD_IGNORE);
		w->gen++;	/* its completion, if any, is stale */
		w->armed = 0;
	}
	w->mask = mask & (UP_EV_READ | UP_EV_WRITE);
	if (w->mask != 0 && w->armed == 0)
		queue_arm(s, fd);
	return 0;
}

/* Arms a poll request for each descriptor that needs one. */
static int
arm(struct state *s)
{
	struct io_uring_sqe *sqe;
	struct watch *w;
	int i, fd;

	for (i = 0; i < s->narm; i++) {
		fd = s->arm[i];
		w = &s->w[fd];
		if (w->mask == 0 || w->armed != 0) {
			w->queued = 0;
			continue;
		}
		if ((sqe = sqe_get(s)) == NULL) {
			/* the rest stay queued, for the next turn */
			memmove(s->arm, s->arm + i,
			    (size_t)(s->narm - i) * sizeof(*s->arm));
			s->narm -= i;
			return -1;
		}
		w->queued = 0;
		io_uring_prep_poll_add(sqe, fd,
		    (w->mask & UP_EV_READ ? POLLIN : 0) |
		    (w->mask & UP_EV_WRITE ? POLLOUT : 0));
		io_uring_sqe_set_data64(sqe, poll_data(fd, w->gen));
		w->armed = w->mask;
	}
	s->narm = 0;
	return 0;
}

/*
 * A poll request of fd completed with res (revents, or -errno): what to
 * report of it, or 0 when nothing (stale, or no longer watched).
 */
static int
poll_done(struct state *s, uint64_t data, int res, int *fdp)
{
	int fd = (int)(data >> 2 & 0x3fffffff), m = 0;
	struct watch *w;

	if (fd >= s->nw || (w = &s->w[fd])->gen != (uint32_t)(data >> 32) ||
	    w->armed == 0)
		return 0;
	w->armed = 0;
	w->gen++;
	if (w->mask != 0)
		queue_arm(s, fd);	/* level-triggered: ask again */
	if (res < 0 || res & (POLLHUP | POLLERR | POLLNVAL))
		m = w->mask;	/* the read or write that follows meets it */
	if (res > 0 && res & POLLIN)
		m |= UP_EV_READ;
	if (res > 0 && res & POLLOUT)
		m |= UP_EV_WRITE;
	*fdp = fd;
	return m & w->mask;
}

/* Cancels op. 0, or -1 with errno. */
static int
cancel(void *p, struct up_ev_op *op)
{
	struct state *s = p;
	struct io_uring_sqe *sqe;

	if (!op->busy)
		return 0;
	if ((sqe = sqe_get(s)) == NULL)
		return -1;
	io_uring_prep_cancel(sqe, op, 0);
	io_uring_sqe_set_data64(sqe, UD_IGNORE);
	return 0;
}

/*
 * A standing receive completed once: the bytes in the buffer it took
 * wait at the tail of its list; a receive that ends says why in res.
 */
static void
received(struct state *s, struct up_ev_op *op, const struct io_uring_cqe *cqe)
{
	int bid;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		if (cqe->res <= 0)
			give_back(s, bid);	/* nothing in it */
		else {
			s->len[bid] = (unsigned)cqe->res;
			s->next[bid] = -1;
			if (op->nbufs++ == 0)
				op->head = bid;
			else
				s->next[op->tail] = bid;
			op->tail = bid;
			op->waiting += (size_t)cqe->res;
		}
	}
	op->res = cqe->res;
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		op->busy = 0;
		op->capped = 0;
	} else if (op->waiting > op->len && !op->capped) {
		/* too much waiting: the rest stays in the socket for now */
		if (cancel(s, op) == 0)
			op->capped = 1;
	}
	op->done(op);
}

static int
wait_ready(void *p, struct up_ev_fired *out, int max, int timeout_ms)
{
	struct state *s = p;
	struct __kernel_timespec ts, *tp = NULL;
	struct io_uring_cqe *cqe;
	struct up_ev_op *op;
	unsigned head, seen = 0;
	int n = 0, rc, fd, m;

	(void)arm(s);	/* out of entries: the rest arm next turn */
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
		tp = &ts;
	}
	/* the turn's one system call: submit, and wait for a completion */
	rc = io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, tp, NULL);
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY &&
	    rc != -EAGAIN) {
		errno = -rc;
		return -1;
	}
	io_uring_for_each_cqe(&s->ring, head, cqe) {
		if (n == max)
			break;	/* the rest next time: the ring keeps them */
		seen++;
		/* a cancel's; or liburing's own timeout, on a kernel that
		 * cannot wait with one (before 5.11) */
		if (cqe->user_data == UD_IGNORE ||
		    cqe->user_data == LIBURING_UDATA_TIMEOUT)
			continue;
		if (cqe->user_data & UD_POLL) {
			if ((m = poll_done(s, cqe->user_data, cqe->res,
			    &fd)) != 0) {
				out[n].fd = fd;
				out[n++].events = m;
			}
			continue;
		}
		op = (struct up_ev_op *)(uintptr_t)cqe->user_data;
		if (op->kind == UP_EV_OP_RECV_MULTI) {
			received(s, op, cqe);
			continue;
		}
		op->res = cqe->res;
		op->busy = 0;
		op->done(op);
	}
	io_uring_cq_advance(&s->ring, seen);
	return n;
}

static int
submit(void *p, struct up_ev_op *op)
{
	struct state *s = p;
	struct io_uring_sqe *sqe;

	if ((sqe = sqe_get(s)) == NULL)
		return -1;
	if (op->kind == UP_EV_OP_RECV_MULTI) {
		if (s->br == NULL) {
			errno = ENOTSUP;
			return -1;
		}
		/* the kernel picks a buffer of group BGID for each arrival */
		io_uring_prep_recv_multishot(sqe, op->fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BGID;
	} else if (op->kind == UP_EV_OP_READ)	/* at the current offset */
		io_uring_prep_read(sqe, op->fd, op->buf, (unsigned)op->len,
		    (uint64_t)-1);
	else if (op->kind == UP_EV_OP_RECV)
		io_uring_prep_recv(sqe, op->fd, op->buf, op->len, op->flags);
	else
		io_uring_prep_send(sqe, op->fd, op->buf, op->len, op->flags);
	io_uring_sqe_set_data(sqe, op);
	op->busy = 1;
	return 0;
}

static int
multishot(void *p)
{
	return ((struct state *)p)->br != NULL;
}

static size_t
waiting(void *p, const struct up_ev_op *op, char **bytes)
{
	struct state *s = p;

	if (op->nbufs == 0)
		return 0;
	*bytes = s->bufs + (size_t)op->head * BUFSZ + op->off;
	return s->len[op->head] - op->off;
}

static void
consume(void *p, struct up_ev_op *op, size_t n)
{
	struct state *s = p;
	size_t left;
	int bid;

	while (n > 0 && op->nbufs > 0) {
		bid = op->head;
		left = s->len[bid] - op->off;
		if (n < left) {
			op->off += n;
			op->waiting -= n;
			return;
		}
		n -= left;
		op->waiting -= left;
		op->off = 0;
		op->head = s->next[bid];
		op->nbufs--;
		give_back(s, bid);	/* taken: the kernel may fill it again */
	}
}

const struct ev_backend ev_uring = {
	"uring", INT_MAX, create, destroy, reserve, change, wait_ready,
	submit, cancel, multishot, waiting, consume
};
#endif /* EV_HAVE_URING */
