/*
 * up.h: the one header of libup, the helpers that every up binary shares.
 *
 * The library holds what is the same in every concurrency model: options,
 * listening and connecting, robust reads and writes, the request framing,
 * the simulated work with its shared counter, the event log and signals.
 * What is left in bin/ is the model itself.
 *
 * Conventions: functions return -1 and set errno on failure (or return a
 * result code documented beside them); the library never prints a
 * diagnostic and never exits. The event log is the one exception to "never
 * prints": writing it is its job.
 */
#ifndef UP_H
#define UP_H

#include <sys/types.h>
#include <sys/socket.h>

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The default build on Linux uses its fast paths (accept4, SOCK_NONBLOCK,
 * epoll, ...); make PORTABLE=1 defines UP_PORTABLE and keeps to POSIX,
 * so that the same code is checked to build and run anywhere.
 */
#if defined(__linux__) && !defined(UP_PORTABLE)
#define UP_LINUX	1
#endif

/* Not everywhere (macOS): SIGPIPE is ignored anyway (up_signals_init). */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0
#endif

#define UP_VERSION		"0.1.0"
#define UP_DEFAULT_PORT		"40001"
#define UP_DEFAULT_BIND		"127.0.0.1"
#define UP_DEFAULT_HOST		"localhost"
#define UP_DEFAULT_MAX_LINE	65536
#define UP_MAX_MAX_LINE		(64L * 1024 * 1024)
#define UP_BACKLOG		65535	/* the kernel caps it at somaxconn */
#define UP_PEER_MAX		64	/* "[ipv6]:port" with room to spare */
#define UP_NS_PER_SEC		1000000000LL

/* ---- time.c: durations ------------------------------------------------ */

/*
 * Parses a duration: "1.5" (seconds), "250ms", "2s", "100us", "1m", "0".
 * Stores nanoseconds in *ns and returns 0; returns -1 with errno EINVAL for
 * garbage or ERANGE for a value outside [0, max_ns].
 */
int	up_parse_time(const char *s, int64_t max_ns, int64_t *ns);

/* Parses a decimal integer in [min, max]; 0, or -1 with EINVAL or ERANGE. */
int	up_parse_number(const char *s, long min, long max, long *out);

/* Formats nanoseconds as "0", "2s", "250ms" or "1.5s", read back exactly. */
const char *up_format_time(int64_t ns, char *buf, size_t len);

/* Monotonic clock in nanoseconds, for deadlines and latencies. */
int64_t	up_now_ns(void);

/* Sleeps for ns nanoseconds, resuming after signals: the work is finished. */
void	up_sleep_ns(int64_t ns);

/* A duration as a poll(2) timeout: ms rounded up, -1 (never) for 0. */
int	up_timeout_ms(int64_t ns);

/* Milliseconds left until deadline (monotonic ns), rounded up; -1 if none. */
int	up_ms_until(int64_t deadline_ns);

/* ---- options.c: the options every server shares ---------------------- */

enum up_counter_mode {
	UP_COUNTER_OFF,
	UP_COUNTER_UNSAFE,
	UP_COUNTER_MUTEX,
	UP_COUNTER_ATOMIC
};

/* What a request is: a line, or what one read(2) returned (--framing). */
enum up_framing {
	UP_FRAMING_LINE,
	UP_FRAMING_READ
};

struct up_options {
	const char	*bind;		/* -b: address to listen on */
	const char	*port;		/* -p: port, "0" for any */
	int64_t		 delay_ns;	/* -d: simulated work per request */
	long		 max_conns;	/* -c: connections served at once */
	long		 workers;	/* -w: fixed pool size, 0 for none */
	int64_t		 timeout_ns;	/* -t: idle timeout, 0 for never */
	enum up_counter_mode counter;	/* --counter */
	size_t		 max_line;	/* --max-line */
	int		 quiet;		/* -q */
	int		 http;		/* --http */
	const char	*backend;	/* --backend: poll only, else NULL */
	enum up_framing	 framing;	/* --framing */
	int		 cpu;		/* --cpu: the delay is spent computing */
	long		 backlog;	/* --backlog, or -1 for UP_BACKLOG */
};

