#!/usr/bin/env bats
# upclient -R: open-loop load on a fixed schedule, latency counted from
# when each request was due (issue 25).

# status, output, lines, stderr: set by bats' run; PORT: by start_server
# shellcheck disable=SC2154,SC2153,SC2030,SC2031

load helpers
load client-helpers

teardown() {
	teardown_server
}

# ms_at_least FILE KEY MS: the stat KEY in FILE is at least MS.
ms_at_least() {
	awk -F': ' -v k="$2" -v m="$3" '$1 == k { f = 1; ok = $2 >= m }
	    END { exit !(f && ok) }' "$1"
}

# ms_below FILE KEY MS: the stat KEY in FILE is below MS.
ms_below() {
	awk -F': ' -v k="$2" -v m="$3" '$1 == k { f = 1; ok = $2 < m }
	    END { exit !(f && ok) }' "$1"
}

@test "a one-second stall: the open-loop p99 shows it, the closed-loop p99 does not" {
	# Closed loop, 10 connections, 4000 requests: the stall at the
	# 2000th holds 10 requests (one per connection), fewer than 1%.
	start_fake --stall 1 --stall-after 2000
	run --separate-stderr timeout 60 upclient -p "$PORT" -c 10 -n 400 \
	    -r 16 -s
	echo "$stderr"
	[ "$status" -eq 0 ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/closed"
	grep -q ' stall ' "$SERVER_LOG"
	[ "$(stat_of "$BATS_TEST_TMPDIR/closed" requests)" -eq 4000 ]
	ms_at_least "$BATS_TEST_TMPDIR/closed" latency_max_ms 900
	ms_below "$BATS_TEST_TMPDIR/closed" latency_p99_ms 200
	teardown_server

	# Open loop at 2000/s for 3 s on the same server: the 2000 requests
	# due during the stall (a third of them) each wait for its end.
	start_fake --stall 1 --stall-after 2000
	run --separate-stderr timeout 60 upclient -p "$PORT" -c 10 \
	    -R 2000 -D 3s -r 16 -s
	echo "$stderr"
	[ "$status" -eq 0 ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/open"
	grep -q ' stall ' "$SERVER_LOG"
	[ "$(stat_of "$BATS_TEST_TMPDIR/open" requests)" -eq 6000 ]
	[ "$(stat_of "$BATS_TEST_TMPDIR/open" requests_unanswered)" -eq 0 ]
	ms_at_least "$BATS_TEST_TMPDIR/open" latency_p99_ms 300
	ms_at_least "$BATS_TEST_TMPDIR/open" latency_p90_ms 100
	ms_at_least "$BATS_TEST_TMPDIR/open" latency_max_ms 900
	# Queued behind the stalled ones on their connections, not skipped.
	[ "$(stat_of "$BATS_TEST_TMPDIR/open" requests_queued)" -gt 100 ]
	teardown_server

	# The same rate closed again (--paced): the connections hold their
	# requests during the stall and time them from sending; p99 hides it.
	start_fake --stall 1 --stall-after 2000
	run --separate-stderr timeout 60 upclient -p "$PORT" -c 10 \
	    -R 2000 -D 3s -r 16 -s --paced
	echo "$stderr"
	[ "$status" -eq 0 ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/paced"
	grep -q ' stall ' "$SERVER_LOG"
	[ "$(stat_of "$BATS_TEST_TMPDIR/paced" requests)" -eq 6000 ]
	ms_at_least "$BATS_TEST_TMPDIR/paced" latency_max_ms 900
	ms_below "$BATS_TEST_TMPDIR/paced" latency_p99_ms 200
	grep -q '^# closed loop paced at 2000/s (achieved .*): latency from sending$' \
	    "$BATS_TEST_TMPDIR/paced"
}

@test "-R 2000 -D 2s against a server that keeps up: the rate within 1%" {
	start_server poll -d 0 -q
	run --separate-stderr timeout 60 upclient -p "$PORT" -c 4 -R 2000 \
	    -D 2s -r 16 --verify -s
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/stats"
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" requests)" -eq 4000 ]
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" errors)" -eq 0 ]
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" rate_requested_per_s)" -eq 2000 ]
	ms_at_least "$BATS_TEST_TMPDIR/stats" rate_achieved_per_s 1980
	ms_below "$BATS_TEST_TMPDIR/stats" rate_achieved_per_s 2020.0001
	[ "$(grep -c warning "$BATS_TEST_TMPDIR/stats")" -eq 0 ]
}

