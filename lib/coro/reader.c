/*
 * reader.c: a connection's next request, as a coroutine reads it: the
 * framing, the deadlines and the stop of up_reader_next (lib/proto/
 * reader.c), which a blocking server runs, with every wait a wait on the
 * scheduler. up_coro_fill reads when bytes are there (a readiness
 * engine) or has the kernel read them (uring), parking meanwhile; either
 * way a connection that sends nothing costs no buffer.
 */
#include <errno.h>

#include "coro/coro.h"

int
up_coro_next_request(struct up_sched *s, struct up_reader *in, int fd,
    size_t max, int64_t idle_ns, const int *stopping, char **req,
    size_t *len)
{
	int64_t now, idle, pause, whole, first;
	size_t n;
	ssize_t got;

	in->expired = 0;
	for (;;) {
		n = in->buf == NULL ? 0 : in->frame(in->buf + in->start,
		    in->end - in->start, max, in->eof);
		if (n > 0) {
			*req = in->buf + in->start;
			*len = n;
			in->start += n;
			in->since = 0;
			return 1;
		}
		if (in->eof)
			return 0;
		now = up_now_ns();
		idle = idle_ns > 0 ? now + idle_ns : 0;
		pause = whole = 0;
		if (in->end > in->start) {
			if (in->since == 0)
				in->since = now;
			if (in->pause_ns > 0)
				pause = now + in->pause_ns;
			if (in->request_ns > 0)
				whole = in->since + in->request_ns;
		}
		/* at a stop, what has come and no wait */
		first = *stopping ? UP_CORO_NOW :
		    up_earliest(up_earliest(idle, pause), whole);
		got = up_coro_fill(s, in, fd, max, first);
		if (got > 0 || (got == 0 && in->eof))
			continue;
		if (got == -1 && errno == EAGAIN && first == UP_CORO_NOW) {
			errno = ECANCELED;
			return -1;
		}
		if (got == -1 && errno != ETIMEDOUT)
			return -1;
		if (*stopping)
			continue;	/* woken by the stop: read what came */
		if (first == pause && first != whole) {
			/* the client paused: what it sent is a request */
			*req = in->buf + in->start;
			*len = in->end - in->start;
			in->start = in->end;
			in->since = 0;
			return 1;
		}
		in->expired = first == whole;
		errno = ETIMEDOUT;
		return -1;
	}
}
