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
 *   that dies takes its workers with it (PR_SET_PDEATHSIG).
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
#define YOUNG_NS		(5 * UP_NS_PER_SEC) /* a worker dying sooner */
#define FIRST_RESPAWN_MS	100		/* ... is replaced after this */
#define MAX_RESPAWN_MS		5000		/* ... doubling up to this */

static long forked;			/* children started, by main */
static volatile sig_atomic_t reaped;	/* children waited for */
static volatile sig_atomic_t sigchlds;	/* SIGCHLDs seen by the pool */

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

/* Counts: the pool's parent waits for its workers itself, to log them. */
static void
on_sigchld_pool(int signo)
{
	(void)signo;
	sigchlds++;
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

/*
 * Sleeps until done() says so, until timeout_ms passes (-1: no limit), or
 * (stop_too) until the stop pipe is readable. Returns 1, or 0 for a stop.
 * SIGCHLD is blocked from each check to the sleep and ppoll(2) (pselect(2)
 * in a POSIX build) unblocks it atomically, so a child that ends in
 * between still wakes us: no lost wake-up, and no spinning.
 */
static int
sleep_until(int (*done)(long), long arg, int timeout_ms, int stop_too)
{
	struct pollfd pfd = { .fd = up_stop_fd(), .events = POLLIN };
	int64_t deadline = up_now_ns() + (int64_t)timeout_ms * 1000000;
	struct timespec ts;
	sigset_t chld, old, during;
	int stop, ms;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	during = old;
	sigdelset(&during, SIGCHLD);
	for (;;) {
		stop = stop_too && poll(&pfd, 1, 0) == 1;
		if (stop || done(arg))
			break;
		ms = timeout_ms < 0 ? -1 : up_ms_until(deadline);
		if (ms == 0)
			break;
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000;
#ifdef UP_LINUX
		ppoll(&pfd, stop_too ? 1 : 0, ms < 0 ? NULL : &ts, &during);
#else
		{
			fd_set rd;

			FD_ZERO(&rd);
			FD_SET(pfd.fd, &rd);
			pselect(stop_too ? pfd.fd + 1 : 0, &rd, NULL, NULL,
			    ms < 0 ? NULL : &ts, &during);
		}
#endif
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return !stop;
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

/* A SIGCHLD has come since sigchlds was seen. */
static int
signalled_since(long seen)
{
	return sigchlds != seen;
}

/* Never: sleep_until then waits for its timeout or a stop. */
static int
never(long unused)
{
	(void)unused;
	return 0;
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
		if (!sleep_until(reaped_since, seen, ms, 1)) {
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
 * its own or the parent's. Should the parent die (kill -9), the worker
 * gets SIGTERM and stops like the rest, rather than live on as an orphan
 * holding the port.
 */
static _Noreturn void
work_in_pool(struct up_server *s, pid_t parent)
{
	struct up_conn c;
	sigset_t chld;
#ifndef UP_LINUX
	pthread_t t;
#endif

	sigemptyset(&chld);	/* the parent's mask is inherited */
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
#ifdef UP_LINUX
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#else
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

/* The pool's parent: when it last forked, and how long replacing waits. */
struct pool {
	int64_t	last_fork;
	int	respawn_ms;	/* 0 while workers live long */
};

/*
 * Reaps the workers that ended and logs each: "error <addr> op=worker
 * pid=N exit=S" or "signal=NAME". One that dies within YOUNG_NS of the
 * last fork doubles the wait before the next replacement, so that
 * workers that die in a loop do not make the parent fork in a loop.
 */
static void
reap_workers(struct up_server *s, struct pool *p)
{
	const char *name;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		reaped++;
		if (WIFSIGNALED(status)) {
			name = up_signal_name(WTERMSIG(status));
			up_log("error", s->addr, "op=worker pid=%ld signal=%s",
			    (long)pid, name != NULL ? name : "?");
		} else
			up_log("error", s->addr, "op=worker pid=%ld exit=%d",
			    (long)pid, WEXITSTATUS(status));
		if (up_now_ns() - p->last_fork >= YOUNG_NS)
			p->respawn_ms = 0;
		else if (p->respawn_ms == 0)
			p->respawn_ms = FIRST_RESPAWN_MS;
		else if ((p->respawn_ms *= 2) > MAX_RESPAWN_MS)
			p->respawn_ms = MAX_RESPAWN_MS;
	}
}

/*
 * Keeps -w workers running until a stop, replacing any that dies, then
 * waits for them all. Returns the exit status.
 */
static int
run_pool(struct up_server *s)
{
	struct up_shortage sh = { 0 };
	struct pool p = { 0 };
	pid_t parent = getpid(), pid;
	sigset_t chld;
	long seen;
	int e, ms;

#ifndef UP_LINUX
	if (pipe(parent_pipe) == -1 || up_fd_setup(parent_pipe[0], 0) == -1 ||
	    up_fd_setup(parent_pipe[1], 0) == -1)
		err(1, "pipe");
#endif
	/* SIGCHLD only interrupts the ppoll of sleep_until: we reap */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	if (catch_sigchld(on_sigchld_pool) == -1)
		err(1, "sigaction");
	for (;;) {
		seen = sigchlds;
		reap_workers(s, &p);
		if (!fewer_than(s->opt.workers)) {
			if (!sleep_until(signalled_since, seen, -1, 1))
				break;
			continue;
		}
		if (p.respawn_ms > 0 &&
		    !sleep_until(never, 0, p.respawn_ms, 1))
			break;
		p.last_fork = up_now_ns();
		if ((pid = up_fork()) == 0)
			work_in_pool(s, parent);
		if (pid > 0) {
			forked++;
			if (!fewer_than(s->opt.workers))
				up_shortage_over(&sh, s->addr);
			continue;
		}
		e = errno;
		if (up_shortage_error(e))
			ms = up_shortage_failed(&sh, s->addr, "fork", e, 0);
		else {
			up_log_error(s->addr, NULL, "fork", e);
			ms = 1000;
		}
		if (!sleep_until(never, 0, ms, 1))
			break;
	}
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	return up_server_stop(s);
}

int
main(int argc, char **argv)
{
	struct up_server s = { .opt.max_conns = DEFAULT_MAX_CHILDREN };
	struct up_shortage sh = { 0 };
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

	if (s.opt.workers > 0)
		return run_pool(&s);
	if (catch_sigchld(on_sigchld) == -1)
		err(1, "sigaction");

	/*
	 * Accept, fork, repeat: the child serves while we accept the next.
	 * "accepted" is logged before the fork, so it always comes before
	 * the child's own lines.
	 */
	while (sleep_until(fewer_than, s.opt.max_conns, -1, 1)) {
		if (sh.active && !pending(s.lfd))
			up_shortage_over(&sh, s.addr);	/* nobody waits */
		if (up_server_accept(&s, &c) != 1)
			break;
		up_log("accepted", c.peer, NULL);
		hand_over(&s, &c, &sh);
	}

	/* The children see the stop too: they finish, then we report. */
	sleep_until(fewer_than, 1, -1, 0);
	return up_server_stop(&s);
}
