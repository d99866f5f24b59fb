/*
 * core.h: the bottom layer of libup, what every program of the toolkit
 * uses: durations and clocks (time.c), addresses, listening and
 * connecting (net.c), reads and writes that survive signals and partial
 * transfers (io.c), signals and the stop request of SIGINT, SIGTERM and
 * SIGHUP (signal.c), the command line (opt.c) and the event log (log.c).
 * Above it, each with a header that includes the ones below: proto/ (the
 * protocol, without sockets), ev/ (the event engine), robust/ (shortages,
 * lingering), pool/ (workers in processes of their own), server/ (what
 * the servers share), timeline/ (reading and drawing logs).
 *
 * In every layer, functions return -1 and set errno on failure (or a
 * result code documented beside them), never print a diagnostic and never
 * exit. The event log alone prints: writing it is its job.
 */
#ifndef UP_CORE_H
#define UP_CORE_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

/*
 * Linux's fast paths (accept4, SOCK_NONBLOCK, epoll...) unless make
 * PORTABLE=1 defines UP_PORTABLE: POSIX only, checked to build anywhere.
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
#define UP_BACKLOG		65535	/* the kernel caps it at somaxconn */
#define UP_PEER_MAX		64	/* "[ipv6]:port" with room to spare */
#define UP_NS_PER_SEC		1000000000LL
#define UP_NS_PER_MS		1000000LL

/* The structure that holds member m at address p. */
#define UP_CONTAINER_OF(p, type, m) \
	((type *)(void *)((char *)(p) - offsetof(type, m)))

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

/*
 * The same for a person, as the man pages write durations: "5m" (whole
 * minutes), "90s", "1.5s", "250ms", "100us"; read back exactly too. The
 * event log keeps up_format_time's form, never minutes.
 */
const char *up_format_time_human(int64_t ns, char *buf, size_t len);

/* Monotonic clock in nanoseconds, for deadlines and latencies. */
int64_t	up_now_ns(void);

/* Sleeps for ns nanoseconds, resuming after signals: the work is finished. */
void	up_sleep_ns(int64_t ns);

/* A duration as a poll(2) timeout: ms rounded up, -1 (never) for 0. */
int	up_timeout_ms(int64_t ns);

/*
 * Milliseconds from now to deadline (monotonic ns, 0 for none), rounded
 * up, as a poll(2) timeout: -1 for none, 0 once it has passed, at most
 * INT_MAX. up_ms_until reads the clock for now.
 */
int	up_ms_left(int64_t deadline_ns, int64_t now);
int	up_ms_until(int64_t deadline_ns);

/* The earlier of two deadlines, where 0 stands for none. */
int64_t	up_earliest(int64_t a, int64_t b);

/* ---- net.c: listening, accepting, connecting -------------------------- */

/* An address as "1.2.3.4:80" or "[::1]:80" (IPv4-mapped as IPv4); buf. */
const char *up_format_addr(const struct sockaddr *sa, char *buf, size_t len);

/* Formats a host and port given as text the same way: "[::]:40001". */
const char *up_format_hostport(const char *host, const char *port,
	    char *buf, size_t len);

/*
 * getaddrinfo(3), but a name under "localhost" that does not resolve (no
 * /etc/hosts) is loopback, as RFC 6761 says. 0 or a getaddrinfo code.
 */
struct addrinfo;
int	up_resolve(const char *host, const char *port,
	    const struct addrinfo *hints, struct addrinfo **res);

/*
 * A non-blocking, close-on-exec listening socket with SO_REUSEADDR, bound
 * to the first address of host and port (numeric or names) that works,
 * with backlog (the kernel caps it; < 0 means UP_BACKLOG). Returns it, -1
 * with errno, or -1 with *gai set to a getaddrinfo(3) code.
 */
int	up_listen(const char *host, const char *port, int backlog, int *gai);

/*
 * 1 when this system spreads connections over sockets that share a port
 * with SO_REUSEPORT (Linux); then up_listen_reuseport(1) makes the next
 * up_listen's socket one of such a group.
 */
