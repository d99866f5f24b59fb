/*
 * work.c: the simulated work and the shared request counter.
 *
 * The counter is the race-condition lesson. Each mode does the same
 * "read the counter, work, write it back plus one", differently guarded:
 *
 *   unsafe  reads, works, writes: two requests that overlap both read the
 *           same value and one update is lost. (The loads and stores are
 *           relaxed atomics, so the program is still defined C: the bug on
 *           show is the lost update, a logic race, not a torn word.)
 *   mutex   holds a lock over the whole read-work-write section: correct,
 *           but the section, delay included, runs one request at a time.
 *   atomic  works, then adds one with a single atomic read-modify-write:
 *           correct, and requests still overlap.
 *
 * The work itself is a wait (a sleep, or a timer in the event loop), or
 * with --cpu a computation: then the cores of the machine matter, and an
 * event loop that computes serves no one else meanwhile.
 */
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <unistd.h>

#include "server/server.h"

/*
 * Zeroed shared state. mmap(MAP_SHARED | MAP_ANONYMOUS) is memory that
 * survives fork(2) as one copy, not two: the fork server's children all
 * count into it. For threads, a private mapping does as well. Across
 * processes the mutex is also robust: a child killed while holding it
 * does not leave it locked for ever.
 */
struct up_shared *
up_shared_new(int across_processes)
{
	pthread_mutexattr_t attr;
	struct up_shared *sh;
	int e;

	if ((sh = up_map_zeroed(sizeof(*sh), across_processes)) == NULL)
		return NULL;
	atomic_init(&sh->requests, 0);
	atomic_init(&sh->count, 0);
	atomic_init(&sh->conns, 0);
	if ((e = pthread_mutexattr_init(&attr)) != 0 ||
	    (across_processes && (e = pthread_mutexattr_setpshared(&attr,
	    PTHREAD_PROCESS_SHARED)) != 0) ||
	    (across_processes && (e = pthread_mutexattr_setrobust(&attr,
	    PTHREAD_MUTEX_ROBUST)) != 0) ||
	    (e = pthread_mutex_init(&sh->lock, &attr)) != 0 ||
	    (e = up_memory_guard_init(&sh->memory, across_processes)) != 0) {
		munmap(sh, sizeof(*sh));
		errno = e;
		return NULL;
	}
	pthread_mutexattr_destroy(&attr);
	return sh;
}

/* Starts a request's work; the counter as it found it (0 when off). */
long
up_work_begin(struct up_shared *sh, enum up_counter_mode mode)
{
	switch (mode) {
	case UP_COUNTER_MUTEX:
		if (pthread_mutex_lock(&sh->lock) == EOWNERDEAD)
			pthread_mutex_consistent(&sh->lock);
		/* FALLTHROUGH */
	case UP_COUNTER_UNSAFE:
	case UP_COUNTER_ATOMIC:
		return up_count_read(sh);
	case UP_COUNTER_OFF:
	default:
		return 0;
	}
}

/*
 * The CPU time the calling thread has used, in nanoseconds: its own CPU
 * clock, the process's where threads have none (then a forked child or
 * the one thread of the event loop is measured all the same), or at
 * worst the monotonic clock.
 */
static int64_t
cpu_now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0 ||
	    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
		return ts.tv_sec * UP_NS_PER_SEC + ts.tv_nsec;
	return up_now_ns();
}

/*
 * Spins until this thread has used ns of CPU time. The work is a random
 * number generator stepped through a volatile variable: every step is a
 * load and a store the compiler must keep, so the loop cannot be folded
 * away, and it touches no memory that another thread shares. The clock
 * (a system call) is read once per batch of steps, so the time goes to
 * computing, not to asking the time.
 */
void
up_compute_ns(int64_t ns)
{
	volatile uint64_t x = 88172645463325252ULL;
	int64_t start;
	int i;

	if (ns <= 0)
		return;
	start = cpu_now_ns();
	do {
		for (i = 0; i < 20000; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		/* a stop closes the listener now, not after the work */
		if (up_stopping())
			up_stop_notice();
		else
			up_wait(-1, 0, 0);
	} while (cpu_now_ns() - start < ns);
}

void
up_work_spend(int64_t delay_ns, int cpu)
{
	if (cpu)
		up_compute_ns(delay_ns);
	else
		up_sleep_watching(delay_ns);
}

int
up_count_read_shown(enum up_counter_mode mode)
{
	return mode == UP_COUNTER_UNSAFE || mode == UP_COUNTER_MUTEX;
}

long
up_count_read(struct up_shared *sh)
{
	return atomic_load_explicit(&sh->count, memory_order_relaxed);
}

long
up_count_write(struct up_shared *sh, enum up_counter_mode mode, long seen)
{
	switch (mode) {
	case UP_COUNTER_UNSAFE:
	case UP_COUNTER_MUTEX:
		/* whatever others wrote since this request read it is lost */
		atomic_store_explicit(&sh->count, seen + 1,
		    memory_order_relaxed);
		return seen + 1;
	case UP_COUNTER_ATOMIC:
		return atomic_fetch_add(&sh->count, 1) + 1;
	case UP_COUNTER_OFF:
	default:
		return 0;
	}
}

/* Ends a request's work; the counter after it (0 when off). */
long
up_work_end(struct up_shared *sh, enum up_counter_mode mode, long seen)
{
	long count = up_count_write(sh, mode, seen);

	if (mode == UP_COUNTER_MUTEX)
		pthread_mutex_unlock(&sh->lock);
	return count;
}
