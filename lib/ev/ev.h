/*
 * ev.h: the event engine of the event-loop programs (ev.c, and a file
 * per readiness mechanism: select.c, poll.c, epoll.c, kqueue.c; and
 * uring.c, io_uring, which completes operations as well), and the
 * timer queues that go with it (timeq.c): what upserver-poll and
 * upclient's load mode wait on.
 */
#ifndef UP_EV_H
#define UP_EV_H

#include "core/core.h"

/* ---- ev.c: which descriptors are ready ------------------------------- */

/*
 * One small API over select(2), poll(2), epoll(7) and kqueue(2): say which
 * descriptors to watch for what, wait, and get back the ready ones. The
 * mechanisms differ in what each wait costs (see up(7)); the engine hides
 * that from the caller, so one program runs on any of them.
 */
#define UP_EV_READ	0x1
#define UP_EV_WRITE	0x2
/*
 * With UP_EV_READ, for a listener several engines watch: epoll wakes one
 * of them, not all (EPOLLEXCLUSIVE, Linux 4.5). Only where
 * up_ev_exclusive() says so; other engines ignore it.
 */
#define UP_EV_EXCLUSIVE	0x4

/*
 * A ready descriptor. A hangup or an error is reported as every direction
 * fd is watched for, so the read or write that follows meets it. With
 * kqueue the same fd may come twice in one batch, once per direction.
 */
struct up_ev_fired {
	int	fd;
	int	events;		/* UP_EV_READ and/or UP_EV_WRITE */
};

struct up_ev;

/*
 * A new engine on the named backend ("select", "poll", "epoll",
 * "kqueue", "uring"), or NULL with errno: EINVAL for a name that is none
 * of these, ENOSYS for one this build or system does not have; for
 * uring, io_uring_setup(2)'s errno where the kernel refuses it (ENOSYS,
 * EPERM: kernel.io_uring_disabled, a seccomp filter).
 */
struct up_ev *up_ev_new(const char *backend);
void	up_ev_free(struct up_ev *ev);

/*
 * The readiness backends this build has, as "select, poll, epoll"; with
 * completion set, "uring" too where the build has it (a program that
 * can park a caller until an operation completes: upserver-coro).
 */
const char *up_ev_backends(void);
const char *up_ev_backends_all(int completion);

/*
 * The cheapest backend this build has, whose waits cost O(ready) rather
 * than O(watched): "epoll", else "kqueue", else "poll".
 */
const char *up_ev_best(void);

/*
 * The descriptors a backend can watch are those below this number:
 * FD_SETSIZE for select, INT_MAX for the others (their limit is the
 * process's descriptor limit); -1 for an unknown or absent backend.
 */
int	up_ev_max_fd(const char *backend);

/*
 * Watches fd for mask (UP_EV_READ | UP_EV_WRITE), replacing what it was
 * watched for; mask 0 stops watching it, which must be done before fd is
 * closed. Costs nothing when mask is unchanged. 0, or -1 with errno
 * (EINVAL for select and a descriptor not below FD_SETSIZE).
 */
int	up_ev_set(struct up_ev *ev, int fd, int mask);

/* 1 when the engine backend honours UP_EV_EXCLUSIVE in this build. */
int	up_ev_exclusive(const char *backend);

/*
 * Makes room for watching any descriptor below nfds, so that up_ev_set
 * allocates no memory for them: a server calls it before accepting, so as
 * never to hold a connection it cannot watch. 0, or -1 with errno.
 */
int	up_ev_reserve(struct up_ev *ev, int nfds);

/*
 * Waits at most timeout_ms milliseconds (-1: until something is ready)
 * and points *fired at the ready descriptors, valid until the next call.
 * Returns how many (0 on timeout), or -1 with errno (EINTR: a signal).
 */
int	up_ev_wait(struct up_ev *ev, int timeout_ms,
	    struct up_ev_fired **fired);

/* ---- completions: the uring backend --------------------------------- */

