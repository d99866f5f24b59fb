/*
 * hist.c: upclient's latency histogram (client/hist.c), compiled in here
 * since it is the client's and not the library's.
 *
 * What -s and --hist print rests on it: a percentile within 1.6% of the
 * exact value whatever the spread, read from the merged counts, never
 * above the largest value seen; and a --hist file whose buckets cover
 * every value once, in order, ending at 100%.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/hist.c"
#include "check.h"

/* The exact percentile of sorted values: the rank ceil(p/100 * n). */
static int64_t
exact(const int64_t *v, size_t n, double percent)
{
	size_t rank = (size_t)(percent / 100.0 * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every value below 64 us has its own bucket: percentiles are exact. */
static void
test_exact_below_64(void)
{
	static struct hist h;
	int64_t us;

	memset(&h, 0, sizeof(h));
	for (us = 0; us < 64; us++)
		hist_add(&h, us * 1000);
	CHECK_INT(hist_percentile(&h, 50), 31, "p50 of 0..63 us");
	CHECK_INT(hist_percentile(&h, 100), 63, "p100 of 0..63 us");
	CHECK_INT(hist_percentile(&h, 0), 0, "p0 is the smallest");
	CHECK_INT(h.max_us, 63, "the exact max");
}

/*
 * A long-tailed spread from 1 us to 8 s: every percentile that -s
 * prints is within 1.6% (plus a microsecond) of the exact one.
 */
static void
test_relative_error(void)
{
	static const double ps[] = { 50, 90, 99, 99.9, 99.99, 100 };
	static struct hist h;
	enum { N = 200000 };
	int64_t *v, got, want;
	double err;
	size_t i;
	int k, ok = 1;

	memset(&h, 0, sizeof(h));
	if ((v = malloc(N * sizeof(*v))) == NULL)
		abort();
	srand(25);
	for (i = 0; i < N; i++) {
		/* a power of two from 1 us to 4 s, spread within it */
		k = rand() % 23;
		v[i] = (INT64_C(1) << k) + rand() % (INT64_C(1) << k);
		hist_add(&h, v[i] * 1000);
	}
	qsort(v, N, sizeof(*v), cmp64);
	for (i = 0; i < NITEMS(ps); i++) {
		got = hist_percentile(&h, ps[i]);
		want = exact(v, N, ps[i]);
		err = (double)(got > want ? got - want : want - got);
		if (err > 0.016 * (double)want + 1) {
			printf("#   p%g: %lld us, exact %lld us\n", ps[i],
			    (long long)got, (long long)want);
			ok = 0;
		}
	}
	CHECK(ok, "p50 to p100 of a long-tailed spread within 1.6%%");
	CHECK_INT(hist_percentile(&h, 100), v[N - 1],
	    "p100 is the exact max, not its bucket's middle");
	free(v);
}

/*
 * The --hist file: two comment lines, then buckets rising in value and
 * percentile, counts adding up to the total, 100% and inf at the end.
 */
static void
test_write(void)
{
	static struct hist h;
	char line[256], inv[32];
	double value, pct, last_value = -1, last_pct = -1;
	unsigned long long count, sum = 0;
	int lines = 0, ok = 1, ends = 0;
	FILE *f;
	int i;

	memset(&h, 0, sizeof(h));
	for (i = 0; i < 1000; i++)
		hist_add(&h, (int64_t)(i % 10 == 9 ? 500000 + i : 100 + i) *
		    1000);
	if ((f = tmpfile()) == NULL)
		abort();
	CHECK_INT(hist_write(&h, f), 0, "hist_write succeeds");
	rewind(f);
	CHECK(fgets(line, sizeof(line), f) != NULL && strcmp(line,
	    "# upclient latency histogram: requests=1000 max_ms=500.999\n")
	    == 0, "first line: the requests and the max");
	CHECK(fgets(line, sizeof(line), f) != NULL && strcmp(line,
	    "# value_ms count percentile inverse\n") == 0,
	    "second line: the columns");
	while (fgets(line, sizeof(line), f) != NULL) {
		lines++;
		if (sscanf(line, "%lf %llu %lf %31s", &value, &count, &pct,
		    inv) != 4 || value <= last_value || pct <= last_pct) {
			ok = 0;
			break;
		}
		ends = strcmp(inv, "inf") == 0;
		sum += count;
		last_value = value;
		last_pct = pct;
	}
	fclose(f);
	CHECK(ok && lines > 10, "%d bucket lines rising in value and"
	    " percentile", lines);
	CHECK_INT(sum, 1000, "the counts add up to the requests");
	CHECK(last_pct == 100.0 && ends, "the last line is 100%% and inf");
	CHECK(last_value == 500.999, "the last value is the exact max");
}

int
main(void)
{
	test_exact_below_64();
	test_relative_error();
	test_write();
	return check_done("hist");
}
