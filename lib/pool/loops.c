/*
 * loops.c: what the event loops of upserver-poll -w N share, each in a
 * process of its own: the connections each serves (to share the port
 * fairly, and -c across them all), a queued lock for --counter mutex, and
 * a wake-up pipe per loop. All of it lives in one MAP_SHARED mapping made
 * before the first fork, so a loop that is replaced finds it as it was.
 *
 * Sharing the port. Every loop watches the one listening socket; the
 * kernel wakes them and whoever calls accept(2) first gets the
 * connection, so a loop busy computing leaves it to a free one. But a
 * free loop that took every connection waiting would leave the others
 * idle and its own clients queued behind each other's work. So a loop
 * takes a connection only while it serves no more than every other live
 * loop (nginx stops a worker accepting once it is 7/8 full; this is the
 * same idea, stricter): the loops stay within a connection or two of each
 * other, and the first of them that is free takes the next. A loop held
 * back this way does not watch the socket, and is woken through its pipe
 * when another loop takes a connection.
 *
 * The lock. --counter mutex holds a lock over a request's read, delay and
 * write. Within one loop it is a queue of connections (no loop ever
 * blocks: a request that finds the lock taken waits in line while the
 * loop serves everyone else); across loops the waiters are served in the
 * order they asked, by ticket: each loop publishes the ticket of its
 * first waiter, and the loop that releases hands the lock to the loop
 * with the lowest, and wakes it through its pipe. A pthread mutex guards
 * these few words only, never a request's delay, so no loop waits for
 * another longer than a few instructions; it is robust, so a loop killed
 * while it held it does not block the others. The lock itself, held by a
 * loop that dies, is handed on by the parent (up_loops_died).
 */
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool/pool.h"

struct slot {
	atomic_long	conns;		/* served, or reserved to accept */
	atomic_int	alive;		/* the loop runs */
	atomic_int	held;		/* not accepting: wake it on a change */
	unsigned long	wanted;		/* its first waiter's ticket, or 0 */
	int		handed;		/* the lock is its, not yet taken */
	int		wake[2];	/* its wake-up pipe */
	atomic_long	accepted;	/* connections it accepted */
	atomic_long	wasted;		/* its wake-ups that found none */
};

struct up_loops {
	long		n;
	long		max_conns;	/* -c: across every loop */
	enum up_accept_mode accept;	/* --accept: least, herd, exclusive */
	atomic_long	total;		/* connections in every loop */
	pthread_mutex_t	mu;		/* guards what follows */
	long		holder;		/* the loop holding the lock, or -1 */
	unsigned long	next_ticket;
	struct slot	slot[];
};

/* The size of the mapping for n loops. */
static size_t
loops_size(long n)
{
	return sizeof(struct up_loops) + (size_t)n * sizeof(struct slot);
}

struct up_loops *
up_loops_new(long n, long max_conns)
{
	pthread_mutexattr_t attr;
	struct up_loops *g;
	size_t size = loops_size(n);
	long i;
	int e;

	if ((g = up_map_zeroed(size, 1)) == NULL)
		return NULL;
	g->n = n;
	g->max_conns = max_conns;
	g->holder = -1;
	g->accept = UP_ACCEPT_LEAST;
	atomic_init(&g->total, 0);
	for (i = 0; i < n; i++) {
		atomic_init(&g->slot[i].conns, 0);
		atomic_init(&g->slot[i].alive, 0);
		atomic_init(&g->slot[i].held, 0);
		atomic_init(&g->slot[i].accepted, 0);
		atomic_init(&g->slot[i].wasted, 0);
		g->slot[i].wake[0] = g->slot[i].wake[1] = -1;
	}
	if ((e = pthread_mutexattr_init(&attr)) != 0 ||
	    (e = pthread_mutexattr_setpshared(&attr,
	    PTHREAD_PROCESS_SHARED)) != 0 ||
	    (e = pthread_mutexattr_setrobust(&attr,
	    PTHREAD_MUTEX_ROBUST)) != 0 ||
	    (e = pthread_mutex_init(&g->mu, &attr)) != 0)
		goto fail;
	pthread_mutexattr_destroy(&attr);
	for (i = 0; i < n; i++) {
		if (pipe(g->slot[i].wake) == -1) {
			e = errno;
			goto fail;
		}
		if (up_fd_setup(g->slot[i].wake[0], 1) == -1 ||
		    up_fd_setup(g->slot[i].wake[1], 1) == -1) {
			e = errno;
			goto fail;
		}
	}
	return g;
fail:
	for (i = 0; i < n; i++)
		if (g->slot[i].wake[0] != -1) {
			close(g->slot[i].wake[0]);
			close(g->slot[i].wake[1]);
		}
	munmap(g, size);
	errno = e;
	return NULL;
}

