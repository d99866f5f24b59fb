/*
 * log.c: the event log, one line per event on standard output.
 *
 * Each line is formatted in a buffer and written with a single write(2),
 * never through stdio: a stdio buffer would be copied by fork(2) and
 * flushed twice, and lines from several threads could interleave. A
 * write of at most PIPE_BUF bytes to a pipe is atomic, and lines here are
 * shorter than that.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "up.h"

#define LINE_MAX_BYTES	512

static int quiet;

void
up_log_quiet(int q)
{
	quiet = q;
}

int
up_log(const char *event, const char *peer, const char *fmt, ...)
{
	char line[LINE_MAX_BYTES];
	struct timespec ts;
	va_list ap;
	size_t n;
	int r;

	if (quiet && strcmp(event, "listening") != 0 &&
	    strcmp(event, "stopped") != 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	r = snprintf(line, sizeof(line), "%lld.%06ld %s %s",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, event, peer);
	n = r < 0 ? 0 : (size_t)r;
	if (fmt != NULL && n + 1 < sizeof(line)) {
		line[n++] = ' ';
		va_start(ap, fmt);
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		n += r < 0 ? 0 : (size_t)r;
	}
	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	line[n++] = '\n';
	return up_write_all(STDOUT_FILENO, line, n);
}

/* "error <peer> [who] op=read errno=ECONNRESET" */
int
up_log_error(const char *peer, const char *who, const char *op, int err)
{
	const char *name = strerrorname_np(err);
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
