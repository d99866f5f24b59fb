/*
 * server.h: the top layer of libup, what the servers share: their
 * options (options.c), start and stop (server.c), the simulated work and
 * the shared counter (work.c), the interpreter lock of --gil (gil.c), the
 * board and the sink of --locks (locks.c), and the blocking service of a
 * connection (serve.c) that upserver-seq, -fork and -thread call. What
 * is left in bin/ is the model itself.
 */
#ifndef UP_SERVER_H
#define UP_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/core.h"
#include "proto/proto.h"
#include "ev/ev.h"
#include "robust/robust.h"
#include "pool/pool.h"

#define UP_MSG_MAX		4096

/* ---- options.c: the options every server shares ---------------------- */

enum up_counter_mode {
	UP_COUNTER_OFF,
	UP_COUNTER_UNSAFE,
	UP_COUNTER_MUTEX,
	UP_COUNTER_ATOMIC
};

enum up_locks_mode {		/* --locks: see locks.c */
	UP_LOCKS_OFF,
	UP_LOCKS_OPPOSITE,
	UP_LOCKS_ORDERED,
	UP_LOCKS_BACKOFF
};

struct up_options {
	const char	*bind;		/* -b: address to listen on */
	const char	*port;		/* -p: port, "0" for any */
	int64_t		 delay_ns;	/* -d: simulated work per request */
	long		 max_conns;	/* -c: connections served at once */
	long		 workers;	/* -w: fixed pool size, 0 for none */
	int64_t		 timeout_ns;	/* -t: idle timeout, 0 for never */
	int64_t		 request_timeout_ns; /* --request-timeout, 0: never */
	enum up_counter_mode counter;	/* --counter */
	size_t		 max_line;	/* --max-line */
	int		 quiet;		/* -q */
	int		 http;		/* --http */
	const char	*backend;	/* --backend: poll only, else NULL */
	enum up_framing	 framing;	/* --framing */
	int		 cpu;		/* --cpu: the delay spent computing */
	long		 backlog;	/* --backlog, or -1 for UP_BACKLOG */
	int		 gil;		/* --gil: the work under one lock */
	enum up_locks_mode locks;	/* --locks */
	size_t		 stack;		/* --stack: coro only, else 0 */
	enum up_accept_mode accept;	/* --accept, with -w */
};

/*
 * A model, as its binary describes itself to the library: its name, its
 * default -c, and what it takes beyond the options every server takes.
 */
struct up_model {
	const char	*name;		/* "seq", "fork", ..., "coro" */
	long		 max_conns;	/* the default of -c */
	int		 workers;	/* it takes -w */
	int		 event_loop;	/* it takes --backend (default poll) */
	int		 one_at_a_time;	/* it serves one connection anyway */
	int		 processes;	/* it forks, so state is MAP_SHARED */
	size_t		 stack;		/* coroutines: --stack's default */
};

/*
 * Descriptors an event-loop server keeps for itself (standard streams,
 * the stop pipe, the listener, the engine): with select, -c may be at
 * most FD_SETSIZE minus these.
 */
#define UP_RESERVED_FDS		16

enum up_parse_result {
	UP_PARSE_ERROR = -1,	/* message in errbuf: print usage, exit 2 */
	UP_PARSE_OK = 0,
	UP_PARSE_HELP,		/* -h: print usage to stdout, exit 0 */
	UP_PARSE_VERSION	/* -V: print the version, exit 0 */
};

/*
 * Fills *o from the command line, with model m's defaults and the
 * contract's; an option m does not take is refused with a message that
 * says why. On UP_PARSE_ERROR a one-line reason is in errbuf.
 */
int	up_server_options(struct up_options *o, const struct up_model *m,
	    int argc, char **argv, char *errbuf, size_t errlen);

/*
 * Writes into buf (of size len) the usage of the server NAME of model m,
 * with only the options m takes: "usage: NAME" and the synopsis (shown on
 * a usage error), and with full the option list too (-h). Returns buf,
 * truncated to fit.
 */
const char *up_server_usage(const struct up_model *m, const char *name,
	    int full, char *buf, size_t len);

/* The name of a counter mode: "off", "unsafe", "mutex", "atomic". */
const char *up_counter_name(enum up_counter_mode m);

/* ---- work.c: the simulated work and the shared counter ---------------- */

/*
 * State shared by everyone serving requests: threads of one process, or
 * (allocated with across_processes) every process forked after it.
 */
