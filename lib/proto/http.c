/*
 * http.c: the minimal HTTP/1.1 of --http.
 *
 * Enough for curl, a browser and wrk: GET and HEAD, answered with 200 and
 * the uppercased request target as a text/plain body, keep-alive on
 * HTTP/1.1 unless the client says "Connection: close", and on HTTP/1.0
 * only when it says "Connection: keep-alive" (as ab -k does; the response
 * then says so too, or an HTTP/1.0 client would wait for the close that
 * ends a body). What is not understood is refused, then the
 * connection is closed, so the framing can never get out of step: a
 * malformed head gets 400, a head longer than --max-line 431, another
 * method 405, another version 505, a request with a body 400, and as
 * RFC 9112 (section 3.2) requires, an HTTP/1.1 request without a Host
 * line, or any with two, 400. Empty lines before the request line are
 * ignored (section 2.2), UP_HTTP_EMPTY_MAX of them: one more is a
 * malformed request, so that a client trickling empty lines holds its
 * connection for at most ten bytes (each of which restarts -t), not for
 * ever. A request line with no version (HTTP/0.9's "GET /") gets its 400
 * as soon as the line ends, not after a blank line that such a client
 * never sends.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/proto.h"

/*
 * The length of the empty lines ("\r\n", or "\n") at the start of
 * buf[0..n), at most UP_HTTP_EMPTY_MAX + 1 of them; their number in
 * *lines.
 */
static size_t
empty_lines(const char *buf, size_t n, int *lines)
{
	size_t i = 0;

	for (*lines = 0; *lines <= UP_HTTP_EMPTY_MAX; ++*lines) {
		if (i < n && buf[i] == '\n')
			i++;
		else if (i + 1 < n && buf[i] == '\r' && buf[i + 1] == '\n')
			i += 2;
		else
			break;
	}
	return i;
}

/*
 * Is [p, le) (a request line without its line end) one that a head of
 * header lines may follow: one that ends in " HTTP/" and three bytes?
 * Anything else (HTTP/0.9's "GET /" above all) is answered at once.
 */
static int
has_version(const char *p, const char *le)
{
	return le - p >= 9 && memcmp(le - 9, " HTTP/", 6) == 0;
}

/*
 * Length of the request head at the start of buf: up to and including the
 * blank line ("\r\n\r\n", or "\n\n" from a lax client), after up to
 * UP_HTTP_EMPTY_MAX empty lines (one more ends the head: a bad request),
 * or the request line alone when it has no version. Like
 * up_request_length, returns max when no head ends within max bytes (the
 * parser then says 431), everything at the end of stream (400), and 0 to
 * read more.
 */
size_t
up_http_head_length(const char *buf, size_t len, size_t max, int eof)
{
	size_t i, n = len < max ? len : max;
	const char *eol;
	int lines;

	i = empty_lines(buf, n, &lines);
	if (lines > UP_HTTP_EMPTY_MAX)
		return i;
	if ((eol = memchr(buf + i, '\n', n - i)) != NULL &&
	    !has_version(buf + i, eol > buf + i && eol[-1] == '\r' ?
	    eol - 1 : eol))
		return (size_t)(eol - buf) + 1;
	for (; i < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < n && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	if (len >= max)
		return max;
	return eof ? len : 0;
}

/* A token character of RFC 9110 (method and header names). */
static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~",
	    c) != NULL);
}

/* The end of the line starting at p (its '\n'), or NULL past end. */
static const char *
line_end(const char *p, const char *end)
{
	return memchr(p, '\n', (size_t)(end - p));
}

/* Does the comma-separated list value[0..len) hold token, any case? */
static int
has_token(const char *value, size_t len, const char *token)
{
	size_t tlen = strlen(token), i = 0, start;

	while (i < len) {
		while (i < len && (value[i] == ' ' || value[i] == '\t' ||
		    value[i] == ','))
			i++;
		start = i;
		while (i < len && value[i] != ',' && value[i] != ' ' &&
		    value[i] != '\t')
			i++;
		if (i - start == tlen &&
		    strncasecmp(value + start, token, tlen) == 0)
			return 1;
	}
	return 0;
}

/* Parses one header line [p, end) (no CRLF) into req; 0, or -1 if bad. */
static int
parse_header(const char *p, const char *end, struct up_http_request *req)
{
	const char *colon = p, *v;
	size_t nlen, vlen;

	while (colon < end && is_tchar((unsigned char)*colon))
		colon++;
	if (colon == p || colon == end || *colon != ':')
		return -1;
	nlen = (size_t)(colon - p);
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	vlen = (size_t)(end - v);
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (nlen == 10 && strncasecmp(p, "connection", 10) == 0) {
		/* "close" wins, whatever else any Connection line says */
		if (has_token(v, vlen, "close"))
			req->asked_close = 1;
		else if (has_token(v, vlen, "keep-alive") && req->minor == 0)
			req->keep_alive = 1;
		if (req->asked_close)
			req->keep_alive = 0;
	} else if (nlen == 14 && strncasecmp(p, "content-length", 14) == 0) {
		if (vlen != 1 || *v != '0')
			return -1;		/* a body: not for GET */
	} else if (nlen == 17 &&
	    strncasecmp(p, "transfer-encoding", 17) == 0)
		return -1;
	else if (nlen == 4 && strncasecmp(p, "host", 4) == 0)
		req->hosts++;
	return 0;
}

