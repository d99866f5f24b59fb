/*
 * upserver-thread: a thread per connection (or, with -w, a fixed pool).
 *
 * The main thread only accepts. For each connection it starts a detached
 * thread that serves it and ends; four clients with a one-second delay
 * are answered together, one second later, as with upserver-fork.
 *
 * What it costs: a thread is cheaper than a process (no address space to
 * copy, and switching between threads of one process keeps the memory
 * mappings), but each still has a kernel task and its own stack. Stacks
 * here are 64 KiB instead of the usual 8 MiB of address space; up_serve()
 * needs a few KiB (its buffer is on the heap), so thousands fit. Beyond
 * -c threads (default 4096) the main thread stops accepting until one
 * ends, and newcomers wait in the listen backlog.
 *
 * What to notice:
 * - threads share memory, so --counter needs no shared mapping, and shows
 *   the race instead: "unsafe" loses updates, "mutex" is right but runs
 *   the requests one at a time, "atomic" is right and concurrent;
 * - sharing has its price: a crash (or exit) in one thread ends them all,
 *   where a child of upserver-fork dies alone;
 * - the connection is handed to its thread in memory of its own (malloc),
 *   not as a pointer to the main thread's variable, which the next accept
 *   would overwrite;
 * - the threads block SIGINT and SIGTERM, so the stop always interrupts the
 *   main thread; they learn of it through the stop pipe, like the children
 *   of upserver-fork;
 * - pthread_create(3) fails with EAGAIN when the user runs out of tasks
 *   (ulimit -u counts threads) or memory; that passes when a thread ends,
 *   so the main thread keeps the connection, accepts no one else, and
 *   tries again when a thread ends or after a backoff: the client is
 *   served late, not reset (lib/robust/spawn.c, the same retry as
 *   upserver-fork's);
 * - with -w N, N threads started once each loop on accept(2): like Python's
 *   ThreadPoolExecutor(max_workers=N), five clients on -w 2 are answered
 *   two, two, then one.
 */
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

#define DEFAULT_MAX_THREADS	4096
#define STACK_SIZE		(64 * 1024)

/* A connection on its way to its thread. */
struct job {
	struct up_conn	 c;
	struct up_server *s;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ended = PTHREAD_COND_INITIALIZER;
static long running;		/* threads started and not yet ended */

/*
 * Sleeps until fewer than n threads run. Returns 1, or 0 when stop_too is
 * set and a stop is requested. A condition variable cannot watch the stop
 * pipe, but it need not: after a stop every thread finishes its request
 * and ends, and the first to end wakes us up.
 */
static int
wait_threads(long n, int stop_too)
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
static int
wait_thread_end(int timeout_ms)
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
static void
thread_ended(void)
{
	pthread_mutex_lock(&lock);
	running--;
	pthread_cond_signal(&ended);
	pthread_mutex_unlock(&lock);
}

/*
 * Starts fn(arg) in a detached thread with a STACK_SIZE stack and with
 * SIGINT, SIGTERM and SIGCHLD blocked (a new thread inherits the mask),
 * and counts it. Returns 0, or an error number.
 */
static int
start_thread(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	sigset_t block, old;
	pthread_t tid;
	int e;

	if ((e = pthread_attr_init(&attr)) != 0)
		return e;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if ((e = pthread_attr_setstacksize(&attr, STACK_SIZE)) == 0) {
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
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
static long
thread_id(void)
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

/* A connection's thread: serves it and ends. Returns NULL. */
static void *
serve_thread(void *arg)
{
	struct job *j = arg;

	snprintf(j->c.who, sizeof(j->c.who), "tid=%ld", thread_id());
	up_serve(j->s, &j->c);
	free(j);
	thread_ended();
	return NULL;
}

/* A pool thread: accepts and serves until a stop. Returns NULL. */
static void *
pool_thread(void *arg)
{
	struct up_server *s = arg;
	struct up_conn c;

	while (up_server_accept(s, &c) == 1) {
		snprintf(c.who, sizeof(c.who), "tid=%ld", thread_id());
		up_log("accepted", c.peer, "%s", c.who);
		up_serve(s, &c);
	}
	thread_ended();
	return NULL;
}

/*
 * Starts a thread to serve the connection c, handed over in memory of
 * its own. Returns 0, or an error number (c is still ours).
 */
static int
spawn_thread(void *c, void *s)
{
	struct job *j;
	int e;

	if ((j = malloc(sizeof(*j))) == NULL)
		return errno;
	j->c = *(struct up_conn *)c;
	j->s = s;
	if ((e = start_thread(serve_thread, j)) != 0)
		free(j);
	return e;
}

/* Sleeps until a thread ends, or ms pass; 0 at a stop. */
static int
thread_ended_within(int ms, void *s)
{
	(void)s;
	return wait_thread_end(ms);
}

/*
 * Starts the -w pool and waits for its threads to end at the stop. A
 * thread that cannot start for lack of tasks or memory is tried again
 * after the shortage's backoff, while the others serve.
 */
static int
run_pool(struct up_server *s)
{
	struct up_shortage sh = { 0 };
	long started = 0;
	int e;

	while (started < s->opt.workers) {
		if ((e = start_thread(pool_thread, s)) == 0) {
			started++;
			continue;
		}
		if (!up_shortage_error(e)) {
			errno = e;
			err(1, "pthread_create");
		}
		if (up_wait(up_stop_fd(), POLLIN, up_shortage_failed(&sh,
		    s->addr, "pthread_create", e, 0)) == UP_WAIT_STOP)
			break;
	}
	if (started == s->opt.workers)
		up_shortage_over(&sh, s->addr);
	wait_threads(1, 0);
	return up_server_stop(s);
}

static const struct up_model thread_model = {
	.name = "thread",
	.max_conns = DEFAULT_MAX_THREADS,
	.workers = 1,
};

int
main(int argc, char **argv)
{
	struct up_server s;
	struct up_spawner sp = { .op = "pthread_create", .arg = &s,
	    .start = spawn_thread, .ended = thread_ended_within };
	struct up_conn c;

	if (up_server_start(&s, &thread_model, argc, argv) == -1) {
		fputs(s.msg, s.exit == 0 ? stdout : stderr);
		return s.exit;
	}

	if (s.opt.workers > 0)
		return run_pool(&s);

	/*
	 * Accept, start a thread, repeat: it serves while we accept the
	 * next. "accepted" is logged first, so it comes before the thread's
	 * own lines.
	 */
	while (wait_threads(s.opt.max_conns, 1)) {
		up_spawn_idle(&sp, s.addr, s.lfd);
		if (up_server_accept(&s, &c) != 1)
			break;
		up_log("accepted", c.peer, NULL);
		up_spawn(&sp, s.addr, c.peer, c.fd, &c);
	}

	/* The threads see the stop too: they finish, then we report. */
	wait_threads(1, 0);
	return up_server_stop(&s);
}
