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
 * - with -w N, N processes forked once each loop on accept(2) on the
 *   listening socket they inherited, and the kernel gives each connection
 *   to one of them. The fork is paid once, not per client, and at most N
 *   clients are served at once; a worker that dies is replaced, and a
 *   parent that dies takes its workers with it (PR_SET_PDEATHSIG).
 */
#include <sys/types.h>
#if defined(__linux__) && !defined(UP_PORTABLE)
#include <sys/prctl.h>
#endif
#include <sys/select.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "up.h"

#define DEFAULT_MAX_CHILDREN	256

static long forked;			/* children started, by main */
static volatile sig_atomic_t reaped;	/* children waited for, by handler */

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

/* Installs on_sigchld; returns 0 or -1 with errno. */
static int
reap_children(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	return sigaction(SIGCHLD, &sa, NULL);
}

/*
 * Sleeps until fewer than n children run. Returns 1, or 0 as soon as the
 * stop pipe is readable if stop_too is set. SIGCHLD is blocked from the
 * check to the sleep and ppoll(2) (pselect(2) in a POSIX build) unblocks it
 * atomically, so a child that
 * ends in between still wakes us: no lost wake-up, and no spinning.
 */
static int
wait_children(long n, int stop_too)
{
	struct pollfd pfd = { .fd = up_stop_fd(), .events = POLLIN };
	sigset_t chld, old;
	int stop;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	for (;;) {
		stop = stop_too && poll(&pfd, 1, 0) == 1;
		if (stop || forked - reaped < n)
			break;
#ifdef UP_LINUX
		ppoll(&pfd, stop_too ? 1 : 0, NULL, &old);
#else
		{
			fd_set rd;

			FD_ZERO(&rd);
			FD_SET(pfd.fd, &rd);
			pselect(stop_too ? pfd.fd + 1 : 0, &rd, NULL, NULL,
			    NULL, &old);
		}
#endif
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return !stop;
}

/* A connection the server could not hand over: logged and closed. */
static void
drop(struct up_conn *c, const char *op, int e)
{
	up_log_error(c->peer, NULL, op, e);
	close(c->fd);
	up_log("closed", c->peer, "requests=0 reason=error");
	up_wait(up_stop_fd(), POLLIN, 100);	/* let children end first */
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

#ifndef UP_LINUX
/*
 * POSIX has no PR_SET_PDEATHSIG. Instead the parent holds the write end
 * of a pipe that nobody writes: when the parent dies, its last copy
 * closes and a thread in each worker reads end of file.
 */
static int parent_pipe[2] = { -1, -1 };

/* A worker's thread: waits for the parent's end, then stops the worker. */
static void *
watch_parent(void *arg)
{
	char byte;

	(void)arg;
	while (read(parent_pipe[0], &byte, 1) == -1 && errno == EINTR)
		;
	kill(getpid(), SIGTERM);
	return NULL;
}
#endif

/*
 * A pool worker: accepts and serves on the shared socket until a stop.
 * Should the parent die (kill -9), the worker gets SIGTERM and stops like
 * the rest, rather than live on as an orphan holding the port.
 */
static _Noreturn void
work_in_pool(struct up_server *s, pid_t parent)
{
	struct up_conn c;
#ifdef UP_LINUX
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#else
	pthread_t t;

	close(parent_pipe[1]);
	pthread_create(&t, NULL, watch_parent, NULL);
#endif
	if (getppid() != parent)	/* it died before we watched */
		_exit(0);
	while (up_server_accept(s, &c) == 1) {
		snprintf(c.who, sizeof(c.who), "pid=%ld", (long)getpid());
		up_log("accepted", c.peer, "%s", c.who);
		up_serve(&c, &s->opt, s->shared);
	}
	_exit(0);
}

/*
 * Keeps -w workers running until a stop, replacing any that dies, then
 * waits for them all. Returns the exit status.
 */
static int
run_pool(struct up_server *s)
{
	pid_t parent = getpid(), pid;

#ifndef UP_LINUX
	if (pipe(parent_pipe) == -1 || up_fd_setup(parent_pipe[0], 0) == -1 ||
	    up_fd_setup(parent_pipe[1], 0) == -1)
		err(1, "pipe");
#endif
	while (wait_children(s->opt.workers, 1)) {
		if ((pid = fork()) == 0)
			work_in_pool(s, parent);
		if (pid > 0) {
			forked++;
			continue;
		}
		up_log_error(s->addr, NULL, "fork", errno);
		up_wait(up_stop_fd(), POLLIN, 1000);
	}
	wait_children(1, 0);
	return up_server_stop(s);
}

int
main(int argc, char **argv)
{
	struct up_server s = { .opt.max_conns = DEFAULT_MAX_CHILDREN };
	struct up_conn c;
	char msg[UP_MSG_MAX];
	int status;

	/* The request total and the counter must be shared: MAP_SHARED. */
	status = up_server_start(&s, argc, argv, "fork", 0, 1,
	    msg, sizeof(msg));
	if (status >= 0) {
		fputs(msg, status == 0 ? stdout : stderr);
		return status;
	}
	if (reap_children() == -1)
		err(1, "sigaction");

	if (s.opt.workers > 0)
		return run_pool(&s);

	/*
	 * Accept, fork, repeat: the child serves while we accept the next.
	 * "accepted" is logged before the fork, so it always comes before
	 * the child's own lines.
	 */
	while (wait_children(s.opt.max_conns, 1) &&
	    up_server_accept(&s, &c) == 1) {
		up_log("accepted", c.peer, NULL);
		switch (fork()) {
		case -1:
			drop(&c, "fork", errno);
			break;
		case 0:
			serve_child(&s, &c);
		default:
			forked++;
			close(c.fd);	/* the child's now */
		}
	}

	/* The children see the stop too: they finish, then we report. */
	wait_children(1, 0);
	return up_server_stop(&s);
}
