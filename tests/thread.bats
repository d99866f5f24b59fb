#!/usr/bin/env bats
# upserver-thread: a thread per connection, and the fixed pool (-w).

# status, output, lines: set by bats' run; PORT, SERVER_*: by helpers
# shellcheck disable=SC2154,SC2153

load helpers
load concurrent

teardown() {
	kill_clients
	if [ -n "${HOLDER:-}" ]; then
		kill "$HOLDER" 2>/dev/null || true
		HOLDER=
	fi
	teardown_server
}

# threads: how many threads the server has now.
threads() {
	awk '$1 == "Threads:" { print $2 }' "/proc/$SERVER_PID/status"
}

# threads_ended: every thread named by a tid= in the log has ended.
threads_ended() {
	local tid
	while read -r tid; do
		[ ! -e "/proc/$SERVER_PID/task/${tid#tid=}" ] || return 1
	done < <(grep -o 'tid=[0-9]*' "$SERVER_LOG" | sort -u)
}

# threads_at_least N, threads_at_most N: compares the server's threads.
threads_at_least() {
	[ "$(threads)" -ge "$1" ]
}
threads_at_most() {
	[ "$(threads)" -le "$1" ]
}

@test "four clients at once with -d 1s: all accepted at once, answered together" {
	start_server thread -d 1s
	local t0=$EPOCHREALTIME
	spawn_clients 4
	wait_clients
	local took
	took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
	check_replies 4
	wait_for_log "$SERVER_LOG" ' closed ' 4
	cat "$SERVER_LOG"
	# (each received comes after its accepted, in any interleaving)
	[ "$(events "$SERVER_LOG" | sed -n '2,9p' | sort | uniq -c |
	    awk '{ printf "%s %s ", $1, $2 }')" = "4 accepted 4 received " ]
	[ "$(events "$SERVER_LOG" | sed -n 10p)" = responded ]
	less_than "$(span accepted responded)" 2.5
	less_than "$took" 3.5
	# the main thread logs accepted; the thread that served tags its lines
	[ "$(grep -c ' accepted 127\.0\.0\.1:[0-9]*$' "$SERVER_LOG")" -eq 4 ]
	[ "$(grep -cE ' (received|responded|closed) .* tid=[0-9]+$' "$SERVER_LOG")" -eq 12 ]
	[ "$(grep ' responded ' "$SERVER_LOG" | grep -o 'tid=[0-9]*' | sort -u | wc -l)" -eq 4 ]
	# the threads have ended
	wait_until 10 threads_ended
}

@test "-c 2: no more than two threads at once, the others wait their turn" {
	start_server thread -d 1s -c 2
	spawn_clients 4
	wait_clients
	check_replies 4
	wait_for_log "$SERVER_LOG" ' closed ' 4
	cat "$SERVER_LOG"
	[ "$(max_in_flight)" -eq 2 ]
	[ "$(batches responded 0.5)" = "2 2" ]
	grep -q ' listening .* max-conns=2 ' "$SERVER_LOG"
}

@test "-c 1: a stop while the main thread waits at the cap still stops it" {
	start_server thread -d 1s -c 1
	py_client reply first "$BATS_TEST_TMPDIR/first" &
	local first=$!
	wait_until 10 test -e "$BATS_TEST_TMPDIR/first.sent"
	wait_for_log "$SERVER_LOG" ' accepted ' 1
	timeout 20 upclient -H 127.0.0.1 -p "$PORT" second \
	    >"$BATS_TEST_TMPDIR/second" 2>&1 3>&- &
	CLIENT_PIDS=($!)
	stop_server TERM
	wait "$first"
	[ "$(cat "$BATS_TEST_TMPDIR/first")" = FIRST ]
	[ "$SERVER_STATUS" -eq 0 ]
	cat "$SERVER_LOG"
	[ "$(grep -c ' accepted ' "$SERVER_LOG")" -eq 1 ]
	[ "$(stopped_field requests)" -eq 1 ]
}

