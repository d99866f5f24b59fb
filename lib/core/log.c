/*
 * log.c: the event log, one line per event on standard output (the
 * client writes its own events to standard error with up_log_fd).
 *
 * Each line is formatted in a buffer and written with a single write(2),
 * never through stdio: a stdio buffer would be copied by fork(2) and
 * flushed twice, and lines from several threads could interleave. A
 * write of at most PIPE_BUF bytes to a pipe is atomic, and lines here are
 * shorter than that.
 */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

#define LINE_MAX_BYTES	512

static int quiet;

void
up_log_quiet(int q)
{
	quiet = q;
}

/*
 * Formats "<secs>.<usecs> <event> <peer> <fmt...>\n" and writes it to fd
 * with a single write(2). Returns 0 or -1.
 */
static int
log_line(int fd, const char *event, const char *peer, const char *fmt,
    va_list ap)
{
	char line[LINE_MAX_BYTES];
	struct timespec ts;
	size_t n;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	r = snprintf(line, sizeof(line), "%lld.%06ld %s %s",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, event, peer);
	n = r < 0 ? 0 : (size_t)r;
	if (fmt != NULL && n + 1 < sizeof(line)) {
		line[n++] = ' ';
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		n += r < 0 ? 0 : (size_t)r;
	}
	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	line[n++] = '\n';
	return up_write_all(fd, line, n);
}

/* One event on standard output unless quiet; 0 or -1. */
int
up_log(const char *event, const char *peer, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (quiet && strcmp(event, "listening") != 0 &&
	    strcmp(event, "stopped") != 0)
		return 0;
	va_start(ap, fmt);
	r = log_line(STDOUT_FILENO, event, peer, fmt, ap);
	va_end(ap);
	return r;
}

/* One event on fd, quiet or not; 0 or -1. */
int
up_log_fd(int fd, const char *event, const char *peer, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_line(fd, event, peer, fmt, ap);
	va_end(ap);
	return r;
}

#if defined(UP_LINUX) && defined(__GLIBC__)
/* The symbolic name of errno value err ("ECONNRESET"), or NULL. */
const char *
up_errno_name(int err)
{
	return strerrorname_np(err);
}

/* The name of signal sig without "SIG" ("KILL"), or NULL. */
const char *
up_signal_name(int sig)
{
	return sigabbrev_np(sig);
}
#else
/*
 * POSIX has no function that names them: the names the event log meets,
 * a number and its name each.
 */
static const struct name {
	int		 num;
	const char	*name;
} errnos[] = {
	{ EPIPE, "EPIPE" }, { ECONNRESET, "ECONNRESET" },
	{ ECONNREFUSED, "ECONNREFUSED" }, { ETIMEDOUT, "ETIMEDOUT" },
	{ ECONNABORTED, "ECONNABORTED" }, { EMFILE, "EMFILE" },
	{ ENFILE, "ENFILE" }, { ENOBUFS, "ENOBUFS" },
	{ ENOMEM, "ENOMEM" }, { EINVAL, "EINVAL" }, { EBADF, "EBADF" },
	{ EAGAIN, "EAGAIN" }, { EINTR, "EINTR" }, { EIO, "EIO" },
	{ ENOTCONN, "ENOTCONN" }, { EHOSTUNREACH, "EHOSTUNREACH" },
	{ ENETUNREACH, "ENETUNREACH" }, { EADDRINUSE, "EADDRINUSE" },
	{ EADDRNOTAVAIL, "EADDRNOTAVAIL" }, { EACCES, "EACCES" },
	{ EPERM, "EPERM" }, { ENOSPC, "ENOSPC" }, { EPROTO, "EPROTO" },
}, signals[] = {
	{ SIGHUP, "HUP" }, { SIGINT, "INT" }, { SIGQUIT, "QUIT" },
	{ SIGILL, "ILL" }, { SIGABRT, "ABRT" }, { SIGFPE, "FPE" },
	{ SIGKILL, "KILL" }, { SIGSEGV, "SEGV" }, { SIGPIPE, "PIPE" },
	{ SIGALRM, "ALRM" }, { SIGTERM, "TERM" }, { SIGUSR1, "USR1" },
	{ SIGUSR2, "USR2" }, { SIGBUS, "BUS" },
};

#define NAMES(t)	(sizeof(t) / sizeof(t[0]))

/* The name of num in the n entries of t, or NULL. */
static const char *
name_of(const struct name *t, size_t n, int num)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].num == num)
			return t[i].name;
	return NULL;
}

/* The symbolic name of errno value err ("ECONNRESET"), or NULL. */
const char *
up_errno_name(int err)
{
	return name_of(errnos, NAMES(errnos), err);
}

/* The name of signal sig without "SIG" ("KILL"), or NULL. */
const char *
up_signal_name(int sig)
{
	return name_of(signals, NAMES(signals), sig);
}
#endif

/* " who", or "" when who is NULL or empty: the tag at the end of a line. */
static const char *
space(const char *who)
{
	return who != NULL && who[0] != '\0' ? " " : "";
}

/* "responded <peer> bytes=N [status=S] [count=C] [who]" */
int
up_log_responded(const char *peer, const char *who, size_t bytes,
    int status, int counted, long count)
{
	char extra[64] = "";
	size_t n = 0;

	if (status != 0)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    " status=%d", status);
	if (counted)
		snprintf(extra + n, sizeof(extra) - n, " count=%ld", count);
	return up_log("responded", peer, "bytes=%zu%s%s%s", bytes, extra,
	    space(who), who != NULL ? who : "");
}

/* "received <peer> bytes=N [framing=W] [count=N] [who]" */
int
up_log_received(const char *peer, const char *who, size_t bytes,
    const char *cut, int counted, long count)
{
	char num[32] = "", how[32] = "";

	if (cut != NULL)
		snprintf(how, sizeof(how), " framing=%s", cut);
	if (counted)
		snprintf(num, sizeof(num), " count=%ld", count);
	return up_log("received", peer, "bytes=%zu%s%s%s%s", bytes, how, num,
	    space(who), who != NULL ? who : "");
}

/* "closed <peer> requests=N [reason=R] [pending=N] [who]" */
int
up_log_closed(const char *peer, const char *who, unsigned long requests,
    const char *reason, size_t pending)
{
	char why[32] = "", left[32] = "";

	if (reason != NULL)
		snprintf(why, sizeof(why), " reason=%s", reason);
	if (pending > 0)
		snprintf(left, sizeof(left), " pending=%zu", pending);
	return up_log("closed", peer, "requests=%lu%s%s%s%s", requests, why,
	    left, space(who), who != NULL ? who : "");
}

/* "error <peer> [who] op=read errno=ECONNRESET" */
int
up_log_error(const char *peer, const char *who, const char *op, int err)
{
	const char *name = up_errno_name(err);
	char num[16];

	if (name == NULL) {
		snprintf(num, sizeof(num), "%d", err);
		name = num;
	}
	if (who != NULL && who[0] != '\0')
		return up_log("error", peer, "%s op=%s errno=%s", who, op,
		    name);
	return up_log("error", peer, "op=%s errno=%s", op, name);
}
