/*
 * locks.c: --locks, the deadlock lesson: two cooks, one cutting board,
 * one sink.
 *
 * Each request takes two shared resources, the board and the sink, and
 * does its work (-d) between taking the first and taking the second, as
 * a cook cuts carrots on the board and then needs the sink to wash them:
 *
 *   opposite  request 0, 2, 4 ... takes the board then the sink; request
 *             1, 3, 5 ... the sink then the board. Two at once deadlock:
 *             each holds what the other waits for, and both wait for
 *             ever. Nothing fails: the server just stops answering them.
 *   ordered   every request takes the board first: one global order, so
 *             no cycle can form (the fix taught first). The price: the
 *             work runs under the board, one request at a time.
 *   backoff   opposite orders, but the second resource is only tried
 *             (trylock): if it is taken, the request puts the first
 *             down, waits a short random while, and takes both again.
 *             No deadlock; "responded" counts the retries=.
 *
 * The resources are mutexes in memory mapped shared, process-shared for
 * the fork server (as --counter mutex), robust: a child killed while
 * holding one does not leave it taken. Beside them lies a wait-for
 * graph, small because there are two resources: who holds each, and
 * which resource that holder now waits for. A request about to wait
 * records its wait and looks for a cycle (it holds A and waits for B,
 * whose holder waits for A): there is one when the wait that closes it
 * is recorded, so it is seen once, by that request, which logs
 * "deadlock" with both holders and both waits.
 *
 * A deadlocked request is abandoned at a stop (SIGINT, SIGTERM, SIGHUP),
 * so the drain does not wait for it for ever: waits are cut into slices
 * that look for the stop, and a request whose resource is in a cycle
 * gives up, puts its resource down and returns unserved (its connection
 * then closes with reason=deadlock). A request that is only waiting its
 * turn (ordered, or behind a deadlock) waits on and is served.
 */
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

#define BOARD		0
#define SINK		1
#define NONE		(-1)
#define SLICE_MS	50	/* a wait looks for the stop this often */
#define BACKOFF_MIN_NS	(1 * UP_NS_PER_MS)	/* the first backoff */
#define BACKOFF_MAX_NS	(32 * UP_NS_PER_MS)	/* the longest */

static const char *const mode_names[] = {
	"off", "opposite", "ordered", "backoff"
};

/* A resource, and its part of the wait-for graph (under graph). */
struct resource {
	pthread_mutex_t	mutex;
	char		holder[32];	/* who holds it, "" for no one */
	int		holder_waits;	/* what the holder waits for, NONE */
	int		cycle;		/* its holder is deadlocked */
};

struct up_locks {
	struct resource	res[2];
	pthread_mutex_t	graph;		/* guards holders, waits, cycle */
	atomic_ulong	next;		/* the next request's number */
};

/* The name of mode m, as --locks takes it. */
const char *
up_locks_name(enum up_locks_mode m)
{
	return mode_names[m];
}

/* The mode called name in *m; 0, or -1 when there is none. */
int
up_locks_mode(const char *name, enum up_locks_mode *m)
{
	size_t i;

	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(name, mode_names[i]) == 0) {
			*m = (enum up_locks_mode)i;
			return 0;
		}
	return -1;
}

/* The board and the sink, free; NULL with errno (see server.h). */
struct up_locks *
up_locks_new(int across_processes)
{
	pthread_mutexattr_t attr;
	struct up_locks *lk;
	int e, i;

	if ((lk = up_map_zeroed(sizeof(*lk), across_processes)) == NULL)
		return NULL;
	atomic_init(&lk->next, 0);
	if ((e = pthread_mutexattr_init(&attr)) != 0)
		goto fail;
	if (across_processes &&
	    ((e = pthread_mutexattr_setpshared(&attr,
	    PTHREAD_PROCESS_SHARED)) != 0 ||
	    (e = pthread_mutexattr_setrobust(&attr,
	    PTHREAD_MUTEX_ROBUST)) != 0))
		goto fail;
	for (i = 0; i < 2; i++) {
		lk->res[i].holder_waits = NONE;
		if ((e = pthread_mutex_init(&lk->res[i].mutex, &attr)) != 0)
			goto fail;
	}
	if ((e = pthread_mutex_init(&lk->graph, &attr)) != 0)
		goto fail;
	pthread_mutexattr_destroy(&attr);
	return lk;
fail:
	munmap(lk, sizeof(*lk));
	errno = e;
	return NULL;
}