@test "-w 2: five clients at once are answered two, two, then one" {
	start_server thread -d 1s -w 2
	# the cap it states is the one it keeps: two at once
	grep -q ' listening .* max-conns=2 workers=2 ' "$SERVER_LOG"
	spawn_clients 5
	wait_clients
	check_replies 5
	wait_for_log "$SERVER_LOG" ' closed ' 5
	cat "$SERVER_LOG"
	[ "$(batches responded 0.5)" = "2 2 1" ]
	[ "$(max_in_flight)" -eq 2 ]
	# two pool threads served everyone, and logged accepted themselves
	[ "$(grep -o 'tid=[0-9]*$' "$SERVER_LOG" | sort -u | wc -l)" -eq 2 ]
	[ "$(grep -cE ' accepted .* tid=[0-9]+$' "$SERVER_LOG")" -eq 5 ]
}

@test "--counter unsafe: threads that share the counter lose updates" {
	# a data race on purpose: ThreadSanitizer would rightly stop it
	[ "${UP_SANITIZER:-}" != tsan ] || skip "races on purpose"
	ten_with_counter thread unsafe
	[ "$(stopped_field count)" -lt 10 ]
}

@test "--counter mutex: the count is right, one request at a time" {
	ten_with_counter thread mutex
	[ "$(stopped_field count)" -eq 10 ]
	at_least "$(span accepted responded)" 2.99
	less_than "$(span accepted responded)" 8
}

@test "--counter atomic: the count is right, and the requests overlap" {
	ten_with_counter thread atomic
	[ "$(stopped_field count)" -eq 10 ]
	less_than "$(span accepted responded)" 1.5
}

@test "300 clients at once: exact replies, whole log lines, every thread ends" {
	start_server thread -d 100ms
	spawn_clients 300 client
	wait_clients
	check_replies 300 client
	wait_for_log "$SERVER_LOG" ' closed ' 300 30
	run grep -cvE "$LINE_RE" "$SERVER_LOG"
	[ "$output" -eq 0 ]
	[ "$(grep -c ' accepted ' "$SERVER_LOG")" -eq 300 ]
	[ "$(grep -c ' responded .* bytes=[0-9]* tid=[0-9]*$' "$SERVER_LOG")" -eq 300 ]
	[ "$(grep -c ' closed .* requests=1 tid=[0-9]*$' "$SERVER_LOG")" -eq 300 ]
	[ "$(sort "$SERVER_LOG" | uniq -d | wc -l)" -eq 0 ]
	wait_until 10 threads_ended
	[ "$(ask still here)" = "STILL HERE" ]
}

@test "1000 idle connections: 1000 threads on small stacks, and room for more" {
	start_server thread -d 0
	python3 - "$PORT" "$BATS_TEST_TMPDIR/held" <<'EOF' &
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1])))
         for _ in range(1000)]
open(sys.argv[2], "w").close()
time.sleep(60)
EOF
	HOLDER=$!
	wait_until 30 test -e "$BATS_TEST_TMPDIR/held"
	wait_for_log "$SERVER_LOG" ' accepted ' 1000 30
	wait_until 10 threads_at_least 1001
	# 64 KiB stacks: a thousand reserve 64 MiB of address space, where
	# default 8 MiB ones would take 8 GiB (malloc's per-thread arenas add
	# about 1 GiB; a sanitizer reserves terabytes of shadow memory)
	if [ -z "${UP_SANITIZER:-}" ]; then
		local vm
		vm=$(awk '$1 == "VmSize:" { print $2 }' "/proc/$SERVER_PID/status")
		[ "$vm" -lt $((4 * 1024 * 1024)) ]
	fi
	[ "$(ask one more)" = "ONE MORE" ]
	kill "$HOLDER"
	HOLDER=
	# back to the main thread (and a sanitizer's own, if any)
	wait_until 20 threads_at_most 2
}

