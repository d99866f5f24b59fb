/*
 * memory.c: connections that wait for memory, in an event loop.
 *
 * malloc(3) that fails is a shortage like any other: it usually passes
 * once another connection is done. An event loop cannot block until it
 * does, but it need not close anyone either: a connection whose buffer
 * cannot be had is simply not read (its client's bytes wait in the
 * kernel, which is backpressure) and tries again on a later turn. This
 * file counts who waits and when to try, and keeps the log to one
 * "error" line when the shortage starts and one "recovered" line when
 * nobody waits any more (shortage.c).
 *
 * The blocking servers have no loop to come back to, and no need of one:
 * a connection that finds no memory sleeps a little and tries again
 * (up_memory_pause), logged the same way, its client served late but
 * served, the one shortage shared by every thread or process under a
 * lock.
 *
 * It also keeps what makes a connection's memory safe to count on: the
 * buffers that grow as needed, and the table of connections with the
 * next one's memory reserved before it is accepted.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "robust/robust.h"

#define RETRY_NS	(20 * UP_NS_PER_MS)	/* the next try */
#define FIRST_PAUSE_MS	10	/* a blocking connection's first wait */
#define MAX_PAUSE_MS	1000	/* and its longest */
#define SLOT_MARGIN	64	/* descriptors besides the connections */

void
up_memory_wait(struct up_memory *m, struct up_memory_wait *w,
    const char *addr, int err, int64_t now)
{
	/* a connection counts once per shortage, however often it tries */
	up_shortage_failed(&m->sh, addr, "malloc", err,
	    !m->sh.active || w->since != m->sh.since);
	w->since = m->sh.since;
	if (!w->waiting) {
		w->waiting = 1;
		m->waiting++;
	}
	if (m->retry_at == 0)
		m->retry_at = now + RETRY_NS;
}

void
up_memory_leave(struct up_memory *m, struct up_memory_wait *w)
{
	if (w->waiting) {
		w->waiting = 0;
		m->waiting--;
	}
}

void
up_memory_back(struct up_memory *m, const char *addr)
{
	/* nor is it over while the next accept's memory cannot be had */
	if (m->sh.active && m->waiting == 0 && !m->next_waits)
		up_shortage_over(&m->sh, addr);
}

int64_t
up_memory_failed(struct up_memory *m, const char *addr, const char *op,
    int err, int64_t now)
{
	up_shortage_failed(&m->sh, addr, op, err, 0);
	m->next_waits = 1;
	return now + RETRY_NS;
}

void
up_memory_reserved(struct up_memory *m, const char *addr)
{
	m->next_waits = 0;
	up_memory_back(m, addr);
}

/* w's next pause, in ms: 10, doubling up to 1 s, cut at deadline. */
static int
next_pause(struct up_memory_wait *w, int64_t deadline, int64_t now)
{
	int ms, left;

	ms = w->pause_ms == 0 ? FIRST_PAUSE_MS : w->pause_ms;
	w->pause_ms = ms * 2 < MAX_PAUSE_MS ? ms * 2 : MAX_PAUSE_MS;
	left = up_ms_left(deadline, now);
	if (left >= 0 && left < ms)
		ms = left;
	return ms;
}

int
up_memory_await(struct up_memory *m, struct up_memory_wait *w,
    struct up_sched *s, const char *addr, int err, int64_t idle_ns,
    const int *stopping)
{
	int64_t now = up_now_ns();
	int ms;

	if (!w->waiting)	/* a wait begins: -t from now */
		w->until = idle_ns > 0 ? now + idle_ns : 0;
	up_memory_wait(m, w, addr, err, now);
	ms = next_pause(w, w->until, now);
	if (!*stopping && ms > 0)
		up_coro_sleep(s, now + (int64_t)ms * UP_NS_PER_MS);
	if (!*stopping && (w->until == 0 || up_now_ns() < w->until))
		return 0;
	up_memory_leave(m, w);
	w->pause_ms = 0;
	errno = *stopping ? ECANCELED : ETIMEDOUT;
	return -1;
}

void
up_memory_had(struct up_memory *m, struct up_memory_wait *w,
    const char *addr)
{
	up_memory_leave(m, w);
	up_memory_back(m, addr);
	w->pause_ms = 0;
}

