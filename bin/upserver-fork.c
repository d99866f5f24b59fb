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
 *   tries again when a child ends or after a backoff. The client is
 *   served late, not reset;
 * - with -w N, N processes forked once each loop on accept(2) on the
 *   listening socket they inherited, and the kernel gives each connection
 *   to one of them. The fork is paid once, not per client, and at most N
 *   clients are served at once; a worker that dies is logged and
 *   replaced (later and later if workers keep dying young), and a parent
 *   that dies takes its workers with it: lib/pool.c, which upserver-poll
 *   -w runs its event loops with too.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "up.h"

#define DEFAULT_MAX_CHILDREN	256

static long forked;			/* children started, by main */
static volatile sig_atomic_t reaped;	/* children waited for */

/* Waits for every child that has ended, without blocking; keeps errno. */
static void
on_sigchld(int signo)
{
	int saved = errno;

	(void)signo;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		reaped++;
	errno = saved;
}

/* Installs handler for SIGCHLD; returns 0 or -1 with errno. */
static int
catch_sigchld(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	return sigaction(SIGCHLD, &sa, NULL);
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

/* A connection the server could not hand over: logged and closed. */
static void
drop(struct up_conn *c, const char *op, int e, const char *reason)
{
	if (e != 0)
		up_log_error(c->peer, NULL, op, e);
	close(c->fd);
	up_log("closed", c->peer, "requests=0 reason=%s", reason);
	if (e != 0)
		up_wait(up_stop_fd(), POLLIN, 100); /* let children end */
}

/* The child: serves its one connection, then exits. */
static _Noreturn void
serve_child(struct up_server *s, struct up_conn *c)
{
	close(s->lfd);
	snprintf(c->who, sizeof(c->who), "pid=%ld", (long)getpid());
	up_serve(c, &s->opt, s->shared);
	_exit(0);
}

/*
 * Hands c to a child of its own. When fork(2) fails for lack of processes
 * or memory, c is kept and, accepting no one else meanwhile, we try again
 * as soon as a child ends, or after the shortage's backoff. The shortage
 * is over when a connection forks at its first try (or when nobody is
 * left waiting, see main). c is closed unserved only at a stop, or when
 * fork fails for another reason.
 */
static void
hand_over(struct up_server *s, struct up_conn *c, struct up_shortage *sh)
{
	int first = 1, ms, e;
	long seen;
	pid_t pid;

	for (;;) {
		seen = reaped;
		if ((pid = up_fork()) == 0)
			serve_child(s, c);
		if (pid > 0)
			break;
		if (!up_shortage_error(e = errno)) {
			drop(c, "fork", e, "error");
			return;
		}
		ms = up_shortage_failed(sh, s->addr, "fork", e, first);
		first = 0;
		if (!up_sleep_until(reaped_since, seen, ms, 1)) {
			drop(c, NULL, 0, "stop");
			return;
		}
	}
	forked++;
	close(c->fd);	/* the child's now */
	if (first)
		up_shortage_over(sh, s->addr);
}

/* 1 when a connection waits in the listening socket's backlog. */
static int
pending(int lfd)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/*
 * A pool worker: accepts and serves on the shared socket until a stop,
 * its own or the parent's.
 */
static _Noreturn void
work_in_pool(struct up_server *s)
{
	struct up_conn c;

	while (up_server_accept(s, &c) == 1) {
		snprintf(c.who, sizeof(c.who), "pid=%ld", (long)getpid());
		up_log("accepted", c.peer, "%s", c.who);
		up_serve(&c, &s->opt, s->shared);
	}
	_exit(0);
}

int
main(int argc, char **argv)
{
	struct up_server s = { .opt.max_conns = DEFAULT_MAX_CHILDREN };
	struct up_shortage sh = { 0 };
	struct up_conn c;
	char msg[UP_MSG_MAX];
	long index;
	int status;

	/* The request total and the counter must be shared: MAP_SHARED. */
	status = up_server_start(&s, argc, argv, "fork", 0, 1,
	    msg, sizeof(msg));
	if (status >= 0) {
		fputs(msg, status == 0 ? stdout : stderr);
		return status;
	}

	if (s.opt.workers > 0) {
		switch (up_pool_run(&s, s.opt.workers, NULL, NULL, &index)) {
		case 1:
			work_in_pool(&s);
			/* NOTREACHED */
		case 0:
			return up_server_stop(&s);
		default:
			err(1, "pool");
		}
	}
	if (catch_sigchld(on_sigchld) == -1)
		err(1, "sigaction");

	/*
	 * Accept, fork, repeat: the child serves while we accept the next.
	 * "accepted" is logged before the fork, so it always comes before
	 * the child's own lines.
	 */
	while (up_sleep_until(fewer_than, s.opt.max_conns, -1, 1)) {
		if (sh.active && !pending(s.lfd))
			up_shortage_over(&sh, s.addr);	/* nobody waits */
		if (up_server_accept(&s, &c) != 1)
			break;
		up_log("accepted", c.peer, NULL);
		hand_over(&s, &c, &sh);
	}

	/* The children see the stop too: they finish, then we report. */
	up_sleep_until(fewer_than, 1, -1, 0);
	return up_server_stop(&s);
}
