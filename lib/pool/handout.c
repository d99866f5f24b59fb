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
 * pass	 (threads) the main thread accepts and hands each connection over
 *	 through a queue (UNP serv05 passes descriptors to processes);
 *	 a worker waits on the queue, never on the listener.
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
#include <string.h>

#include "pool/pool.h"

#define PLAIN_TIMEOUT_MS	100	/* a blocked accept looks for a stop */
#define QUEUE			64	/* pass: handed over, not taken */

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

	for (i = 0; i <= UP_ACCEPT_REUSEPORT; i++)
		if (strcmp(name, up_accept_name(i)) == 0) {
			*m = i;
			return 0;
		}
	return -1;
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
	if (mode == UP_ACCEPT_PASS && (across_processes ||
	    (e = pthread_cond_init(&h->ready, NULL)) != 0 ||
	    (e = pthread_cond_init(&h->room, NULL)) != 0)) {
		if (across_processes)
			e = ENOTSUP;	/* SCM_RIGHTS: not built yet */
		goto fail;
	}
	pthread_mutexattr_destroy(&attr);
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
up_handout_close(struct up_handout *h)
{
	pthread_mutex_lock(&h->lock);
	h->closed = 1;
	pthread_cond_broadcast(&h->ready);
	pthread_mutex_unlock(&h->lock);
}

size_t
up_handout_counts(struct up_handout *h, char *buf, size_t len)
{
	size_t n = 0;
	long i, k;

	for (k = 0; k < 2; k++)
		for (i = 0; i < h->n; i++)
			n += (size_t)snprintf(buf + (n < len ? n : len),
			    n < len ? len - n : 0, "%s%ld",
			    i > 0 ? "," : k == 0 ? " accepted=" : " wasted=",
			    atomic_load(&h->counts[k * h->n + i]));
	return n;
}