/* What a model cannot honour, passed to up_server_options to refuse it. */
#define UP_REFUSE_WORKERS	0x1
/* -c is accepted but the model serves one connection at a time anyway. */
#define UP_ONE_AT_A_TIME	0x2
/* The model has an event loop: --backend is accepted (default "poll"). */
#define UP_EVENT_LOOP		0x4
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
 * Fills *o from the command line. The caller sets the model's own defaults
 * (max_conns) first; everything else gets the contract's default here.
 * Options in `refuse` (UP_REFUSE_*) are rejected with a message that says
 * why. On UP_PARSE_ERROR a one-line reason is in errbuf.
 */
int	up_server_options(struct up_options *o, int argc, char **argv,
	    unsigned refuse, const char *model, char *errbuf, size_t errlen);

/*
 * The usage of every server: the synopsis follows "usage: NAME" (shown on
 * a usage error and by -h), the option list follows it for -h only.
 */
extern const char up_server_synopsis[];
extern const char up_server_help[];

/* The name of a counter mode: "off", "unsafe", "mutex", "atomic". */
const char *up_counter_name(enum up_counter_mode m);

/* ---- net.c: listening, accepting, connecting -------------------------- */

/*
 * Formats a socket address as "1.2.3.4:80" or "[::1]:80" (an IPv4-mapped
 * IPv6 address prints as IPv4). Returns buf.
 */
const char *up_format_addr(const struct sockaddr *sa, char *buf, size_t len);

/* Formats a host and port given as text the same way: "[::]:40001". */
const char *up_format_hostport(const char *host, const char *port,
	    char *buf, size_t len);

/*
 * getaddrinfo(3), except that a name under "localhost" that does not
 * resolve (a minimal system with no /etc/hosts) stands for the loopback
 * addresses, as RFC 6761 reserves it. Returns 0 or a getaddrinfo code.
 */
struct addrinfo;
int	up_resolve(const char *host, const char *port,
	    const struct addrinfo *hints, struct addrinfo **res);

/*
 * Resolves host and port (numeric or names) and returns a non-blocking,
 * close-on-exec listening socket bound to the first address that works,
 * with SO_REUSEADDR set, listening with the given backlog (the kernel
 * caps it; a negative one means UP_BACKLOG). Returns -1 with errno on a
 * socket error, or -1 with *gai set to a getaddrinfo(3) code when the
 * name does not resolve.
 */
int	up_listen(const char *host, const char *port, int backlog, int *gai);

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

/*
 * socket(2) made close-on-exec, and non-blocking when nonblock is set
 * (in one call on Linux, with fcntl(2) elsewhere). Returns it, or -1.
 */
int	up_socket(int domain, int type, int protocol, int nonblock);

/*
 * accept(2) with the new socket made close-on-exec, and non-blocking or
 * blocking as nonblock says, whatever the listener is (BSD sockets
 * inherit the listener's O_NONBLOCK, Linux ones do not). Returns it, or
 * -1 with accept's errno.
 */
int	up_accept_fd(int lfd, struct sockaddr *sa, socklen_t *len,
	    int nonblock);

/*
 * 1 when accept(2) failed with err for this connection only (the client
 * gave up while waiting, a firewall, a pending network error): accept
 * again at once. 0 for EAGAIN and for shortages (EMFILE, ENFILE, ENOBUFS,
 * ENOMEM), which call for waiting.
 */
int	up_accept_transient(int err);

/* Sets FD_CLOEXEC on fd, and sets or clears O_NONBLOCK; 0 or -1. */
int	up_fd_setup(int fd, int nonblock);

/*
 * Connects to host:port trying every address of the name in turn
 * ("localhost" may give ::1 then 127.0.0.1). Returns a blocking socket,
 * or -1 with errno (of the last address tried) or with *gai set.
 */
int	up_connect(const char *host, const char *port, int *gai);

/* ---- io.c: reads and writes that survive EINTR and partial transfers -- */

/* read(2) retried on EINTR. */
ssize_t	up_read(int fd, void *buf, size_t len);

/* Writes all len bytes with write(2); 0 or -1 with errno. */
int	up_write_all(int fd, const void *buf, size_t len);

/*
 * The same on a socket, with MSG_NOSIGNAL (EPIPE rather than SIGPIPE),
 * waiting at most timeout_ms (-1: for ever) each time the peer's window is
 * full: -1 with ETIMEDOUT then.
 */
int	up_send_all(int fd, const void *buf, size_t len, int timeout_ms);

