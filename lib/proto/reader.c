/*
 * reader.c: a connection's requests, read from its socket into a bounded
 * buffer that the framing cuts (frame.c). The blocking servers wait in
 * up_reader_next; the event loop reads once a turn with up_reader_fill
 * and allocates nothing for a connection that sends nothing; a reader
 * whose kernel does the read (io_uring) takes the room with
 * up_reader_room and counts what came with up_reader_got.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

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
	r->filled = 0;
	r->pause_ns = r->request_ns = r->since = 0;
	r->expired = 0;
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
 *
 * Each wait lasts until the first of three deadlines: the idle one (-t,
 * from now: every read restarts it), and while part of a request is
 * buffered, the pause that makes it a request (--framing auto, from now
 * too) and the request's own (--request-timeout, from when its first
 * bytes began to wait: a trickle of bytes does not restart it).
 */
int
up_reader_next(struct up_reader *r, int fd, int timeout_ms, char **req,
    size_t *len)
{
	int64_t now, idle, pause, whole, first;
	size_t n;
	ssize_t got;
	int w;

	r->expired = 0;
	for (;;) {
		n = r->frame(r->buf + r->start, r->end - r->start, r->cap,
		    r->eof);
		if (n > 0) {
			*req = r->buf + r->start;
			*len = n;
			r->start += n;
			r->since = 0;	/* the next request's clock is not on */
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
		now = up_now_ns();
		idle = timeout_ms < 0 ? 0 : now + timeout_ms * UP_NS_PER_MS;
		pause = whole = 0;
		if (r->end > 0) {
			if (r->since == 0)
				r->since = now;
			if (r->pause_ns > 0)
				pause = now + r->pause_ns;
			if (r->request_ns > 0)
				whole = r->since + r->request_ns;
		}
		first = up_earliest(up_earliest(idle, pause), whole);
		w = up_wait(fd, POLLIN, up_stopping() ? 0 :
		    up_ms_left(first, now));
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		if (w == 0 && !up_stopping() && first == pause &&
		    first != whole) {
			/* the client paused: what it sent is a request */
			*req = r->buf;
			*len = r->end;
			r->start = r->end;
			r->since = 0;
			return 1;
		}
		if (w == 0 || w == UP_WAIT_STOP) {
			r->expired = !up_stopping() && first == whole;
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

int
up_reader_room(struct up_reader *r, size_t max, char **p, size_t *room)
{
	size_t first = max < UP_FIRST_BUF ? max : UP_FIRST_BUF, cap;
	char *b;

	if (r->buf == NULL) {
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
		if ((b = realloc(r->buf, cap)) != NULL) {
			r->buf = b;
			r->cap = cap;
		} else if (r->end == r->cap)
			return -1;	/* nothing read, nothing lost */
	}
	*p = r->buf + r->end;
	*room = r->cap - r->end;
	return 0;
}

ssize_t
up_reader_got(struct up_reader *r, ssize_t n, size_t room)
{
	if (n > 0) {
		r->filled = (size_t)n == room;
		r->end += (size_t)n;
	}
	if (n == 0)
		r->eof = 1;
	return n;
}

ssize_t
up_reader_fill(struct up_reader *r, int fd, size_t max)
{
	size_t room;
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
	}
	if (up_reader_room(r, max, &p, &room) == -1)
		return -1;
	return up_reader_got(r, up_recv(fd, p, room, 0), room);
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
