/*
 * upserver-fork: a process per connection (or, with -w, a pre-forked pool).
 *
 * The parent only accepts. For each connection it forks a child that
 * serves it and exits, closes its own copy of the connection and goes
 * straight back to accept. Four clients with a one-second delay are
 * accepted at once and answered together, one second later.
 *
 * What it costs: a fork(2) per connection (the page tables are copied and
 * the memory only when written, but that is still far more than a thread),
 * a process per client in the process table, and a context switch between
 * address spaces whenever the CPU moves from one client to another. Beyond
 * -c children (default 256) the parent stops accepting until one ends, and
 * newcomers wait in the listen backlog as they would with upserver-seq.
 *
 * What to notice:
 * - the parent closes its copy of the connection: a socket is closed only
 *   when its last descriptor is, so otherwise no client would see the end
 *   of its stream and the parent would run out of descriptors;
 * - the child closes the listening socket, tags its log lines pid=, and
 *   ends with _exit(2): exit(3) could flush a stdio buffer copied from the
 *   parent and print it twice (the log never uses stdio for that reason);
 * - a child that ends stays a zombie until the parent waits for it. Signals
 *   do not queue, so one SIGCHLD may stand for many children: the handler
 *   reaps in a loop until none is left;
 * - processes share no memory: the request total of "stopped" and the
 *   --counter live in a MAP_SHARED mapping made before the first fork;
 * - a crash stays in its process: kill -9 a child, the others carry on;
 *   and a signal too: each child has a stop of its own (up_fork), so
 *   SIGTERM to one child ends that child after its request in flight;
 * - fork(2) fails when the user runs out of processes (ulimit -u) or the
 *   system out of memory. That is nobody's fault and passes when a child
 *   ends: the parent keeps the connection, accepts no one else, and
 *   tries again when a child ends or after a backoff: the client is
 *   served late, not reset (lib/robust/spawn.c, the same retry as
 *   upserver-thread's);
 * - with -w N, N processes forked once each loop on accept(2) on the
 *   listening socket they inherited, and the kernel gives each connection
 *   to one of them. The fork is paid once, not per client, and at most N
 *   clients are served at once; a worker that dies is logged and
 *   replaced (later and later if workers keep dying young), and a parent
 *   that dies takes its workers with it: lib/pool/pool.c, which
 *   upserver-poll -w runs its event loops with too. With --accept pass
 *   the parent accepts instead, and sends each descriptor to a free
 *   worker (SCM_RIGHTS: lib/pool/handout.c).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "server/server.h"

#define DEFAULT_MAX_CHILDREN	256

static long forked;			/* children started, by main */
static volatile sig_atomic_t reaped;	/* children waited for */
static long reaped_before;		/* reaped as the last fork began */

/* Waits for every child that has ended, without blocking; keeps errno. */
static void
on_sigchld(int signo)
{
	int saved = errno;
	pid_t pid;

	(void)signo;
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		reaped++;
		up_children_gone(pid);	/* a forced stop kills no more */
	}
	errno = saved;
}

/* Fewer than n children run. */
static int
fewer_than(long n)
{
	return forked - reaped < n;
}

/* A child has been reaped since reaped was seen. */
static int
reaped_since(long seen)
{
	return reaped != seen;
}

/*
 * Forks a child to serve the connection c and exit. Returns 0 in the
 * parent, or fork's error number (c is still ours).
 */
static int
fork_child(void *job, void *server)
{
	struct up_server *s = server;
	struct up_conn *c = job;
	sigset_t chld, old;
	pid_t pid;
	int e;

	/* SIGCHLD waits until the child is in the table, to be found */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	reaped_before = reaped;
	if ((pid = up_fork()) == -1) {
		e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return e;
	}
	if (pid == 0) {
		/* the child: serves its one connection, then exits */
		sigprocmask(SIG_SETMASK, &old, NULL);
		up_stop_listener(-1);
		close(s->lfd);
		snprintf(c->who, sizeof(c->who), "pid=%ld", (long)getpid());
		up_serve(s, c);
		_exit(0);
	}
	up_children_add(pid);
	forked++;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return 0;
}

/* Sleeps until a child ends, or ms pass; 0 at a stop. */
static int
child_ended(int ms, void *arg)
{
	(void)arg;
	return up_sleep_until(reaped_since, reaped_before, ms, 1);
}

/*
 * A pool worker: accepts and serves on the shared socket until a stop,
 * its own or the parent's.
 */
static _Noreturn void
work_in_pool(struct up_server *s, long index)
{
	struct up_conn c;

	while (up_server_take(s, index, &c) == 1) {
		snprintf(c.who, sizeof(c.who), "pid=%ld", (long)getpid());
		up_log("accepted", c.peer, "%s", c.who);
		up_serve(s, &c);
	}
	_exit(0);
}

static const struct up_model fork_model = {
	.name = "fork",
	.max_conns = DEFAULT_MAX_CHILDREN,
	.workers = 1,
	.processes = 1,		/* the request total and the counter */
};

int
main(int argc, char **argv)
{
	struct up_server s;
	struct up_spawner sp = { .op = "fork", .start = fork_child,
	    .ended = child_ended, .arg = &s };
	struct up_conn c;
	long index;

	if (up_server_start(&s, &fork_model, argc, argv) == -1) {
		fputs(s.msg, s.exit == 0 ? stdout : stderr);
		return s.exit;
	}

	if (s.opt.workers > 0) {
		/* --accept pass: the parent hands each connection over */
		switch (up_pool_run(s.addr, s.opt.workers,
		    up_handout_hooks(s.handout, s.addr), &index)) {
		case 1:
			work_in_pool(&s, index);
			/* NOTREACHED */
		case 0:
			return up_server_stop(&s);
		default:
			err(1, "pool");
		}
	}
	/* a second SIGINT or SIGTERM kills the children too */
	if (up_children_init(s.opt.max_conns) == -1)
		err(1, "malloc");
	if (up_catch(SIGCHLD, on_sigchld, SA_RESTART | SA_NOCLDSTOP) == -1)
		err(1, "sigaction");

	/*
	 * Accept, fork, repeat: the child serves while we accept the next,
	 * and we close our copy of its connection. "accepted" is logged
	 * before the fork, so it always comes before the child's own lines.
	 */
	while (up_sleep_until(fewer_than, s.opt.max_conns, -1, 1)) {
		up_spawn_idle(&sp, s.addr, s.lfd);
		if (up_server_accept(&s, &c) != 1)
			break;
		up_log("accepted", c.peer, NULL);
		if (up_spawn(&sp, s.addr, c.peer, c.fd, &c) == 0)
			close(c.fd);	/* the child's now */
	}

	/* The children see the stop too: they finish, then we report. */
	up_sleep_until(fewer_than, 1, -1, 0);
	return up_server_stop(&s);
}
