/*
 * gil.c: --gil, one interpreter-wide lock over every request's work, as
 * CPython's global interpreter lock (the GIL).
 *
 * The lesson: Python's threads wait in parallel but do not compute in
 * parallel. A thread that waits (a sleep, a socket call) lets go of the
 * lock for the wait, so waits overlap; a thread that computes holds it,
 * and only hands it over at a switch interval, so four computing threads
 * take turns on one core however many the machine has, and finish
 * together near four delays.
 *
 * How CPython does it (Python/ceval_gil.c, the "new GIL" of 3.2): the
 * GIL is a flag, "locked", under a mutex, with a condition variable. A
 * thread that wants it and finds it locked waits on the condition for
 * the switch interval (5 ms, sys.setswitchinterval). If it times out
 * and no switch happened meanwhile (the switch number is unchanged), it
 * sets gil_drop_request, which raises the "eval breaker": the holder
 * checks it between bytecodes, drops the GIL, signals the waiters, and
 * (FORCE_SWITCHING) waits until another thread has taken it before it
 * asks for it again, so that it cannot take it straight back.
 *
 * Here the same, with one difference: who gets the lock next. CPython
 * leaves that to the scheduler (whichever waiter wakes first); here the
 * waiters queue with tickets, as at a bakery counter: a thread draws
 * the next ticket, and the lock goes only to the ticket being served.
 * The holder that drops it on request draws a new ticket, behind every
 * thread already waiting, so computing threads take turns in a ring,
 * and it cannot take the lock straight back (what FORCE_SWITCHING is
 * for). Only the first in line asks for a drop, as only it would get
 * the lock.
 *
 * The fork server has one per process (each child its own copy), as
 * multiprocessing has an interpreter per process: it changes nothing
 * there, and processes still use every core.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "server/server.h"

#define GIL_SWITCH_NS	(5 * UP_NS_PER_MS)	/* CPython's 5 ms */
#define GIL_SLICE_NS	(UP_NS_PER_MS / 4)	/* computing between checks */

/* Initializes g, unlocked; returns 0, or an error number. */
int
up_gil_init(struct up_gil *g)
{
	pthread_condattr_t attr;
	int e;

	g->locked = 0;
	g->next = g->serving = 0;
	g->switches = 0;
	g->interval_ns = GIL_SWITCH_NS;
	atomic_init(&g->drop_request, 0);
	if ((e = pthread_condattr_init(&attr)) != 0)
		return e;
	/* timed waits on the monotonic clock: a clock change is no switch */
	if ((e = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0 ||
	    (e = pthread_cond_init(&g->cond, &attr)) != 0) {
		pthread_condattr_destroy(&attr);
		return e;
	}
	pthread_condattr_destroy(&attr);
	if ((e = pthread_mutex_init(&g->mutex, NULL)) != 0) {
		pthread_cond_destroy(&g->cond);
		return e;
	}
	return 0;
}

/* The monotonic clock plus ns, as a deadline for a timed wait. */
static struct timespec
after(int64_t ns)
{
	struct timespec ts;
	int64_t t;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = ts.tv_sec * UP_NS_PER_SEC + ts.tv_nsec + ns;
	ts.tv_sec = t / UP_NS_PER_SEC;
	ts.tv_nsec = t % UP_NS_PER_SEC;
	return ts;
}

/*
 * Takes g, in turn after every thread that asked before. Returns 1 when
 * it had to wait (another thread held it, or was ahead in line), else 0.
 */
int
up_gil_take(struct up_gil *g)
{
	struct timespec deadline;
	unsigned long ticket, seen;
	int waited = 0;

	pthread_mutex_lock(&g->mutex);
	ticket = g->next++;
	while (g->locked || g->serving != ticket) {
		waited = 1;
		seen = g->switches;
		deadline = after(g->interval_ns);
		if (pthread_cond_timedwait(&g->cond, &g->mutex,
		    &deadline) == ETIMEDOUT && g->locked &&
		    g->serving == ticket && g->switches == seen)
			/* a whole interval and no switch: ask the holder */
			atomic_store(&g->drop_request, 1);
	}
	g->locked = 1;
	g->serving++;
	g->switches++;
	/* the next in line starts its interval now */
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->mutex);
	return waited;
}

/* Lets go of g, which the caller holds; the first in line takes it. */
void
up_gil_drop(struct up_gil *g)
{
	pthread_mutex_lock(&g->mutex);
	g->locked = 0;
	atomic_store(&g->drop_request, 0);
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->mutex);
}

/*
 * The eval breaker: if a waiting thread asked for g, drops it and takes
 * it again in turn. Returns 1 when it waited, else 0.
 */
static int
check(struct up_gil *g)
{
	if (!atomic_load_explicit(&g->drop_request, memory_order_relaxed))
		return 0;
	up_gil_drop(g);
	return up_gil_take(g);
}

/* The CPU time the calling thread has used, in nanoseconds. */
static int64_t
thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0 ||
	    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
		return ts.tv_sec * UP_NS_PER_SEC + ts.tv_nsec;
	return up_now_ns();
}

unsigned long
up_gil_spend(struct up_gil *g, int64_t delay_ns, int cpu)
{
	unsigned long waits;
	int64_t start, used, left;

	waits = (unsigned long)up_gil_take(g);
	if (!cpu) {
		/* time.sleep: the lock is free for the whole wait */
		up_gil_drop(g);
		up_work_spend(delay_ns, 0);
		waits += (unsigned long)up_gil_take(g);
	} else {
		/* computing: a slice at a time, checking between slices */
		start = thread_cpu_ns();
		for (used = 0; used < delay_ns; used = thread_cpu_ns() -
		    start) {
			left = delay_ns - used;
			up_compute_ns(left < GIL_SLICE_NS ? left :
			    GIL_SLICE_NS);
			waits += (unsigned long)check(g);
		}
	}
	up_gil_drop(g);
	return waits;
}
