/*
 * fuzz_timeline.c: the event log parser and the timeline under arbitrary
 * input, as uptimeline reads a log.
 *
 * The input is split into lines; each is parsed, and every event is drawn
 * on one of eight rows (chosen by its peer) with the state its name
 * gives, at its own time: times out of order, far apart or absurd must
 * fold the timeline, never overflow it. The harness checks the parser's
 * contract (a parsed event has a name, a peer, and pairs inside the line)
 * and draws the picture at the end, every column of every row.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timeline/timeline.h"

#define ROWS	8
#define COLS	97

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	char top[COLS + 6], ruler[COLS + 6], v[16];
	struct up_timeline *tl = NULL;
	struct up_event ev;
	int64_t first = 0, last = 0, total;
	int i, j, state, marks;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (up_event_parse(p, (size_t)(nl - p), &ev) == -1)
			continue;
		if (ev.name[0] == '\0' || ev.peer[0] == '\0' ||
		    ev.rest < p || ev.rest + ev.restlen > nl ||
		    strlen(ev.peer) >= sizeof(ev.peer) || ev.ns < 0)
			abort();
		(void)up_event_value(&ev, "pid", v, sizeof(v));
		if (tl == NULL) {
			if ((tl = up_timeline_new(ev.ns)) == NULL)
				abort();
			for (i = 0; i < ROWS; i++)
				if (up_timeline_add_row(tl) != i)
					abort();
			first = last = ev.ns;
		}
		if (ev.ns > last)
			last = ev.ns;
		marks = ev.name[0] == 'r' ? UP_TL_REPLY : ev.name[0] == 'e' ?
		    UP_TL_ERROR : 0;
		state = ev.name[0] == 'c' ? UP_TL_NONE : ev.name[0] == 'a' ?
		    UP_TL_IDLE : UP_TL_BUSY;
		up_timeline_event(tl, (unsigned char)ev.peer[0] % ROWS, ev.ns,
		    marks, (enum up_tl_state)state);
		if (nl == end)
			break;
	}
	if (tl == NULL)
		return 0;
	up_timeline_end(tl, last);
	total = last - first > 0 ? last - first : 1;
	up_timeline_axis(top, ruler, 5, COLS, total, 8);
	if (strlen(ruler) != COLS + 5 || strlen(top) > COLS + 5)
		abort();
	for (i = 0; i < ROWS; i++)
		for (j = 0; j < COLS; j++)
			if (up_timeline_symbol(up_timeline_flags(tl, i,
			    (int64_t)((double)total * j / COLS),
			    (int64_t)((double)total * (j + 1) / COLS))) == '\0')
				abort();
	up_timeline_free(tl);
	return 0;
}
