/*
 * epoll.c: the event engine on epoll(7), Linux's answer to C10K.
 *
 * The interest set lives in the kernel: epoll_ctl(2) adds, changes or
 * removes one descriptor, once, when what it is watched for changes, and
 * the kernel keeps a list of those that are ready as they become ready.
 *
 * What each wait costs: epoll_wait(2) copies out only the ready
 * descriptors, and only they are walked. O(ready) per wait, however many
 * are watched: 8 000 idle connections cost memory, not time. The price
 * is a system call per change of interest, which poll and select make
 * for free in user memory.
 */
#include "ev/backend.h"

#ifdef EV_HAVE_EPOLL
#include <sys/epoll.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#define FIRST_EVENTS	64

struct state {
	int		 epfd;		/* the interest set, in the kernel */
	struct epoll_event *ev;		/* what one wait hands back */
	int		 cap;
};

static void *
create(void)
{
	struct state *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->cap = FIRST_EVENTS;
	if ((s->ev = calloc((size_t)s->cap, sizeof(*s->ev))) == NULL ||
	    (s->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(s->ev);
		free(s);
		return NULL;
	}
	return s;
}

static void
destroy(void *p)
{
	struct state *s = p;

	close(s->epfd);
	free(s->ev);
	free(s);
}

static int
change(void *p, int fd, int old, int mask)
{
	struct state *s = p;
	struct epoll_event e = { 0 };
	int op;

	op = old == 0 ? EPOLL_CTL_ADD : mask == 0 ? EPOLL_CTL_DEL :
	    EPOLL_CTL_MOD;
	e.events = (mask & UP_EV_READ ? EPOLLIN : 0) |
	    (mask & UP_EV_WRITE ? EPOLLOUT : 0);
#ifdef EPOLLEXCLUSIVE
	/* one waiter woken, not all; allowed at EPOLL_CTL_ADD only */
	if (mask & UP_EV_EXCLUSIVE && op == EPOLL_CTL_MOD) {
		if (epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, &e) == -1)
			return -1;
		op = EPOLL_CTL_ADD;
	}
	if (mask & UP_EV_EXCLUSIVE)
		e.events |= EPOLLEXCLUSIVE;
#endif
	e.data.fd = fd;
	return epoll_ctl(s->epfd, op, fd, &e);
}

static int
wait_ready(void *p, struct up_ev_fired *out, int max, int timeout_ms)
{
	struct state *s = p;
	struct epoll_event *ev;
	int i, n, mask;

	/* Out of memory, fewer: the others are handed back next time. */
	if (max > s->cap &&
	    (ev = realloc(s->ev, (size_t)max * sizeof(*ev))) != NULL) {
		s->ev = ev;
		s->cap = max;
	}
	if ((n = epoll_wait(s->epfd, s->ev, s->cap < max ? s->cap : max,
	    timeout_ms)) <= 0)
		return n;
	for (i = 0; i < n; i++) {
		mask = 0;
		if (s->ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			mask |= UP_EV_READ;
		if (s->ev[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			mask |= UP_EV_WRITE;
		out[i].fd = s->ev[i].data.fd;
		out[i].events = mask;
	}
	return n;
}

const struct ev_backend ev_epoll = {
	"epoll", INT_MAX, create, destroy, NULL, change, wait_ready,
	NULL, NULL, NULL, NULL, NULL	/* readiness only: no completions */
};
#endif /* EV_HAVE_EPOLL */