struct up_shared {
	atomic_ulong	requests;	/* replies sent, for "stopped" */
	atomic_long	count;		/* the counter of --counter */
	atomic_long	conns;		/* connections served now */
	pthread_mutex_t	lock;		/* held by --counter mutex */
	struct up_memory_guard memory;	/* connections waiting for memory */
};

/*
 * Maps a zeroed struct up_shared, in memory that child processes share
 * when across_processes is set (MAP_SHARED), with its mutex made
 * process-shared then. Returns NULL with errno.
 */
struct up_shared *up_shared_new(int across_processes);

/*
 * One request's simulated work is up_work_begin, up_work_spend, then
 * up_work_end, with the counter updated as its mode says (see work.c).
 *
 * up_work_begin starts it: in mutex mode it waits for the lock. Returns
 * the counter as this request found it (the tutorial's "before" count),
 * or 0 when the counter is off.
 */
long	up_work_begin(struct up_shared *sh, enum up_counter_mode mode);

/*
 * Spends the delay: waiting (sleeping), or with cpu computing until the
 * calling thread has used delay_ns of CPU time.
 */
void	up_work_spend(int64_t delay_ns, int cpu);

/*
 * Ends it: unsafe and mutex write back seen + 1 (mutex then releases the
 * lock), atomic adds one. Returns the counter after this request, or 0
 * when the counter is off.
 */
long	up_work_end(struct up_shared *sh, enum up_counter_mode mode,
	    long seen);

/*
 * The counter's two halves without the lock, for an event loop that
 * guards the section its own way: up_count_read returns the counter as
 * a request finds it; up_count_write writes what the request leaves
 * (unsafe, mutex: seen + 1; atomic: one more) and returns it, 0 when
 * the counter is off.
 */
long	up_count_read(struct up_shared *sh);

long	up_count_write(struct up_shared *sh, enum up_counter_mode mode,
	    long seen);

/*
 * 1 when a request's "received" line shows count=, the counter as the
 * request read it before its work: unsafe and mutex, whose write-back
 * depends on that read. atomic reads nothing before: its one atomic add
 * reads and writes at once, after the work, and "responded" shows what
 * it made; off has no counter.
 */
int	up_count_read_shown(enum up_counter_mode mode);

/*
 * Computes, in a loop the compiler cannot remove, until the calling
 * thread has used ns nanoseconds of CPU time (its CPU clock, or the
 * process's where there is none per thread).
 */
void	up_compute_ns(int64_t ns);

/* ---- gil.c: --gil, one interpreter-wide lock, as CPython's ----------- */

/*
 * The lock of --gil (see gil.c): a flag under a mutex, waiters in line
 * by ticket, a waiter's request that the holder drop it.
 */
struct up_gil {
	pthread_mutex_t	 mutex;
	pthread_cond_t	 cond;		/* dropped, taken, or time to ask */
	int		 locked;
	unsigned long	 next;		/* the next ticket to draw */
	unsigned long	 serving;	/* the ticket the lock goes to */
	unsigned long	 switches;	/* times it was taken */
	int64_t		 interval_ns;	/* the switch interval: 5 ms */
	atomic_int	 drop_request;	/* the first in line asks for it */
};

/* Initializes g, unlocked; returns 0, or an error number. */
int	up_gil_init(struct up_gil *g);

/*
 * Takes g, in turn after every thread that asked before. Returns 1 when
 * it had to wait for it, else 0.
 */
int	up_gil_take(struct up_gil *g);

/* Lets go of g, which the caller holds. */
void	up_gil_drop(struct up_gil *g);

/*
 * up_work_spend under g: takes it, then waits with it dropped, or with
 * cpu computes holding it and hands it over when a waiting thread asks
 * (after a switch interval); drops it at the end. Returns the times the
 * calling thread waited for it (gil-waits= on "responded").
 */
unsigned long up_gil_spend(struct up_gil *g, int64_t delay_ns, int cpu);

/* ---- locks.c: --locks, the board and the sink ------------------------ */

/* The two resources, their holders and waiters, shared (opaque). */
struct up_locks;

/* The name of a --locks mode: "off", "opposite", "ordered", "backoff". */
const char *up_locks_name(enum up_locks_mode m);

/*
 * The mode called name, in *m; 0, or -1 for a name that is none.
 */
int	up_locks_mode(const char *name, enum up_locks_mode *m);

