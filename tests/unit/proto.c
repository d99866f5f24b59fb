/*
 * proto.c: the protocol service (lib/proto/service.c) with the framing
 * (frame.c) and the HTTP of --http (http.c), driven as a server drives
 * them, with no socket: frame a request out of a buffer, open it, make
 * its reply, and check the bytes and what the connection does next.
 *
 * The expectations come from upserver(1) (the protocol, HTTP MODE) and
 * from the contracts in lib/proto/proto.h.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "check.h"

#define LEN(s)	(sizeof(s) - 1)

/* --- framing ----------------------------------------------------------- */

static void
test_framer(void)
{
	CHECK(up_framer(0, UP_FRAMING_AUTO) == up_request_length,
	    "up_framer: lines by default (auto: the pause is the reader's)");
	CHECK(up_framer(0, UP_FRAMING_LINE) == up_request_length,
	    "up_framer: --framing line");
	CHECK(up_framer(0, UP_FRAMING_READ) == up_read_length,
	    "up_framer: --framing read");
	CHECK(up_framer(1, UP_FRAMING_LINE) == up_http_head_length &&
	    up_framer(1, UP_FRAMING_READ) == up_http_head_length,
	    "up_framer: HTTP heads with --http, whatever the framing");
}

/*
 * A framer's case: the request it should find at the start of text (its
 * length by strlen), given max and eof.
 */
struct frame_case {
	const char	*text;
	size_t		 max;
	int		 eof;
	size_t		 want;
	const char	*what;
};

static void
check_frames(up_frame_func frame, const struct frame_case *c, size_t n)
{
	for (; n > 0; c++, n--)
		CHECK_INT(frame(c->text, strlen(c->text), c->max, c->eof),
		    c->want, "%s", c->what);
}

static void
test_request_length(void)
{
	static const char two[] = "abc\ndef\n";
	static const struct frame_case cases[] = {
		{ two, 64, 0, 4,
		    "line: up to and including the first newline" },
		{ two + 4, 64, 0, 4, "line: then the next one" },
		{ "\n", 64, 0, 1, "line: an empty line is its newline" },
		{ "abc", 64, 0, 0, "line: no newline yet, read more" },
		{ "abc", 64, 1, 3,
		    "line: at end of stream the bytes left are a last "
		    "request" },
		{ "", 64, 1, 0,
		    "line: nothing left at end of stream is no request" },
		{ "abcd\n", 4, 0, 4,
		    "line: a newline past max bytes is not seen; max is the "
		    "request" },
		{ "abc\n", 4, 0, 4,
		    "line: a newline as the max-th byte ends the line there" },
		{ "abcdef", 4, 1, 4, "line: max bytes even at end of stream" },
		{ "ab", 4, 0, 0,
		    "line: fewer than max bytes and no newline, read more" },
	};
	const char longline[] = "abcdefghij\n", *p;
	size_t n, off, pieces[8], np = 0;

	check_frames(up_request_length, cases, NITEMS(cases));

	/* A line longer than max is served in pieces of max bytes. */
	for (off = 0; off < LEN(longline) && np < 8; off += n) {
		p = longline + off;
		n = up_request_length(p, LEN(longline) - off, 4, 0);
		if (n == 0)
			break;
		pieces[np++] = n;
	}
	CHECK(np == 3 && pieces[0] == 4 && pieces[1] == 4 && pieces[2] == 3,
	    "line: 11 bytes with max 4 are pieces of 4, 4 and 3");
}

static void
test_read_length(void)
{
	static const struct frame_case cases[] = {
		{ "hello", 64, 0, 5,
		    "read: everything buffered, no newline needed" },
		{ "a\nb\nc", 64, 0, 5, "read: newlines do not cut a read" },
		{ "hello", 3, 0, 3, "read: at most max bytes" },
		{ "", 64, 0, 0, "read: 0 only when nothing is buffered" },
	};

	check_frames(up_read_length, cases, NITEMS(cases));
}

/* A head with a blank line after it, and one still open. */
#define HEAD_OPEN	"GET /a HTTP/1.1\r\nHost: x\r\n"
#define HEAD_CRLF	HEAD_OPEN "\r\n"
#define HEAD_LF		"GET /a HTTP/1.1\nHost: x\n\n"

