/*
 * threads.c: worker threads, started and counted, for upserver-thread.
 *
 * A thread per connection (or a fixed pool of them) needs the same few
 * things around it: a stack of a size the server chooses, SIGINT, SIGTERM
 * and SIGHUP blocked so that a stop always interrupts the main thread (the
 * threads learn of it through the stop pipe, like the children of
 * upserver-fork), a count of those running, and a way for the main
 * thread to sleep until fewer run or one ends: what pool.c is for
 * processes.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "pool/pool.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ended = PTHREAD_COND_INITIALIZER;
static long running;		/* threads started and not yet ended */

/*
 * Sleeps until fewer than n threads run. Returns 1, or 0 when stop_too is
 * set and a stop is requested. A condition variable cannot watch the stop
 * pipe, but it need not: after a stop every thread finishes its request
 * and ends, and the first to end wakes us up.
 */
int
up_threads_below(long n, int stop_too)
{
	int stop;

	pthread_mutex_lock(&lock);
	while (!(stop = stop_too && up_stopping()) && running >= n)
		pthread_cond_wait(&ended, &lock);
	pthread_mutex_unlock(&lock);
	return !stop;
}

/*
 * Sleeps until a thread ends, for timeout_ms at most, or until a stop
 * when no thread runs (one that runs would wake us as it ends). Returns
 * 1, or 0 when a stop is requested.
 */
int
up_threads_wait_end(int timeout_ms)
{
	struct timespec ts;
	long before;

	pthread_mutex_lock(&lock);
	before = running;
	pthread_mutex_unlock(&lock);
	if (before == 0) {
		up_wait(up_stop_fd(), POLLIN, timeout_ms);
		return !up_stopping();
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= UP_NS_PER_SEC) {
		ts.tv_sec++;
		ts.tv_nsec -= UP_NS_PER_SEC;
	}
	pthread_mutex_lock(&lock);
	while (running >= before && !up_stopping())
		if (pthread_cond_timedwait(&ended, &lock, &ts) != 0)
			break;
	pthread_mutex_unlock(&lock);
	return !up_stopping();
}

/* Called by each thread as it ends: one fewer running. */
void
up_thread_ended(void)
{
	pthread_mutex_lock(&lock);
	running--;
	pthread_cond_signal(&ended);
	pthread_mutex_unlock(&lock);
}

int
up_thread_start(void *(*fn)(void *), void *arg, size_t stack)
{
	pthread_attr_t attr;
	sigset_t block, old;
	pthread_t tid;
	int e;

	if ((e = pthread_attr_init(&attr)) != 0)
		return e;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if ((e = pthread_attr_setstacksize(&attr, stack)) == 0) {
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		sigaddset(&block, SIGHUP);
		sigaddset(&block, SIGCHLD);
		pthread_sigmask(SIG_BLOCK, &block, &old);
		pthread_mutex_lock(&lock);
		if ((e = pthread_create(&tid, &attr, fn, arg)) == 0)
			running++;
		pthread_mutex_unlock(&lock);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_attr_destroy(&attr);
	return e;
}

/*
 * The number the log shows for the calling thread: its kernel thread id
 * on Linux (the one /proc and top -H show); POSIX has none, so elsewhere
 * a number given to each thread in turn, the first time it asks.
 */
long
up_thread_id(void)
{
#ifdef UP_LINUX
	return (long)gettid();
#else
	static atomic_long last;
	static _Thread_local long id;

	if (id == 0)
		id = atomic_fetch_add(&last, 1) + 1;
	return id;
#endif
}
