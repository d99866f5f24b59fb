#!/usr/bin/env bats
# coro.bats: the coroutine server, upserver-coro: asyncio's model in C.
# One process, one thread, a coroutine per connection; a wait is the only
# place where another connection runs. coro-uring.bats is a link to this
# file: the same tests on --backend uring (io_uring, completion), which
# the coroutine code must not notice; skipped, with the reason, where the
# build or the kernel has no io_uring.

# SERVER_*, PORT: set by helpers; CLIENT_PIDS: read by concurrent.bash
# shellcheck disable=SC2154,SC2153,SC2034,SC2030,SC2031

load helpers
load concurrent

UP_CORO_BACKEND=$(basename "$BATS_TEST_FILENAME" .bats)
UP_CORO_BACKEND=${UP_CORO_BACKEND#coro}
UP_CORO_BACKEND=${UP_CORO_BACKEND#-}
export UP_CORO_BACKEND

setup() {
	local why
	if [ "$UP_CORO_BACKEND" = uring ] && why=$(uring_refused); then
		skip "$why"
	fi
}

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
	grep -q " listening .* backend=${UP_CORO_BACKEND:-poll}\$" "$SERVER_LOG"
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
	# one computation at a time: the work begins 300 ms apart
	at_least "$(span received responded)" 0.85
	[ "$(batches received 0.2)" = "1 1 1" ]
	# and on readiness each reply leaves as its work ends; on uring the
	# sends of one turn go in with the next io_uring_enter, after every
	# coroutine of the turn has run (see up(7)): a reply may wait for
	# the computation after it
	[ "$UP_CORO_BACKEND" = uring ] ||
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

# The waits that end before their read: on uring each is a receive
# submitted, then cancelled, whose completion must come before the
# connection's memory goes, and must not wake anyone afterwards.

@test "-t: an idle connection is closed at its deadline, and the next is served" {
	start_server coro -d 0 -t 500ms
	# one connection that sends nothing, one that sends half a line
	python3 -c 'import socket, sys, time
a = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(5)' "$PORT" &
	CLIENT_PIDS+=($!)
	wait_for_log "$SERVER_LOG" ' closed .* reason=idle' 1
	run timeout 10 upclient -H 127.0.0.1 -p "$PORT" after the idle one
	[ "$status" -eq 0 ]
	[ "$output" = "AFTER THE IDLE ONE" ]
	stop_server
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(grep -c ' closed .* reason=idle' "$SERVER_LOG")" -eq 1 ]
	grep -q ' stopped .* requests=1' "$SERVER_LOG"
}

@test "the pause of --framing auto: a line with no newline answered, then more on the same connection" {
	start_server coro -d 0
	# hello, a pause (the receive is cancelled at 200 ms), then world and
	# a newline, answered byte for byte on the one connection
	run timeout 10 python3 -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
s.sendall(b"hello")
a = s.recv(1024)
time.sleep(0.5)
s.sendall(b"world\nagain\n")
b = b""
while b.count(b"\n") < 2:
    b += s.recv(1024)
s.close()
print(a.decode(), b.decode().replace("\n", "|"))' "$PORT"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "HELLO WORLD|AGAIN|" ]
	wait_for_log "$SERVER_LOG" ' closed ' 1
	stop_server
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	grep -q ' received .* bytes=5 framing=pause' "$SERVER_LOG"
	[ "$(grep -c ' responded ' "$SERVER_LOG")" -eq 3 ]
}

@test "a stop while every connection waits for a request: each closed, reason=stop" {
	start_server coro -d 0
	spawn_idle() {
		python3 -c 'import socket, sys, time
a = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
a.sendall(b"half a li")
time.sleep(10)' "$PORT" &
		CLIENT_PIDS+=($!)
	}
	local i
	for i in 1 2 3 4 5; do spawn_idle; done
	wait_for_log "$SERVER_LOG" ' accepted ' 5
	stop_server
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(grep -c ' closed .* reason=stop' "$SERVER_LOG")" -eq 5 ]
	grep -q ' stopped ' "$SERVER_LOG"
}

@test "clients that vanish mid-request: every connection closed, the server serves on" {
	start_server coro -d 200ms
	# 20 clients send a line and reset at once, while their work runs
	run timeout 20 python3 -c 'import socket, struct, sys
for i in range(20):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"going\n")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
        struct.pack("ii", 1, 0))
    s.close()' "$PORT"
	[ "$status" -eq 0 ]
	wait_for_log "$SERVER_LOG" ' closed ' 20
	run timeout 10 upclient -H 127.0.0.1 -p "$PORT" -c 20 -n 5 -r 50 --verify
	[ "$status" -eq 0 ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(grep -c ' closed ' "$SERVER_LOG")" -eq 40 ]
}

# pipelined_lines N FILE: N lines of 20 bytes or so, to send in one write.
pipelined_lines() {
	local i
	for ((i = 1; i <= $1; i++)); do
		printf 'pipelined line %d\n' "$i"
	done >"$2"
}

@test "a pipelining client: every reply in order, one received and responded per request" {
	start_server coro -d 0
	pipelined_lines 500 "$BATS_TEST_TMPDIR/in"
	run timeout 10 upclient -H 127.0.0.1 -p "$PORT" <"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(uppercase <"$BATS_TEST_TMPDIR/in")" ]
	wait_for_log "$SERVER_LOG" ' closed ' 1
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(grep -c ' received .* bytes=' "$SERVER_LOG")" -eq 500 ]
	[ "$(grep -c ' responded .* bytes=' "$SERVER_LOG")" -eq 500 ]
	# each responded says its own request's length, in order
	[ "$(awk '$2 == "received" { print $4 }' "$SERVER_LOG")" = \
	    "$(awk '$2 == "responded" { print $4 }' "$SERVER_LOG")" ]
	[ "$(awk '$2 == "received" { print $4 }' "$SERVER_LOG")" = \
	    "$(awk '{ print "bytes=" length($0) + 1 }' "$BATS_TEST_TMPDIR/in")" ]
	# gathered: requests already buffered are received one after
	# another, their replies responded together after one send
	events "$SERVER_LOG" | uniq -c | awk '$2 == "received" && $1 > 1 { m = 1 }
	    END { exit !m }'
	# no reply is responded before its request was received
	awk '$2 == "received" { r++ } $2 == "responded" && ++s > r { exit 1 }' \
	    "$SERVER_LOG"
	grep -q ' closed .* requests=500 ' "$SERVER_LOG"
}

