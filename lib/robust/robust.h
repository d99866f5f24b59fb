/*
 * robust.h: what keeps a server serving when resources run short or
 * clients misbehave, written once and used by every model: the log of
 * a shortage (shortage.c), waiting for memory (memory.c), starting a
 * process or a thread again until it can be had (spawn.c), and the
 * lingering close (linger.c). The supervised pool of worker processes
 * and what the event loops of -w share are the layer above, lib/pool/.
 */
#ifndef UP_ROBUST_H
#define UP_ROBUST_H

#include <pthread.h>

#include "core/core.h"
#include "ev/ev.h"
#include "coro/coro.h"

/* ---- shortage.c: out of processes, threads or memory for a while ----- */

/*
 * A shortage as the log tells it: "error <peer> op=OP errno=E" when the
 * first try fails, "recovered <peer> op=OP failures=N waited=N lasted=T"
 * when it ends, nothing per retry in between.
 */
struct up_shortage {
	int		 active;	/* started and not over */
	const char	*op;		/* "fork", "pthread_create", "malloc" */
	unsigned long	 failures;	/* tries that failed */
	unsigned long	 waited;	/* connections kept waiting */
	int64_t		 since;		/* up_now_ns() of the first failure */
	int		 backoff_ms;	/* the wait before the next try */
	const char	*who;		/* "pid=N" for the lines, or NULL */
};

/* 1 when err is a lack of resources worth waiting out (EAGAIN, ENOMEM). */
int	up_shortage_error(int err);

/*
 * Counts a failed try of op with errno err, logging the "error" line if
 * it starts a shortage; new_waiter counts one more connection waiting.
 * Returns how long to wait before the next try, in ms: 10 at first,
 * doubling up to 1000.
 */
int	up_shortage_failed(struct up_shortage *sh, const char *peer,
	    const char *op, int err, int new_waiter);

/* The operation succeeds again: logs "recovered" if a shortage was on. */
void	up_shortage_over(struct up_shortage *sh, const char *peer);

/* ---- memory.c: connections that wait for memory --------------------- */

/*
 * An event loop that cannot allocate a connection's buffer does not
 * close the connection: it stops reading it (the client's bytes wait in
 * the kernel) and tries again a little later. This keeps the count of
 * connections waiting and when to try, and logs the shortage once.
 */
struct up_memory {
	struct up_shortage sh;		/* "malloc", "mmap"...: as logged */
	size_t		 waiting;	/* connections waiting for memory */
	int		 next_waits;	/* the next accept's memory failed */
	int64_t		 retry_at;	/* when they try again, or 0 */
};

/* What a connection keeps of its own wait. */
struct up_memory_wait {
	int		 waiting;	/* it waits for memory */
	int64_t		 since;		/* the shortage it waited in */
	int		 pause_ms;	/* blocking, coro: next pause, or 0 */
	int64_t		 until;		/* coro: when its wait gives up, or 0 */
};

/*
 * A connection w found no memory (err) at now: it waits, counted once
 * per shortage, and a retry is due shortly.
 */
void	up_memory_wait(struct up_memory *m, struct up_memory_wait *w,
	    const char *addr, int err, int64_t now);

/* w waits no more: it is about to try again, or it is closed. */
void	up_memory_leave(struct up_memory *m, struct up_memory_wait *w);

/*
 * An allocation succeeded: the shortage, if one is on, is over once no
 * connection waits for memory.
 */
void	up_memory_back(struct up_memory *m, const char *addr);

/*
 * What the next accept needs (its memory, or for a coroutine server its
 * stack: op "malloc", "mmap", "mprotect") failed with err at now: logged
 * as the shortage, if it starts one, which lasts at least until
 * up_memory_reserved; returns when to try again (the client waits in
 * the backlog meanwhile).
 */
int64_t	up_memory_failed(struct up_memory *m, const char *addr,
	    const char *op, int err, int64_t now);

/* What the next accept needs was had: up_memory_back, for the accept. */
void	up_memory_reserved(struct up_memory *m, const char *addr);

/*
 * The same wait for a coroutine (upserver-coro), which parks on s
 * rather than sleep: w found no memory (err); counted as in the event
 * loop, it sleeps 10 ms, doubling at each failure up to 1 s, for at
 * most idle_ns from the first failure of its wait (0: no limit; -t, as
 * the other servers); a stop (*stopping set, and the coroutine woken)
 * ends it. Returns 0: try the allocation again; or -1 with errno
 * ETIMEDOUT or ECANCELED, w then no longer waiting.
 */
int	up_memory_await(struct up_memory *m, struct up_memory_wait *w,
	    struct up_sched *s, const char *addr, int err, int64_t idle_ns,
	    const int *stopping);

/*
 * w's allocation succeeded (or w found what it needed without one):
 * w waits no more, and the shortage, if one is on, is over once no
 * connection waits (the "recovered" line).
 */
void	up_memory_had(struct up_memory *m, struct up_memory_wait *w,
	    const char *addr);

/*
 * The same wait for the blocking models (upserver-seq, -fork, -thread),
 * which can afford to sleep: one shortage for the whole server, shared
 * by its threads, or by its processes when the guard lies in memory
 * they share (MAP_SHARED), its lock then process-shared and robust.
 */
