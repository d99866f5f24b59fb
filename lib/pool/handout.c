/*
 * handout.c: who takes the next connection when the workers of a pool
 * (upserver-fork -w, upserver-thread -w) share one listener: --accept.
 *
 * Each mode is one case of up_handout_take, to compare (Stevens, UNP
 * chapter 30):
 *
 * herd	 every worker waits in poll(2) on the listener, then accepts
 *	 without blocking. poll wakes every waiter, one wins, the others
 *	 find EAGAIN: wasted wake-ups. This is what -w did before --accept.
 * plain every worker blocks in accept(2) (UNP serv02): the kernel wakes
 *	 one waiter for one connection. A 100 ms receive timeout on the
 *	 listener lets a blocked worker see a stop; a timeout is no
 *	 wake-up for a connection and is not counted.
 * lock	 a worker takes the accept lock, then waits for and accepts one
 *	 connection, then lets go (UNP serv04, Apache's accept mutex): one
 *	 waiter at a time. The lock is a pthread mutex in memory shared
 *	 with the workers (process-shared and robust for processes), not
 *	 flock(2): one lock serves threads and processes alike (flock
 *	 locks belong to the open file, which a pool's threads share, so
 *	 it would not exclude them), and a worker killed holding it does
 *	 not stop the others (EOWNERDEAD).
 * pass	 one accepts and hands each connection over: the main thread
 *	 to a thread through a queue; the pool's parent to a process
 *	 (UNP serv05) over a unix socket pair of the process's own, the
 *	 descriptor sent with SCM_RIGHTS. A worker process sends one
 *	 byte back each time it is free, and the parent hands only to a
 *	 free one: with every worker busy it stops watching the listener
 *	 and the clients wait in the backlog, as in the other modes,
 *	 rather than in the parent's memory. A worker waits on its queue
 *	 or its socket, never on the listener.
 *
 * Each worker counts the connections it accepted and its wasted
 * wake-ups, for the "stopped" line.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool/pool.h"

#define PLAIN_TIMEOUT_MS	100	/* a blocked accept looks for a stop */
#define QUEUE			64	/* pass: handed over, not taken */
#define PAUSE_NS	(100 * UP_NS_PER_MS)	/* out of descriptors */

/*
 * pass for processes: the parent's view of its workers. Private memory,
 * not shared: each worker has the copy made at its fork, with its own
 * socket in it.
 */
struct passing {
	const char	*addr;		/* the server's, for the log */
	int		 lfd;		/* the listener */
	int		 pending;	/* accepted, not yet handed, or -1 */
	long		 n, next;	/* workers; the next to try first */
	int64_t		 pause;		/* no accepting until then, or 0 */
	struct up_pool_hooks hooks;
	struct child {
		int	 mine;		/* the parent's end, or -1 */
		int	 theirs;	/* the worker's end, or -1 */
		int	 free;		/* said so, and given nothing since */
	}		 child[];
};

struct up_handout {
	enum up_accept_mode mode;
	long		 n;		/* workers */
	pthread_mutex_t	 lock;		/* the accept lock; pass: the queue's */
	pthread_cond_t	 ready;		/* pass: a connection, or the end */
	pthread_cond_t	 room;		/* pass: a place in the queue */
	int		 closed;	/* pass: no more will come */
	size_t		 head, used;	/* pass: the queue, QUEUE long */
	struct passed {
		int			fd;
		socklen_t		len;
		struct sockaddr_storage	ss;
	}		 queue[QUEUE];
	struct passing	*pass;		/* pass for processes, or NULL */
	atomic_long	 counts[];	/* accepted, then wasted, by worker */
};

const char *
up_accept_name(enum up_accept_mode m)
{
	static const char *names[] = { "herd", "plain", "lock", "pass",
	    "least", "exclusive", "reuseport" };

	return (size_t)m < sizeof(names) / sizeof(names[0]) ? names[m] : "?";
}

int
up_accept_mode(const char *name, enum up_accept_mode *m)
{
	int i;

	/* the contract's name for the loops' default (CONTRACT.md) */
	if (strcmp(name, "turn") == 0) {
		*m = UP_ACCEPT_LEAST;
		return 0;
	}
	for (i = 0; i <= UP_ACCEPT_REUSEPORT; i++)
		if (strcmp(name, up_accept_name(i)) == 0) {
			*m = i;
			return 0;
		}
	return -1;
}