static void
test_head_length(void)
{
	static const struct frame_case cases[] = {
		{ HEAD_CRLF "GET /b HTTP/1.1\r\n\r\n", 1024, 0, LEN(HEAD_CRLF),
		    "head: through the first blank line (CRLF)" },
		{ HEAD_LF "rest", 1024, 0, LEN(HEAD_LF),
		    "head: through a bare-LF blank line from a lax client" },
		{ HEAD_OPEN, 1024, 0, 0, "head: no blank line yet, read more" },
		{ HEAD_OPEN, 1024, 1, LEN(HEAD_OPEN),
		    "head: at end of stream, everything buffered" },
		{ HEAD_CRLF "GET /b HTTP/1.1\r\n\r\n", 16, 0, 16,
		    "head: no blank line within max bytes gives max" },
		{ "\r\n\n" HEAD_CRLF "GET /b", 1024, 0, 3 + LEN(HEAD_CRLF),
		    "head: the empty lines before it are part of it" },
		{ "\r\n\r\n", 1024, 0, 0,
		    "head: empty lines alone: read more" },
		{ "\r\n\r\n\r\n\r\n\r\n" HEAD_CRLF, 1024, 0, 10,
		    "head: one empty line more than UP_HTTP_EMPTY_MAX ends it" },
		{ "GET /\r\n", 1024, 0, 7,
		    "head: a request line with no version ends it at once" },
		{ "GET /\nmore", 1024, 0, 6,
		    "head: so does one ended by a bare LF" },
		{ "GET /", 1024, 0, 0,
		    "head: a request line not yet ended: read more" },
	};

	check_frames(up_http_head_length, cases, NITEMS(cases));
}

/* --- line requests through the service --------------------------------- */

static void
test_line(void)
{
	struct up_proto p = { up_request_length, 1024, 0, 0 };
	struct up_request r;
	char buf[256], want[256];
	char text[] = "Hello, w\xc3\xb6rld! {az}\r\n";
	const char up[] = "HELLO, W\xc3\xb6RLD! {AZ}\r\n";
	size_t n;
	int i, others = 1;

	/* Every byte value once: only a-z change. */
	for (i = 0; i < 256; i++) {
		buf[i] = (char)i;
		want[i] = (char)(i >= 'a' && i <= 'z' ? i - 'a' + 'A' : i);
	}
	memset(&r, 0xa5, sizeof(r));
	up_request_open(&p, &r, buf, sizeof(buf));
	CHECK_INT(r.status, 200, "line: a line is always served (status 200)");
	CHECK(r.next == UP_NEXT_READ, "line: next is UP_NEXT_READ");
	CHECK_INT(r.room, 0, "line: room 0, the reply is made in place");
	CHECK_INT(up_request_status(&p, &r), 0,
	    "line: status for the log is 0 (not shown)");
	up_request_reply(&p, &r, NULL);
	CHECK(r.reply == buf, "line: the reply is the request's own bytes");
	CHECK_INT(r.replylen, sizeof(buf),
	    "line: reply length == request length");
	CHECK_INT(r.body, sizeof(buf), "line: body == request length");
	CHECK_MEM(buf, sizeof(buf), want, sizeof(want),
	    "line: all 256 byte values: a-z uppercased, every other byte "
	    "unchanged");
	for (i = 0; i < 256; i++)
		if ((i < 'a' || i > 'z') && (unsigned char)buf[i] != i)
			others = 0;
	CHECK(others, "line: NUL, \\r, 0x80-0xff and the rest pass unchanged");
	CHECK(buf[0] == '\0' && buf['\r'] == '\r' && (unsigned char)buf[0x80] ==
	    0x80 && (unsigned char)buf[0xff] == 0xff,
	    "line: NUL, \\r, 0x80 and 0xff in particular");
	CHECK(buf['`'] == '`' && buf['{'] == '{' && buf['@'] == '@' &&
	    buf['['] == '[',
	    "line: the neighbours of a-z and A-Z are left alone");

	n = up_request_length(text, LEN(text), p.max_line, 0);
	CHECK_INT(n, LEN(text), "line: a CRLF line is framed whole");
	up_request_open(&p, &r, text, n);
	up_request_reply(&p, &r, NULL);
	CHECK_MEM(r.reply, r.replylen, up, LEN(up),
	    "line: UTF-8 and CRLF pass through, ASCII is uppercased");
	CHECK_INT(up_request_status(&p, &r), 0,
	    "line: still no status in the log");
}

