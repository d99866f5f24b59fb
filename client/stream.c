/*
 * stream.c: upclient's everyday mode, one connection.
 *
 * Standard input (or TEXT) goes to the server while the replies go to
 * standard output, byte for byte: one poll(2) loop moves both directions
 * at once, so neither side ever waits on the other and a file of any size
 * passes through in two 64 KiB buffers.
 *
 * What it owes the user besides: a timeout that runs only while the
 * server owes something (a reply, or its close after the client's end),
 * so a script never hangs and a person thinking at a terminal is never
 * cut off; with --verify, the bytes sent and not yet answered are kept
 * to check each reply byte against; with -v, each request (a line, or
 * the bytes left at the end) is logged as sent and as received, in the
 * servers' event log format; on a terminal, a line that says how to end
 * and a prompt, on standard error.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "client.h"

#define BUFSIZE		65536

/*
 * With --verify, standard input is not read while this many bytes sent
 * wait for their reply: far more than a server holds back (its longest
 * line, 64 MiB at most, and the sockets' buffers), so an honest server
 * never waits for more; a server that swallows everything cannot make
 * the client keep all it sent.
 */
#define VERIFY_MAX	(128UL * 1024 * 1024)

#define PROMPT		"> "

/* A queue of bytes that grows as needed: buf[head..head+len). */
struct fifo {
	char	*buf;
	size_t	 head;
	size_t	 len;
	size_t	 cap;
};

/* -v: a request sent whose reply is not complete yet. */
struct request {
	unsigned long long from;	/* its first byte's offset */
	unsigned long long end;		/* its last byte's offset + 1 */
	int64_t		 sent_at;	/* when its first byte was sent */
};

struct stream {
	const struct stream_options *o;
	int		 fd;
	char		 peer[UP_PEER_MAX];	/* the server, for -v */
	unsigned long long sent;	/* bytes written to the server */
	unsigned long long received;	/* bytes read from it */
	int		 shut;		/* our end of stream was sent */
	int64_t		 last;		/* when bytes last moved */
	struct fifo	 owed;		/* --verify: sent, not answered */
	unsigned long long line;	/* --verify: line of the reply, 1.. */
	unsigned long long column;	/* its bytes checked so far */
	struct fifo	 reqs;		/* -v: struct request, in order */
	unsigned long	 nsent;		/* -v: requests sent */
	unsigned long	 nreceived;	/* -v: requests answered */
	int		 open;		/* -v: a request is being sent */
	struct request	 next;		/* -v: that request */
	int		 prompted;	/* the prompt is showing */
};

/*
 * Appends len bytes to f. Returns 0, or -1 with errno when memory runs
 * out.
 */
static int
fifo_push(struct fifo *f, const void *p, size_t len)
{
	size_t cap;
	char *b;

	if (f->head > 0 && f->head + f->len + len > f->cap) {
		memmove(f->buf, f->buf + f->head, f->len);
		f->head = 0;
	}
	if (f->len + len > f->cap) {
		for (cap = f->cap > 0 ? f->cap : 4096; cap < f->len + len;)
			cap *= 2;
		if ((b = realloc(f->buf, cap)) == NULL)
			return -1;
		f->buf = b;
		f->cap = cap;
	}
	memcpy(f->buf + f->head + f->len, p, len);
	f->len += len;
	return 0;
}

/* Drops the first len bytes of f (no more than it holds). */
static void
fifo_pop(struct fifo *f, size_t len)
{
	f->head += len;
	f->len -= len;
	if (f->len == 0)
		f->head = 0;
}

/* The reason a failure of errno err counts under, as in load mode's -v. */
static const char *
reason_of(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return "refused";
	case ECONNRESET:
	case EPIPE:
		return "reset";
	case ETIMEDOUT:
		return "timeout";
	default:
		return "other";
	}
}

/*
 * Says what failed, "upclient: " and the message, on standard error;
 * with -v, logs it as an error and a close under reason (err: the errno,
 * or 0). Returns the exit status 1.
 */
