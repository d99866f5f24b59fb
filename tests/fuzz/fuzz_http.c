/*
 * fuzz_http.c: the --http request framing, parser and response writer
 * under arbitrary input.
 *
 * The first byte chooses the head bound (--max-line, 16 to 4111); the rest
 * is what a client sends on one connection. Heads are framed and parsed
 * one after another as the servers do until one is refused or the stream
 * ends; every response must fit its buffer, carry one of the statuses the
 * man page names, and for 200 carry the uppercased target as its body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct up_http_request req;
	const char *p;
	size_t max, len, n, cap, out, body, i;
	char *resp;

	if (size < 1)
		return 0;
	max = 16 + (size_t)data[0] * 16;
	p = (const char *)data + 1;
	len = size - 1;
	cap = UP_HTTP_HEAD_MAX + max + 1;
	if ((resp = malloc(cap)) == NULL)
		abort();
	while (len > 0) {
		n = up_http_head_length(p, len, max, 1);
		if (n == 0 || n > len || n > max)
			abort();
		up_http_parse(p, n, max, &req);
		if (req.status != 200 && req.status != 400 &&
		    req.status != 405 && req.status != 431 &&
		    req.status != 505)
			abort();
		if (req.status != 200 && req.keep_alive)
			abort();	/* an error always closes */
		out = up_http_response(&req, resp, cap, &body);
		if (out == 0 || out > cap)
			abort();
		if (req.status == 200) {
			if (req.target < p || req.target + req.target_len >
			    p + n || memchr(req.target, ' ',
			    req.target_len) != NULL)
				abort();
			if (!req.head_only) {
				const char *b = resp + out - body;

				for (i = 0; i < req.target_len; i++) {
					char c = req.target[i];

					if (c >= 'a' && c <= 'z')
						c -= 'a' - 'A';
					if (b[i] != c)
						abort();
				}
				if (b[req.target_len] != '\n')
					abort();
			}
		}
		if (!req.keep_alive)
			break;
		p += n;
		len -= n;
	}
	free(resp);
	return 0;
}