static void
test_read_framing(void)
{
	struct up_proto p = { up_read_length, 1024, 0, 0 };
	struct up_request r;
	char buf[] = "hello";
	size_t n;

	n = p.frame(buf, LEN(buf), p.max_line, 0);
	up_request_open(&p, &r, buf, n);
	up_request_reply(&p, &r, NULL);
	CHECK(r.status == 200 && r.next == UP_NEXT_READ && r.room == 0,
	    "read framing: served, read on, in place");
	CHECK_MEM(r.reply, r.replylen, "HELLO", 5,
	    "read framing: \"hello\" with no newline is answered \"HELLO\"");
}

/* The log's "framing=" word: none for a line, else how it was cut. */
static int
same_word(const char *got, const char *want)
{
	if (got == NULL || want == NULL)
		return got == want;
	return strcmp(got, want) == 0;
}

static void
test_request_cut(void)
{
	struct up_proto line = { up_request_length, 4, 0, 0 };
	struct up_proto read = { up_read_length, 4, 0, 0 };
	struct up_proto http = { up_http_head_length, 4, 1, 0 };

	CHECK(same_word(up_request_cut(&line, "ab\n", 3, 0), NULL) &&
	    same_word(up_request_cut(&line, "ab\n", 3, 1), NULL),
	    "cut: a whole line has no framing= word, at eof too");
	CHECK(same_word(up_request_cut(&line, "abc", 3, 0), "pause"),
	    "cut: bytes with no newline before the end of stream: pause");
	CHECK(same_word(up_request_cut(&line, "ab", 2, 1), "eof"),
	    "cut: the last bytes before the end of stream: eof");
	CHECK(same_word(up_request_cut(&line, "abcd", 4, 0), "max-line") &&
	    same_word(up_request_cut(&line, "abcd", 4, 1), "max-line"),
	    "cut: a --max-line piece: max-line");
	CHECK(same_word(up_request_cut(&read, "ab\n", 3, 0), "read"),
	    "cut: --framing read: read, even for a line");
	CHECK(same_word(up_request_cut(&http, "GET", 3, 1), NULL),
	    "cut: HTTP heads: none");
}

/* The 408 of --request-timeout under --http. */
static void
test_http_timeout(void)
{
	char out[UP_HTTP_HEAD_MAX];
	static const char want[] = "HTTP/1.1 408 Request Timeout\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 20\r\n"
	    "Connection: close\r\n"
	    "\r\n"
	    "408 Request Timeout\n";
	size_t n;

	n = up_http_timeout_response(out, sizeof(out));
	CHECK_MEM(out, n, want, LEN(want),
	    "http: 408 Request Timeout with Connection: close");
}

/* --- HTTP through the service ------------------------------------------ */

/*
 * Serves the first head of text as a server would (framed with
 * p->frame, eof as given): opens it, makes the reply into an output
 * buffer of exactly r->room bytes (so a sanitizer build sees an
 * overrun), and returns that buffer, to be freed; r holds the rest.
 * *buf gets a copy of the request, left for the caller to compare.
 */
static char *
serve(const struct up_proto *p, const char *text, size_t len, int eof,
    struct up_request *r, char **buf)
{
	size_t n;
	char *out;

	*buf = malloc(len + 1);
	if (*buf == NULL)
		abort();
	memcpy(*buf, text, len + 1);
	n = p->frame(*buf, len, p->max_line, eof);
	memset(r, 0xa5, sizeof(*r));
	up_request_open(p, r, *buf, n);
	out = malloc(r->room > 0 ? r->room : 1);
	if (out == NULL)
		abort();
	up_request_reply(p, r, out);
	return out;
}