@test "-R against a server that does not read: the client says it fell behind, and why" {
	# Never accepted, the connection takes what its buffers hold and
	# no more: 100 KB requests at 100/s fill them in well under a second.
	start_fake --no-accept
	run --separate-stderr timeout 60 upclient -p "$PORT" -c 1 -R 100 \
	    -D 1s -r 100000 --timeout 1s -s
	echo "$stderr"
	[ "$status" -eq 1 ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/stats"
	grep -Eq '^upclient: warning: 100 requests/s asked, [0-9.]+ achieved: the client fell behind$' \
	    "$BATS_TEST_TMPDIR/stats"
	grep -Eq '^upclient: warning: [0-9]+ requests made and never written: send buffers full, the server is not reading$' \
	    "$BATS_TEST_TMPDIR/stats"
	ms_below "$BATS_TEST_TMPDIR/stats" rate_achieved_per_s 99
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" errors_timeout)" -eq 1 ]
}

@test "-R with -n: N requests per connection, each connection's in order" {
	start_fake --record "$BATS_TEST_TMPDIR/record"
	run --separate-stderr timeout 60 upclient -p "$PORT" -c 3 -n 50 \
	    -R 1000 --verify -s hello
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$output" ]	# replies are not printed with -R
	echo "$stderr" >"$BATS_TEST_TMPDIR/stats"
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" requests)" -eq 150 ]
	# Each connection sent "hello C.1" to "hello C.50", in order.
	[ "$(wc -l <"$BATS_TEST_TMPDIR/record")" -eq 150 ]
	awk '$1 != "hello" { exit 1 }
	    { split($2, n, "."); if (n[2] != ++want[n[1]]) exit 1 }
	    END { for (c = 1; c <= 3; c++) if (want[c] != 50) exit 1 }' \
	    "$BATS_TEST_TMPDIR/record"
}

@test "-s adds every percentile in key form and in a line for people" {
	start_fake
	run --separate-stderr upclient -p "$PORT" -c 2 -R 500 -n 20 -r 8 -s
	[ "$status" -eq 0 ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/stats"
	cat "$BATS_TEST_TMPDIR/stats"
	for k in latency_p50_ms latency_p90_ms latency_p99_ms \
	    latency_p99_9_ms latency_p99_99_ms latency_max_ms \
	    rate_requested_per_s rate_achieved_per_s requests_queued \
	    schedule_lag_max_ms; do
		stat_of "$BATS_TEST_TMPDIR/stats" "$k" >/dev/null
	done
	# The table for people: the percentiles' names, then their values,
	# the same as the keys'.
	[ "$(grep '^# latency ms ' "$BATS_TEST_TMPDIR/stats" | tr -s ' ')" = \
	    "# latency ms p50 p90 p99 p99.9 p99.99 max" ]
	[ "$(grep -A1 '^# latency ms ' "$BATS_TEST_TMPDIR/stats" | tail -1 |
	    tr -s ' ')" = "# $(for k in p50 p90 p99 p99_9 p99_99 max; do
		stat_of "$BATS_TEST_TMPDIR/stats" "latency_${k}_ms"
	    done | tr '\n' ' ' | sed 's/ $//')" ]
	grep -Eq '^# open loop at 500/s \(achieved [0-9.]+/s\): latency from when each was due$' \
	    "$BATS_TEST_TMPDIR/stats"
	# Every line fits in 80 columns.
	awk 'length > 80 { exit 1 }' "$BATS_TEST_TMPDIR/stats"
}