/* pass for processes: the parent's view of n workers, none forked yet. */
static struct passing *
passing_new(long n, int lfd)
{
	struct passing *p;
	long i;

	if ((p = malloc(sizeof(*p) + (size_t)n * sizeof(p->child[0]))) ==
	    NULL)
		return NULL;
	*p = (struct passing){ .lfd = lfd, .pending = -1, .n = n };
	for (i = 0; i < n; i++)
		p->child[i] = (struct child){ .mine = -1, .theirs = -1 };
	return p;
}

struct up_handout *
up_handout_new(enum up_accept_mode mode, long n, int lfd,
    int across_processes)
{
	pthread_mutexattr_t attr;
	struct timeval tv = { 0, PLAIN_TIMEOUT_MS * 1000 };
	struct up_handout *h;
	size_t len = sizeof(*h) + 2 * (size_t)n * sizeof(h->counts[0]);
	long i;
	int e, fl;

	if ((h = up_map_zeroed(len, across_processes)) == NULL)
		return NULL;
	h->mode = mode;
	h->n = n;
	for (i = 0; i < 2 * n; i++)
		atomic_init(&h->counts[i], 0);
	if ((e = pthread_mutexattr_init(&attr)) != 0 ||
	    (across_processes && (e = pthread_mutexattr_setpshared(&attr,
	    PTHREAD_PROCESS_SHARED)) != 0) ||
	    (across_processes && (e = pthread_mutexattr_setrobust(&attr,
	    PTHREAD_MUTEX_ROBUST)) != 0) ||
	    (e = pthread_mutex_init(&h->lock, &attr)) != 0)
		goto fail;
	if (mode == UP_ACCEPT_PASS && !across_processes &&
	    ((e = pthread_cond_init(&h->ready, NULL)) != 0 ||
	    (e = pthread_cond_init(&h->room, NULL)) != 0))
		goto fail;
	pthread_mutexattr_destroy(&attr);
	if (mode == UP_ACCEPT_PASS && across_processes &&
	    (h->pass = passing_new(n, lfd)) == NULL)
		goto fail_errno;
	/* plain: accept(2) blocks, but for a stop only so long */
	if (mode == UP_ACCEPT_PLAIN &&
	    ((fl = fcntl(lfd, F_GETFL)) == -1 ||
	    fcntl(lfd, F_SETFL, fl & ~O_NONBLOCK) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1))
		goto fail_errno;
	return h;
fail_errno:
	e = errno;
fail:
	munmap(h, len);
	errno = e;
	return NULL;
}

