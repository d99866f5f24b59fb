/*
 * core.h: the bottom layer of libup, what every program of the toolkit
 * uses: durations and clocks (time.c), addresses, listening and
 * connecting (net.c), reads and writes that survive signals and partial
 * transfers (io.c), the stop request of SIGINT and SIGTERM (signal.c),
 * and the event log (log.c).
 *
 * The layers above it: proto/ (the protocol, without sockets), ev/ (the
 * event engine), robust/ (shortages, lingering), pool/ (workers in
 * processes of their own), server/ (what the servers share) and
 * timeline/ (reading and drawing logs). Each has a header of its own
 * and includes the ones below it.
 *
 * Conventions, for every layer: functions return -1 and set errno on
 * failure (or return a result code documented beside them); the library
 * never prints a diagnostic and never exits. The event log is the one
 * exception to "never prints": writing it is its job.
 */
#ifndef UP_CORE_H
#define UP_CORE_H

#include <sys/types.h>
#include <sys/socket.h>

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

/* Monotonic clock in nanoseconds, for deadlines and latencies. */
int64_t	up_now_ns(void);

/* Sleeps for ns nanoseconds, resuming after signals: the work is finished. */
void	up_sleep_ns(int64_t ns);

/* A duration as a poll(2) timeout: ms rounded up, -1 (never) for 0. */
int	up_timeout_ms(int64_t ns);

/* Milliseconds left until deadline (monotonic ns), rounded up; -1 if none. */
int	up_ms_until(int64_t deadline_ns);

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
 * Installs handler for sig (SIG_IGN too) with an empty mask and the
 * given sa_flags: SA_RESTART, or 0 for blocking calls to fail with EINTR.
 * Returns 0 or -1 with errno.
 */
int	up_catch(int sig, void (*handler)(int), int flags);

/*
 * In a child of up_fork(): the read end of its parent's stop pipe, which
 * an event loop watches beside up_stop_fd() (up_wait() watches both);
 * -1 in a process that no up_fork() made.
 */
int	up_parent_stop_fd(void);

/*
 * fork(2) for a server that will keep serving in the child: the child
 * gets a stop of its own, so SIGINT or SIGTERM sent to it stops that
 * child alone, while a stop of the parent still stops it too (up_wait()
 * and up_stopping() in the child watch both). Returns what fork returns.
 */
pid_t	up_fork(void);

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

#endif /* UP_CORE_H */
