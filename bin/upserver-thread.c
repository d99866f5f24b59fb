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
 * - the threads block SIGINT, SIGTERM and SIGHUP, so the stop always
 *   interrupts the main thread (whose handler closes the listener at
 *   once, so the next server can have the port); they learn of it
 *   through the stop pipe, like the children of upserver-fork (starting
 *   and counting them: lib/pool/threads.c);
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
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server/server.h"

#define DEFAULT_MAX_THREADS	4096
#define STACK_SIZE		(64 * 1024)

/* A connection on its way to its thread. */
struct job {
	struct up_conn	 c;
	struct up_server *s;
};

/* A connection's thread: serves it and ends. Returns NULL. */
static void *
serve_thread(void *arg)
{
	struct job *j = arg;

	snprintf(j->c.who, sizeof(j->c.who), "tid=%ld", up_thread_id());
	up_serve(j->s, &j->c);
	free(j);
	up_thread_ended();
	return NULL;
}

/* A pool thread's place: its server, and its index in the pool. */
struct worker {
	struct up_server *s;
	long		 index;
};

/* A pool thread: accepts and serves until a stop. Returns NULL. */
static void *
pool_thread(void *arg)
{
	struct worker *w = arg;
	struct up_server *s = w->s;
	struct up_conn c;

	while (up_server_take(s, w->index, &c) == 1) {
		snprintf(c.who, sizeof(c.who), "tid=%ld", up_thread_id());
		up_log("accepted", c.peer, "%s", c.who);
		up_serve(s, &c);
	}
	up_thread_ended();
	return NULL;
}

/*
 * The memory that hands c over to its thread, waited for as any memory
 * of a connection (lib/robust/memory.c: the server's one shortage,
 * logged op=malloc). Returns it, or NULL at a stop, c then closed.
 */
static struct job *
new_job(struct up_server *s, struct up_conn *c)
{
	struct up_memory_wait w = { 0 };
	struct job *j;

	while ((j = malloc(sizeof(*j))) == NULL)
		if (up_memory_pause(&s->shared->memory, &w, s->addr, errno,
		    0) == -1) {
			close(c->fd);
			up_log("closed", c->peer, "requests=0 reason=stop");
			return NULL;
		}
	up_memory_got(&s->shared->memory, &w, s->addr);
	j->c = *c;
	j->s = s;
	return j;
}

/* Starts a thread to serve job. Returns 0, or an error number. */
static int
spawn_thread(void *job, void *s)
{
	(void)s;
	return up_thread_start(serve_thread, job, STACK_SIZE);
}

/* Sleeps until a thread ends, or ms pass; 0 at a stop. */
static int
thread_ended_within(int ms, void *s)
{
	(void)s;
	return up_threads_wait_end(ms);
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
	struct worker *w;
	long started = 0;
	int e;

	if ((w = calloc((size_t)s->opt.workers, sizeof(*w))) == NULL)
		err(1, "malloc");
	while (started < s->opt.workers) {
		w[started].s = s;
		w[started].index = started;
		if ((e = up_thread_start(pool_thread, &w[started],
		    STACK_SIZE)) == 0) {
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
	/* --accept pass: this thread accepts, the workers take from it */
	if (s->opt.accept == UP_ACCEPT_PASS)
		up_server_pass(s);
	up_threads_below(1, 0);
	free(w);
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
	struct job *j;

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
	while (up_threads_below(s.opt.max_conns, 1)) {
		up_spawn_idle(&sp, s.addr, s.lfd);
		if (up_server_accept(&s, &c) != 1)
			break;
		up_log("accepted", c.peer, NULL);
		if ((j = new_job(&s, &c)) == NULL)
			break;		/* a stop came */
		if (up_spawn(&sp, s.addr, c.peer, c.fd, j) == -1)
			free(j);
	}

	/* The threads see the stop too: they finish, then we report. */
	up_threads_below(1, 0);
	return up_server_stop(&s);
}