/*
 * What a lock call on m returned (e): when m's last holder died holding
 * it, a robust mutex says EOWNERDEAD and is ours; it is made consistent
 * (a resource guards nothing; the graph's holders are rewritten as they
 * are taken). Returns e, with EOWNERDEAD turned into 0.
 */
static int
taken(pthread_mutex_t *m, int e)
{
	if (e == EOWNERDEAD) {
		pthread_mutex_consistent(m);
		return 0;
	}
	return e;
}

/* Locks the wait-for graph; returns nothing. */
static void
graph_lock(struct up_locks *lk)
{
	taken(&lk->graph, pthread_mutex_lock(&lk->graph));
}

/*
 * Under the graph lock: the request who, holding held, is about to wait
 * for want. Records the wait; when it closes a cycle (the holder of want
 * waits for held), marks both resources and logs "deadlock" on addr.
 * Returns nothing.
 */
static void
record_wait(struct up_locks *lk, const char *addr, const char *who,
    int held, int want)
{
	struct resource *h, *w;

	if (held == NONE)
		return;		/* holding nothing, it closes no cycle */
	h = &lk->res[held];
	w = &lk->res[want];
	h->holder_waits = want;
	if (w->holder[0] == '\0' || w->holder_waits != held || h->cycle)
		return;
	h->cycle = w->cycle = 1;
	/* the board first, whoever closed the cycle */
	if (held == BOARD)
		up_log("deadlock", addr, "board-holder=%s board-waiter=%s "
		    "sink-holder=%s sink-waiter=%s", who, w->holder,
		    w->holder, who);
	else
		up_log("deadlock", addr, "board-holder=%s board-waiter=%s "
		    "sink-holder=%s sink-waiter=%s", w->holder, who, who,
		    w->holder);
}

/* Under the graph lock: r is now who's, which waits for nothing. */
static void
record_taken(struct up_locks *lk, const char *who, int r, int held)
{
	snprintf(lk->res[r].holder, sizeof(lk->res[r].holder), "%s", who);
	lk->res[r].holder_waits = NONE;
	lk->res[r].cycle = 0;
	if (held != NONE)
		lk->res[held].holder_waits = NONE;
}

/* Puts r down: no holder, no wait, no cycle, then unlocks it. */
static void
release(struct up_locks *lk, int r)
{
	graph_lock(lk);
	lk->res[r].holder[0] = '\0';
	lk->res[r].holder_waits = NONE;
	lk->res[r].cycle = 0;
	pthread_mutex_unlock(&lk->graph);
	pthread_mutex_unlock(&lk->res[r].mutex);
}

/*
 * Whether the request holding held is to give up: the server is
 * stopping (a child learns it from its parent's pipe here) and held is
 * in a cycle, which nothing else will ever break.
 */
static int
abandon(struct up_locks *lk, int held)
{
	int cycle;

	up_wait(-1, 0, 0);	/* notices a stop on the stop pipes */
	if (held == NONE || !up_stopping())
		return 0;
	graph_lock(lk);
	cycle = lk->res[held].cycle;
	pthread_mutex_unlock(&lk->graph);
	return cycle;
}

/*
 * Takes resource want for who, holding held (or NONE), waiting as long
 * as it takes: a wait records itself in the graph first, which may
 * report a deadlock. Returns 0 with want taken, or -1 when the request
 * is abandoned at a stop (then want is not taken; held still is).
 */