/* The accept lock, taken over from a worker that died holding it. */
static void
lock(struct up_handout *h)
{
	if (pthread_mutex_lock(&h->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&h->lock);
}

/* ---- pass for processes: the descriptor goes over a socket pair ---- */

/* A message of one byte, with room for one descriptor. */
struct fd_message {
	struct msghdr	 m;
	struct iovec	 iov;
	char		 byte;
	union {
		struct cmsghdr	h;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 u;
};

/* Makes msg ready to send or receive. Returns its msghdr. */
static struct msghdr *
fd_message(struct fd_message *msg)
{
	memset(msg, 0, sizeof(*msg));
	msg->iov.iov_base = &msg->byte;
	msg->iov.iov_len = 1;
	msg->m.msg_iov = &msg->iov;
	msg->m.msg_iovlen = 1;
	msg->m.msg_control = msg->u.buf;
	msg->m.msg_controllen = sizeof(msg->u.buf);
	return &msg->m;
}

/* Sends descriptor fd over the socket s, with one byte: 0, or -1. */
static int
send_fd(int s, int fd)
{
	struct fd_message msg;
	struct msghdr *m = fd_message(&msg);
	struct cmsghdr *c = CMSG_FIRSTHDR(m);
	ssize_t n;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	while ((n = sendmsg(s, m, 0)) == -1 && errno == EINTR)
		;
	return n == 1 ? 0 : -1;
}

/*
 * Receives a descriptor sent by send_fd on s: returns it (blocking,
 * close-on-exec), UP_HANDOUT_STOP at the end of the stream, or -1 with
 * errno.
 */
static int
recv_fd(int s)
{
	struct fd_message msg;
	struct msghdr *m = fd_message(&msg);
	struct cmsghdr *c;
	ssize_t n;
	int fd;

	while ((n = recvmsg(s, m, 0)) == -1 && errno == EINTR)
		;
	if (n <= 0)
		return n == 0 ? UP_HANDOUT_STOP : -1;
	c = CMSG_FIRSTHDR(m);
	if (c == NULL || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int))) {
		errno = EBADMSG;	/* a byte with no descriptor */
		return -1;
	}
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (up_fd_setup(fd, 0) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * In worker i: says it is free (one byte to the parent), then waits for
 * the next connection, its peer's address in sa (*len bytes). Returns
 * its descriptor; UP_HANDOUT_STOP once the parent has closed its end (a
 * stop: what was handed over comes first), or once this worker alone is
 * stopped (its own SIGTERM: it then shuts its end, so that nothing more
 * can come, and takes what came); or -1 with errno.
 */
static int
receive(struct passing *p, long i, struct sockaddr *sa, socklen_t *len)
{
	struct pollfd pfd[2];
	socklen_t room = *len;
	int s = p->child[i].theirs, fd;
	char byte = 0;

	for (;;) {
		/* the parent gone, the read below says so */
		if (write(s, &byte, 1) == -1 && errno != EPIPE)
			return -1;
		pfd[0] = (struct pollfd){ .fd = s, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = up_stop_fd(),
		    .events = POLLIN };
		while (poll(pfd, 2, -1) == -1)
			if (errno != EINTR)
				return -1;
		if (pfd[0].revents == 0)	/* stopped alone */
			shutdown(s, SHUT_RD);
		if ((fd = recv_fd(s)) < 0)
			return fd;
		*len = room;
		if (getpeername(fd, sa, len) == 0)
			return fd;
		close(fd);	/* the client left already: the next */
		if (pfd[0].revents == 0)
			return UP_HANDOUT_STOP;
	}
}

/* prepare: worker i's socket pair, before its fork; 0, or -1 with errno. */
static int
pass_prepare(long i, void *arg)
{
	struct passing *p = arg;
	int sv[2];

	if (p->child[i].mine != -1)
		return 0;	/* made for a fork that failed */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -1;
	if (up_fd_setup(sv[0], 1) == -1 || up_fd_setup(sv[1], 0) == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	p->child[i] = (struct child){ .mine = sv[0], .theirs = sv[1] };
	return 0;
}

/*
 * forked: worker i keeps only its own end; the parent closes it, so
 * that a worker that dies is seen at once (end of file on the parent's
 * end, and an error to send on).
 */
static void
pass_forked(long i, int child, void *arg)
{
	struct passing *p = arg;
	long j;

	if (!child) {
		close(p->child[i].theirs);
		p->child[i].theirs = -1;
		return;
	}
	for (j = 0; j < p->n; j++) {
		if (p->child[j].mine != -1)
			close(p->child[j].mine);
		if (j != i && p->child[j].theirs != -1)
			close(p->child[j].theirs);
	}
	if (p->pending != -1)
		close(p->pending);
}

/* Worker i is gone: its end is closed, it is given nothing more. */
static void
gone(struct passing *p, long i)
{
	if (p->child[i].mine != -1)
		close(p->child[i].mine);
	if (p->child[i].theirs != -1)
		close(p->child[i].theirs);
	p->child[i] = (struct child){ .mine = -1, .theirs = -1 };
}

/* died: its replacement gets a new pair. */
static void
pass_died(long i, void *arg)
{
	gone(arg, i);
}

/* The next free worker, from p->next on: its index, or -1. */
static long
free_worker(const struct passing *p)
{
	long k, j;

	for (k = 0; k < p->n; k++) {
		j = (p->next + k) % p->n;
		if (p->child[j].free)
			return j;
	}
	return -1;
}

/*
 * Hands the pending connection to a free worker, the next after the
 * last one given one, and closes the parent's copy. A worker that cannot
 * be sent to has died: the next is tried. With nobody free it stays
 * pending.
 */
static void
hand_over(struct passing *p)
{
	long j;

	while (p->pending != -1 && (j = free_worker(p)) != -1) {
		p->child[j].free = 0;
		if (send_fd(p->child[j].mine, p->pending) == -1)
			continue;	/* dead: reaped, then replaced */
		close(p->pending);
		p->pending = -1;
		p->next = (j + 1) % p->n;
	}
}

/* watch: the workers' ends, and the listener while one of them is free. */
static int
pass_watch(void *arg, struct pollfd *fds, int max, int *timeout_ms)
{
	struct passing *p = arg;
	long j;
	int n = 0;

	if (p->pause != 0)
		*timeout_ms = up_ms_until(p->pause);
	else if (p->pending == -1 && !up_stopping() && free_worker(p) != -1)
		fds[n++] = (struct pollfd){ .fd = p->lfd, .events = POLLIN };
	for (j = 0; j < p->n && n < max; j++)
		if (p->child[j].mine != -1)
			fds[n++] = (struct pollfd){ .fd = p->child[j].mine,
			    .events = POLLIN };
	return n;
}

/* What worker i sent: a byte each time it is free, or its end. */
static void
heard(struct passing *p, long i)
{
	char buf[16];
	ssize_t r;

	while ((r = read(p->child[i].mine, buf, sizeof(buf))) > 0)
		p->child[i].free = 1;
	if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		gone(p, i);	/* died: reaped, then replaced */
}

/*
 * ready: notes the workers that are free, then accepts while one is
 * and hands each connection over at once. Out of descriptors, it stops
 * accepting for a moment, as the other pools do.
 */
static void
pass_ready(void *arg, const struct pollfd *fds, int n)
{
	struct passing *p = arg;
	int k, listener = 0;
	long j;

	if (p->pause != 0 && up_now_ns() >= p->pause)
		p->pause = 0;
	for (k = 0, j = 0; k < n; k++) {
		if (fds[k].fd == p->lfd) {
			listener = fds[k].revents != 0;
			continue;
		}
		while (j < p->n && p->child[j].mine != fds[k].fd)
			j++;
		if (j < p->n && fds[k].revents != 0)
			heard(p, j);
	}
	hand_over(p);
	while (listener && p->pending == -1 && !up_stopping() &&
	    free_worker(p) != -1) {
		if ((p->pending = up_accept_fd(p->lfd, NULL, NULL, 0)) != -1) {
			hand_over(p);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (up_accept_transient(errno))
			continue;
		up_log_error(p->addr, NULL, "accept", errno);
		p->pause = up_now_ns() + PAUSE_NS;
		break;
	}
}

/*
 * stopped: the workers' ends are closed, so that each, once it has
 * served what it was handed, reads the end and stops. A connection
 * still pending is closed, as the backlog's clients are.
 */
static void
pass_stopped(void *arg)
{
	struct passing *p = arg;
	long j;

	for (j = 0; j < p->n; j++)
		gone(p, j);
	if (p->pending != -1)
		close(p->pending);
	p->pending = -1;
}

const struct up_pool_hooks *
up_handout_hooks(struct up_handout *h, const char *addr)
{
	struct passing *p = h->pass;

	if (p == NULL)
		return NULL;
	p->addr = addr;
	p->hooks = (struct up_pool_hooks){ .prepare = pass_prepare,
	    .prepare_op = "socketpair", .forked = pass_forked,
	    .died = pass_died, .watch = pass_watch, .ready = pass_ready,
	    .stopped = pass_stopped, .arg = p };
	return &p->hooks;
}

int
up_handout_take(struct up_handout *h, long i, int lfd, struct sockaddr *sa,
    socklen_t *len)
{
	socklen_t room = *len;
	int64_t start;
	int fd, r;

	for (;;) {
		if (up_stopping()) {
			up_stop_notice();
			return UP_HANDOUT_STOP;
		}
		*len = room;
		switch (h->mode) {
		case UP_ACCEPT_PASS:
			if (h->pass != NULL) {
				fd = receive(h->pass, i, sa, len);
				if (fd == UP_HANDOUT_STOP)
					return fd;
				break;
			}
			pthread_mutex_lock(&h->lock);
			while (h->used == 0 && !h->closed)
				pthread_cond_wait(&h->ready, &h->lock);
			if (h->used == 0) {
				pthread_mutex_unlock(&h->lock);
				return UP_HANDOUT_STOP;
			}
			fd = h->queue[h->head].fd;
			*len = h->queue[h->head].len < room ?
			    h->queue[h->head].len : room;
			memcpy(sa, &h->queue[h->head].ss, *len);
			h->head = (h->head + 1) % QUEUE;
			h->used--;
			pthread_cond_signal(&h->room);
			pthread_mutex_unlock(&h->lock);
			break;
		case UP_ACCEPT_PLAIN:
			start = up_now_ns();
			fd = up_accept_fd(lfd, sa, len, 0);
			if (fd == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK) && up_now_ns() - start >=
			    (PLAIN_TIMEOUT_MS - 10) * UP_NS_PER_MS)
				continue;	/* the timeout, not a wake-up */
			break;
		case UP_ACCEPT_LOCK:
			lock(h);
			r = up_wait(lfd, POLLIN, -1);
			fd = r == 1 ? up_accept_fd(lfd, sa, len, 0) : -1;
			pthread_mutex_unlock(&h->lock);
			if (r == UP_WAIT_STOP)
				return UP_HANDOUT_STOP;
			if (r != 1)
				continue;	/* EINTR */
			break;
		default:	/* UP_ACCEPT_HERD */
			r = up_wait(lfd, POLLIN, -1);
			if (r == UP_WAIT_STOP)
				return UP_HANDOUT_STOP;
			if (r != 1)
				continue;
			fd = up_accept_fd(lfd, sa, len, 0);
			break;
		}
		if (fd >= 0) {
			atomic_fetch_add(&h->counts[i], 1);
			return fd;
		}
		if (up_stopping())
			continue;	/* what took the listener's place */
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			/* woken, and another took it */
			atomic_fetch_add(&h->counts[h->n + i], 1);
			continue;
		}
		if (!up_accept_transient(errno))
			return -1;
	}
}

void
up_handout_give(struct up_handout *h, int fd, const struct sockaddr *sa,
    socklen_t len)
{
	struct passed *p;

	pthread_mutex_lock(&h->lock);
	while (h->used == QUEUE)
		pthread_cond_wait(&h->room, &h->lock);
	p = &h->queue[(h->head + h->used++) % QUEUE];
	p->fd = fd;
	p->len = len < sizeof(p->ss) ? len : sizeof(p->ss);
	memcpy(&p->ss, sa, p->len);
	pthread_cond_signal(&h->ready);
	pthread_mutex_unlock(&h->lock);
}

void
up_handout_free(struct up_handout *h)
{
	if (h == NULL)
		return;
	free(h->pass);	/* its ends were closed at the stop */
	h->pass = NULL;
}

void
up_handout_close(struct up_handout *h)
{
	pthread_mutex_lock(&h->lock);
	h->closed = 1;
	pthread_cond_broadcast(&h->ready);
	pthread_mutex_unlock(&h->lock);
}

size_t
up_accept_counts(char *buf, size_t len, long n,
    long (*count)(const void *, int, long), const void *arg)
{
	size_t m = 0;
	long i;
	int k;

	for (k = 0; k < 2; k++)
		for (i = 0; i < n; i++)
			m += (size_t)snprintf(buf + (m < len ? m : len),
			    m < len ? len - m : 0, "%s%ld",
			    i > 0 ? "," : k == 0 ? " accepted=" : " wasted=",
			    count(arg, k, i));
	return m;
}

/* A worker's count, for up_accept_counts: accepted, or wasted. */
static long
handout_count(const void *arg, int wasted, long i)
{
	const struct up_handout *h = arg;

	return atomic_load(&h->counts[wasted ? h->n + i : i]);
}

size_t
up_handout_counts(struct up_handout *h, char *buf, size_t len)
{
	return up_accept_counts(buf, len, h->n, handout_count, h);
}
