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
 */
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>

#include <unistd.h>

#include "up.h"

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

#if defined(MAP_ANONYMOUS) || defined(MAP_ANON)
#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS	MAP_ANON
#endif
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    (across_processes ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS,
	    -1, 0);
#else
	/* POSIX before 2024 has no anonymous mapping: map /dev/zero. */
	int zero;

	if ((zero = open("/dev/zero", O_RDWR | O_CLOEXEC)) == -1)
		return NULL;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    across_processes ? MAP_SHARED : MAP_PRIVATE, zero, 0);
	close(zero);
#endif
	if (sh == MAP_FAILED)
		return NULL;
	atomic_init(&sh->requests, 0);
	atomic_init(&sh->count, 0);
	if ((e = pthread_mutexattr_init(&attr)) != 0 ||
	    (across_processes && (e = pthread_mutexattr_setpshared(&attr,
	    PTHREAD_PROCESS_SHARED)) != 0) ||
	    (across_processes && (e = pthread_mutexattr_setrobust(&attr,
	    PTHREAD_MUTEX_ROBUST)) != 0) ||
	    (e = pthread_mutex_init(&sh->lock, &attr)) != 0) {
		munmap(sh, sizeof(*sh));
		errno = e;
		return NULL;
	}
	pthread_mutexattr_destroy(&attr);
	return sh;
}

/* One request's work; returns the counter after it (0 when off). */
long
up_work(struct up_shared *sh, enum up_counter_mode mode, int64_t delay_ns)
{
	long v;

	switch (mode) {
	case UP_COUNTER_UNSAFE:
		v = atomic_load_explicit(&sh->count, memory_order_relaxed);
		up_sleep_ns(delay_ns);
		atomic_store_explicit(&sh->count, v + 1, memory_order_relaxed);
		return v + 1;
	case UP_COUNTER_MUTEX:
		if (pthread_mutex_lock(&sh->lock) == EOWNERDEAD)
			pthread_mutex_consistent(&sh->lock);
		v = atomic_load_explicit(&sh->count, memory_order_relaxed);
		up_sleep_ns(delay_ns);
		atomic_store_explicit(&sh->count, v + 1, memory_order_relaxed);
		pthread_mutex_unlock(&sh->lock);
		return v + 1;
	case UP_COUNTER_ATOMIC:
		up_sleep_ns(delay_ns);
		return atomic_fetch_add(&sh->count, 1) + 1;
	case UP_COUNTER_OFF:
	default:
		up_sleep_ns(delay_ns);
		return 0;
	}
}
