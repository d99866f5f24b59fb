/*
 * hist.c: request latencies in a log-linear histogram.
 *
 * Keeping every latency of a long run would cost memory without bound;
 * sorting them, time at the end. Like HdrHistogram, the histogram keeps
 * a count per bucket instead: values below 64 us have a bucket each, and
 * each power of two above has 32 buckets, so a bucket is never wider than
 * 1/32 of the values in it, and a percentile read from it is within
 * 1.6% of the truth. Adding is O(1) and the whole thing is 8 KiB
 * whatever the number of requests.
 */
#include <stdint.h>
#include <stdio.h>

#include "client.h"

#define SUB_COUNT	(1 << (HIST_SUB_BITS + 1))	/* 64: exact range */
#define SUB_HALF	(1 << HIST_SUB_BITS)		/* 32 per octave */
#define MAX_US		((INT64_C(1) << 36) - 1)

/* The bucket of a value in microseconds. */
static int
bucket_of(int64_t us)
{
	int msb, shift;

	if (us < SUB_COUNT)
		return (int)us;
	msb = 63 - __builtin_clzll((unsigned long long)us);
	shift = msb - HIST_SUB_BITS;
	return SUB_COUNT + (shift - 1) * SUB_HALF +
	    (int)((us >> shift) - SUB_HALF);
}

/* The middle of the values in microseconds that fall in bucket b. */
static int64_t
bucket_middle(int b)
{
	int shift;
	int64_t sub;

	if (b < SUB_COUNT)
		return b;
	shift = (b - SUB_COUNT) / SUB_HALF + 1;
	sub = (b - SUB_COUNT) % SUB_HALF + SUB_HALF;
	return (sub << shift) + ((INT64_C(1) << shift) - 1) / 2;
}

/* Counts one latency of ns nanoseconds. */
void
hist_add(struct hist *h, int64_t ns)
{
	int64_t us = ns < 0 ? 0 : ns / 1000;

	if (us > MAX_US)
		us = MAX_US;
	h->count[bucket_of(us)]++;
	h->total++;
	if (us > h->max_us)
		h->max_us = us;
}

/*
 * The percentile in microseconds: the middle of the bucket that holds it
 * (within 1.6% of every value there), never above the largest value,
 * and the largest value itself for the last rank (p100); 0 when nothing
 * was counted.
 */
int64_t
hist_percentile(const struct hist *h, double percent)
{
	uint64_t rank, seen = 0;
	int64_t mid;
	int b;

	if (h->total == 0)
		return 0;
	rank = (uint64_t)(percent / 100.0 * (double)h->total + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank >= h->total)
		return h->max_us;	/* the last value: known exactly */
	for (b = 0; b < HIST_BUCKETS; b++) {
		seen += h->count[b];
		if (seen >= rank)
			break;
	}
	mid = bucket_middle(b < HIST_BUCKETS ? b : HIST_BUCKETS - 1);
	return mid < h->max_us ? mid : h->max_us;
}

/* The largest value in microseconds that falls in bucket b. */
static int64_t
bucket_high(int b)
{
	int shift;
	int64_t sub;

	if (b < SUB_COUNT)
		return b;
	shift = (b - SUB_COUNT) / SUB_HALF + 1;
	sub = (b - SUB_COUNT) % SUB_HALF + SUB_HALF;
	return ((sub + 1) << shift) - 1;
}

/*
 * The distribution for plotting: two comment lines, then per bucket that
 * counted anything "value_ms count percentile inverse", where value_ms
 * is the bucket's largest value (the largest value seen, for the last),
 * percentile the share of requests at or below it (0 to 100) and inverse
 * 1/(1 - share), "inf" on the last line: the x axis of wrk2's plots.
 * Returns 0, or -1 with errno.
 */
int
hist_write(const struct hist *h, FILE *f)
{
	uint64_t seen = 0;
	int64_t high;
	double share;
	int b;

	fprintf(f, "# upclient latency histogram: requests=%llu max_ms=%.3f\n",
	    (unsigned long long)h->total, (double)h->max_us / 1e3);
	fprintf(f, "# value_ms count percentile inverse\n");
	for (b = 0; b < HIST_BUCKETS; b++) {
		if (h->count[b] == 0)
			continue;
		seen += h->count[b];
		high = bucket_high(b);
		if (high > h->max_us)
			high = h->max_us;
		share = (double)seen / (double)h->total;
		if (seen == h->total)
			fprintf(f, "%.3f %llu %.6f inf\n", (double)high / 1e3,
			    (unsigned long long)h->count[b], 100.0);
		else
			fprintf(f, "%.3f %llu %.6f %.3f\n", (double)high / 1e3,
			    (unsigned long long)h->count[b], share * 100.0,
			    1.0 / (1.0 - share));
	}
	return ferror(f) ? -1 : 0;
}