int	up_reuseport_spreads(void);
void	up_listen_reuseport(int on);

/*
 * Replaces listener lfd, in the calling process only, with a new socket
 * of its group (SO_REUSEPORT) on the same address, with the backlog of
 * the last up_listen, under the same descriptor number. 0, or -1 with
 * errno (lfd is then as it was).
 */
int	up_listen_again(int lfd);

/* socket(2), close-on-exec, non-blocking if nonblock (one call on Linux). */
int	up_socket(int domain, int type, int protocol, int nonblock);

/*
 * accept(2), the new socket close-on-exec and non-blocking as nonblock
 * says whatever the listener is (BSD sockets inherit its O_NONBLOCK,
 * Linux ones do not). Returns it, or -1 with accept's errno.
 */
int	up_accept_fd(int lfd, struct sockaddr *sa, socklen_t *len,
	    int nonblock);

/*
 * 1 when accept(2) failed with err for this connection only (the client
 * gave up, a firewall, a network error): accept again at once. 0 for
 * EAGAIN and shortages (EMFILE, ENFILE, ENOBUFS, ENOMEM): wait.
 */
int	up_accept_transient(int err);

/* Sets FD_CLOEXEC on fd, and sets or clears O_NONBLOCK; 0 or -1. */
int	up_fd_setup(int fd, int nonblock);

/* Soft RLIMIT_NOFILE raised to the hard one: it then, INT64_MAX, or -1. */
int64_t	up_raise_nofile(void);

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
 * The same on a socket with MSG_NOSIGNAL (EPIPE, not SIGPIPE), waiting at
 * most timeout_ms (-1: for ever) for a full window: -1 ETIMEDOUT then.
 */
int	up_send_all(int fd, const void *buf, size_t len, int timeout_ms);

/*
 * send(2) and recv(2) for every socket. With FIU=1, the fault points
 * "up/net/send/reduce" and "up/net/recv/reduce" (see UP_FAULT) cut the
 * transfer to a random length short of the one asked.
 */
ssize_t	up_send(int fd, const void *buf, size_t len, int flags);
ssize_t	up_recv(int fd, void *buf, size_t len, int flags);

/*
 * Fault points of our own for tests/fiu.bats: libfiu's preload library
 * fails send(2), recv(2) and accept(2), but cuts short only read(2) and
 * write(2) and does not wrap accept4(2). With FIU=1, UP_FAULT(name) is
 * true when libfiu says name fails now (fiu-ctrl), UP_FAULT_ERRNO() the
 * errno of its failinfo; otherwise UP_FAULT is 0 and costs nothing.
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
 * Waits at most timeout_ms (< 0: for ever) for fd to be ready for events
 * (POLLIN or POLLOUT), watching for a stop (its own, and in a child of
 * up_fork() its parent's). 1 ready, 0 timeout, -1, or UP_WAIT_STOP.
 */
#define UP_WAIT_STOP	2
int	up_wait(int fd, short events, int timeout_ms);

/* ---- mem.c: shared memory --------------------------------------------- */

/*
 * Maps len zeroed bytes, read and write; with shared, one copy that
 * processes forked later share, else private. Returns them (munmap(2)
 * frees them), or NULL with errno.
 */
void	*up_map_zeroed(size_t len, int shared);

/* ---- signal.c: signals, and stopping ---------------------------------- */

/*
 * Ignores SIGPIPE; SIGINT, SIGTERM and SIGHUP become a stop request that
 * up_stopping() reports and that makes up_stop_fd() readable for good (a
 * pipe nobody drains: every poll(2) on it wakes, in any thread). A
 * second SIGINT or SIGTERM in a process already stopping kills the
 * workers given to up_stop_kills and ends it at once, by that signal.
 * 0 or -1.
 */
int	up_signals_init(void);
int	up_stopping(void);
int	up_stop_fd(void);

