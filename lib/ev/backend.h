/*
 * backend.h: what the event engine (ev.c) asks of each readiness
 * mechanism, one file each: select.c, poll.c, epoll.c, kqueue.c. Not
 * for the programs: they use the up_ev_* functions of ev.h.
 *
 * A backend keeps the interest set in its own form and turns one wait
 * into a list of ready descriptors. The engine remembers each
 * descriptor's interest, so a backend is told the old and the new one
 * and never asked to change nothing.
 */
#ifndef UP_EV_BACKEND_H
#define UP_EV_BACKEND_H

#include "ev/ev.h"

/* epoll is Linux's, kqueue the BSDs' and macOS's; neither is POSIX. */
#if defined(__linux__) && !defined(UP_PORTABLE)
#define EV_HAVE_EPOLL	1
#endif
/* io_uring: Linux (5.11 or later for one enter that submits and waits
 * with a timeout), and a build with liburing (URING=1) */
#if defined(__linux__) && !defined(UP_PORTABLE) && defined(UP_URING)
#define EV_HAVE_URING	1
#endif
#if !defined(UP_PORTABLE) && (defined(__APPLE__) || defined(__FreeBSD__) || \
    defined(__OpenBSD__) || defined(__NetBSD__) || defined(__DragonFly__))
#define EV_HAVE_KQUEUE	1
#endif

struct ev_backend {
	const char	*name;
	int		 max_fd;	/* descriptors must be below it */
	/* Its state, or NULL with errno. */
	void		*(*create)(void);
	void		 (*destroy)(void *);
	/*
	 * Makes room, so that change() allocates nothing for descriptors
	 * below nfds; 0 or -1 with errno. NULL when there is nothing to do.
	 */
	int		 (*reserve)(void *, int nfds);
	/* fd's interest goes from old to mask (UP_EV_*); 0 or -1. */
	int		 (*change)(void *, int fd, int old, int mask);
	/*
	 * Waits at most timeout_ms (-1: for ever) and fills at most max
	 * entries of out; returns how many, or -1 with errno.
	 */
	int		 (*wait)(void *, struct up_ev_fired *out, int max,
			    int timeout_ms);
	/*
	 * A backend that completes operations (uring; NULL for the
	 * others): queues op, or a cancel of it; 0 or -1 with errno.
	 * Completions are handed to op->done during wait.
	 */
	int		 (*submit)(void *, struct up_ev_op *);
	int		 (*cancel)(void *, struct up_ev_op *);
	/* Its buffers for standing receives: as up_ev_multishot, ... */
	int		 (*multishot)(void *);
	size_t		 (*received)(void *, const struct up_ev_op *,
			    char **);
	void		 (*consume)(void *, struct up_ev_op *, size_t);
};

extern const struct ev_backend ev_select, ev_poll;
#ifdef EV_HAVE_EPOLL
extern const struct ev_backend ev_epoll;
#endif
#ifdef EV_HAVE_KQUEUE
extern const struct ev_backend ev_kqueue;
#endif
#ifdef EV_HAVE_URING
extern const struct ev_backend ev_uring;
#endif

#endif /* UP_EV_BACKEND_H */