/*
 * An operation the kernel carries out and completes: a receive or a
 * send, submitted with up_ev_submit, reported done by up_ev_wait, which
 * sets res and busy and calls done(op). The caller keeps op, and the
 * buffer, untouched until then, even after up_ev_cancel: a cancelled
 * operation still completes (res -ECANCELED, or what it did before the
 * cancel reached it).
 *
 * UP_EV_OP_RECV_MULTI is a standing receive (a multishot one): submitted
 * once, it receives again and again into buffers of the engine's own,
 * which it takes from a ring the kernel shares, a buffer a completion;
 * done(op) is called for each, busy still set while it stands. The bytes
 * wait, in order, for up_ev_received and up_ev_consume, which gives each
 * buffer back to the kernel once it is taken; while more than len of
 * them wait, the engine cancels the receive, and the client's bytes stay
 * in the socket (the caller submits it again once it has taken them).
 * When it ends (busy 0), res says why: 0 the end of stream, -ENOBUFS no
 * buffer was free, -ECANCELED a cancel, > 0 the kernel ended it, or
 * another -errno.
 */
#define UP_EV_OP_READ	1	/* read(2) */
#define UP_EV_OP_RECV	2	/* recv(2) */
#define UP_EV_OP_SEND	3	/* send(2) */
#define UP_EV_OP_RECV_MULTI 4	/* recv(2), again and again */

struct up_ev_op {
	int	 kind;		/* UP_EV_OP_READ, _RECV, _SEND, _RECV_MULTI */
	int	 fd;
	void	*buf;
	size_t	 len;		/* RECV_MULTI: the bytes it may hold waiting */
	int	 flags;		/* recv(2)'s or send(2)'s */
	int	 res;		/* what the call returned, or -errno */
	int	 busy;		/* submitted, not yet completed */
	void	(*done)(struct up_ev_op *);
	void	*arg;		/* the caller's */
	/* RECV_MULTI, the engine's: the buffers waiting, oldest first */
	int	 head, tail, nbufs;
	size_t	 off;		/* what of the head buffer was taken */
	size_t	 waiting;	/* bytes */
	int	 capped;	/* cancelled, too much waiting */
};

/* 1 when ev completes operations (uring), 0 for readiness only. */
int	up_ev_completes(const struct up_ev *ev);

/*
 * Queues op, to be submitted by the next up_ev_wait with everything
 * else (one system call a turn). 0, or -1 with errno (ENOTSUP on a
 * readiness backend).
 */
int	up_ev_submit(struct up_ev *ev, struct up_ev_op *op);

/* Asks the kernel to cancel op, if it is busy. 0, or -1 with errno. */
int	up_ev_cancel(struct up_ev *ev, struct up_ev_op *op);

/*
 * 1 when ev has buffers of its own for UP_EV_OP_RECV_MULTI (the kernel
 * took the ring of them: Linux 5.19), 0 when not.
 */
int	up_ev_multishot(const struct up_ev *ev);

/*
 * The oldest bytes a standing receive holds waiting: points *p at them
 * and returns how many (0: none); the rest follow, once these are taken.
 */
size_t	up_ev_received(struct up_ev *ev, const struct up_ev_op *op,
	    char **p);

/*
 * Takes n of the bytes up_ev_received pointed at (SIZE_MAX: all op
 * holds), giving the kernel back each buffer wholly taken.
 */
void	up_ev_consume(struct up_ev *ev, struct up_ev_op *op, size_t n);

/* ---- timeq.c: deadlines that are all the same distance away --------- */

/*
 * A timer queue: entries in deadline order, for waits that all last the
 * same time (a delay, an idle timeout, a linger): appending at the tail
 * keeps it sorted, so the next deadline is always at the head, and every
 * operation is O(1), where a heap or a timer wheel would be for
 * deadlines that differ. An entry is on one queue at most; it is put in
 * the structure it times (UP_CONTAINER_OF gets that back).
 */
struct up_timer {
	struct up_timer	*prev, *next;
	struct up_timeq	*q;		/* the queue it is on, or NULL */
	int64_t		 deadline;	/* when its wait ends */
};

struct up_timeq {
	struct up_timer	*head, *tail;
};

/* Moves t to the tail of q (off any queue it was on), due at deadline. */
void	up_timeq_push(struct up_timeq *q, struct up_timer *t,
	    int64_t deadline);

/* Takes t off its queue, if it is on one. */
void	up_timer_cancel(struct up_timer *t);

/* The head of q when it is due at now, else NULL. */
struct up_timer *up_timeq_due(const struct up_timeq *q, int64_t now);

/*
 * The deadline of q's head, or 0 (none) when q is empty: a deadline as
 * up_earliest and up_ms_until take it.
 */
int64_t	up_timeq_next(const struct up_timeq *q);

#endif /* UP_EV_H */
