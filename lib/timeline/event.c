/*
 * event.c: reading the event log back, one line at a time (uptimeline).
 *
 * The format is the one core/log.c writes (see upserver(1)):
 *
 *	<seconds>.<microseconds> <event> <peer> [key=value ...]
 *
 * Anything else is not an event: a line cut short, a diagnostic, a shell
 * prompt, binary garbage. The parser never reads outside the line it is
 * given and never trusts a length or a number it has not checked.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "timeline/timeline.h"

/* At most this many seconds, so that the time fits in int64_t ns. */
#define MAX_SECONDS	9000000000LL

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
up_event_parse(const char *line, size_t len, struct up_event *ev)
{
	const char *p = line, *end = line + len, *w;
	int64_t secs = 0, frac = 0, scale = UP_NS_PER_SEC;
	size_t n;

	memset(ev, 0, sizeof(*ev));
	if (len > 0 && end[-1] == '\n')
		end--;
	if (end > p && end[-1] == '\r')
		end--;

	/* <seconds>.<fraction>: 1 to 10 digits, a dot, 1 to 9 digits */
	for (n = 0; p < end && is_digit(*p); p++, n++) {
		if (n == 10)
			goto bad;
		secs = secs * 10 + (*p - '0');
	}
	if (n == 0 || secs > MAX_SECONDS || p == end || *p++ != '.')
		goto bad;
	for (n = 0; p < end && is_digit(*p); p++, n++) {
		if (n == 9)
			goto bad;
		scale /= 10;
		frac += (*p - '0') * scale;
	}
	if (n == 0 || p == end || *p++ != ' ')
		goto bad;
	ev->ns = secs * UP_NS_PER_SEC + frac;

	/* <event>: lowercase letters */
	for (w = p; p < end && *p >= 'a' && *p <= 'z'; p++)
		;
	n = (size_t)(p - w);
	if (n == 0 || n >= sizeof(ev->name) || p == end || *p++ != ' ')
		goto bad;
	memcpy(ev->name, w, n);

	/* <peer>: printable, no blank */
	for (w = p; p < end && *p > ' ' && *p < 0x7f; p++)
		;
	n = (size_t)(p - w);
	if (n == 0 || n >= sizeof(ev->peer) || (p < end && *p != ' '))
		goto bad;
	memcpy(ev->peer, w, n);

	/* the key=value pairs, kept as they are */
	if (p < end)
		p++;
	ev->rest = p;
	ev->restlen = (size_t)(end - p);
	return 0;
bad:
	memset(ev, 0, sizeof(*ev));
	errno = EINVAL;
	return -1;
}

int
up_event_value(const struct up_event *ev, const char *key, char *buf,
    size_t len)
{
	const char *p = ev->rest, *end = ev->rest + ev->restlen, *w;
	size_t klen = strlen(key), n;

	while (p < end) {
		for (w = p; p < end && *p != ' '; p++)
			;
		n = (size_t)(p - w);
		if (n > klen && memcmp(w, key, klen) == 0 && w[klen] == '=') {
			n -= klen + 1;
			if (n >= len) {
				errno = ENOSPC;
				return -1;
			}
			memcpy(buf, w + klen + 1, n);
			buf[n] = '\0';
			return 0;
		}
		if (p < end)
			p++;
	}
	errno = ENOENT;
	return -1;
}