static int
fail(struct stream *s, const char *reason, int err, const char *fmt, ...)
{
	char msg[512], req[48], eno[48];
	const char *name;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->prompted)
		up_write_all(STDERR_FILENO, "\n", 1);
	fprintf(stderr, "upclient: %s\n", msg);
	if (!s->o->verbose)
		return 1;
	req[0] = eno[0] = '\0';
	if (s->nreceived < s->nsent || s->open)
		snprintf(req, sizeof(req), " request=%lu", s->nreceived + 1);
	if (err != 0 && (name = up_errno_name(err)) != NULL)
		snprintf(eno, sizeof(eno), " errno=%s", name);
	up_log_fd(STDERR_FILENO, "error", s->peer, "conn=1%s reason=%s%s",
	    req, reason, eno);
	up_log_fd(STDERR_FILENO, "closed", s->peer,
	    "conn=1 requests=%lu reason=%s", s->nreceived, reason);
	return 1;
}

/*
 * -v: the request being sent is whole, up to offset end: logs it and
 * queues it for its reply. Returns 0, or -1 with errno.
 */
static int
request_sent(struct stream *s, unsigned long long end)
{
	s->open = 0;
	s->next.end = end;
	s->nsent++;
	up_log_fd(STDERR_FILENO, "sent", s->peer,
	    "conn=1 request=%lu bytes=%llu", s->nsent, end - s->next.from);
	return fifo_push(&s->reqs, &s->next, sizeof(s->next));
}

/*
 * -v: p[0..len) went out at offset s->sent, at now: logs each request
 * it ends (a newline ends one). Returns 0, or -1 with errno.
 */
static int
note_sent(struct stream *s, const char *p, size_t len, int64_t now)
{
	const char *nl;
	size_t at = 0;

	while (at < len) {
		if (!s->open) {
			s->open = 1;
			s->next.sent_at = now;
			s->next.from = s->sent + at;
		}
		if ((nl = memchr(p + at, '\n', len - at)) == NULL)
			break;
		at = (size_t)(nl - p) + 1;
		if (request_sent(s, s->sent + at) == -1)
			return -1;
	}
	return 0;
}

/* -v: logs every request whose reply is now complete, at now. */
static void
note_received(struct stream *s, int64_t now)
{
	struct request r;

	while (s->reqs.len > 0) {
		memcpy(&r, s->reqs.buf + s->reqs.head, sizeof(r));
		if (s->received < r.end)
			break;
		fifo_pop(&s->reqs, sizeof(r));
		s->nreceived++;
		up_log_fd(STDERR_FILENO, "received", s->peer,
		    "conn=1 request=%lu bytes=%llu latency=%.6f",
		    s->nreceived, r.end - r.from,
		    (double)(now - r.sent_at) / 1e9);
	}
}

/*
 * p[0..len) went to the server at now: keeps what --verify and -v need.
 * Returns 0, or the exit status 1 after saying why.
 */
static int
sent(struct stream *s, const char *p, size_t len, int64_t now)
{
	if ((s->o->verify && fifo_push(&s->owed, p, len) == -1) ||
	    (s->o->verbose && note_sent(s, p, len, now) == -1))
		return fail(s, "other", errno, "%s", strerror(errno));
	s->sent += len;
	s->last = now;
	return 0;
}

/*
 * p[0..len) came from the server at now: with --verify checks it against
 * what was sent, and writes it to standard output. Returns 0, or the exit
 * status 1 after saying why.
 */