/*
 * send(2) and recv(2), for every socket the servers and the client use.
 * In a build with FIU=1 they carry the fault points "up/net/send/reduce"
 * and "up/net/recv/reduce": when libfiu says so, the transfer is cut to a
 * random length short of the one asked (see UP_FAULT).
 */
ssize_t	up_send(int fd, const void *buf, size_t len, int flags);
ssize_t	up_recv(int fd, void *buf, size_t len, int flags);

/*
 * Fault points of our own, for the fault-injection suite (tests/fiu.bats):
 * libfiu's preload library makes send(2), recv(2) and accept(2) fail, but
 * it can cut short only read(2) and write(2), and it does not wrap
 * accept4(2). Built with FIU=1 (libfiu), UP_FAULT(name) is true when
 * libfiu says that name fails now (fiu-ctrl enables it), and
 * UP_FAULT_ERRNO() is the errno given as its failinfo; in the normal
 * build UP_FAULT is 0, and costs nothing.
 */
#ifdef UP_FIU
#define FIU_ENABLE 1
#include <fiu.h>
#define UP_FAULT(name)		fiu_fail(name)
#define UP_FAULT_ERRNO()	((int)(intptr_t)fiu_failinfo())
#else
#define UP_FAULT(name)		0
#define UP_FAULT_ERRNO()	0
#endif

/*
 * Waits until fd is ready for `events` (POLLIN or POLLOUT) while watching
 * for a stop request (this process's, and in a child of up_fork() its
 * parent's). timeout_ms < 0 waits forever. Returns 1 ready, 0 on
 * timeout, -1 with errno, or UP_WAIT_STOP when the server is stopping.
 */
#define UP_WAIT_STOP	2
int	up_wait(int fd, short events, int timeout_ms);

/* ---- request.c: the protocol -------------------------------------------- */

/*
 * A framing function: the length of the first request in buf[0..len),
 * at most max; eof says the client has ended its stream. 0 means: read
 * more.
 */
typedef size_t	(*up_frame_func)(const char *buf, size_t len, size_t max,
	    int eof);

/*
 * Length of the first request in buf[0..len): up to and including the
 * first '\n', or max bytes when no newline comes within them, or all len
 * bytes when the client has ended its stream (eof). 0 means: read more.
 */
size_t	up_request_length(const char *buf, size_t len, size_t max, int eof);

/*
 * --framing read: everything buffered (at most max bytes) is a request.
 * The servers read only into an empty buffer under this framing, so what
 * is buffered is what one read(2) returned, as in a tutorial's recv(1024).
 * 0 only when nothing is buffered.
 */
size_t	up_read_length(const char *buf, size_t len, size_t max, int eof);

/* The framing the options ask for: HTTP heads, lines or reads. */
up_frame_func up_framer(const struct up_options *o);

/* Turns ASCII a-z into A-Z in place; every other byte is left alone. */
void	up_uppercase(char *buf, size_t len);

/*
 * A bounded read buffer for the blocking servers: at most max_line bytes
 * per connection, whatever the client sends.
 */
struct up_reader {
	up_frame_func frame;	/* what a request is: see up_framer */
	char	*buf;
	size_t	 cap;		/* max_line */
	size_t	 start, end;	/* unconsumed bytes are buf[start..end) */
	int	 eof;		/* the client ended its stream */
	int	 filled;	/* up_reader_fill: the last read filled it */
};

int	up_reader_init(struct up_reader *r, size_t max_line);
void	up_reader_free(struct up_reader *r);

/* Bytes buffered that form no whole request yet (a line still open). */
size_t	up_reader_pending(const struct up_reader *r);

/*
 * The next request from fd, reading as needed. Returns 1 with *req and
 * *len pointing into the buffer (valid until the next call), 0 at the
 * client's end of stream, or -1 with errno: ETIMEDOUT when the client
 * sent nothing for timeout_ms, ECANCELED when the server is stopping and
 * no complete request is buffered, or the read error.
 */
int	up_reader_next(struct up_reader *r, int fd, int timeout_ms,
	    char **req, size_t *len);

/*
 * For an event loop, where a connection that sends nothing should cost no
 * buffer: r starts zeroed, and each call reads once from the non-blocking
 * socket fd, allocating UP_FIRST_BUF bytes once bytes are there and
 * doubling, up to max, while a request does not fit or reads keep filling
 * the buffer (a client that pipelines). Returns what recv(2) returned,
 * with r->eof set on 0, or -1 with errno: ENOMEM when the memory is not
 * there, and then nothing was read, so nothing is lost.
 */
