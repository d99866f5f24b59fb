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
 * It also keeps what makes a connection's memory safe to count on: the
 * buffers that grow as needed, and the table of connections with the
 * next one's memory reserved before it is accepted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "robust/robust.h"

#define RETRY_NS	(20 * UP_NS_PER_MS)	/* the next try */
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
	if (m->sh.active && m->waiting == 0)
		up_shortage_over(&m->sh, addr);
}

int64_t
up_memory_failed(struct up_memory *m, const char *addr, int err,
    int64_t now)
{
	up_shortage_failed(&m->sh, addr, "malloc", err, 0);
	return now + RETRY_NS;
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