/*
 * Maps the board and the sink, zeroed, with process-shared robust
 * mutexes when across_processes is set. Returns NULL with errno.
 */
struct up_locks *up_locks_new(int across_processes);

/*
 * One request's work under --locks mode: takes its first resource,
 * spends the delay (as up_work_spend), takes the second, then releases
 * both. A wait that closes a cycle logs "deadlock" on addr, once. who
 * names the worker ("tid=3"). Returns the times backoff released its
 * first resource and tried again (0 in the other modes), or -1 when the
 * request was abandoned unserved: it was deadlocked when the server was
 * asked to stop.
 */
int	up_locks_work(struct up_locks *lk, enum up_locks_mode mode,
	    const char *addr, const char *who, int64_t delay_ns, int cpu);

/* ---- server.c: what every server does at start and stop ------------- */

/*
 * A connection just accepted: its socket (blocking), the peer's address
 * as text, and a tag the model adds to every log line ("pid=7", "tid=3").
 */
struct up_conn {
	int	fd;
	char	peer[UP_PEER_MAX];
	char	who[32];
};

/*
 * Waits for a connection on the (non-blocking) listening socket lfd while
 * watching for a stop request. Returns 1 with *c filled (c->fd blocking,
 * close-on-exec), 0 when the server is asked to stop, or -1 with errno for
 * a real problem (EMFILE, ENFILE, ENOBUFS, ENOMEM); transient failures
 * (a client that reset while waiting, EINTR) are retried here.
 */
int	up_accept(int lfd, struct up_conn *c);

struct up_server {
	struct up_options opt;
	struct up_proto	 proto;		/* what opt says of the protocol */
	const struct up_model *model;
	int		 lfd;		/* the listening socket */
	char		 addr[UP_PEER_MAX]; /* its address, real port */
	struct up_shared *shared;	/* requests served, the counter */
	struct up_locks	*locks;		/* --locks: the board, the sink */
	int		 exit;		/* see up_server_start */
	char		 msg[UP_MSG_MAX];
	struct up_gil	 gil;		/* --gil: this process's own */
	struct up_handout *handout;	/* -w of fork, thread: --accept */
	struct up_loops	*loops;		/* -w of the event loops, or NULL */
};

/*
 * Parses the options as model m takes them, sets up signals, raises the
 * descriptor limit to its hard maximum, listens, and logs "listening".
 * Returns 0 when the server is ready to run. Returns -1 when it is not
 * to run, with s->exit the status to exit with and s->msg the text to
 * print: on standard output for 0 (-h, -V), else on standard error (2 a
 * usage error, 1 a failure such as a port that cannot be had).
 */
int	up_server_start(struct up_server *s, const struct up_model *m,
	    int argc, char **argv);

/*
 * up_accept() for the blocking models: a descriptor shortage (EMFILE,
 * ENFILE, ENOBUFS, ENOMEM) is logged and waited out for a moment, so the
 * loop never spins. Returns 1 with *c filled, or 0 when stopping.
 */
int	up_server_accept(struct up_server *s, struct up_conn *c);

/*
 * up_server_accept() for worker i of a pool (-w), the way --accept
 * says, each connection and wasted wake-up counted for "stopped".
 * Returns 1 with *c filled, or 0 when stopping.
 */
int	up_server_take(struct up_server *s, long i, struct up_conn *c);

/*
 * --accept pass (threads): accepts every connection in the calling
 * thread and hands each to the pool, until a stop; then tells the pool
 * no more will come. Returns 0.
 */
int	up_server_pass(struct up_server *s);

/*
 * want, or fewer when the hard descriptor limit (to which the soft one is
 * raised at start) cannot hold that many connections besides
 * UP_RESERVED_FDS: an event loop's default for -c.
 */
long	up_fd_room(long want);

/*
 * Once every connection has ended after a stop: closes the listening
 * socket (closed at the stop already: this closes what took its place),
 * logs "stopped"; returns exit status 0.
 */
int	up_server_stop(struct up_server *s);

/* ---- serve.c: one connection, start to end, for the blocking models --- */

/*
 * Serves c until the client's end of stream, the idle timeout, an error
 * or a stop request; logs "received" and "responded" for each request,
 * "error" if one occurs and "closed" at the end; closes c->fd. Returns
 * the number of requests answered.
 */
unsigned long up_serve(struct up_server *s, struct up_conn *c);

#endif /* UP_SERVER_H */