int
up_loops_enter(struct up_loops *g, long i)
{
	long j;

	/*
	 * The others' read ends are theirs: only their write ends stay.
	 * (The numbers stay in the mapping, which the others share.)
	 */
	for (j = 0; j < g->n; j++)
		if (j != i)
			close(g->slot[j].wake[0]);
	atomic_store(&g->slot[i].conns, 0);
	atomic_store(&g->slot[i].alive, 1);
	return g->slot[i].wake[0];
}

void
up_loops_drain(struct up_loops *g, long i)
{
	char buf[64];

	while (read(g->slot[i].wake[0], buf, sizeof(buf)) > 0)
		;
}

/* Wakes loop j, unless it is awake already (a full pipe is readable). */
static void
wake(struct up_loops *g, long j)
{
	char c = 0;
	ssize_t n;

	n = write(g->slot[j].wake[1], &c, 1);
	(void)n;
}

/*
 * Wakes every loop other than i held back from accepting: what it
 * waited for may have changed. Each is woken once per holding back.
 */
static void
wake_held(struct up_loops *g, long i)
{
	long j;

	for (j = 0; j < g->n; j++)
		if (j != i && atomic_load(&g->slot[j].held) &&
		    atomic_exchange(&g->slot[j].held, 0))
			wake(g, j);
}

/* 1 when loop i may take another connection now. */
static int
may_take(struct up_loops *g, long i)
{
	long j, mine = atomic_load(&g->slot[i].conns);

	if (atomic_load(&g->total) >= g->max_conns)
		return 0;
	if (g->accept != UP_ACCEPT_LEAST)
		return 1;	/* the herd: every loop watches */
	for (j = 0; j < g->n; j++)
		if (j != i && atomic_load(&g->slot[j].alive) &&
		    atomic_load(&g->slot[j].conns) < mine)
			return 0;
	return 1;
}

int
up_loops_may_accept(struct up_loops *g, long i)
{
	if (may_take(g, i))
		return 1;
	/*
	 * Held back. The flag is set before looking again, and a loop that
	 * changes its count looks at the flag after: one of the two sees
	 * the other, so no wake-up is lost.
	 */
	atomic_store(&g->slot[i].held, 1);
	if (!may_take(g, i))
		return 0;
	atomic_store(&g->slot[i].held, 0);
	return 1;
}

int
up_loops_reserve(struct up_loops *g, long i)
{
	long t = atomic_load(&g->total);

	if (!may_take(g, i))
		return 0;
	do
		if (t >= g->max_conns)
			return 0;
	while (!atomic_compare_exchange_weak(&g->total, &t, t + 1));
	atomic_fetch_add(&g->slot[i].conns, 1);
	wake_held(g, i);
	return 1;
}

void
up_loops_unreserve(struct up_loops *g, long i)
{
	atomic_fetch_sub(&g->slot[i].conns, 1);
	if (atomic_fetch_sub(&g->total, 1) >= g->max_conns)
		wake_held(g, i);	/* below -c again */
}

/* Locks the mutex, recovering it from a holder that died. */
static void
mu_lock(struct up_loops *g)
{
	if (pthread_mutex_lock(&g->mu) == EOWNERDEAD)
		pthread_mutex_consistent(&g->mu);
}

/*
 * With mu held: the lock goes to the loop whose first waiter asked
 * first, or to nobody. Returns that loop, or -1.
 */
static long
hand_on(struct up_loops *g)
{
	unsigned long best = 0;
	long j, to = -1;

	for (j = 0; j < g->n; j++)
		if (g->slot[j].wanted != 0 &&
		    (to == -1 || g->slot[j].wanted < best)) {
			best = g->slot[j].wanted;
			to = j;
		}
	g->holder = to;
	if (to != -1) {
		g->slot[to].handed = 1;
		g->slot[to].wanted = 0;
	}
	return to;
}

static unsigned long
lock(struct up_loops *g, long i)
{
	unsigned long t = 0;

	mu_lock(g);
	if (g->holder == -1)
		g->holder = i;
	else {
		t = ++g->next_ticket;
		if (g->slot[i].wanted == 0)
			g->slot[i].wanted = t;
	}
	pthread_mutex_unlock(&g->mu);
	return t;
}