#define UP_FIRST_BUF	1024
ssize_t	up_reader_fill(struct up_reader *r, int fd, size_t max);

/* Frees r's buffer if it grew and is empty, and the client paused. */
void	up_reader_shrink(struct up_reader *r);

/* ---- http.c: the minimal HTTP/1.1 of --http -------------------------- */

#define UP_HTTP_HEAD_MAX	256	/* the most a response head takes */

struct up_http_request {
	int		 status;	/* 200 to serve, or the error to send */
	int		 minor;		/* HTTP/1.<minor> */
	int		 keep_alive;	/* serve more on this connection */
	int		 asked_close;	/* "Connection: close" was sent */
	int		 head_only;	/* HEAD: no body */
	const char	*target;	/* the request target, in the buffer */
	size_t		 target_len;
};

/*
 * Length of the request head at the start of buf, through its blank
 * line; the same contract as up_request_length (max when none within max
 * bytes, len at the end of stream, 0 to read more).
 */
size_t	up_http_head_length(const char *buf, size_t len, size_t max, int eof);

/* Parses a framed head into *req; req->status says what to answer. */
void	up_http_parse(const char *buf, size_t len, size_t max,
	    struct up_http_request *req);

/*
 * Writes the whole response to req into out (cap at least
 * UP_HTTP_HEAD_MAX + req->target_len + 1); returns its length, 0 if it
 * does not fit, and the body's length in *body.
 */
size_t	up_http_response(const struct up_http_request *req, char *out,
	    size_t cap, size_t *body);

/* ---- work.c: the simulated work and the shared counter ---------------- */

/*
 * State shared by everyone serving requests: threads of one process, or
 * (allocated with across_processes) every process forked after it.
 */