@test "clients that reset or leave early do not harm a neighbour thread" {
	start_server thread -d 1s
	py_client reply good "$BATS_TEST_TMPDIR/good" &
	CLIENT_PIDS=($!)
	local i
	for i in 1 2 3 4 5; do
		py_client reset "reset$i" /dev/null &
		CLIENT_PIDS+=($!)
	done
	for i in 1 2 3; do
		py_client leave "leave$i" /dev/null &
		CLIENT_PIDS+=($!)
	done
	wait_clients
	[ "$(cat "$BATS_TEST_TMPDIR/good")" = GOOD ]
	wait_for_log "$SERVER_LOG" ' closed ' 9
	cat "$SERVER_LOG"
	grep -qE ' error .* tid=[0-9]+ op=write errno=(ECONNRESET|EPIPE)$' "$SERVER_LOG"
	kill -0 "$SERVER_PID"
	[ "$(ask after)" = AFTER ]
	wait_until 10 threads_ended
}

@test "SIGTERM while requests are in flight: answered, then stopped, exit 0" {
	start_server thread -d 1s
	local i pids=()
	for i in 1 2 3; do
		py_client reply "slow$i" "$BATS_TEST_TMPDIR/slow$i" &
		pids+=($!)
	done
	for i in 1 2 3; do
		wait_until 10 test -e "$BATS_TEST_TMPDIR/slow$i.sent"
	done
	wait_for_log "$SERVER_LOG" ' accepted ' 3
	stop_server TERM
	for i in "${pids[@]}"; do wait "$i"; done
	for i in 1 2 3; do
		[ "$(cat "$BATS_TEST_TMPDIR/slow$i")" = "SLOW$i" ]
	done
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(events "$SERVER_LOG" | tail -1)" = stopped ]
	[ "$(grep -c ' closed ' "$SERVER_LOG")" -eq 3 ]
	[ "$(stopped_field requests)" -eq 3 ]
}

@test "-w 2: SIGTERM lets the pool finish its requests, then exit 0" {
	start_server thread -d 1s -w 2 --counter atomic
	local i pids=()
	for i in 1 2; do
		py_client reply "pool$i" "$BATS_TEST_TMPDIR/pool$i" &
		pids+=($!)
	done
	for i in 1 2; do
		wait_until 10 test -e "$BATS_TEST_TMPDIR/pool$i.sent"
	done
	wait_for_log "$SERVER_LOG" ' accepted ' 2
	stop_server TERM
	for i in "${pids[@]}"; do wait "$i"; done
	[ "$(cat "$BATS_TEST_TMPDIR/pool1")" = POOL1 ]
	[ "$(cat "$BATS_TEST_TMPDIR/pool2")" = POOL2 ]
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(stopped_field requests)" -eq 2 ]
	[ "$(stopped_field count)" -eq 2 ]
}

@test "examples/race.sh: lost updates, then right but serialized, then right" {
	[ "${UP_SANITIZER:-}" != tsan ] || skip "races on purpose"
	run sh "$BATS_TEST_DIRNAME/../examples/race.sh" 200ms
	echo "$output"
	[ "$status" -eq 0 ]
	# the table follows the tutorial's three curl (see examples.bats)
	local i=0
	while [ "${lines[i]}" != "== upserver-thread -d 200ms, 10 clients at once, one request each" ]; do
		i=$((i + 1))
		[ "$i" -lt "${#lines[@]}" ]
	done
	# counter requests count time
	local unsafe mutex atomic
	read -ra unsafe <<<"${lines[i + 2]}"
	read -ra mutex <<<"${lines[i + 3]}"
	read -ra atomic <<<"${lines[i + 4]}"
	[ "${unsafe[0]}" = unsafe ] && [ "${unsafe[1]}" -eq 10 ]
	[ "${unsafe[2]}" -lt 10 ]
	[ "${mutex[0]}" = mutex ] && [ "${mutex[2]}" -eq 10 ]
	at_least "${mutex[3]}" 1.9
	[ "${atomic[0]}" = atomic ] && [ "${atomic[2]}" -eq 10 ]
	less_than "${atomic[3]}" 1.2
}
