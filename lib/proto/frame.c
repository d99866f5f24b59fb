/*
 * frame.c: what a request is, for every server.
 *
 * A request is a line: the bytes up to and including '\n'. A line longer
 * than max bytes is served in pieces of max bytes, and bytes left when the
 * client ends its stream form a last request, so the replies, put end to
 * end, are exactly the uppercase of everything the client sent.
 *
 * The tutorials' client sends "hello" with no newline and waits for its
 * reply without closing. Under --framing auto (the default) the servers
 * serve such bytes once the client has paused for UP_PAUSE_NS: a clock
 * the framing below has no part in, so the reader (reader.c) and the
 * event loop each keep it. --framing line waits for the newline.
 *
 * With --framing read a request is what one read(2) returned instead:
 * the tutorials' recv(1024). The replies are the same bytes in every
 * mode; only where one request ends and the next begins differs.
 */
#include <string.h>

#include "proto/proto.h"

/* Length of the first request in buf[0..len), or 0 to read more. */
size_t
up_request_length(const char *buf, size_t len, size_t max, int eof)
{
	const char *nl;

	nl = memchr(buf, '\n', len < max ? len : max);
	if (nl != NULL)
		return (size_t)(nl - buf) + 1;
	if (len >= max)
		return max;
	return eof ? len : 0;
}

/* Everything buffered, at most max bytes: one read's worth. */
size_t
up_read_length(const char *buf, size_t len, size_t max, int eof)
{
	(void)buf;
	(void)eof;
	return len < max ? len : max;
}

up_frame_func
up_framer(int http, enum up_framing framing)
{
	if (http)
		return up_http_head_length;
	if (framing == UP_FRAMING_READ)
		return up_read_length;
	return up_request_length;
}

/* NULL for a whole line or an HTTP head, else how it was cut. */
const char *
up_request_cut(const struct up_proto *p, const char *data, size_t len,
    int eof)
{
	if (p->http || len == 0)
		return NULL;
	if (p->frame == up_read_length)
		return "read";
	if (data[len - 1] == '\n')
		return NULL;
	if (len >= p->max_line)
		return "max-line";
	return eof ? "eof" : "pause";
}

/* ASCII a-z to A-Z; NUL, '\r' and bytes >= 0x80 pass unchanged. */
void
up_uppercase(char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] -= 'a' - 'A';
}

