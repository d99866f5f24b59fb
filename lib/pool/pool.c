/*
 * pool.c: a fixed pool of worker processes under a supervising parent,
 * as upserver-fork -w and upserver-poll -w run them (nginx's master and
 * workers).
 *
 * The parent forks N workers and then only watches: a worker that ends
 * is logged ("error <addr> op=worker pid=N signal=KILL") and replaced,
 * later and later if workers keep dying young, so that a worker that
 * crashes at once does not make the parent fork in a loop. A stop
 * (SIGINT, SIGTERM, SIGHUP) reaches every worker through the parent's
 * stop pipe (see core/signal.c), and each closes its copy of the
 * listener as it sees it; the parent then waits for them all. A second
 * SIGINT or SIGTERM kills them (SIGKILL) and the parent dies of it. A
 * parent that dies takes its workers with it (PR_SET_PDEATHSIG, or a
 * pipe elsewhere), so that no worker goes on serving a port nobody
 * watches.
 */
#include <sys/types.h>
#if defined(__linux__) && !defined(UP_PORTABLE)
#include <sys/prctl.h>
#endif
#include <sys/select.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "pool/pool.h"

#define YOUNG_NS		(5 * UP_NS_PER_SEC) /* a worker dying sooner */
#define FIRST_RESPAWN_MS	100		/* ... is replaced after this */
#define MAX_RESPAWN_MS		5000		/* ... doubling up to this */

static volatile sig_atomic_t sigchlds;	/* SIGCHLDs seen by the parent */

/* Counts: the parent waits for its workers itself, to log them. */
static void
on_sigchld(int signo)
{
	(void)signo;
	sigchlds++;
}

int
up_sleep_until(int (*done)(long), long arg, int timeout_ms, int stop_too)
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
	if (stop)
		up_stop_notice();
	return !stop;
}

/* A SIGCHLD has come since sigchlds was seen. */
static int
signalled_since(long seen)
{
	return sigchlds != seen;
}

/* Never: up_sleep_until then waits for its timeout or a stop. */
static int
never(long unused)
{
	(void)unused;
	return 0;
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
 * In a new worker: the signal mask as before the pool, and a stop should
 * the parent die (kill -9), rather than live on as an orphan holding the
 * port; a parent gone already is a stop at once.
 */
static void
worker_setup(pid_t parent)
{
	sigset_t chld;
#ifndef UP_LINUX
	pthread_t t;
#endif

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
#ifdef UP_LINUX
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#else
	close(parent_pipe[1]);
	if (pthread_create(&t, NULL, watch_parent, NULL) == 0)
		pthread_detach(t);
#endif
	if (getppid() != parent)	/* it died before we watched */
		kill(getpid(), SIGTERM);
}

/* The parent's view of its workers. */
struct pool {
	const char	*addr;		/* the server's, for the log */
	pid_t		*pids;		/* by index; 0 for a free slot */
	long		 n, live;
	int64_t		 last_fork;
	int		 respawn_ms;	/* 0 while workers live long */
	void		 (*died)(long, void *);
	void		*arg;
};

/*
 * Reaps the workers that ended and logs each: "error <addr> op=worker
 * pid=N exit=S" or "signal=NAME". One that dies within YOUNG_NS of the
 * last fork doubles the wait before the next replacement.
 */
static void
reap(struct pool *p)
{
	const char *name;
	int status;
	long i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < p->n && p->pids[i] != pid; i++)
			;
		if (i == p->n)
			continue;	/* not a worker of ours */
		p->pids[i] = 0;
		p->live--;
		if (WIFSIGNALED(status)) {
			name = up_signal_name(WTERMSIG(status));
			up_log("error", p->addr,
			    "op=worker pid=%ld signal=%s", (long)pid,
			    name != NULL ? name : "?");
		} else
			up_log("error", p->addr, "op=worker pid=%ld exit=%d",
			    (long)pid, WEXITSTATUS(status));
		if (p->died != NULL)
			p->died(i, p->arg);
		if (up_now_ns() - p->last_fork >= YOUNG_NS)
			p->respawn_ms = 0;
		else if (p->respawn_ms == 0)
			p->respawn_ms = FIRST_RESPAWN_MS;
		else if ((p->respawn_ms *= 2) > MAX_RESPAWN_MS)
			p->respawn_ms = MAX_RESPAWN_MS;
	}
}

/* Waits for every worker, up to the end of each; logs nothing. */
static void
wait_all(struct pool *p)
{
	pid_t pid;
	long i;

	while (p->live > 0) {
		if ((pid = waitpid(-1, NULL, 0)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < p->n; i++)
			if (p->pids[i] == pid) {
				p->pids[i] = 0;
				p->live--;
			}
	}
}

int
up_pool_run(const char *addr, long n, void (*died)(long, void *),
    void *arg, long *index)
{
	struct up_shortage sh = { 0 };
	struct pool p = { .addr = addr, .n = n, .died = died, .arg = arg };
	pid_t parent = getpid(), pid;
	sigset_t chld;
	long seen, i;
	int e, ms;

	if ((p.pids = calloc((size_t)n, sizeof(*p.pids))) == NULL)
		return -1;
	up_stop_kills(p.pids, n);	/* at a second signal */
#ifndef UP_LINUX
	if (pipe(parent_pipe) == -1 || up_fd_setup(parent_pipe[0], 0) == -1 ||
	    up_fd_setup(parent_pipe[1], 0) == -1)
		goto fail;
#endif
	/* SIGCHLD only interrupts the ppoll of up_sleep_until: we reap */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	if (up_catch(SIGCHLD, on_sigchld, SA_RESTART | SA_NOCLDSTOP) == -1)
		goto fail;
	for (;;) {
		seen = sigchlds;
		reap(&p);
		if (p.live == n) {
			if (!up_sleep_until(signalled_since, seen, -1, 1))
				break;
			continue;
		}
		if (p.respawn_ms > 0 &&
		    !up_sleep_until(never, 0, p.respawn_ms, 1))
			break;
		for (i = 0; p.pids[i] != 0; i++)
			;
		p.last_fork = up_now_ns();
		if ((pid = up_fork()) == 0) {
			free(p.pids);
			worker_setup(parent);
			*index = i;
			return 1;
		}
		if (pid > 0) {
			p.pids[i] = pid;
			if (++p.live == n)
				up_shortage_over(&sh, addr);
			continue;
		}
		e = errno;
		if (up_shortage_error(e))
			ms = up_shortage_failed(&sh, addr, "fork", e, 0);
		else {
			up_log_error(addr, NULL, "fork", e);
			ms = 1000;
		}
		if (!up_sleep_until(never, 0, ms, 1))
			break;
	}
	wait_all(&p);
	up_stop_kills(NULL, 0);
	free(p.pids);
	return 0;
fail:
	e = errno;
	up_stop_kills(NULL, 0);
	free(p.pids);
	errno = e;
	return -1;
}
