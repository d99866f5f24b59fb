/*
 * select.c: the event engine on select(2), the oldest mechanism.
 *
 * The interest set is two bitmaps, one bit per descriptor number, of a
 * size fixed when the system was built: FD_SETSIZE bits (1024 on Linux
 * and macOS). A descriptor numbered FD_SETSIZE or more cannot be watched
 * at all, however few are open: that is select's ceiling.
 *
 * What each wait costs: select(2) overwrites the bitmaps with the answer,
 * so they are copied first; the kernel checks every descriptor up to the
 * highest one watched, and on return the whole range is walked again to
 * find the ready ones. O(highest descriptor) per wait, however few are
 * ready.
 */
#include <sys/select.h>

#include <errno.h>
#include <stdlib.h>

#include "ev/backend.h"

struct state {
	fd_set		 rd, wr;	/* the interest set */
	fd_set		 rdout, wrout;	/* a copy, for select to answer in */
	int		 maxfd;		/* the highest watched, or -1 */
};

static void *
create(void)
{
	struct state *s;

	if ((s = malloc(sizeof(*s))) == NULL)
		return NULL;
	FD_ZERO(&s->rd);
	FD_ZERO(&s->wr);
	s->maxfd = -1;
	return s;
}

static void
destroy(void *p)
{
	free(p);
}

static int
change(void *p, int fd, int old, int mask)
{
	struct state *s = p;

	(void)old;
	if (mask & UP_EV_READ)
		FD_SET(fd, &s->rd);
	else
		FD_CLR(fd, &s->rd);
	if (mask & UP_EV_WRITE)
		FD_SET(fd, &s->wr);
	else
		FD_CLR(fd, &s->wr);
	if (mask != 0 && fd > s->maxfd)
		s->maxfd = fd;
	while (s->maxfd >= 0 && !FD_ISSET(s->maxfd, &s->rd) &&
	    !FD_ISSET(s->maxfd, &s->wr))
		s->maxfd--;
	return 0;
}

static int
wait_ready(void *p, struct up_ev_fired *out, int max, int timeout_ms)
{
	struct state *s = p;
	struct timeval tv, *tvp = NULL;
	int fd, n, mask;

	if (timeout_ms >= 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		tvp = &tv;
	}
	s->rdout = s->rd;
	s->wrout = s->wr;
	if ((n = select(s->maxfd + 1, &s->rdout, &s->wrout, NULL, tvp)) <= 0)
		return n;
	n = 0;
	for (fd = 0; fd <= s->maxfd && n < max; fd++) {
		mask = 0;
		if (FD_ISSET(fd, &s->rdout))
			mask |= UP_EV_READ;
		if (FD_ISSET(fd, &s->wrout))
			mask |= UP_EV_WRITE;
		if (mask != 0) {
			out[n].fd = fd;
			out[n++].events = mask;
		}
	}
	return n;
}

const struct ev_backend ev_select = {
	"select", FD_SETSIZE, create, destroy, NULL, change, wait_ready,
	NULL, NULL, NULL, NULL, NULL	/* readiness only: no completions */
};
