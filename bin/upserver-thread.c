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
#include <unistd.h>

#include "up.h"

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
	up_serve(&j->c, &j->s->opt, j->s->shared);
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
		up_serve(&c, &s->opt, s->shared);
	}
	thread_ended();
	return NULL;
}

/*
 * Hands c to a new thread. When none can start, c is logged and closed,
 * and we pause a moment so that a shortage is not a busy loop.
 */
static void
spawn(struct up_server *s, struct up_conn *c)
{
	struct job *j;
	int e;

	if ((j = malloc(sizeof(*j))) == NULL)
		e = errno;
	else {
		j->c = *c;
		j->s = s;
		if ((e = start_thread(serve_thread, j)) == 0)
			return;
		free(j);
	}
	up_log_error(c->peer, NULL, "pthread_create", e);
	close(c->fd);
	up_log("closed", c->peer, "requests=0 reason=error");
	up_wait(up_stop_fd(), POLLIN, 100);
}

/* Starts the -w pool and waits for its threads to end at the stop. */
static int
run_pool(struct up_server *s)
{
	long i;
	int e;

	for (i = 0; i < s->opt.workers; i++)
		if ((e = start_thread(pool_thread, s)) != 0) {
			errno = e;
			err(1, "pthread_create");
		}
	wait_threads(1, 0);
	return up_server_stop(s);
}

int
main(int argc, char **argv)
{
	struct up_server s = { .opt.max_conns = DEFAULT_MAX_THREADS };
	struct up_conn c;
	char msg[UP_MSG_MAX];
	int status;

	status = up_server_start(&s, argc, argv, "thread", 0, 0,
	    msg, sizeof(msg));
	if (status >= 0) {
		fputs(msg, status == 0 ? stdout : stderr);
		return status;
	}

	if (s.opt.workers > 0)
		return run_pool(&s);

	/*
	 * Accept, start a thread, repeat: it serves while we accept the
	 * next. "accepted" is logged first, so it comes before the thread's
	 * own lines.
	 */
	while (wait_threads(s.opt.max_conns, 1) &&
	    up_server_accept(&s, &c) == 1) {
		up_log("accepted", c.peer, NULL);
		spawn(&s, &c);
	}

	/* The threads see the stop too: they finish, then we report. */
	wait_threads(1, 0);
	return up_server_stop(&s);
}