/* Where the head of a response ends: the length through "\r\n\r\n". */
static size_t
head_len(const char *resp, size_t len)
{
	size_t i;

	for (i = 0; i + 4 <= len; i++)
		if (memcmp(resp + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return 0;
}

static void
test_http_get(void)
{
	struct up_proto p = { up_http_head_length, 1024, 1, 0 };
	const char req[] = "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n";
	struct up_request r;
	char *buf, *out;
	size_t h;

	out = serve(&p, req, LEN(req), 0, &r, &buf);
	CHECK_INT(r.len, LEN(req), "GET: the head is framed whole");
	CHECK_INT(r.status, 200, "GET keep-alive: status 200");
	CHECK_INT(up_request_status(&p, &r), 200,
	    "GET: status for the log is 200");
	CHECK(r.next == UP_NEXT_READ,
	    "GET HTTP/1.1: next is UP_NEXT_READ (kept alive)");
	CHECK(r.reply == out, "GET: the reply is written into out");
	CHECK(r.replylen > 0 && r.room >= r.replylen,
	    "GET: room (%zu) >= the response's length (%zu)", r.room,
	    r.replylen);
	CHECK_MEM(out, LEN("HTTP/1.1 200 OK\r\n"), "HTTP/1.1 200 OK\r\n",
	    LEN("HTTP/1.1 200 OK\r\n"), "GET: status line HTTP/1.1 200 OK");
	CHECK(check_contains(out, r.replylen,
	    "\r\nContent-Type: text/plain\r\n"),
	    "GET: Content-Type: text/plain");
	CHECK(check_contains(out, r.replylen, "\r\nContent-Length: 7\r\n"),
	    "GET: Content-Length: 7, \"/HELLO\\n\"");
	CHECK(!check_contains(out, r.replylen, "Connection:"),
	    "GET HTTP/1.1 kept alive: no Connection header");
	h = head_len(out, r.replylen);
	CHECK_MEM(out + h, r.replylen - h, "/HELLO\n", 7,
	    "GET: the body is the uppercased target and a newline");
	CHECK_INT(r.body, 7,
	    "GET: body (responded bytes=) is the body's length");
	CHECK_MEM(buf, LEN(req), req, LEN(req),
	    "GET: the request in the read buffer is left as it was");
	free(out);
	free(buf);
}

/*
 * A request served (status 200), what the connection does next, and what
 * the response may be checked for: a header line, its body (NULL: not
 * checked).
 */
struct served_case {
	const char	*req;
	enum up_next	 next;
	const char	*what;
	const char	*header;
	const char	*header_what;
	const char	*body;
	const char	*body_what;
};

static void
test_http_keepalive(void)
{
	static const struct served_case cases[] = {
		{ "GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		    UP_NEXT_LINGER,
		    "Connection: close: served (200), then UP_NEXT_LINGER",
		    "\r\nConnection: close\r\n",
		    "Connection: close: the response says Connection: close "
		    "too",
		    "/BYE\n",
		    "Connection: close: still the uppercased target as body" },
		{ "GET /x HTTP/1.1\r\nHost: x\r\n"
		    "Connection: keep-alive, close\r\n\r\n",
		    UP_NEXT_LINGER, "\"keep-alive, close\": close wins",
		    NULL, NULL, NULL, NULL },
		{ "GET /x HTTP/1.1\r\nhost: x\r\nconnection:  CLOSE \r\n\r\n",
		    UP_NEXT_LINGER,
		    "header name and token in any case: connection: CLOSE",
		    NULL, NULL, NULL, NULL },
		{ "GET /old HTTP/1.0\r\n\r\n", UP_NEXT_LINGER,
		    "HTTP/1.0: answered, then closed",
		    "\r\nConnection: close\r\n",
		    "HTTP/1.0: the response says Connection: close",
		    NULL, NULL },
		{ "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		    UP_NEXT_READ,
		    "HTTP/1.0 with Connection: keep-alive: kept open",
		    "\r\nConnection: keep-alive\r\n",
		    "HTTP/1.0 keep-alive: the response says so too",
		    NULL, NULL },
		{ "GET /lax HTTP/1.1\nHost: x\n\n", UP_NEXT_READ,
		    "a head ended by a bare-LF blank line is served",
		    NULL, NULL, NULL, NULL },
		{ "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		    UP_NEXT_READ, "Content-Length: 0 is no body: served",
		    NULL, NULL, NULL, NULL },
		{ "\r\n\r\n\nGET /late HTTP/1.1\r\nHost: x\r\n\r\n",
		    UP_NEXT_READ, "empty lines before the request line: ignored",
		    NULL, NULL, "/LATE\n", "empty lines first: the target served" },
		{ "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		    UP_NEXT_READ, "HTTP/1.0 needs no Host: served",
		    NULL, NULL, NULL, NULL },
	};
	struct up_proto p = { up_http_head_length, 1024, 1, 0 };
	const struct served_case *c;
	struct up_request r;
	char *buf, *out;
	size_t h;

	for (c = cases; c < cases + NITEMS(cases); c++) {
		out = serve(&p, c->req, strlen(c->req), 0, &r, &buf);
		CHECK(r.status == 200 && r.next == c->next, "%s", c->what);
		if (c->header != NULL)
			CHECK(check_contains(out, r.replylen, c->header), "%s",
			    c->header_what);
		if (c->body != NULL) {
			h = head_len(out, r.replylen);
			CHECK_MEM(out + h, r.replylen - h, c->body,
			    strlen(c->body), "%s", c->body_what);
		}
		free(out);
		free(buf);
	}
}

static void
test_http_pipelined(void)
{
	struct up_proto p = { up_http_head_length, 1024, 1, 0 };
	char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /b?q=x%20y HTTP/1.1\r\nHost: x\r\n\r\n";
	struct up_request r;
	char out[UP_HTTP_HEAD_MAX + 64];
	size_t n, h, off;

	n = p.frame(two, LEN(two), p.max_line, 0);
	up_request_open(&p, &r, two, n);
	up_request_reply(&p, &r, out);
	h = head_len(out, r.replylen);
	CHECK(r.status == 200 && r.next == UP_NEXT_READ &&
	    r.replylen - h == 3 && memcmp(out + h, "/A\n", 3) == 0,
	    "pipelined: the first head is answered alone");
	off = n;
	n = p.frame(two + off, LEN(two) - off, p.max_line, 0);
	CHECK_INT(off + n, LEN(two), "pipelined: the second head follows");
	up_request_open(&p, &r, two + off, n);
	up_request_reply(&p, &r, out);
	h = head_len(out, r.replylen);
	CHECK_MEM(out + h, r.replylen - h, "/B?Q=X%20Y\n", 11,
	    "pipelined: the second's target uppercased, query and all");
}

static void
test_http_head(void)
{
	struct up_proto p = { up_http_head_length, 1024, 1, 0 };
	const char get[] = "GET /abc HTTP/1.1\r\nHost: x\r\n\r\n";
	const char head[] = "HEAD /abc HTTP/1.1\r\nHost: x\r\n\r\n";
	struct up_request rg, rh;
	char *bg, *bh, *og, *oh;

	og = serve(&p, get, LEN(get), 0, &rg, &bg);
	oh = serve(&p, head, LEN(head), 0, &rh, &bh);
	CHECK(rh.status == 200 && rh.next == UP_NEXT_READ,
	    "HEAD: served (200), kept alive");
	CHECK_INT(head_len(oh, rh.replylen), rh.replylen,
	    "HEAD: the response ends with its head, no body");
	CHECK(check_contains(oh, rh.replylen, "\r\nContent-Length: 5\r\n"),
	    "HEAD: Content-Length of the body a GET would get");
	CHECK_MEM(oh, rh.replylen, og, head_len(og, rg.replylen),
	    "HEAD: the same head as GET's");
	free(og);
	free(oh);
	free(bg);
	free(bh);
}

/*
 * An error: its status, a closing response with a one-line body, and
 * for a 405 the methods that are allowed.
 */
static void
check_error(const struct up_proto *p, const char *what, const char *text,
    int eof, int status, const char *line)
{
	struct up_request r;
	char statusline[80], bodyline[80], *buf, *out;
	size_t h;

	snprintf(statusline, sizeof(statusline), "HTTP/1.1 %s\r\n", line);
	snprintf(bodyline, sizeof(bodyline), "%s\n", line);
	out = serve(p, text, strlen(text), eof, &r, &buf);
	CHECK_INT(r.status, status, "%s: status %d", what, status);
	CHECK_INT(up_request_status(p, &r), status,
	    "%s: the log says status=%d", what, status);
	CHECK(r.next == UP_NEXT_LINGER, "%s: next is UP_NEXT_LINGER", what);
	CHECK(r.replylen > 0 && r.replylen <= r.room &&
	    strncmp(out, statusline, strlen(statusline)) == 0,
	    "%s: the response begins \"HTTP/1.1 %s\"", what, line);
	CHECK(check_contains(out, r.replylen, "\r\nConnection: close\r\n"),
	    "%s: the response says Connection: close", what);
	if (status == 405)
		CHECK(check_contains(out, r.replylen,
		    "\r\nAllow: GET, HEAD\r\n"),
		    "%s: 405: the response says Allow: GET, HEAD", what);
	h = head_len(out, r.replylen);
	CHECK_MEM(out + h, r.replylen - h, bodyline, strlen(bodyline),
	    "%s: its body explains in one line", what);
	CHECK_INT(r.body, strlen(bodyline), "%s: body is that line's length",
	    what);
	free(out);
	free(buf);
}

#define E400	"400 Bad Request"
#define E405	"405 Method Not Allowed"

static void
test_http_errors(void)
{
	static const struct {
		size_t		 max_line;
		const char	*what;
		const char	*text;
		int		 eof;
		int		 status;
		const char	*line;
	} cases[] = {
		{ 1024, "malformed request line", "GARBAGE\r\n\r\n", 0, 400,
		    E400 },
		{ 1024, "no target", "GET  HTTP/1.1\r\n\r\n", 0, 400, E400 },
		{ 1024, "malformed header",
		    "GET / HTTP/1.1\r\nno colon\r\n\r\n", 0, 400, E400 },
		{ 1024, "head cut by the end of stream",
		    "GET / HTTP/1.1\r\nHost: x\r\n", 1, 400, E400 },
		{ 1024, "a request with a body",
		    "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 0, 400,
		    E400 },
		{ 1024, "chunked body",
		    "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
		    400, E400 },
		{ 32, "head longer than --max-line",
		    "GET /this/is/long HTTP/1.1\r\nHost: example.org\r\n\r\n",
		    0, 431, "431 Request Header Fields Too Large" },
		{ 1024, "POST", "POST / HTTP/1.1\r\nHost: x\r\n\r\n", 0, 405,
		    E405 },
		{ 1024, "lowercase get", "get / HTTP/1.1\r\nHost: x\r\n\r\n", 0,
		    405, E405 },
		{ 1024, "DELETE", "DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n", 0,
		    405, E405 },
		{ 1024, "HTTP/1.1 without Host (RFC 9112, 3.2)",
		    "GET / HTTP/1.1\r\n\r\n", 0, 400, E400 },
		{ 1024, "two Host lines",
		    "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 0, 400,
		    E400 },
		{ 1024, "more empty lines first than UP_HTTP_EMPTY_MAX",
		    "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 0,
		    400, E400 },
		{ 1024, "HTTP/0.9: a request line with no version, at once",
		    "GET /\r\n", 0, 400, E400 },
		{ 1024, "a request line with no version, after empty lines",
		    "\r\nGET /\n", 0, 400, E400 },
		{ 1024, "HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 0, 505,
		    "505 HTTP Version Not Supported" },
	};
	struct up_proto p = { up_http_head_length, 0, 1, 0 };
	size_t i;

	for (i = 0; i < NITEMS(cases); i++) {
		p.max_line = cases[i].max_line;
		check_error(&p, cases[i].what, cases[i].text, cases[i].eof,
		    cases[i].status, cases[i].line);
	}
}

int
main(void)
{
	test_framer();
	test_request_length();
	test_read_length();
	test_head_length();
	test_line();
	test_read_framing();
	test_request_cut();
	test_http_timeout();
	test_http_get();
	test_http_keepalive();
	test_http_pipelined();
	test_http_head();
	test_http_errors();
	return check_done("proto");
}