@test "--hist writes the documented format: every bucket, to 100%" {
	start_fake
	run --separate-stderr upclient -p "$PORT" -c 4 -R 1000 -n 100 -r 8 \
	    -s --hist "$BATS_TEST_TMPDIR/hist"
	[ "$status" -eq 0 ]
	cat "$BATS_TEST_TMPDIR/hist"
	sed -n 1p "$BATS_TEST_TMPDIR/hist" |
	    grep -Eq '^# upclient latency histogram: requests=400 max_ms=[0-9.]+$'
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/hist")" = \
	    "# value_ms count percentile inverse" ]
	# Value and percentile rise, the counts add up to the requests, the
	# last line is 100% and inf, the others 1/(1-p).
	awk 'NR <= 2 { next }
	    !/^[0-9]+\.[0-9]+ [0-9]+ [0-9]+\.[0-9]+ ([0-9]+\.[0-9]+|inf)$/ {
		exit 1 }
	    $1 <= v || $3 <= p { exit 1 }
	    { v = $1; p = $3; n += $2; last = $0 }
	    $4 != "inf" { q = 1 / (1 - $3 / 100)
		if ($4 < q * 0.999 - 0.001 || $4 > q * 1.001 + 0.001) exit 1 }
	    END { split(last, f, " ")
		exit !(n == 400 && f[3] == 100 && f[4] == "inf") }' \
	    "$BATS_TEST_TMPDIR/hist"
	# The max of -s is the last bucket's value.
	[ "$(tail -1 "$BATS_TEST_TMPDIR/hist" | cut -d' ' -f1)" = \
	    "$(echo "$stderr" | stat_of /dev/stdin latency_max_ms)" ]
}

@test "--hist FILE that cannot be written: exit 1 before any load" {
	run --separate-stderr upclient -p 1 -c 1 -r 8 \
	    --hist /nonexistent/dir/hist
	[ "$status" -eq 1 ]
	[ "$stderr" = "upclient: --hist /nonexistent/dir/hist: No such file or directory" ]
}

# refused ARGS... -- MESSAGE: upclient ARGS exits 2 with MESSAGE and the
# usage.
refused() {
	local args=() msg
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	msg=$2
	run --separate-stderr upclient -p 1 -r 8 "${args[@]}"
	echo "$stderr"
	[ "$status" -eq 2 ]
	[ "${stderr%%$'\n'*}" = "upclient: $msg" ]
	[[ "$stderr" == *"usage: upclient"* ]]
}

@test "-R refuses what contradicts it or the schedule cannot hold, exit 2" {
	refused -R 0 -D 1s -- "--rate: '0' is not a number of requests a second (1 to 1000000)"
	refused -R 2000000 -D 1s -- "--rate: '2000000' is not a number of requests a second (1 to 1000000)"
	refused -R 10x -D 1s -- "--rate: '10x' is not a number of requests a second (1 to 1000000)"
	refused -R 100 -- "-R needs how long: -D TIME, or -n N requests per connection"
	refused -R 100 -D 1s -n 5 -- "-R takes -D TIME or -n N, not both"
	refused -R 100 -D 1s -j 2 -- "-R and -j contradict each other: an open loop never holds a request back"
	refused -D 1s -- "--duration needs -R: the closed loop (the default) runs -n requests each"
	refused -R 100 -D 0 -- "--duration: '0' is not a time above 0 (try 10s, 1.5, 250ms)"
	refused -R 100 -D 2days -- "--duration: '2days' is not a time above 0 (try 10s, 1.5, 250ms)"
	refused --paced -n 5 -- "--paced needs -R: the rate it paces the closed loop at"
	refused -R 5 -D 1s -c 10 -- "-R 5 for that long makes 5 requests, fewer than the 10 connections (-c): lower -c or raise -R or -D"
}

@test "stall.sh: closed and open loop side by side, for poll and thread" {
	run timeout 60 sh "$BATS_TEST_DIRNAME/../examples/stall.sh" 5ms 50 1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "--cpu -d 5ms, 4 connections, 50 requests/s for 1s" ]
	[ "$(echo "${lines[1]}" | tr -s ' ')" = \
	    "model loop p99 ms p99.9 ms max ms req/s" ]
	# Four rows of numbers, in order, every run at about the rate.
	[ "${#lines[@]}" -eq 6 ]
	printf '%s\n' "${lines[@]:2}" | awk '
	    { want = (NR <= 2 ? "poll" : "thread") " " \
		(NR % 2 ? "closed" : "open")
	      if ($1 " " $2 != want || $3 <= 0 || $6 < 45 || $6 > 55) exit 1 }'
}
