/*
 * signal.c: SIGINT, SIGTERM and SIGHUP as a stop request, one per process.
 *
 * The handler only sets a flag and writes one byte to a pipe (both are
 * async-signal-safe; errno is saved around the write). Nobody ever reads
 * the pipe, so once written it stays readable: every poll(2) that watches
 * it, in any thread, wakes up and sees the stop, with no race between
 * checking a flag and blocking.
 *
 * Each process has a pipe of its own. A child made by up_fork() gets a new
 * one and keeps only the read end of its parent's: a signal to the child
 * stops the child alone, a signal to the parent stops the parent and,
 * through the pipe they still watch, every child. (One shared pipe would
 * let a SIGTERM to any child stop the whole server.)
 *
 * A stop closes the listener at once, so that another server can bind
 * the port while this one drains: the handler itself puts a socket that
 * listens to nothing in place of the listener with dup2(2), which is
 * async-signal-safe and, unlike close(2), never frees the descriptor's
 * number for another thread to reuse; on Linux, shutdown(2) before it
 * stops the listening in the pool's workers too. A process that learns
 * of the stop through its parent's pipe closes its copy as it sees it
 * (up_stop_notice).
 * A second SIGINT or SIGTERM in a process already stopping ends it at
 * once: its pool workers are killed and it dies of that signal. SIGHUP
 * never does: a closing terminal may send it twice.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/*
 * Read by every thread, so a lock-free atomic rather than a volatile
 * sig_atomic_t, which is only safe between a handler and the thread it
 * interrupts; C11 lets a handler store to a lock-free atomic.
 */
static atomic_int stop_requested;
static int stop_pipe[2] = { -1, -1 };	/* this process's own stop */
static int parent_stop = -1;		/* the read end of the parent's */
static volatile sig_atomic_t stop_signals; /* stop signals received */
/* the first of them: read by every thread (up_stop_signal), so atomic,
 * which a lock-free int is in a signal handler too */
static atomic_int stop_signo;
static int listener = -1;		/* closed at the stop, or -1 */
static int placeholder = -1;		/* what takes its place */
static atomic_int listener_closed;
static pid_t *kill_pids;		/* killed at a forced stop */
static long kill_n;
static void (*notice_fn)(void *);	/* run once a stop is seen */
static void *notice_arg;
static pid_t notice_pid;		/* ... in this process only */
static atomic_int noticed;

/* 1 when the read end fd of a stop pipe has a byte waiting, else 0. */
static int
readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return fd >= 0 && poll(&pfd, 1, 0) == 1;
}

/*
 * Closes the listener, once, by putting the placeholder in its place;
 * in the server's first process, shuts it down before: on Linux that
 * takes it out of the listening state for every process that shares it,
 * there and then, so the port is free before "draining" is logged,
 * whatever the workers are doing. (A worker stopped alone must not: the
 * others go on listening.) Async-signal-safe.
 */
static void
close_listener(void)
{
	if (listener >= 0 && !atomic_exchange(&listener_closed, 1)) {
		if (notice_pid == getpid())
			shutdown(listener, SHUT_RDWR);	/* BSD: ENOTCONN */
		dup2(placeholder, listener);
	}
}

/*
 * A second SIGINT or SIGTERM: the pool's workers are killed and the
 * process dies of signo, as if it had never caught it. Does not return.
 */
static void
force_stop(int signo)
{
	long i;

	for (i = 0; kill_pids != NULL && i < kill_n; i++)
		if (kill_pids[i] > 0)
			kill(kill_pids[i], SIGKILL);
	up_catch(signo, SIG_DFL, 0);
	raise(signo);	/* blocked in its handler: delivered on return */
}

static void
on_stop_signal(int signo)
{
	int saved = errno;
	char c = 0;
	ssize_t n;

	if (stop_signals > 0 && signo != SIGHUP) {
		force_stop(signo);
		errno = saved;
		return;
	}
	if (stop_signals++ == 0)
		atomic_store(&stop_signo, signo);
	atomic_store(&stop_requested, 1);
	/*
	 * The pipe first: a worker that the listener's shutdown wakes then
	 * finds the stop with it, and does not take it for a failed accept.
	 */
	n = write(stop_pipe[1], &c, 1);	/* a full pipe is readable already */
	(void)n;
	close_listener();
	errno = saved;
}

/* pipe(2), both ends non-blocking and close-on-exec; 0 or -1. */
static int
nonblocking_pipe(int fds[2])
{
#ifdef UP_LINUX
	return pipe2(fds, O_CLOEXEC | O_NONBLOCK);
#else
	int saved;

	if (pipe(fds) == -1)
		return -1;
	if (up_fd_setup(fds[0], 1) == 0 && up_fd_setup(fds[1], 1) == 0)
		return 0;
	saved = errno;
	close(fds[0]);
	close(fds[1]);
	errno = saved;
	return -1;
#endif
}

/* sigaction(2) for sig: handler, an empty mask and flags; 0 or -1. */
int
up_catch(int sig, void (*handler)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = flags;
	return sigaction(sig, &sa, NULL);
}

int
up_signals_init(void)
{
	if (stop_pipe[0] == -1 && nonblocking_pipe(stop_pipe) == -1)
		return -1;
	if (up_catch(SIGPIPE, SIG_IGN, 0) == -1)
		return -1;
	/* no SA_RESTART: blocking calls see EINTR */
	if (up_catch(SIGINT, on_stop_signal, 0) == -1 ||
	    up_catch(SIGTERM, on_stop_signal, 0) == -1 ||
	    up_catch(SIGHUP, on_stop_signal, 0) == -1)
		return -1;
	return 0;
}