struct up_memory_guard {
	pthread_mutex_t	 lock;
	struct up_memory m;
};

/*
 * Initialises g, for threads of one process or, with across_processes,
 * for processes too; 0, or an error number.
 */
int	up_memory_guard_init(struct up_memory_guard *g, int across_processes);

/*
 * A connection w found no memory (err): it waits, counted as in the
 * event loop, sleeping 10 ms, doubling at each failure up to 1 s, but
 * never past deadline (monotonic ns, 0 for none), and waking at a stop.
 * Returns 0: try the allocation again; or -1 with errno ETIMEDOUT (the
 * deadline came) or ECANCELED (a stop), w then no longer waiting.
 */
int	up_memory_pause(struct up_memory_guard *g, struct up_memory_wait *w,
	    const char *addr, int err, int64_t deadline);

/*
 * w's allocation succeeded: it waits no more, and the shortage, if one
 * is on, is over once nobody waits (the "recovered" line).
 */
void	up_memory_got(struct up_memory_guard *g, struct up_memory_wait *w,
	    const char *addr);

/* A buffer that grows as needed: the response of --http. */
struct up_buf {
	char		*p;
	size_t		 cap;
};

/*
 * Makes b hold at least need bytes, keeping what it holds; 0, or -1
 * with errno (ENOMEM), and then b is as it was.
 */
int	up_buf_room(struct up_buf *b, size_t need);

/* Frees b's memory when it holds more than keep bytes. */
void	up_buf_trim(struct up_buf *b, size_t keep);

/*
 * An event loop's connections by descriptor, and the memory of the next
 * one, reserved before it is accepted: a loop that accepted a client it
 * had no room for could only close it.
 */
struct up_slots {
	void		**by_fd;	/* the connection on each descriptor */
	size_t		 cap;
	size_t		 count;		/* connections held */
	void		*spare;		/* the next one's memory */
};

/*
 * Reserves what the next connection needs: size zeroed bytes, and room
 * in the table and in the engine ev for any descriptor it may get (at
 * most the number open, with a margin). Returns 1 when it allocated,
 * 0 when all was there, -1 with errno when the memory is not there.
 */
int	up_slots_reserve(struct up_slots *t, struct up_ev *ev, size_t size);

/*
 * The reserved memory, now the connection on fd; NULL with errno when
 * fd is beyond the table and it cannot grow.
 */
void	*up_slots_take(struct up_slots *t, int fd);

/* The connection on fd, or NULL; and forgetting it (not freed). */
void	*up_slots_at(const struct up_slots *t, int fd);
void	 up_slots_drop(struct up_slots *t, int fd);

/* Frees the table and the spare memory (not the connections). */
void	 up_slots_free(struct up_slots *t);

/* ---- linger.c: closing while the client may still be sending -------- */

#define UP_LINGER_NS	UP_NS_PER_SEC	/* the longest a close lingers */
#define UP_LINGER_MAX	(1024 * 1024)	/* the most it discards */

/*
 * Closing a socket with unread input makes the kernel send a reset,
 * which can destroy the reply still on its way; so a server that ends a
 * connection the client may still be writing to (an HTTP error,
 * "Connection: close" with more pipelined behind it) first shuts down
 * its sending side, then reads and discards what comes until the client
 * closes too, UP_LINGER_MAX bytes, or UP_LINGER_NS.
 */
struct up_linger {
	int64_t		 deadline;	/* when to close anyway */
	size_t		 drained;	/* bytes discarded */
};

/* Shuts down fd's sending side at now; 0, or -1: close it at once. */
int	up_linger_start(struct up_linger *lg, int fd, int64_t now);

/*
 * Discards what one read of fd brings. Returns 1 when the lingering is
 * over (the client closed or reset, or enough was discarded): close fd.
 * 0: wait until fd is readable, or its deadline.
 */
int	up_linger_read(struct up_linger *lg, int fd);

/* The whole lingering close of a blocking socket, up to close(2). */
void	up_linger_close(int fd);

/* ---- spawn.c: a process or thread per connection, retried ----------- */

/*
 * How a server that starts a process or a thread per connection hands
 * it over (upserver-fork, upserver-thread): start(job, arg) starts it
 * and returns 0 or an error number; ended(ms, arg) sleeps until one
 * ends or ms pass, and returns 0 when the server is stopping.
 */
struct up_spawner {
	const char	*op;		/* "fork", "pthread_create" */
	int		 (*start)(void *job, void *arg);
	int		 (*ended)(int timeout_ms, void *arg);
	void		*arg;
	struct up_shortage sh;
};

/*
 * Starts what serves the connection fd from peer, with job as its
 * argument. When it fails for lack of processes, threads or memory, the
 * connection is kept and, nobody else being accepted meanwhile, tried
 * again when another ends or after the shortage's backoff: the client
 * is served late, not reset. Returns 0 once started; -1 when the
 * connection was closed unserved (at a stop, or for another error),
 * which is logged.
 */
int	up_spawn(struct up_spawner *sp, const char *addr, const char *peer,
	    int fd, void *job);

/*
 * Before the next accept: a shortage is over when nobody is left
 * waiting in the backlog of the listening socket lfd.
 */
void	up_spawn_idle(struct up_spawner *sp, const char *addr, int lfd);

#endif /* UP_ROBUST_H */
