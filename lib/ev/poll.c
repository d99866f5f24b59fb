/*
 * poll.c: the event engine on poll(2).
 *
 * The interest set is an array of struct pollfd, one per watched
 * descriptor, kept dense: a descriptor's slot is found through slot[],
 * and a descriptor no longer watched gives its slot to the last one. No
 * ceiling on descriptor numbers, unlike select.
 *
 * What each wait costs: poll(2) copies the whole array into the kernel,
 * which checks every entry, and back; then the whole array is walked to
 * find the ready ones. O(descriptors watched) per wait, however few are
 * ready: with 8 000 idle connections and 50 busy ones, every wait pays
 * for the 8 000. That is the C10K problem.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "ev/backend.h"

struct state {
	struct pollfd	*pfd;		/* the interest set, dense */
	int		 n, cap;
	int		*slot;		/* by descriptor: its index in pfd */
	int		 slotcap;
	int		 from;		/* where the next walk starts */
};

static void *
create(void)
{
	return calloc(1, sizeof(struct state));
}

static void
destroy(void *p)
{
	struct state *s = p;

	free(s->pfd);
	free(s->slot);
	free(s);
}

/*
 * Makes room for nfds watched descriptors, numbered below nfds; 0 or -1
 * with errno.
 */
static int
reserve(void *p, int nfds)
{
	struct state *s = p;
	struct pollfd *pfd;
	int *slot, cap;

	if (nfds > s->cap) {
		cap = s->cap > 0 ? s->cap : 64;
		while (cap < nfds)
			cap *= 2;
		if ((pfd = realloc(s->pfd, (size_t)cap * sizeof(*pfd))) == NULL)
			return -1;
		s->pfd = pfd;
		s->cap = cap;
	}
	if (nfds > s->slotcap) {
		cap = s->slotcap > 0 ? s->slotcap : 64;
		while (cap < nfds)
			cap *= 2;
		if ((slot = realloc(s->slot, (size_t)cap * sizeof(*slot))) ==
		    NULL)
			return -1;
		s->slot = slot;
		s->slotcap = cap;
	}
	return 0;
}

static int
change(void *p, int fd, int old, int mask)
{
	struct state *s = p;
	int i;

	if (old == 0) {
		if (reserve(s, (fd < s->n ? s->n : fd) + 1) == -1)
			return -1;
		s->slot[fd] = s->n++;
		s->pfd[s->slot[fd]].fd = fd;
	}
	i = s->slot[fd];
	if (mask == 0) {
		s->pfd[i] = s->pfd[--s->n];
		s->slot[s->pfd[i].fd] = i;
		return 0;
	}
	s->pfd[i].events = (short)((mask & UP_EV_READ ? POLLIN : 0) |
	    (mask & UP_EV_WRITE ? POLLOUT : 0));
	return 0;
}

static int
wait_ready(void *p, struct up_ev_fired *out, int max, int timeout_ms)
{
	struct state *s = p;
	struct pollfd *pf;
	int i, k, n, mask;

	if ((n = poll(s->pfd, (nfds_t)s->n, timeout_ms)) <= 0)
		return n;
	/*
	 * The walk starts where the last one that ran out of room stopped,
	 * so the slots at the end get their turn too.
	 */
	n = 0;
	for (k = 0; k < s->n && n < max; k++) {
		i = (s->from + k) % s->n;
		pf = &s->pfd[i];
		if (pf->revents == 0)
			continue;
		mask = 0;
		if (pf->revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			mask |= UP_EV_READ;
		if (pf->revents & (POLLOUT | POLLHUP | POLLERR | POLLNVAL))
			mask |= UP_EV_WRITE;
		if ((mask &= (pf->events & POLLIN ? UP_EV_READ : 0) |
		    (pf->events & POLLOUT ? UP_EV_WRITE : 0)) == 0)
			continue;
		out[n].fd = pf->fd;
		out[n++].events = mask;
	}
	s->from = k < s->n ? (s->from + k) % s->n : 0;
	return n;
}

const struct ev_backend ev_poll = {
	"poll", INT_MAX, create, destroy, reserve, change, wait_ready,
	NULL, NULL, NULL, NULL, NULL	/* readiness only: no completions */
};