static int
received(struct stream *s, const char *p, size_t len, int64_t now)
{
	size_t i, n = len;
	char want;

	if (s->o->verify) {
		if (n > s->owed.len)	/* the rest is more than was sent */
			n = s->owed.len;
		for (i = 0; i < n; i++) {
			want = s->owed.buf[s->owed.head + i];
			if (want >= 'a' && want <= 'z')
				want = (char)(want - 'a' + 'A');
			if (p[i] != want)
				break;
			if (p[i] == '\n') {
				s->line++;
				s->column = 0;
			} else
				s->column++;
		}
		fifo_pop(&s->owed, i);
		if (i < n) {
			if (up_write_all(STDOUT_FILENO, p, i) == -1)
				return fail(s, "other", errno, "write standard"
				    " output: %s", strerror(errno));
			return fail(s, "mismatch", 0, "%s: reply differs from"
			    " the request at byte %llu of line %llu",
			    s->o->where, s->column + 1, s->line);
		}
	}
	if (up_write_all(STDOUT_FILENO, p, len) == -1)
		return fail(s, "other", errno, "write standard output: %s",
		    strerror(errno));
	s->received += len;
	s->last = now;
	if (s->o->verbose)
		note_received(s, now);
	return 0;
}

/*
 * The server closed the connection: was everything answered, and no
 * more? Returns the exit status, 0 or 1.
 */
static int
ended(struct stream *s, int in_eof, size_t npending)
{
	if (s->received > s->sent)
		return fail(s, "mismatch", 0, "%s: the reply is longer than"
		    " the request: %llu bytes more", s->o->where,
		    s->received - s->sent);
	if (!in_eof || npending > 0 || s->received < s->sent)
		return fail(s, "closed", 0, "%s closed the connection after"
		    " %llu of %llu bytes", s->o->where, s->received,
		    s->sent + npending);
	if (s->o->verbose)
		up_log_fd(STDERR_FILENO, "closed", s->peer,
		    "conn=1 requests=%lu", s->nreceived);
	return 0;
}

/* The deadline ran out while the server owed something: exit status 1. */
static int
timed_out(struct stream *s)
{
	char t[32];

	up_format_time_human(s->o->timeout_ns, t, sizeof(t));
	if (s->shut && s->received >= s->sent)
		return fail(s, "timeout", ETIMEDOUT, "%s: the server did not"
		    " close the connection within %s of the last reply",
		    s->o->where, t);
	return fail(s, "timeout", ETIMEDOUT, "%s: no reply within %s",
	    s->o->where, t);
}

/*
 * Connected: logs it with -v, and on a terminal says how to go on.
 * Returns 0, or the exit status 1 after saying why.
 */
static int
connected(struct stream *s, int tty)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char local[UP_PEER_MAX];

	if (fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK) == -1) {
		fprintf(stderr, "upclient: fcntl: %s\n", strerror(errno));
		return 1;
	}
	if (s->o->verbose) {
		if (getpeername(s->fd, (struct sockaddr *)&ss, &len) == 0)
			up_format_addr((struct sockaddr *)&ss, s->peer,
			    sizeof(s->peer));
		else
			snprintf(s->peer, sizeof(s->peer), "%s", s->o->where);
		len = sizeof(ss);
		if (getsockname(s->fd, (struct sockaddr *)&ss, &len) == 0)
			up_format_addr((struct sockaddr *)&ss, local,
			    sizeof(local));
		else
			snprintf(local, sizeof(local), "unknown");
		up_log_fd(STDERR_FILENO, "connected", s->peer,
		    "conn=1 local=%s", local);
	}
	if (tty)
		fprintf(stderr, "upclient: connected to %s.\n"
		    "Type lines: each comes back uppercased, after the"
		    " server's delay.\n"
		    "Ctrl-D ends (a sequential server serves the next client"
		    " only then).\n", s->o->where);
	return 0;
}

/*
 * Moves the input to the server and the replies to standard output until
 * the server closes, the deadline passes or something fails. Returns the
 * exit status.
 */