struct up_shared {
	atomic_ulong	requests;	/* replies sent, for "stopped" */
	atomic_long	count;		/* the counter of --counter */
	pthread_mutex_t	lock;		/* held by --counter mutex */
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
 * Computes, in a loop the compiler cannot remove, until the calling
 * thread has used ns nanoseconds of CPU time (its CPU clock, or the
 * process's where there is none per thread).
 */
void	up_compute_ns(int64_t ns);

/* ---- serve.c: one connection, start to end, for the blocking models --- */

/*
 * Serves c until the client's end of stream, the idle timeout, an error
 * or a stop request; logs "received" and "responded" for each request,
 * "error" if one occurs and "closed" at the end; closes c->fd. Returns
 * the number of requests answered.
 */
unsigned long up_serve(struct up_conn *c, const struct up_options *o,
	    struct up_shared *sh);

/* ---- server.c: what every server does at start and stop --------------- */

struct up_server {
	struct up_options opt;
	const char	*model;		/* "seq", "fork", "thread", "poll" */
	int		 lfd;		/* the listening socket */
	char		 addr[UP_PEER_MAX]; /* its address, real port */
	struct up_shared *shared;	/* requests served, the counter */
};

#define UP_MSG_MAX	4096

/*
 * Parses the options (s->opt.max_conns holds the model's default), sets
 * up signals, raises the descriptor limit to its hard maximum, listens,
 * and logs "listening". Returns -1 when the server is ready to run, or an
 * exit status with the text to print in msg: 0 for -h/-V (standard
 * output), 2 for a usage error, 1 when the port cannot be had (standard
 * error). The shared state goes in memory child processes share when
 * across_processes is set.
 */
int	up_server_start(struct up_server *s, int argc, char **argv,
	    const char *model, unsigned refuse, int across_processes,
	    char *msg, size_t msglen);

/*
 * up_accept() for the blocking models: a descriptor shortage (EMFILE,
 * ENFILE, ENOBUFS, ENOMEM) is logged and waited out for a moment, so the
 * loop never spins. Returns 1 with *c filled, or 0 when stopping.
 */
int	up_server_accept(struct up_server *s, struct up_conn *c);

/*
 * want, or fewer when the hard descriptor limit (to which the soft one is
 * raised at start) cannot hold that many connections besides
 * UP_RESERVED_FDS: an event loop's default for -c.
 */
long	up_fd_room(long want);

/* Closes the listening socket and logs "stopped"; returns exit status 0. */
int	up_server_stop(struct up_server *s);

/* ---- log.c: the event log ---------------------------------------------- */

/* Quiet mode: only "listening" and "stopped" are written. */
void	up_log_quiet(int quiet);

/*
 * Writes "<secs>.<usecs> <event> <peer> <fmt...>\n" to standard output
 * with a single write(2), so lines from many threads or processes never
 * interleave. fmt may be NULL. Lines are cut at 512 bytes. Returns 0 or -1.
 */
int	up_log(const char *event, const char *peer, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * The same line written to fd, whatever up_log_quiet() says: the client
 * logs its own events to standard error with it. Returns 0 or -1.
 */
int	up_log_fd(int fd, const char *event, const char *peer,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Logs "responded <peer> bytes=N [status=S] [count=C] [who]" as o says:
 * status with --http, count when a counter is on and the request was
 * served (status 200). who may be NULL.
 */
int	up_log_responded(const char *peer, const struct up_options *o,
	    size_t bytes, int status, long count, const char *who);

/* The symbolic name of errno value err ("ECONNRESET"), or NULL. */
const char *up_errno_name(int err);

/* The name of signal sig without "SIG" ("KILL"), or NULL. */
const char *up_signal_name(int sig);

/*
 * Logs "received <peer> bytes=N [count=N] [who]": a request read, its work
 * beginning; count (when counted) is the counter as the request read it.
 */
int	up_log_received(const char *peer, const char *who, size_t bytes,
	    int counted, long count);

/*
 * Logs "closed <peer> requests=N [reason=R] [pending=N] [who]"; reason is
 * NULL for a normal end, pending the bytes the client sent that formed no
 * whole request (0: not shown).
 */
int	up_log_closed(const char *peer, const char *who,
	    unsigned long requests, const char *reason, size_t pending);

/* Logs "error <peer> op=<op> errno=<NAME>" for the errno value err. */
int	up_log_error(const char *peer, const char *who, const char *op,
	    int err);

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
	const char	*who;		/* "pid=N" to add to the lines, or NULL */
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

/* ---- event.c: reading the event log back ---------------------------- */

struct up_event {
	int64_t		 ns;		/* the wall-clock time, in ns */
	char		 name[16];	/* "accepted", "responded", ... */
	char		 peer[UP_PEER_MAX];
	const char	*rest;		/* the key=value pairs, in the line */
	size_t		 restlen;
};

/*
 * Parses one line of the event log (len bytes, a final '\n' allowed; no
 * NUL needed) into *ev. Returns 0, or -1 with EINVAL when the line is not
 * an event. ev->rest points into line.
 */
int	up_event_parse(const char *line, size_t len, struct up_event *ev);

/*
 * Copies the value of key=value in ev's pairs into buf (NUL-terminated).
 * Returns 0, or -1 with ENOENT (no such key) or ENOSPC (too long for len).
 */
int	up_event_value(const struct up_event *ev, const char *key, char *buf,
	    size_t len);

/* ---- timeline.c: connections over time, for upclient -T and uptimeline - */

/* What a connection is doing between two events (one at a time). */
enum up_tl_state {
	UP_TL_NONE = 0,		/* not connected */
	UP_TL_CONNECTING = 0x01,	/* connect(2) in progress */
	UP_TL_IDLE = 0x02,	/* connected, no request in flight */
	UP_TL_BUSY = 0x04	/* a request in flight: sent, or being served */
};

/* What happened at one moment (may be combined). */
#define UP_TL_REQUEST	0x10	/* a request was sent, or read */
#define UP_TL_REPLY	0x20	/* a reply was received, or sent */
#define UP_TL_ERROR	0x40	/* the connection failed */

#define UP_TL_CELLS	1024	/* the resolution each row is kept at */

struct up_timeline;

/*
 * An empty timeline whose time 0 is start_ns (any clock, in ns). Returns
 * NULL with errno.
 */
struct up_timeline *up_timeline_new(int64_t start_ns);
void	up_timeline_free(struct up_timeline *tl);

/* Adds a row (UP_TL_CELLS bytes); returns its index, or -1 with errno. */
int	up_timeline_add_row(struct up_timeline *tl);
int	up_timeline_rows(const struct up_timeline *tl);

/*
 * Records on row, at time t, the moment flags `marks` (UP_TL_REQUEST...)
 * and that from now on the connection is in `state`. A time before the
 * row's previous event counts as that event's time.
 */
void	up_timeline_event(struct up_timeline *tl, int row, int64_t t,
	    int marks, enum up_tl_state state);

/* Ends every row still in a state at end_ns, so open spans reach it. */
void	up_timeline_end(struct up_timeline *tl, int64_t end_ns);

/*
 * The flags of row between a and z ns after the start: the cells that
 * begin in [a, z), or the one cell it lies in when the span is narrower.
 */
int	up_timeline_flags(const struct up_timeline *tl, int row, int64_t a,
	    int64_t z);

/*
 * The character for the flags of one column: the moments first (x an
 * error, * a request and a reply, < a reply, > a request), then the states
 * (= busy, . idle, - connecting), blank for none.
 */
char	up_timeline_symbol(int flags);

/* "4.012s", "12.5ms", "80us": a duration short enough for a heading. */
const char *up_format_duration(int64_t ns, char *buf, size_t len);

/* A tick label: "0", "1s", "2.5s", "250ms", "100us", "2m". */
const char *up_timeline_tick_label(int64_t ns, char *buf, size_t len);

/*
 * The tick step: the smallest 1, 2 or 5 times a power of ten that makes
 * at most `ticks` steps of total ns.
 */
int64_t	up_timeline_step(int64_t total, int ticks);

/*
 * Draws an axis of `cols` columns after `label` blank ones, for total ns
 * with at most `ticks` steps: tick labels in top, each starting at the
 * column of its tick (one that would run into the one before it or past
 * the end is left out), and the ruler with a '+' per tick. Both need
 * label + cols + 1 bytes; both end up NUL-terminated, top without
 * trailing blanks.
 */
void	up_timeline_axis(char *top, char *ruler, int label, int cols,
	    int64_t total, int ticks);

/* ---- signal.c: stopping ----------------------------------------------- */

/*
 * Ignores SIGPIPE and turns SIGINT and SIGTERM into a stop request that
 * up_stopping() reports and that makes up_stop_fd() readable for good (a
 * pipe nobody drains, so every poll(2) in every thread that watches it
 * wakes up). Returns 0 or -1.
 */
int	up_signals_init(void);
int	up_stopping(void);
int	up_stop_fd(void);

/*
 * In a child of up_fork(): the read end of its parent's stop pipe, which
 * an event loop watches beside up_stop_fd() (up_wait() watches both);
 * -1 in a process that no up_fork() made.
 */
int	up_parent_stop_fd(void);

/* ---- ev.c: the event engine of the event-loop programs ---------------- */

/*
 * One small API over select(2), poll(2), epoll(7) and kqueue(2): say which
 * descriptors to watch for what, wait, and get back the ready ones. The
 * mechanisms differ in what each wait costs (see up(7)); the engine hides
 * that from the caller, so one program runs on any of them.
 */
#define UP_EV_READ	0x1
#define UP_EV_WRITE	0x2

/*
 * A ready descriptor. A hangup or an error is reported as every direction
 * fd is watched for, so the read or write that follows meets it. With
 * kqueue the same fd may come twice in one batch, once per direction.
 */
struct up_ev_fired {
	int	fd;
	int	events;		/* UP_EV_READ and/or UP_EV_WRITE */
};

struct up_ev;

/*
 * A new engine on the named backend ("select", "poll", "epoll",
 * "kqueue"), or NULL with errno: EINVAL for a name that is none of these,
 * ENOSYS for one this build or system does not have.
 */
struct up_ev *up_ev_new(const char *backend);
void	up_ev_free(struct up_ev *ev);

/* The backends this build has, as "select, poll, epoll". */
const char *up_ev_backends(void);

/*
 * The descriptors a backend can watch are those below this number:
 * FD_SETSIZE for select, INT_MAX for the others (their limit is the
 * process's descriptor limit); -1 for an unknown or absent backend.
 */
int	up_ev_max_fd(const char *backend);

/*
 * Watches fd for mask (UP_EV_READ | UP_EV_WRITE), replacing what it was
 * watched for; mask 0 stops watching it, which must be done before fd is
 * closed. Costs nothing when mask is unchanged. 0, or -1 with errno
 * (EINVAL for select and a descriptor not below FD_SETSIZE).
 */
int	up_ev_set(struct up_ev *ev, int fd, int mask);

/*
 * Makes room for watching any descriptor below nfds, so that up_ev_set
 * allocates no memory for them: a server calls it before accepting, so as
 * never to hold a connection it cannot watch. 0, or -1 with errno.
 */
int	up_ev_reserve(struct up_ev *ev, int nfds);

/*
 * Waits at most timeout_ms milliseconds (-1: until something is ready)
 * and points *fired at the ready descriptors, valid until the next call.
 * Returns how many (0 on timeout), or -1 with errno (EINTR: a signal).
 */
int	up_ev_wait(struct up_ev *ev, int timeout_ms, struct up_ev_fired **fired);

/*
 * fork(2) for a server that will keep serving in the child: the child
 * gets a stop of its own, so SIGINT or SIGTERM sent to it stops that
 * child alone, while a stop of the parent still stops it too (up_wait()
 * and up_stopping() in the child watch both). Returns what fork returns.
 */
pid_t	up_fork(void);

/* ---- loops.c: what the event loops of upserver-poll -w share ---------- */

struct up_loops;

/*
 * Shared state for n event loops (processes forked after it) serving at
 * most max_conns connections in all, with a wake-up pipe per loop.
 * Returns NULL with errno.
 */
struct up_loops *up_loops_new(long n, long max_conns);

/*
 * In loop i's process, as it starts: marks it alive with no connections
 * and closes the others' read ends. Returns the descriptor to watch for
 * reading: readable when another loop wants this one to look again
 * (up_loops_may_accept, up_loops_granted); up_loops_drain empties it.
 */
int	up_loops_enter(struct up_loops *g, long i);
void	up_loops_drain(struct up_loops *g, long i);

/*
 * 1 when loop i may accept: fewer than max_conns in all, and no live
 * loop serves fewer than it. When 0, the loop is woken once that may
 * have changed.
 */
int	up_loops_may_accept(struct up_loops *g, long i);

/*
 * Reserves a place for one more connection in loop i before accepting
 * it: 1, or 0 when up_loops_may_accept would say 0. unreserve gives the
 * place back: an accept that found nobody, or a connection closed.
 */
int	up_loops_reserve(struct up_loops *g, long i);
void	up_loops_unreserve(struct up_loops *g, long i);

/*
 * The queued lock of --counter mutex, across loops. up_loops_lock takes
 * it for loop i, returning 0, or returns a ticket (> 0): the lock is
 * taken, and the request waits in loop i's own queue, in ticket order.
 * up_loops_unlock releases it and hands it to the loop whose first
 * waiter asked first (waking it): returns 1 when that is loop i itself.
 * up_loops_granted returns 1 once the lock has been handed to loop i,
 * whose first waiter then holds it; next is the ticket of the waiter
 * behind it, or 0. No call blocks for longer than a few instructions.
 */
unsigned long up_loops_lock(struct up_loops *g, long i);
int	up_loops_unlock(struct up_loops *g, long i);
int	up_loops_granted(struct up_loops *g, long i, unsigned long next);

/*
 * In the parent, once loop i has died: its connections are gone, and a
 * lock it held or waited for passes on.
 */
void	up_loops_died(struct up_loops *g, long i);

/* ---- pool.c: a fixed pool of worker processes ------------------------- */

/*
 * Sleeps until done(arg) says so, until timeout_ms passes (-1: no
 * limit), or (stop_too) until a stop is requested. Returns 1, or 0 for a
 * stop. A SIGCHLD that comes meanwhile wakes it (ppoll/pselect unblock
 * it atomically), so done() may count children reaped by a handler.
 */
int	up_sleep_until(int (*done)(long), long arg, int timeout_ms,
	    int stop_too);

/*
 * Runs a pool of n worker processes until a stop: like fork(2), it
 * returns 1 in each new worker, with *index its place in the pool
 * (0..n-1, a replacement taking the place of the one it replaces), and
 * the worker then serves and exits. In the parent it returns 0 once
 * stopped and every worker has ended, or -1 with errno when the pool
 * cannot start. A worker that ends is logged as "error <addr> op=worker
 * pid=N exit=S|signal=NAME", then died(index, arg) is called (died may
 * be NULL), and it is replaced, after a backoff if workers die young.
 * A worker gets SIGTERM should the parent die. SIGCHLD stays blocked in
 * the parent.
 */
int	up_pool_run(struct up_server *s, long n, void (*died)(long, void *),
	    void *arg, long *index);

#endif /* UP_H */