static int
unlock(struct up_loops *g, long i)
{
	long to;

	mu_lock(g);
	to = hand_on(g);
	pthread_mutex_unlock(&g->mu);
	if (to != -1 && to != i)
		wake(g, to);
	return to == i;
}

static int
granted(struct up_loops *g, long i, unsigned long next)
{
	int got;

	mu_lock(g);
	if ((got = g->slot[i].handed)) {
		g->slot[i].handed = 0;
		g->slot[i].wanted = next;
	}
	pthread_mutex_unlock(&g->mu);
	return got;
}

int
up_loops_acquire(struct up_loops *g, long i, struct up_timeq *q,
    struct up_timer *t)
{
	unsigned long ticket = lock(g, i);

	if (ticket == 0)
		return 1;
	up_timeq_push(q, t, (int64_t)ticket);	/* in ticket order */
	return 0;
}

struct up_timer *
up_loops_handed(struct up_loops *g, long i, struct up_timeq *q)
{
	struct up_timer *t = q->head;

	/* the waiter behind the first is the one this loop wants next */
	if (!granted(g, i, t != NULL && t->next != NULL ?
	    (unsigned long)t->next->deadline : 0))
		return NULL;
	if (t == NULL) {
		unlock(g, i);
		return NULL;
	}
	up_timer_cancel(t);
	return t;
}

struct up_timer *
up_loops_release(struct up_loops *g, long i, struct up_timeq *q)
{
	return unlock(g, i) ? up_loops_handed(g, i, q) : NULL;
}

void
up_loops_died(struct up_loops *g, long i)
{
	long to = -1;

	atomic_store(&g->slot[i].alive, 0);
	atomic_fetch_sub(&g->total, atomic_exchange(&g->slot[i].conns, 0));
	atomic_store(&g->slot[i].held, 0);
	mu_lock(g);
	g->slot[i].wanted = 0;
	g->slot[i].handed = 0;
	if (g->holder == i)
		to = hand_on(g);
	pthread_mutex_unlock(&g->mu);
	if (to != -1)
		wake(g, to);
	wake_held(g, i);
	up_loops_drain(g, i);	/* its replacement starts afresh */
}

/* The parent of -w: a loop died, and its share goes to the others. */
static void
died(long i, void *g)
{
	up_loops_died(g, i);
}

enum up_accept_mode
up_loops_accept(const struct up_loops *g)
{
	return g->accept;
}

void
up_loops_count(struct up_loops *g, long i, int accepted)
{
	atomic_fetch_add(accepted ? &g->slot[i].accepted :
	    &g->slot[i].wasted, 1);
}

/* A loop's count, for up_accept_counts: accepted, or wasted. */
static long
loop_count(const void *arg, int wasted, long i)
{
	const struct up_loops *g = arg;

	return atomic_load(wasted ? &g->slot[i].wasted :
	    &g->slot[i].accepted);
}

size_t
up_loops_counts(struct up_loops *g, char *buf, size_t len)
{
	return up_accept_counts(buf, len, g->n, loop_count, g);
}

int
up_loops_run(const char *addr, long workers, long max_conns,
    int (*run)(struct up_loops *, long, const char *, void *), void *arg,
    int *child)
{
	return up_loops_run_accept(addr, workers, max_conns,
	    UP_ACCEPT_LEAST, run, arg, child, NULL);
}

int
up_loops_run_accept(const char *addr, long workers, long max_conns,
    enum up_accept_mode accept,
    int (*run)(struct up_loops *, long, const char *, void *), void *arg,
    int *child, struct up_loops **gp)
{
	struct up_pool_hooks hooks = { .died = died };
	struct up_loops *g;
	char who[32];
	long index;

	*child = 0;
	if ((g = up_loops_new(workers > 0 ? workers : 1, max_conns)) == NULL)
		return -1;
	g->accept = accept;
	if (gp != NULL)
		*gp = g;
	if (workers == 0)
		return run(g, 0, NULL, arg);
	hooks.arg = g;
	switch (up_pool_run(addr, workers, &hooks, &index)) {
	case 1:
		*child = 1;
		snprintf(who, sizeof(who), "pid=%ld", (long)getpid());
		return run(g, index, who, arg);
	case 0:
		return 0;
	default:
		return -1;
	}
}