int
up_memory_guard_init(struct up_memory_guard *g, int across_processes)
{
	pthread_mutexattr_t attr;
	int e;

	memset(&g->m, 0, sizeof(g->m));
	if ((e = pthread_mutexattr_init(&attr)) != 0)
		return e;
	if (across_processes && (e = pthread_mutexattr_setpshared(&attr,
	    PTHREAD_PROCESS_SHARED)) == 0)
		e = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	if (e == 0)
		e = pthread_mutex_init(&g->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return e;
}

/*
 * Takes g's lock. A process that died holding it (killed between two
 * lines of the log) left the counts it guards in doubt, not broken: the
 * lock is made consistent again and the counts are used as they are.
 */
static void
guard_lock(struct up_memory_guard *g)
{
	if (pthread_mutex_lock(&g->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&g->lock);
}

int
up_memory_pause(struct up_memory_guard *g, struct up_memory_wait *w,
    const char *addr, int err, int64_t deadline)
{
	int64_t now = up_now_ns();
	int ms;

	guard_lock(g);
	up_memory_wait(&g->m, w, addr, err, now);
	pthread_mutex_unlock(&g->lock);
	ms = next_pause(w, deadline, now);
	if (!up_stopping() && ms > 0)
		up_wait(up_stop_fd(), POLLIN, ms);
	if (!up_stopping() && (deadline == 0 || up_now_ns() < deadline))
		return 0;
	guard_lock(g);
	up_memory_leave(&g->m, w);
	pthread_mutex_unlock(&g->lock);
	w->pause_ms = 0;
	errno = up_stopping() ? ECANCELED : ETIMEDOUT;
	return -1;
}

void
up_memory_got(struct up_memory_guard *g, struct up_memory_wait *w,
    const char *addr)
{
	guard_lock(g);
	up_memory_leave(&g->m, w);
	up_memory_back(&g->m, addr);
	pthread_mutex_unlock(&g->lock);
	w->pause_ms = 0;
}

int
up_buf_room(struct up_buf *b, size_t need)
{
	char *p;

	if (b->cap >= need)
		return 0;
	if ((p = realloc(b->p, need)) == NULL)
		return -1;
	b->p = p;
	b->cap = need;
	return 0;
}

void
up_buf_trim(struct up_buf *b, size_t keep)
{
	if (b->cap > keep) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
}

/* Makes the table cover descriptor fd; 0 or -1. */
static int
cover(struct up_slots *t, size_t fd)
{
	size_t cap = t->cap > 0 ? t->cap : 64;
	void **p;

	if (fd < t->cap)
		return 0;
	while (cap <= fd)
		cap *= 2;
	if ((p = realloc(t->by_fd, cap * sizeof(*p))) == NULL)
		return -1;
	memset(p + t->cap, 0, (cap - t->cap) * sizeof(*p));
	t->by_fd = p;
	t->cap = cap;
	return 0;
}

/*
 * accept(2) gives the lowest free descriptor, so the next connection's
 * is at most the number open: the connections, and a margin for the
 * listener, the engine, the standard streams and the pipes.
 */
int
up_slots_reserve(struct up_slots *t, struct up_ev *ev, size_t size)
{
	size_t room = t->count + SLOT_MARGIN;

	if (cover(t, room) == -1 || up_ev_reserve(ev, (int)room) == -1)
		return -1;
	if (t->spare != NULL)
		return 0;
	if ((t->spare = calloc(1, size)) == NULL)
		return -1;
	return 1;
}

void *
up_slots_take(struct up_slots *t, int fd)
{
	void *c = t->spare;

	if (c == NULL || cover(t, (size_t)fd) == -1)
		return NULL;
	t->spare = NULL;
	t->by_fd[fd] = c;
	t->count++;
	return c;
}

void *
up_slots_at(const struct up_slots *t, int fd)
{
	return fd >= 0 && (size_t)fd < t->cap ? t->by_fd[fd] : NULL;
}

void
up_slots_drop(struct up_slots *t, int fd)
{
	t->by_fd[fd] = NULL;
	t->count--;
}

void
up_slots_free(struct up_slots *t)
{
	free(t->spare);
	free(t->by_fd);
	t->spare = NULL;
	t->by_fd = NULL;
	t->cap = t->count = 0;
}