/* Registers fd to be closed at the stop (see core.h); 0 or -1. */
int
up_stop_listener(int fd)
{
	int s;

	listener = -1;		/* no signal may use it half set */
	if (fd < 0)
		return 0;
	if (placeholder == -1) {
		if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			return -1;
		if (up_fd_setup(s, 0) == -1) {
			close(s);
			return -1;
		}
		placeholder = s;
	}
	atomic_store(&listener_closed, 0);
	listener = fd;
	if (up_stopping())
		close_listener();
	return 0;
}

/* The pids a forced stop kills, or NULL; returns nothing. */
void
up_stop_kills(pid_t *pids, long n)
{
	kill_pids = NULL;	/* no signal may use it half set */
	kill_n = n;
	kill_pids = pids;
}

/* fn(arg) for the first notice in this process; returns nothing. */
void
up_stop_on_notice(void (*fn)(void *), void *arg)
{
	notice_fn = NULL;
	notice_arg = arg;
	notice_pid = getpid();
	notice_fn = fn;
}

/* A stop seen on the parent's pipe: taken, then noticed. */
void
up_stop_seen(void)
{
	atomic_store(&stop_requested, 1);
	up_stop_notice();
}

/*
 * When stopping: the listener closed (if not yet), and in the process
 * that registered it, fn run once. Returns nothing.
 */
void
up_stop_notice(void)
{
	if (!up_stopping())
		return;
	close_listener();
	if (notice_fn != NULL && getpid() == notice_pid &&
	    !atomic_exchange(&noticed, 1))
		notice_fn(notice_arg);
}

/* The signal that began the stop, or 0. */
int
up_stop_signal(void)
{
	return atomic_load(&stop_signo);
}

/*
 * In a new child: the parent's pipe becomes the one to watch, and the
 * child's signals go to a pipe of its own. Should no pipe be had (out of
 * descriptors), the child's signals still set the flag and interrupt its
 * poll(2) with EINTR; only a signal landing between a check of the flag
 * and the poll could then go unseen until the next event.
 */
static void
own_stop(void)
{
	int fds[2];

	if (stop_pipe[0] == -1)
		return;
	if (parent_stop != -1)		/* a grandchild watches its parent */
		close(parent_stop);
	parent_stop = stop_pipe[0];
	close(stop_pipe[1]);
	if (nonblocking_pipe(fds) == -1)
		fds[0] = fds[1] = -1;
	stop_pipe[0] = fds[0];
	stop_pipe[1] = fds[1];
	stop_signals = 0;
	kill_pids = NULL;	/* the parent's workers are not ours */
	if (readable(parent_stop)) {
		atomic_store(&stop_requested, 1);
		up_stop_notice();
	}
}

/*
 * fork(2) with SIGINT, SIGTERM and SIGHUP blocked until the child has its
 * own stop, so that a signal meant for the child never lands on its
 * parent's pipe. Returns what fork(2) returns.
 */
pid_t
up_fork(void)
{
	sigset_t block, old;
	pid_t pid;
	int saved;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid = fork();
	saved = errno;
	if (pid == 0)
		own_stop();
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return pid;
}

int
up_stopping(void)
{
	return atomic_load(&stop_requested);
}

int
up_stop_fd(void)
{
	return stop_pipe[0];
}

int
up_parent_stop_fd(void)
{
	return parent_stop;
}

/*
 * Waits for fd, or for the stop pipes; see core.h. A child process learns
 * of its parent's stop here, through the read end it kept.
 */
int
up_wait(int fd, short events, int timeout_ms)
{
	struct pollfd pfd[3];
	nfds_t n = 1;
	int r;

	pfd[0].fd = fd;
	pfd[0].events = events;
	pfd[0].revents = 0;
	if (stop_pipe[0] >= 0) {
		pfd[n].fd = stop_pipe[0];
		pfd[n++].events = POLLIN;
	}
	if (parent_stop >= 0) {
		pfd[n].fd = parent_stop;
		pfd[n++].events = POLLIN;
	}
	r = poll(pfd, n, timeout_ms);
	if (r <= 0)
		return r;
	if ((n > 1 && pfd[1].revents != 0) ||
	    (n > 2 && pfd[2].revents != 0)) {
		atomic_store(&stop_requested, 1);
		up_stop_notice();
	}
	if (pfd[0].revents != 0)
		return 1;
	return UP_WAIT_STOP;
}

/*
 * Sleeps ns nanoseconds like up_sleep_ns, but watching the stop pipes
 * until a stop is seen, so that a process busy with a request's work
 * closes its listener as soon as the stop comes, not after the work.
 */
void
up_sleep_watching(int64_t ns)
{
	int64_t end = up_now_ns() + ns, left, ms;

	while ((left = end - up_now_ns()) > 0) {
		if (up_stopping() || left < UP_NS_PER_MS) {
			up_stop_notice();
			up_sleep_ns(left);
			return;
		}
		ms = left / UP_NS_PER_MS;	/* rounded down: never late */
		up_wait(-1, 0, ms > 60000 ? 60000 : (int)ms);
	}
}