static int
take(struct up_locks *lk, const char *addr, const char *who, int held,
    int want)
{
	pthread_mutex_t *m = &lk->res[want].mutex;
	struct timespec until;
	int e;

	if ((e = taken(m, pthread_mutex_trylock(m))) != 0) {
		graph_lock(lk);
		record_wait(lk, addr, who, held, want);
		pthread_mutex_unlock(&lk->graph);
		for (;;) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += SLICE_MS * UP_NS_PER_MS;
			if (until.tv_nsec >= UP_NS_PER_SEC) {
				until.tv_sec++;
				until.tv_nsec -= UP_NS_PER_SEC;
			}
			e = taken(m, pthread_mutex_timedlock(m, &until));
			if (e == 0)
				break;
			if (abandon(lk, held)) {
				graph_lock(lk);
				lk->res[held].holder_waits = NONE;
				pthread_mutex_unlock(&lk->graph);
				return -1;
			}
		}
	}
	graph_lock(lk);
	record_taken(lk, who, want, held);
	pthread_mutex_unlock(&lk->graph);
	/* got it as the other gave up: still ours to give up ourselves */
	if (abandon(lk, held)) {
		release(lk, want);
		return -1;
	}
	return 0;
}

/*
 * Tries want once, holding held. Returns 0 with it taken, -1 when it is
 * someone else's.
 */
static int
try_take(struct up_locks *lk, const char *who, int held, int want)
{
	pthread_mutex_t *m = &lk->res[want].mutex;

	if (taken(m, pthread_mutex_trylock(m)) != 0)
		return -1;
	graph_lock(lk);
	record_taken(lk, who, want, held);
	pthread_mutex_unlock(&lk->graph);
	return 0;
}

/*
 * How long backoff waits after its n-th failed try (n from 1): a random
 * while between half and all of a bound that doubles from BACKOFF_MIN_NS
 * up to BACKOFF_MAX_NS, so that two cooks who gave up together do not
 * come back together. *seed is the caller's own.
 */
static int64_t
backoff_ns(int n, unsigned int *seed)
{
	int64_t bound = BACKOFF_MIN_NS;

	while (--n > 0 && bound < BACKOFF_MAX_NS)
		bound *= 2;
	if (bound > BACKOFF_MAX_NS)
		bound = BACKOFF_MAX_NS;
	return bound / 2 + (int64_t)(rand_r(seed) % (bound / 2 + 1));
}

/*
 * One request with both resources, as its mode takes them; the retries,
 * or -1 when abandoned deadlocked at a stop (see server.h).
 */
int
up_locks_work(struct up_locks *lk, enum up_locks_mode mode,
    const char *addr, const char *who, int64_t delay_ns, int cpu)
{
	unsigned long n = atomic_fetch_add(&lk->next, 1);
	unsigned int seed;
	char me[32];
	int first, second, retries = 0;

	/* seq's requests have no tid= or pid=: its pid names the worker */
	if (who == NULL || who[0] == '\0') {
		snprintf(me, sizeof(me), "pid=%ld", (long)getpid());
		who = me;
	}
	first = mode != UP_LOCKS_ORDERED && n % 2 == 1 ? SINK : BOARD;
	second = first == BOARD ? SINK : BOARD;
	if (take(lk, addr, who, NONE, first) == -1)
		return -1;	/* not reached: holding nothing, it waits */
	up_work_spend(delay_ns, cpu);
	if (mode != UP_LOCKS_BACKOFF) {
		if (take(lk, addr, who, first, second) == -1) {
			release(lk, first);
			return -1;
		}
	} else {
		seed = (unsigned int)(up_now_ns() ^ (int64_t)n);
		while (try_take(lk, who, first, second) == -1) {
			release(lk, first);
			up_sleep_watching(backoff_ns(++retries, &seed));
			if (take(lk, addr, who, NONE, first) == -1)
				return -1;
		}
	}
	/* both in hand: the carrots are washed; put them down */
	release(lk, second);
	release(lk, first);
	return retries;
}