static int
run(struct stream *s, int tty)
{
	static char inbuf[BUFSIZE], outbuf[BUFSIZE];
	const struct stream_options *o = s->o;
	const char *pending = o->text;	/* to send: pending[0..npending) */
	size_t npending = o->text != NULL ? o->textlen : 0;
	int in_eof = o->text != NULL, owing, timeout;
	struct pollfd pfd[2];
	int64_t now;
	ssize_t n;

	for (;;) {
		now = up_now_ns();
		if (in_eof && npending == 0 && !s->shut) {
			/* All sent: tell the server, and wait for the rest. */
			if (o->verbose && s->open &&
			    request_sent(s, s->sent) == -1)
				return fail(s, "other", errno, "%s",
				    strerror(errno));
			if (shutdown(s->fd, SHUT_WR) == -1 &&
			    errno != ENOTCONN)
				return fail(s, reason_of(errno), errno,
				    "shutdown %s: %s", o->where,
				    strerror(errno));
			s->shut = 1;
			s->last = now;
		}
		owing = s->received < s->sent || s->shut;
		if (tty && !in_eof && npending == 0 && !owing &&
		    !s->prompted) {
			up_write_all(STDERR_FILENO, PROMPT, strlen(PROMPT));
			s->prompted = 1;
		}
		pfd[0].fd = !in_eof && npending == 0 &&
		    s->owed.len < VERIFY_MAX ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = s->fd;
		pfd[1].events = POLLIN | (npending > 0 ? POLLOUT : 0);
		timeout = owing && o->timeout_ns != 0 ?
		    up_ms_left(s->last + o->timeout_ns, now) : -1;
		if ((n = poll(pfd, 2, timeout)) == -1) {
			if (errno == EINTR)
				continue;
			return fail(s, "other", errno, "poll: %s",
			    strerror(errno));
		}
		if (n == 0) {
			if (up_now_ns() >= s->last + o->timeout_ns)
				return timed_out(s);
			continue;
		}
		if (pfd[0].revents != 0) {
			n = up_read(STDIN_FILENO, inbuf, sizeof(inbuf));
			if (n == -1)
				return fail(s, "other", errno, "read standard"
				    " input: %s", strerror(errno));
			if (n == 0 && s->prompted)	/* end its line */
				up_write_all(STDERR_FILENO, "\n", 1);
			if (n == 0)
				in_eof = 1;
			s->prompted = 0;
			pending = inbuf;
			npending = (size_t)n;
		}
		if (pfd[1].revents & POLLIN || (pfd[1].revents &
		    (POLLHUP | POLLERR) && !(pfd[1].revents & POLLOUT))) {
			n = up_recv(s->fd, outbuf, sizeof(outbuf), 0);
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				return fail(s, reason_of(errno), errno,
				    "read %s: %s", o->where, strerror(errno));
			if (n == 0)
				return ended(s, in_eof, npending);
			if (n > 0 && received(s, outbuf, (size_t)n,
			    up_now_ns()) != 0)
				return 1;
		}
		if (pfd[1].revents & (POLLOUT | POLLERR) && npending > 0) {
			n = up_send(s->fd, pending, npending, MSG_NOSIGNAL);
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				return fail(s, reason_of(errno), errno,
				    "write %s: %s", o->where, strerror(errno));
			if (n > 0) {
				if (sent(s, pending, (size_t)n,
				    up_now_ns()) != 0)
					return 1;
				pending += n;
				npending -= (size_t)n;
			}
		}
	}
}

/*
 * The everyday mode: connects to the server and streams. Returns the exit
 * status: 0 when every byte sent came back (and, with verify, right), 1
 * otherwise.
 */
int
stream_run(const struct stream_options *o)
{
	struct stream s;
	int gai, status;

	memset(&s, 0, sizeof(s));
	s.o = o;
	s.line = 1;
	if ((s.fd = up_connect(o->host, o->port, &gai)) == -1) {
		fprintf(stderr, "upclient: connect %s: %s\n", o->where,
		    gai != 0 ? gai_strerror(gai) : strerror(errno));
		return 1;
	}
	status = connected(&s, o->text == NULL && isatty(STDIN_FILENO));
	if (status == 0)
		status = run(&s, o->text == NULL && isatty(STDIN_FILENO));
	close(s.fd);
	free(s.owed.buf);
	free(s.reqs.buf);
	return status;
}
