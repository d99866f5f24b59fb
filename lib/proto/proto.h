/*
 * proto.h: the protocol, written once for every server: what a request
 * is (frame.c), the minimal HTTP/1.1 of --http (http.c), and the service
 * (service.c) that turns a request into its reply and says what the
 * connection does next. None of it touches a socket, so a blocking
 * server, the event loop and the unit tests all drive the same code;
 * reader.c, the one file here that reads, fills a connection's buffer
 * for the framing to cut.
 */
#ifndef UP_PROTO_H
#define UP_PROTO_H

#include "core/core.h"

#define UP_DEFAULT_MAX_LINE	65536
#define UP_MAX_MAX_LINE		(64L * 1024 * 1024)

/* ---- frame.c: what a request is ------------------------------------- */

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

/*
 * What a request is (--framing): a line, or with auto also the bytes a
 * client sent without a newline before it paused for UP_PAUSE_NS (the
 * tutorials' client, which sends "hello" and waits), or what one read(2)
 * returned.
 */
enum up_framing {
	UP_FRAMING_AUTO,
	UP_FRAMING_LINE,
	UP_FRAMING_READ
};

/* --framing auto: the silence after which a partial line is a request. */
#define UP_PAUSE_NS	(200 * 1000 * 1000LL)

/* The framing asked for: HTTP heads with http, else lines or reads. */
up_frame_func up_framer(int http, enum up_framing framing);

/* Turns ASCII a-z into A-Z in place; every other byte is left alone. */
void	up_uppercase(char *buf, size_t len);


/* ---- http.c: the minimal HTTP/1.1 of --http ------------------------ */

#define UP_HTTP_HEAD_MAX	256	/* the most a response head takes */

struct up_http_request {
	int		 status;	/* 200 to serve, or the error to send */
	int		 minor;		/* HTTP/1.<minor> */
	int		 keep_alive;	/* serve more on this connection */
	int		 asked_close;	/* "Connection: close" was sent */
	int		 head_only;	/* HEAD: no body */
	const char	*target;	/* the request target, in the buffer */
	size_t		 target_len;
	int		 hosts;		/* Host lines: one in HTTP/1.1 */
};

/* The empty lines ignored before a request line (RFC 9112, 2.2). */
#define UP_HTTP_EMPTY_MAX	4

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

/*
 * Writes "408 Request Timeout", with "Connection: close", into out (cap
 * at least UP_HTTP_HEAD_MAX): what a client that took too long to send
 * its head gets before the connection closes. Returns its length, or 0
 * if it does not fit.
 */
size_t	up_http_timeout_response(char *out, size_t cap);

/* ---- service.c: a request in, its reply and what comes next out ---- */

/* What the options say of the protocol: one per server. */
struct up_proto {
	up_frame_func	 frame;		/* lines, reads or HTTP heads */
	size_t		 max_line;	/* --max-line */
	int		 http;		/* --http */
	int64_t		 pause_ns;	/* UP_PAUSE_NS under --framing auto */
};

/* What a connection does once a reply is sent. */
enum up_next {
	UP_NEXT_READ,		/* read the next request */
	UP_NEXT_LINGER		/* close, discarding what the client sends */
};

/*
 * One request on its way through the service: up_request_open fills in
 * what it asks for, the server does the work (when status is 200), then
 * up_request_reply makes the reply.
 */
struct up_request {
	char		*data;		/* the request, in the read buffer */
	size_t		 len;
	int		 status;	/* 200: work then reply; else refused */
	enum up_next	 next;		/* after the reply */
	size_t		 room;		/* bytes of out the reply needs */
	struct up_http_request http;	/* --http: the head parsed */
	const char	*reply;		/* up_request_reply: what to send */
	size_t		 replylen;
	size_t		 body;		/* what "responded bytes=" says */
	const char	*cut;		/* "received framing=": see below */
};

/*
 * Opens the request of len bytes at data, framed by p->frame: status 200
 * when it is to be served (a line always is; an HTTP head the parser
 * refuses gets its error status, and costs no work), what comes after
 * its reply, and the room the reply needs in an output buffer (0: it is
 * made in place, over the request).
 */
void	up_request_open(const struct up_proto *p, struct up_request *r,
	    char *data, size_t len);

/*
 * Makes r's reply: the request uppercased in place, or the HTTP
 * response written into out, which has r->room bytes. Sets r->reply,
 * r->replylen and r->body.
 */
void	up_request_reply(const struct up_proto *p, struct up_request *r,
	    char *out);

/*
 * How the request of len bytes at data was cut, if not as a whole line,
 * for the log's "received framing=": "read" (--framing read), "max-line"
 * (a piece of a line longer than --max-line), "eof" (the last bytes
 * before the client's end of stream, eof set), "pause" (bytes the client
 * sent before it paused, --framing auto). NULL for a line ended by its
 * newline and for an HTTP head.
 */
const char *up_request_cut(const struct up_proto *p, const char *data,
	    size_t len, int eof);

/*
 * The log's "status=" for r: its HTTP status, or 0 (not shown) for a
 * line.
 */
int	up_request_status(const struct up_proto *p, const struct up_request *r);

/* ---- reader.c: a connection's requests, read from its socket ------- */

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
	/* up_reader_next only (zero for none), and what it reports: */
	int64_t	 pause_ns;	/* --framing auto: a pause ends a request */
	int64_t	 request_ns;	/* --request-timeout */
	int64_t	 since;		/* when the request's first bytes waited */
	int	 expired;	/* ETIMEDOUT was --request-timeout's */
};

int	up_reader_init(struct up_reader *r, size_t max_line);
void	up_reader_free(struct up_reader *r);

/* Bytes buffered that form no whole request yet (a line still open). */
size_t	up_reader_pending(const struct up_reader *r);

/*
 * The next request from fd, reading as needed. Returns 1 with *req and
 * *len pointing into the buffer (valid until the next call), 0 at the
 * client's end of stream, or -1 with errno: ETIMEDOUT when the client
 * sent nothing for timeout_ms, or (r->expired set) when a request begun
 * is not whole r->request_ns after its first bytes; ECANCELED when the
 * server is stopping and no complete request is buffered, or the read
 * error. With r->pause_ns, bytes with no newline after which the client
 * sends nothing for that long are a request.
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

/*
 * up_reader_fill in two halves, for a read someone else makes (the
 * kernel, by io_uring): up_reader_room makes room as up_reader_fill
 * does (the first buffer, a slide, doubling up to max) and points *p at
 * it, *room bytes; 0, or -1 with errno ENOMEM. up_reader_got counts n
 * bytes read there (0: end of stream, r->eof set) and returns n.
 */
int	up_reader_room(struct up_reader *r, size_t max, char **p,
	    size_t *room);
ssize_t	up_reader_got(struct up_reader *r, ssize_t n, size_t room);

/* Frees r's buffer if it grew and is empty, and the client paused. */
void	up_reader_shrink(struct up_reader *r);

#endif /* UP_PROTO_H */