@test "a pipelining client: the replies of buffered requests leave in fewer sends than requests" {
	command -v strace >/dev/null || skip "strace is not installed"
	[ -z "${UP_SANITIZER:-}" ] ||
	    skip "LeakSanitizer does not work under ptrace (strace)"
	local trace="$BATS_TEST_TMPDIR/trace" pid sends
	pipelined_lines 200 "$BATS_TEST_TMPDIR/in"
	new_server_logs coro
	strace -f -o "$trace" -e trace=sendto,sendmsg,io_uring_enter \
	    "$BIN/upserver-coro" -p 0 -d 0 \
	    --backend "${UP_CORO_BACKEND:-poll}" >"$SERVER_LOG" \
	    2>"$SERVER_ERR" 3>&- &
	SERVER_PID=$!
	if ! read_port 10; then
		grep -q 'ptrace' "$SERVER_ERR" && skip "strace cannot trace here"
		false
	fi
	run timeout 10 upclient -H 127.0.0.1 -p "$PORT" <"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(uppercase <"$BATS_TEST_TMPDIR/in")" ]
	wait_for_log "$SERVER_LOG" ' closed ' 1
	# the server itself, strace's child, is the one to stop
	pid=$(awk '$2 == "listening" { sub(/.* pid=/, ""); print $1 }' \
	    "$SERVER_LOG")
	kill -TERM "$pid"
	stop_server 0
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(grep -c ' responded ' "$SERVER_LOG")" -eq 200 ]
	# one send a request before; now one a read, and the client's 200
	# lines come in a few reads (generous: a quarter of 200 at most)
	sends=$(grep -cE '^[0-9]+ +(sendto|sendmsg|io_uring_enter)\(' "$trace")
	echo "sends=$sends"
	[ "$sends" -gt 0 ]
	[ "$sends" -le 50 ]
}

@test "a client that pipelines 2 MB at once: every byte back, uppercased, in order" {
	start_server coro -d 0
	# 20 000 lines of 100 bytes: on uring, more than a standing receive
	# may hold waiting, so it is cancelled and asked again many times
	awk 'BEGIN { for (i = 1; i <= 20000; i++)
	    printf "%095d line\n", i }' >"$BATS_TEST_TMPDIR/in"
	timeout 30 upclient -H 127.0.0.1 -p "$PORT" \
	    <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out"
	uppercase <"$BATS_TEST_TMPDIR/in" | cmp - "$BATS_TEST_TMPDIR/out"
	wait_for_log "$SERVER_LOG" ' closed ' 1
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	grep -q ' closed .* requests=20000 ' "$SERVER_LOG"
}

# uring_fdinfo FIELD: FIELD of the server's io_uring instance, from
# /proc/PID/fdinfo (SqHead: the submissions the kernel has taken).
uring_fdinfo() {
	local pid fd
	pid=$(awk '$2 == "listening" { sub(/.* pid=/, ""); print $1 }' \
	    "$SERVER_LOG")
	for fd in /proc/"$pid"/fd/*; do
		[ "$(readlink "$fd")" = "anon_inode:[io_uring]" ] || continue
		awk -v k="$1:" '$1 == k { print $2 }' \
		    "/proc/$pid/fdinfo/${fd##*/}"
		return
	done
	echo "no io_uring instance in process $pid" >&2
	return 1
}

@test "uring: a request in ping-pong costs one submission, its send: the receive stands (multishot)" {
	[ "$UP_CORO_BACKEND" = uring ] || skip "the uring backend's (coro-uring.bats)"
	local major minor sq
	IFS=. read -r major minor _ <<<"$(uname -r)"
	[ "$major" -gt 5 ] || skip "multishot receives came in Linux 6.0"
	start_server coro -d 0
	run timeout 30 upclient -H 127.0.0.1 -p "$PORT" -c 1 -n 400 -r 100 \
	    --verify -s
	[ "$status" -eq 0 ]
	[[ "$output" == *"errors: 0"* ]]
	sq=$(uring_fdinfo SqHead)
	echo "submissions: $sq for 400 requests"
	# a receive of its own each would make two a request at least; the
	# standing receive leaves the send, and a few for the accept and
	# the stop
	[ "$sq" -ge 400 ]
	[ "$sq" -lt 500 ]
}
