#!/usr/bin/env bats
# coro.bats: the coroutine server, upserver-coro: asyncio's model in C.
# One process, one thread, a coroutine per connection; a wait is the only
# place where another connection runs.

# SERVER_*, PORT: set by helpers; CLIENT_PIDS: read by concurrent.bash
# shellcheck disable=SC2154,SC2153,SC2034

load helpers
load concurrent

teardown() {
	kill_clients
	teardown_server
}

# same_tags N: every per-connection line of the log carries the server's
# own pid= and one same tid= (one process, one thread; on Linux the tid is
# the pid, elsewhere a number of the toolkit's), and there are N of them.
same_tags() {
	local pid
	pid=$(awk '$2 == "listening" { sub(/.* pid=/, ""); print $1 }' \
	    "$SERVER_LOG")
	[ "$(grep -cE " (accepted|received|responded|closed) .* pid=$pid tid=[0-9]+\$" \
	    "$SERVER_LOG")" -eq "$1" ]
	[ "$(grep -oE ' pid=[0-9]+' "$SERVER_LOG" | sort -u | tr -d ' ')" = \
	    "pid=$pid" ]
	[ "$(grep -oE ' tid=[0-9]+' "$SERVER_LOG" | sort -u | wc -l)" -eq 1 ]
}

@test "four clients with -d 1s: answered together after a second, by one thread" {
	start_server coro -d 1s
	spawn_clients 4
	wait_clients
	check_replies 4
	wait_for_log "$SERVER_LOG" ' closed ' 4
	stop_server
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	grep -q ' listening .* model=coro ' "$SERVER_LOG"
	# all four received before any responded: the waits overlap
	[ "$(events "$SERVER_LOG" | grep -E 'received|responded' |
	    head -4 | sort -u)" = received ]
	at_least "$(span accepted responded)" 0.9
	less_than "$(span accepted responded)" 2.5
	[ "$(batches responded 0.5)" = 4 ]
	same_tags 16
}

@test "--counter unsafe: the wait between read and write loses updates" {
	ten_with_counter coro unsafe
	# every request read 0 before anyone wrote: each wrote 1
	[ "$(grep -c ' received .* count=0 ' "$SERVER_LOG")" -eq 10 ]
	[ "$(grep ' responded ' "$SERVER_LOG" | grep -c ' count=1 ')" -eq 10 ]
	less_than "$(span accepted responded)" 2
}

@test "--counter mutex: no update lost, one request at a time" {
	ten_with_counter coro mutex
	[ "$(grep ' responded ' "$SERVER_LOG" | grep -o 'count=[0-9]*' |
	    sort -t= -k2 -n | tail -1)" = count=10 ]
	at_least "$(span accepted responded)" 2.9
}

@test "--cpu serializes: a coroutine that computes never waits" {
	start_server coro -d 300ms --cpu
	spawn_clients 3
	wait_clients
	check_replies 3
	stop_server
	cat "$SERVER_LOG"
	# one computation at a time: the replies come 300 ms apart
	at_least "$(span received responded)" 0.85
	[ "$(batches responded 0.2)" = "1 1 1" ]
	same_tags 12
}

@test "-w 2: two schedulers, each its own process, answer four clients" {
	start_server coro -w 2 -d 1s
	spawn_clients 4
	wait_clients
	check_replies 4
	wait_for_log "$SERVER_LOG" ' closed ' 4
	stop_server
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	less_than "$(span accepted responded)" 2.5
	# each process has one thread: no pid= with two tid=
	[ -z "$(grep ' responded ' "$SERVER_LOG" | awk '{ print $(NF-1), $NF }' |
	    sort -u | awk '{ print $1 }' | uniq -d)" ]
	# and not the parent's, which only supervises
	local parent
	parent=$(awk '$2 == "listening" { sub(/.* pid=/, ""); print $1 }' \
	    "$SERVER_LOG")
	[ "$(grep ' responded ' "$SERVER_LOG" | grep -c " pid=$parent ")" -eq 0 ]
}

@test "--stack: a size, in the help; bad sizes refused with usage" {
	run "$BIN/upserver-coro" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--stack SIZE"*"[64k]"* ]]
	run --separate-stderr "$BIN/upserver-coro" --stack 1k
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "upserver-coro: --stack: '1k' is not a size from 4k to 64m (bytes, or with k or m)" ]
	run --separate-stderr "$BIN/upserver-poll" --stack 64k
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "upserver-poll: --stack: the poll model has no coroutines" ]
	run --separate-stderr "$BIN/upserver-coro" --locks ordered
	[ "$status" -eq 2 ]
	start_server coro -d 0 --stack 16k
	run timeout 10 upclient -H 127.0.0.1 -p "$PORT" hello
	[ "$status" -eq 0 ]
	[ "$output" = HELLO ]
}
