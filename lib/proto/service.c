/*
 * service.c: the service itself, a request in, its reply and what the
 * connection does next out, with no socket in sight.
 *
 * Every server drives it the same way: frame a request out of what it
 * read, open it, do the work if its status is 200, make the reply, send
 * it, then read on or linger and close as it says. How the reading, the
 * work and the sending wait (blocking calls, a timer, a coroutine) is
 * the model's business; what the bytes are is decided here, once.
 */
#include "proto/proto.h"

void
up_request_open(const struct up_proto *p, struct up_request *r, char *data,
    size_t len)
{
	r->data = data;
	r->len = len;
	r->reply = NULL;
	r->replylen = r->body = 0;
	r->cut = NULL;
	if (!p->http) {
		/* A line is always served, its reply made over it. */
		r->status = 200;
		r->next = UP_NEXT_READ;
		r->room = 0;
		return;
	}
	up_http_parse(data, len, p->max_line, &r->http);
	r->status = r->http.status;
	r->next = r->http.keep_alive ? UP_NEXT_READ : UP_NEXT_LINGER;
	/* the head, and the target again as the body */
	r->room = UP_HTTP_HEAD_MAX + r->http.target_len + 1;
}

void
up_request_reply(const struct up_proto *p, struct up_request *r, char *out)
{
	if (!p->http) {
		up_uppercase(r->data, r->len);
		r->reply = r->data;
		r->replylen = r->body = r->len;
		return;
	}
	r->replylen = up_http_response(&r->http, out, r->room, &r->body);
	r->reply = out;
}

int
up_request_status(const struct up_proto *p, const struct up_request *r)
{
	return p->http ? r->status : 0;
}
