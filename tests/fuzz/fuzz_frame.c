/*
 * fuzz_frame.c: the request framing and uppercasing under arbitrary input.
 *
 * The first two bytes choose --max-line (1 to 256) and the size of the
 * reads (1 to 256); the rest is the stream a client sends. The stream is
 * fed through a buffer of max-line bytes exactly as the servers do, and
 * the harness checks the contract: every request is 1 to max bytes, ends
 * in '\n' unless it is max bytes long or the last one, and the replies
 * put end to end are the ASCII uppercase of the input, byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max, chunk, fed = 0, len = 0, out = 0, n, i;
	char *buf, *reply;
	int eof = 0;

	if (size < 2)
		return 0;
	max = (size_t)data[0] + 1;
	chunk = (size_t)data[1] + 1;
	data += 2;
	size -= 2;
	if ((buf = malloc(max)) == NULL || (reply = malloc(size + 1)) == NULL)
		abort();
	for (;;) {
		n = up_request_length(buf, len, max, eof);
		if (n == 0) {
			if (eof)
				break;
			/* a read of at most chunk bytes into the free space */
			if (len == max)
				abort();	/* full buffer, no request */
			n = size - fed;
			if (n > chunk)
				n = chunk;
			if (n > max - len)
				n = max - len;
			if (n == 0)
				eof = 1;
			memcpy(buf + len, data + fed, n);
			len += n;
			fed += n;
			continue;
		}
		if (n > len || n > max)
			abort();
		if (buf[n - 1] != '\n' && n != max && !(eof && n == len))
			abort();
		if (memchr(buf, '\n', n - 1) != NULL)
			abort();	/* a newline inside a request */
		up_uppercase(buf, n);
		memcpy(reply + out, buf, n);
		out += n;
		memmove(buf, buf + n, len - n);
		len -= n;
	}
	if (out != size || len != 0)
		abort();	/* bytes lost or invented */
	for (i = 0; i < size; i++) {
		uint8_t c = data[i];

		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if ((uint8_t)reply[i] != c)
			abort();
	}
	free(buf);
	free(reply);
	return 0;
}
