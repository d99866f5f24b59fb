/*
 * signal.c: SIGINT and SIGTERM as a stop request.
 *
 * The handler only sets a flag and writes one byte to a pipe (both are
 * async-signal-safe; errno is saved around the write). Nobody ever reads
 * the pipe, so once written it stays readable: every poll(2) that watches
 * it, in any thread or in any child process that inherited it, wakes up
 * and sees the stop, with no race between checking a flag and blocking.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "up.h"

/*
 * Read by every thread, so a lock-free atomic rather than a volatile
 * sig_atomic_t, which is only safe between a handler and the thread it
 * interrupts; C11 lets a handler store to a lock-free atomic.
 */
static atomic_int stop_requested;
static int stop_pipe[2] = { -1, -1 };

static void
on_stop_signal(int signo)
{
	int saved = errno;
	char c = 0;
	ssize_t n;

	(void)signo;
	atomic_store(&stop_requested, 1);
	n = write(stop_pipe[1], &c, 1);	/* a full pipe is readable already */
	(void)n;
	errno = saved;
}

int
up_signals_init(void)
{
	struct sigaction sa;

	if (stop_pipe[0] == -1) {
#ifdef UP_LINUX
		if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
			return -1;
#else
		if (pipe(stop_pipe) == -1 || up_fd_setup(stop_pipe[0], 1) ||
		    up_fd_setup(stop_pipe[1], 1))
			return -1;
#endif
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: blocking calls see EINTR */
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		return -1;
	return 0;
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

/*
 * Waits for fd, or for the stop pipe; see up.h. A child process learns of
 * its parent's stop here, through the pipe it inherited.
 */
int
up_wait(int fd, short events, int timeout_ms)
{
	struct pollfd pfd[2];
	int n;

	pfd[0].fd = fd;
	pfd[0].events = events;
	pfd[1].fd = stop_pipe[0];
	pfd[1].events = POLLIN;
	n = poll(pfd, stop_pipe[0] >= 0 ? 2 : 1, timeout_ms);
	if (n <= 0)
		return n;
	if (stop_pipe[0] >= 0 && pfd[1].revents != 0)
		atomic_store(&stop_requested, 1);
	if (pfd[0].revents != 0)
		return 1;
	return UP_WAIT_STOP;
}
