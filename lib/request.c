/*
 * request.c: the protocol, written once for every server.
 *
 * A request is a line: the bytes up to and including '\n'. A line longer
 * than max bytes is served in pieces of max bytes, and bytes left when the
 * client ends its stream form a last request, so the replies, put end to
 * end, are exactly the uppercase of everything the client sent.
 *
 * With --framing read a request is what one read(2) returned instead:
 * the tutorials' recv(1024), which answers a client that sends "hello"
 * with no newline and waits. The replies are the same bytes either way;
 * only where one request ends and the next begins differs.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "up.h"

/* Length of the first request in buf[0..len), or 0 to read more. */
size_t
up_request_length(const char *buf, size_t len, size_t max, int eof)
{
	const char *nl;

	nl = memchr(buf, '\n', len < max ? len : max);
	if (nl != NULL)
		return (size_t)(nl - buf) + 1;
	if (len >= max)
		return max;
	return eof ? len : 0;
}

/* Everything buffered, at most max bytes: one read's worth. */
size_t
up_read_length(const char *buf, size_t len, size_t max, int eof)
{
	(void)buf;
	(void)eof;
	return len < max ? len : max;
}

up_frame_func
up_framer(const struct up_options *o)
{
	if (o->http)
		return up_http_head_length;
	if (o->framing == UP_FRAMING_READ)
		return up_read_length;
	return up_request_length;
}

/* ASCII a-z to A-Z; NUL, '\r' and bytes >= 0x80 pass unchanged. */
void
up_uppercase(char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] -= 'a' - 'A';
}

/* A buffer of max_line bytes: the most a connection ever holds. */
int
up_reader_init(struct up_reader *r, size_t max_line)
{
	r->buf = malloc(max_line);
	if (r->buf == NULL)
		return -1;
	r->frame = up_request_length;
	r->cap = max_line;
	r->start = r->end = 0;
	r->eof = 0;
	return 0;
}

void
up_reader_free(struct up_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

size_t
up_reader_pending(const struct up_reader *r)
{
	return r->buf != NULL ? r->end - r->start : 0;
}

/*
 * The next request, reading until one is complete. When the server is
 * stopping, only what has already arrived is served: a read that would
 * wait ends the connection with ECANCELED instead.
 */
int
up_reader_next(struct up_reader *r, int fd, int timeout_ms, char **req,
    size_t *len)
{
	size_t n;
	ssize_t got;
	int w;

	for (;;) {
		n = r->frame(r->buf + r->start, r->end - r->start, r->cap,
		    r->eof);
		if (n > 0) {
			*req = r->buf + r->start;
			*len = n;
			r->start += n;
			return 1;
		}
		if (r->eof)
			return 0;
		/*
		 * Slide what is left to the front to make room. (Under
		 * --framing read nothing is left: each read lands in an
		 * empty buffer and is one request.)
		 */
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		w = up_wait(fd, POLLIN, up_stopping() ? 0 : timeout_ms);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		if (w == 0 || w == UP_WAIT_STOP) {
			errno = up_stopping() ? ECANCELED : ETIMEDOUT;
			return -1;
		}
		got = up_read(fd, r->buf + r->end, r->cap - r->end);
		if (got == -1)
			return -1;
		if (got == 0)
			r->eof = 1;
		r->end += (size_t)got;
	}
}

ssize_t
up_reader_fill(struct up_reader *r, int fd, size_t max)
{
	size_t first = max < UP_FIRST_BUF ? max : UP_FIRST_BUF, cap;
	ssize_t n;
	char *p, byte;

	if (r->buf == NULL) {
		/*
		 * One byte peeked first: a client that sent nothing costs no
		 * buffer, and one the memory cannot be found for loses none.
		 */
		if ((n = recv(fd, &byte, 1, MSG_PEEK)) <= 0) {
			if (n == 0)
				r->eof = 1;
			return n;
		}
		if ((r->buf = malloc(first)) == NULL)
			return -1;
		r->cap = first;
		r->start = r->end = 0;
	}
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if ((r->end == r->cap || r->filled) && r->cap < max) {
		cap = r->cap * 2 < max ? r->cap * 2 : max;
		if ((p = realloc(r->buf, cap)) != NULL) {
			r->buf = p;
			r->cap = cap;
		} else if (r->end == r->cap)
			return -1;	/* nothing read, nothing lost */
	}
	n = up_recv(fd, r->buf + r->end, r->cap - r->end, 0);
	if (n > 0) {
		r->filled = (size_t)n == r->cap - r->end;
		r->end += (size_t)n;
	}
	if (n == 0)
		r->eof = 1;
	return n;
}

void
up_reader_shrink(struct up_reader *r)
{
	if (r->start < r->end)
		return;
	r->start = r->end = 0;
	if (r->cap > UP_FIRST_BUF && !r->filled) {
		free(r->buf);
		r->buf = NULL;
		r->cap = 0;
	}
}
