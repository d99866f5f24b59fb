#!/usr/bin/env bats
# upclient as a load generator: thousands of connections at once, and
# thousands of verified requests against every server there is.

# status, output, lines, stderr: set by bats' run; PORT: by start_server
# shellcheck disable=SC2154,SC2153

load helpers
load client-helpers
load concurrent

teardown() {
	teardown_server
}

# verified_load: upclient -c 200 -n 50 -r 64 --verify -s against $PORT
# gets 10 000 right replies, no error, and parseable stats.
verified_load() {
	run --separate-stderr timeout 120 upclient -p "$PORT" -c 200 -n 50 \
	    -r 64 --verify -s
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/stats"
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" requests)" -eq 10000 ]
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" errors)" -eq 0 ]
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" requests_unanswered)" -eq 0 ]
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" connections_open_max)" -ge 1 ]
	awk -F': ' '$1 == "requests_per_s" && $2 > 0 { ok = 1 }
	    END { exit !ok }' "$BATS_TEST_TMPDIR/stats"
	awk -F': ' '$1 == "latency_p99_ms" && $2 > 0 { ok = 1 }
	    END { exit !ok }' "$BATS_TEST_TMPDIR/stats"
}

@test "-c 200 -n 50 -r 64 --verify -s against upserver-seq" {
	start_server seq -d 0 -q
	verified_load
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	grep -q ' stopped .* requests=10000' "$SERVER_LOG"
}

@test "-c 200 -n 50 -r 64 --verify -s against the concurrent servers" {
	local s
	start_fake
	verified_load
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" connections_open_max)" -eq 200 ]
	teardown_server
	for s in $(concurrent_servers); do
		echo "upserver-$s:"
		start_server "$s" -d 0 -q
		verified_load
		stop_server
		grep -q ' stopped .* requests=10000' "$SERVER_LOG"
	done
}

@test "10 000 connections open at once from one process" {
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] || [ "$hard" -ge 10016 ] ||
	    skip "the descriptor limit ($hard) is below 10016"
	# The fake answers nothing until 10 000 connections are open at the
	# same time: the run can only succeed if the client holds them all.
	start_fake --hold 10000
	run --separate-stderr timeout 120 upclient -p "$PORT" -c 10000 -r 16 \
	    --verify -s -T --timeout 60s
	echo "$stderr" | grep -v '^ *[0-9]'
	[ "$status" -eq 0 ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/stats"
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" requests)" -eq 10000 ]
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" errors)" -eq 0 ]
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" connections_open_max)" -eq 10000 ]
	grep -q ' accepted .* conns=10000$' "$SERVER_LOG"
	# The timeline still fits, as a sample.
	awk 'length > 80 { exit 1 }' "$BATS_TEST_TMPDIR/stats"
	grep -q '^(32 of them shown' "$BATS_TEST_TMPDIR/stats"
}

@test "SIGINT during a load run: no more requests, the statistics so far, exit 130" {
	start_server poll -d 300ms
	upclient -H 127.0.0.1 -p "$PORT" -c 10 -n 100 -s -T hello \
	    >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	local client=$! rc=0 before got
	wait_for_log "$SERVER_LOG" ' responded ' 20 20
	kill -INT "$client"
	before=$(grep -c ' responded ' "$SERVER_LOG")
	wait_until 10 test ! -e "/proc/$client"
	wait "$client" || rc=$?
	cat "$BATS_TEST_TMPDIR/err"
	[ "$rc" -eq 130 ]
	grep -q '^timeline: 10 connections' "$BATS_TEST_TMPDIR/err"
	# the mark comes first, then the usual timeline and statistics
	head -1 "$BATS_TEST_TMPDIR/err" | grep -qE \
	    '^upclient: interrupted after [0-9]+\.[0-9]{3} s: the replies until then$'
	[ "$(stat_of "$BATS_TEST_TMPDIR/err" errors)" -eq 0 ]
	got=$(stat_of "$BATS_TEST_TMPDIR/err" requests)
	# what came back before the signal, and the replies then in flight
	# (one per connection at most): no request was sent after it
	[ "$got" -ge 20 ]
	[ "$got" -le $((before + 10)) ]
	# every reply it counted was printed, and is right
	[ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -eq "$got" ]
	[ "$(grep -cvE '^HELLO [0-9]+\.[0-9]+$' "$BATS_TEST_TMPDIR/out")" -eq 0 ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
}