/*
 * Registers the listening socket fd to be closed at once when a stop
 * comes (by the signal handler itself, or by up_stop_notice): a socket
 * that listens to nothing is put in its place, so the number stays taken
 * until the owner closes it. fd -1 forgets it (a child about to close
 * its copy). 0, or -1 with errno when no such socket can be had.
 */
int	up_stop_listener(int fd);

/*
 * The n process ids at pids (0 for none) are killed with SIGKILL at a
 * forced stop (the second signal); pids NULL for none. Not inherited.
 */
void	up_stop_kills(pid_t *pids, long n);

/*
 * fn(arg) is run once, in this process only (not its children), by the
 * first up_stop_notice() after a stop: the server logs its drain there.
 */
void	up_stop_on_notice(void (*fn)(void *), void *arg);

/*
 * Called wherever a stop may first be seen (up_wait() does): when
 * stopping, closes the registered listener and runs the notice once.
 */
void	up_stop_notice(void);

/* A stop seen by the caller on up_parent_stop_fd(): noticed as above. */
void	up_stop_seen(void);

/* The signal that began the stop (SIGINT, ...), or 0 (a parent's stop). */
int	up_stop_signal(void);

/*
 * Sleeps ns nanoseconds as up_sleep_ns() does (the work is finished),
 * watching meanwhile for a stop, which it notices (up_stop_notice).
 */
void	up_sleep_watching(int64_t ns);

/* sigaction(2): handler (or SIG_IGN), no mask, flags (0: EINTR); 0 or -1. */
int	up_catch(int sig, void (*handler)(int), int flags);

/*
 * In a child of up_fork(), the read end of its parent's stop pipe, for an
 * event loop to watch beside up_stop_fd() as up_wait() does; else -1.
 */
int	up_parent_stop_fd(void);

/*
 * fork(2) for a child that serves: it gets a stop of its own, so SIGINT
 * or SIGTERM to it stops it alone, while its parent's stop still stops it
 * (up_wait() and up_stopping() watch both). Returns what fork returns.
 */
pid_t	up_fork(void);

/* ---- opt.c: the command line ------------------------------------------ */

/*
 * getopt_long(3), each option written once in spec: its letter (what is
 * returned), ':' if it takes a value, its long name in parentheses, as in
 * ":c:(clients)h(help)" (a leading ':' is getopt's); after '-', the letter
 * is only a long option's code: "-l(literal)". Returns as getopt_long
 * does (-1 with EINVAL for a malformed spec).
 */
int	up_getopt(int argc, char **argv, const char *spec);

/* After ':' or '?': "option -d needs a value", "unknown option -x". */
const char *up_opt_error(int ch, char **argv, char *buf, size_t len);

/* ---- log.c: the event log ---------------------------------------------- */

/* Quiet mode: only "listening" and "stopped" are written. */
void	up_log_quiet(int quiet);

/*
 * Writes "<secs>.<usecs> <event> <peer> <fmt...>\n" (fmt may be NULL, the
 * line is cut at 512 bytes) to standard output in a single write(2), so
 * that lines of many threads or processes never interleave; 0 or -1.
 */
int	up_log(const char *event, const char *peer, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* The same line to fd, quiet or not (upclient's own, on stderr); 0 or -1. */
int	up_log_fd(int fd, const char *event, const char *peer,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Logs "responded <peer> bytes=N [status=S] [count=C] [who]": status
 * when not 0 (--http), count when counted. who may be NULL.
 */
int	up_log_responded(const char *peer, const char *who, size_t bytes,
	    int status, int counted, long count);

/* The symbolic name of errno value err ("ECONNRESET"), or NULL. */
const char *up_errno_name(int err);

/* The name of signal sig without "SIG" ("KILL"), or NULL. */
const char *up_signal_name(int sig);

/*
 * Logs "received <peer> bytes=N [framing=W] [count=N] [who]": a request
 * read, its work beginning; cut (NULL for a whole line) says how else it
 * was framed (up_request_cut); count (when counted) is the counter as
 * the request read it.
 */
int	up_log_received(const char *peer, const char *who, size_t bytes,
	    const char *cut, int counted, long count);

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

#endif /* UP_CORE_H */