/*
 * Parses the head buf[0..len) that up_http_head_length framed (max is the
 * same bound). Fills *req; req->status is 200 for a request to serve, or
 * the error to answer before closing.
 */
void
up_http_parse(const char *buf, size_t len, size_t max,
    struct up_http_request *req)
{
	const char *p, *end = buf + len, *eol, *sp1, *sp2, *le, *line;
	int lines;

	memset(req, 0, sizeof(*req));
	req->status = 400;
	if (len < 2 || buf[len - 1] != '\n' || (buf[len - 2] != '\n' &&
	    (len < 3 || buf[len - 2] != '\r' || buf[len - 3] != '\n'))) {
		/*
		 * No blank line: cut by the bound, by the end of stream, or
		 * after a request line with no version.
		 */
		if (len >= max)
			req->status = 431;
		return;
	}
	/* Empty lines first are ignored: as many as the framing let by. */
	p = line = buf + empty_lines(buf, len, &lines);
	if (lines > UP_HTTP_EMPTY_MAX)
		return;
	/* Request line: METHOD SP TARGET SP HTTP/1.x */
	if ((eol = line_end(p, end)) == NULL)
		return;		/* empty lines only: no request line */
	le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
	sp1 = memchr(p, ' ', (size_t)(le - p));
	if (sp1 == NULL || sp1 == p)
		return;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1));
	if (sp2 == NULL || sp2 == sp1 + 1)
		return;
	for (const char *c = p; c < sp1; c++)
		if (!is_tchar((unsigned char)*c))
			return;
	for (const char *c = sp1 + 1; c < sp2; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return;
	if (le - sp2 - 1 != 8 || strncmp(sp2 + 1, "HTTP/", 5) != 0 ||
	    sp2[6] < '0' || sp2[6] > '9' || sp2[7] != '.' ||
	    sp2[8] < '0' || sp2[8] > '9')
		return;
	req->target = sp1 + 1;
	req->target_len = (size_t)(sp2 - sp1 - 1);
	req->minor = sp2[8] - '0';
	req->keep_alive = req->minor >= 1;
	if (sp2[6] != '1') {
		req->status = 505;
		req->keep_alive = 0;
		return;
	}
	/* Header lines up to the blank line. */
	for (p = eol + 1; p < end; p = eol + 1) {
		eol = line_end(p, end);
		le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
		if (le == p)
			break;			/* the blank line */
		if (parse_header(p, le, req) == -1) {
			req->keep_alive = 0;
			return;
		}
	}
	/* RFC 9112, 3.2: Host, once, in HTTP/1.1; never twice */
	if (req->hosts > 1 || (req->minor >= 1 && req->hosts == 0)) {
		req->keep_alive = 0;
		return;
	}
	if ((size_t)(sp1 - line) == 3 && strncmp(line, "GET", 3) == 0)
		req->status = 200;
	else if ((size_t)(sp1 - line) == 4 && strncmp(line, "HEAD", 4) == 0) {
		req->status = 200;
		req->head_only = 1;
	} else {
		req->status = 405;
		req->keep_alive = 0;
	}
	if (req->status != 200)
		req->keep_alive = 0;
}

/* The reason phrase of the statuses we answer. */
static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/*
 * Writes the response to req into out[0..cap): for 200 the uppercased
 * target and a newline as body (the head alone for HEAD), for an error a
 * one-line explanation. Returns its length, with the body's in *body
 * (what "responded bytes=" logs); cap must be at least
 * UP_HTTP_HEAD_MAX + req->target_len + 1.
 */
size_t
up_http_response(const struct up_http_request *req, char *out, size_t cap,
    size_t *body)
{
	char text[64];
	size_t blen;
	int n;

	if (req->status == 200)
		blen = req->target_len + 1;
	else {
		snprintf(text, sizeof(text), "%d %s\n", req->status,
		    reason(req->status));
		blen = strlen(text);
	}
	n = snprintf(out, cap, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %zu\r\n"
	    "%s%s"
	    "\r\n", req->status, reason(req->status), blen,
	    req->status == 405 ? "Allow: GET, HEAD\r\n" : "",
	    !req->keep_alive ? "Connection: close\r\n" :
	    req->minor == 0 ? "Connection: keep-alive\r\n" : "");
	if (n < 0 || (size_t)n + blen > cap)
		return 0;
	*body = blen;
	if (req->head_only)
		return (size_t)n;
	if (req->status == 200) {
		memcpy(out + n, req->target, req->target_len);
		up_uppercase(out + n, req->target_len);
		out[n + req->target_len] = '\n';
	} else
		memcpy(out + n, text, blen);
	return (size_t)n + blen;
}

/* The response to a head that took longer than --request-timeout. */
size_t
up_http_timeout_response(char *out, size_t cap)
{
	struct up_http_request req = { .status = 408, .minor = 1 };
	size_t body;

	return up_http_response(&req, out, cap, &body);
}
