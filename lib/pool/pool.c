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
 * watches. upserver-fork without -w keeps its children, one per
 * connection, in a table here too, for that second signal to kill.
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

/*
 * Waits for fds[0..n-1] (a negative fd is skipped) for ms (-1: no
 * limit), with the signal mask during, and sets each revents: 0 for
 * all after a timeout or a signal. Returns nothing.
 */
static void
wait_fds(struct pollfd *fds, int n, int ms, const sigset_t *during)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	int i;
#ifdef UP_LINUX

	if (ppoll(fds, (nfds_t)n, ms < 0 ? NULL : &ts, during) > 0)
		return;
	for (i = 0; i < n; i++)
		fds[i].revents = 0;
#else
	fd_set rd;
	int top = -1, r;

	FD_ZERO(&rd);
	for (i = 0; i < n; i++)
		if (fds[i].fd >= 0 && fds[i].fd < FD_SETSIZE) {
			FD_SET(fds[i].fd, &rd);
			if (fds[i].fd > top)
				top = fds[i].fd;
		}
	r = pselect(top + 1, &rd, NULL, NULL, ms < 0 ? NULL : &ts, during);
	for (i = 0; i < n; i++)
		fds[i].revents = r > 0 && fds[i].fd >= 0 &&
		    fds[i].fd < FD_SETSIZE && FD_ISSET(fds[i].fd, &rd) ?
		    POLLIN : 0;
#endif
}

/*
 * up_sleep_until, watching besides what h watches (fds has room for
 * 1 + max) and handing it what was found after each wait. Returns 1, or
 * 0 for a stop.
 */
static int
sleep_watching(const struct up_pool_hooks *h, struct pollfd *fds, int max,
    int (*done)(long), long arg, int timeout_ms, int stop_too)
{
	int64_t deadline = up_now_ns() + (int64_t)timeout_ms * 1000000;
	sigset_t chld, old, during;
	int stop, ms, own, n;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	during = old;
	sigdelset(&during, SIGCHLD);
	for (;;) {
		fds[0].fd = stop_too ? up_stop_fd() : -1;
		fds[0].events = POLLIN;
		stop = stop_too && poll(fds, 1, 0) == 1;
		if (stop || done(arg))
			break;
		ms = timeout_ms < 0 ? -1 : up_ms_until(deadline);
		if (ms == 0)
			break;
		own = -1;
		n = h->watch != NULL ? h->watch(h->arg, fds + 1, max, &own) : 0;
		if (own >= 0 && (ms < 0 || own < ms))
			ms = own;
		wait_fds(fds, 1 + n, ms, &during);
		if (h->ready != NULL)
			h->ready(h->arg, fds + 1, n);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (stop)
		up_stop_notice();
	return !stop;
}

static const struct up_pool_hooks no_hooks;

int
up_sleep_until(int (*done)(long), long arg, int timeout_ms, int stop_too)
{
	struct pollfd pfd;

	return sleep_watching(&no_hooks, &pfd, 0, done, arg, timeout_ms,
	    stop_too);
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
	const struct up_pool_hooks *h;
	struct pollfd	*fds;		/* what the parent waits for */
};

/* up_sleep_until in the parent, watching what the hooks watch. */
static int
pool_sleep(struct pool *p, int (*done)(long), long arg, int timeout_ms)
{
	return sleep_watching(p->h, p->fds, (int)p->n + 1, done, arg,
	    timeout_ms, 1);
}

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
		if (p->h->died != NULL)
			p->h->died(i, p->h->arg);
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
up_pool_run(const char *addr, long n, const struct up_pool_hooks *hooks,
    long *index)
{
	struct up_shortage sh = { 0 };
	struct pool p = { .addr = addr, .n = n,
	    .h = hooks != NULL ? hooks : &no_hooks };
	const char *op;
	pid_t parent = getpid(), pid;
	sigset_t chld;
	long seen, i;
	int e, ms;

	if ((p.pids = calloc((size_t)n, sizeof(*p.pids))) == NULL ||
	    (p.fds = calloc((size_t)n + 2, sizeof(*p.fds))) == NULL)
		goto fail;
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
			if (!pool_sleep(&p, signalled_since, seen, -1))
				break;
			continue;
		}
		if (p.respawn_ms > 0 && !pool_sleep(&p, never, 0, p.respawn_ms))
			break;
		for (i = 0; p.pids[i] != 0; i++)
			;
		p.last_fork = up_now_ns();
		op = p.h->prepare_op;
		pid = -1;
		if (p.h->prepare == NULL || p.h->prepare(i, p.h->arg) == 0) {
			op = "fork";
			pid = up_fork();
		}
		if (pid == 0) {
			free(p.pids);
			free(p.fds);
			worker_setup(parent);
			if (p.h->forked != NULL)
				p.h->forked(i, 1, p.h->arg);
			*index = i;
			return 1;
		}
		if (pid > 0) {
			if (p.h->forked != NULL)
				p.h->forked(i, 0, p.h->arg);
			p.pids[i] = pid;
			if (++p.live == n)
				up_shortage_over(&sh, addr);
			continue;
		}
		e = errno;
		if (up_shortage_error(e))
			ms = up_shortage_failed(&sh, addr, op, e, 0);
		else {
			up_log_error(addr, NULL, op, e);
			ms = 1000;
		}
		if (!pool_sleep(&p, never, 0, ms))
			break;
	}
	if (p.h->stopped != NULL)
		p.h->stopped(p.h->arg);
	wait_all(&p);
	up_stop_kills(NULL, 0);
	free(p.pids);
	free(p.fds);
	return 0;
fail:
	e = errno;
	up_stop_kills(NULL, 0);
	free(p.pids);
	free(p.fds);
	errno = e;
	return -1;
}

/* upserver-fork's children, for a forced stop: 0 for a free place. */
static pid_t *children;
static long nchildren;

int
up_children_init(long n)
{
	if ((children = calloc((size_t)n, sizeof(*children))) == NULL)
		return -1;
	nchildren = n;
	up_stop_kills(children, n);
	return 0;
}

void
up_children_add(pid_t pid)
{
	long i;

	for (i = 0; i < nchildren && children[i] != 0; i++)
		;
	if (i < nchildren)	/* fewer than -c run: there is room */
		children[i] = pid;
}

void
up_children_gone(pid_t pid)
{
	long i;

	for (i = 0; i < nchildren; i++)
		if (children[i] == pid)
			children[i] = 0;
}
