#!/usr/bin/env bats
# Out of processes, threads or memory, and system calls that come back
# short or interrupted: faults injected into the servers with libfiu
# (fiu-run -x preloads its POSIX wrappers; fiu-ctrl enables a fault point
# at run time, once the server has started), and with a real `ulimit -u`.
# libfiu's wrappers cannot cut send(2) or recv(2) short, nor fail
# accept4(2): the servers built with FIU=1 (make fiu-build, into
# build/fiu) carry fault points of their own for those, up/net/send/reduce,
# up/net/recv/reduce and up/net/accept (UP_FAULT in lib/core/core.h).
#
# Where a fault is transient, no client may be lost and every reply must
# be byte-exact. faults.bats covers what clients do wrong; this file what
# the system does to the server.

# status, output, lines, stderr: set by bats' run; PORT, SERVER_*: helpers
# CLIENT_PIDS: read by kill_clients and wait_clients (concurrent.bash)
# shellcheck disable=SC2154,SC2153,SC2034,SC2030,SC2031

load helpers
load concurrent

MODELS="seq fork thread poll"
EINTR=4
EMFILE=24
ECONNRESET=104

setup_file() {
	# the ulimit tests count the processes of one user, nobody: two of
	# them at once would share the count
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
}

setup() {
	command -v fiu-run >/dev/null || skip "fiu-run is not installed (fiu-utils)"
	[ -f /usr/lib/fiu/fiu_posix_preload.so ] ||
	    skip "libfiu's POSIX preload library is not installed"
	[ -z "${UP_SANITIZER:-}" ] ||
	    skip "the sanitizers' own allocator and libfiu's preload do not mix"
	# the build with our own fault points (UP_FAULT), made by make check
	FIU_BIN=${UP_FIU_BIN:-$BATS_TEST_DIRNAME/../build/fiu/bin}
	[ -x "$FIU_BIN/upserver-poll" ] ||
	    skip "no fault-point build in $FIU_BIN (make fiu-build)"
}

teardown() {
	teardown_family
	if [ -n "${NOBODY_DIR:-}" ]; then
		rm -rf "$NOBODY_DIR"
		NOBODY_DIR=
	fi
}

# start_fiu_server MODEL [ARGS...]: start_server under fiu-run -x, with no
# fault enabled yet (start-up must succeed); fiu_ctrl enables them.
start_fiu_server() {
	local model=$1
	shift
	FIU_CTRL="$BATS_TEST_TMPDIR/fiu"
	new_server_logs "$model"
	fiu-run -x -f "$FIU_CTRL" "$FIU_BIN/upserver-$model" -p 0 "$@" \
	    >"$SERVER_LOG" 2>"$SERVER_ERR" 3>&- &
	SERVER_PID=$!
	read_port 10
}

# fiu_ctrl COMMAND...: runs each libfiu control command in the server
# (a child forked afterwards inherits what is enabled).
fiu_ctrl() {
	local args=() c
	for c in "$@"; do
		args+=(-c "$c")
	done
	fiu-ctrl -f "$FIU_CTRL" "${args[@]}" "$SERVER_PID"
}

# shortage_log OP: the shortage lines of OP in the log, as "error" and
# "recovered", one per line.
shortage_log() {
	awk -v op="op=$1" '($2 == "error" || $2 == "recovered") && $4 == op {
	    print $2 }' "$SERVER_LOG"
}

# shortages_paired OP: every "error op=OP" line is followed by one
# "recovered op=OP" line before the next error, and the log ends with one.
shortages_paired() {
	shortage_log "$1" | awk '
	    $1 == "error" { if (open) bad = 1; open = 1; n++ }
	    $1 == "recovered" { if (!open) bad = 1; open = 0 }
	    END { exit bad || open || n == 0 }'
}

# shortage_ends OP: waits (10 s at most) until the last shortage line of
# OP, if any, is "recovered": an event loop sees a shortage end when the
# next connection's memory can be had, at its next try (20 ms).
shortage_ends() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(shortage_log "$1" | tail -1)" != error ] && return 0
		sleep 0.1
	done
	return 1
}

# field EVENT KEY: the values of KEY= on the EVENT lines, one per line.
field() {
	awk -v e="$1" -v k="$2=" '$2 == e { for (i = 4; i <= NF; i++)
	    if (index($i, k) == 1) print substr($i, length(k) + 1) }' \
	    "$SERVER_LOG"
}

# live_children N: the server has N children that are not zombies.
live_children() {
	[ "$(children "$SERVER_PID" | awk '$2 !~ /^Z/' | wc -l)" -eq "$1" ]
}

# as_nobody_with_nproc N MODEL [ARGS...]: starts upserver-MODEL as the
# user nobody with `ulimit -u N` (root ignores RLIMIT_NPROC, so the limit
# needs another user); skips when that cannot be done here. The binary is
# copied to a directory of its own under /tmp, since nobody may not reach
# the tree (a clone in /root).
as_nobody_with_nproc() {
	local n=$1 model=$2
	shift 2
	command -v setpriv >/dev/null || skip "setpriv is not installed"
	id nobody >/dev/null 2>&1 || skip "there is no user nobody"
	[ "$(id -u)" -eq 0 ] || skip "only root can run the server as nobody"
	NOBODY_DIR=$(mktemp -d /tmp/up-nobody.XXXXXX)
	chmod 755 "$NOBODY_DIR"
	cp "$BIN/upserver-$model" "$NOBODY_DIR/"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$NOBODY_DIR/upserver-$model" -V >/dev/null ||
	    skip "nobody cannot run upserver-$model from $NOBODY_DIR"
	[ -z "$(pgrep -u nobody)" ] ||
	    skip "nobody already runs processes, which count toward the limit"
	new_server_logs "$model"
	# shellcheck disable=SC2016 # expanded by that bash, not this one
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    bash -c 'ulimit -u "$1" && shift && exec "$@"' limit "$n" \
	    "$NOBODY_DIR/upserver-$model" -p 0 "$@" \
	    >"$SERVER_LOG" 2>"$SERVER_ERR" 3>&- &
	SERVER_PID=$!
	read_port 10
}

@test "libfiu reaches every server, and a server outlives a fault that passes" {
	local m
	for m in $MODELS; do
		start_fiu_server "$m" -d 0
		run ask before
		[ "$output" = BEFORE ]
		# every send(2) fails: no reply can leave
		fiu_ctrl "enable name=posix/io/net/send,failinfo=$ECONNRESET"
		run ask during
		[ "$status" -ne 0 ]
		wait_for_log "$SERVER_LOG" ' error .* errno=ECONNRESET'
		fiu_ctrl "disable name=posix/io/net/send"
		run ask after
		[ "$output" = AFTER ]
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
	done
}

@test "30% of fork(2) calls failing: 40 clients at once, all answered and verified" {
	start_fiu_server fork -d 500ms
	fiu_ctrl "enable_random name=posix/proc/fork,probability=0.3"
	spawn_clients 40
	wait_clients
	check_replies 40
	stop_server
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(stopped_field requests)" -eq 40 ]
	[ "$(grep -c 'reason=error' "$SERVER_LOG")" -eq 0 ]
	# forks did fail (30% of 40: P(none) is 6e-7), each shortage logged
	# once at its start and once at its end
	shortages_paired fork
}

@test "fork(2) failing for two seconds: one line when it starts, one when it ends" {
	start_fiu_server fork -d 0
	run ask first
	[ "$output" = FIRST ]
	fiu_ctrl "enable name=posix/proc/fork"
	ask waited >"$BATS_TEST_TMPDIR/reply" &
	CLIENT_PIDS=($!)
	wait_for_log "$SERVER_LOG" ' error .* op=fork errno=(EAGAIN|ENOMEM)'
	sleep 2
	fiu_ctrl "disable name=posix/proc/fork"
	wait_clients
	[ "$(cat "$BATS_TEST_TMPDIR/reply")" = WAITED ]
	wait_for_log "$SERVER_LOG" ' recovered '
	stop_server
	cat "$SERVER_LOG"
	[ "$(shortage_log fork | tr '\n' ' ')" = "error recovered " ]
	# the retries in between (10, 20, 40 ... ms apart) logged nothing
	[ "$(field recovered failures)" -ge 5 ]
	[ "$(field recovered waited)" -eq 1 ]
	[ "$(grep -c ' closed .* reason=error' "$SERVER_LOG")" -eq 0 ]
}

@test "kill -TERM to one child of upserver-fork: it answers, ends alone, the parent serves on" {
	start_server fork -d 1s
	py_client reply busy "$BATS_TEST_TMPDIR/busy" &
	CLIENT_PIDS=($!)
	wait_for_log "$SERVER_LOG" ' accepted '
	wait_until 10 test -e "$BATS_TEST_TMPDIR/busy.sent"
	local child
	child=$(children "$SERVER_PID" | awk '{ print $1; exit }')
	[ -n "$child" ]
	kill -TERM "$child"
	wait_clients
	# the request in flight was answered, then the child ended
	[ "$(cat "$BATS_TEST_TMPDIR/busy")" = BUSY ]
	wait_until 10 test ! -e "/proc/$child"
	run ask still here
	[ "$output" = "STILL HERE" ]
	kill -0 "$SERVER_PID"
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(stopped_field requests)" -eq 2 ]
}

@test "kill -TERM to one pool worker: it finishes, is logged and replaced" {
	start_server fork -d 1s -w 2
	wait_until 10 live_children 2
	py_client reply busy "$BATS_TEST_TMPDIR/busy" &
	CLIENT_PIDS=($!)
	wait_for_log "$SERVER_LOG" ' accepted '
	wait_until 10 test -e "$BATS_TEST_TMPDIR/busy.sent"
	local worker
	worker=$(awk '$2 == "accepted" { sub(/pid=/, "", $4); print $4 }' \
	    "$SERVER_LOG")
	kill -TERM "$worker"
	wait_clients
	[ "$(cat "$BATS_TEST_TMPDIR/busy")" = BUSY ]
	wait_for_log "$SERVER_LOG" " error .* op=worker pid=$worker exit=0"
	wait_until 10 live_children 2
	spawn_clients 2 after
	wait_clients
	check_replies 2 after
	stop_server
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(stopped_field requests)" -eq 3 ]
}

@test "pool workers that keep dying are replaced later and later" {
	start_server fork -d 0 -w 1
	local i w gaps=()
	for ((i = 1; i <= 5; i++)); do
		wait_until 20 live_children 1
		w=$(children "$SERVER_PID" | awk '$2 !~ /^Z/ { print $1; exit }')
		kill -KILL "$w"
		wait_for_log "$SERVER_LOG" " op=worker pid=$w signal=KILL"
	done
	cat "$SERVER_LOG"
	# a worker killed young (within 5 s of the last fork) is replaced
	# after 100, 200, 400, 800 ms: the time from one death to the next
	# grows at least that much
	read -ra gaps < <(awk '$4 == "op=worker" {
	    if (t) printf "%.3f ", $1 - t; t = $1 } END { print "" }' \
	    "$SERVER_LOG")
	echo "gaps: ${gaps[*]}"
	at_least "${gaps[1]}" 0.2
	at_least "${gaps[2]}" 0.4
	at_least "${gaps[3]}" 0.8
	run ask still served
	[ "$output" = "STILL SERVED" ]
}

@test "50% of reads and writes short or interrupted, on every model: 50 x 20 random requests byte-exact" {
	local m
	for m in $MODELS; do
		start_fiu_server "$m" -d 0 -c 1000
		# read/write (libfiu's reduce points) and send/recv (ours) come
		# back short; read, write, recv and send fail with EINTR, the
		# transient error
		fiu_ctrl \
		    "enable_random name=posix/io/rw/read/reduce,probability=0.5" \
		    "enable_random name=posix/io/rw/write/reduce,probability=0.5" \
		    "enable_random name=up/net/recv/reduce,probability=0.5" \
		    "enable_random name=up/net/send/reduce,probability=0.5" \
		    "enable_random name=posix/io/rw/read,probability=0.5,failinfo=$EINTR" \
		    "enable_random name=posix/io/rw/write,probability=0.5,failinfo=$EINTR" \
		    "enable_random name=posix/io/net/recv,probability=0.5,failinfo=$EINTR" \
		    "enable_random name=posix/io/net/send,probability=0.5,failinfo=$EINTR"
		run --separate-stderr timeout 120 upclient -H 127.0.0.1 \
		    -p "$PORT" -c 50 -n 20 -r 300 --verify -s
		echo "$m: $stderr"
		[ "$status" -eq 0 ]
		[[ "$stderr" == *"requests: 1000"* ]]
		[[ "$stderr" == *"errors: 0"* ]]
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
		[ "$(grep -c ' error ' "$SERVER_LOG")" -eq 0 ]
	done
}

@test "our own fault points: accept(2) failing on every model, recv(2) cut short in poll" {
	local m
	for m in $MODELS; do
		start_fiu_server "$m" -d 0
		# the connection stays queued: taken at the next try
		fiu_ctrl "enable_random name=up/net/accept,probability=0.5,failinfo=$EMFILE"
		run --separate-stderr timeout 60 upclient -H 127.0.0.1 \
		    -p "$PORT" -c 20 -r 100 --verify -s
		echo "$m: $stderr"
		[ "$status" -eq 0 ]
		[[ "$stderr" == *"requests: 20"* ]]
		stop_server
		grep -q " error .* op=accept errno=EMFILE" "$SERVER_LOG"
		[ "$(grep -c 'reason=error' "$SERVER_LOG")" -eq 0 ]
	done
	# Every recv(2) comes back short: under --framing read each piece is
	# a request of its own, and the replies still make the bytes sent.
	start_fiu_server poll -d 0 --framing read
	fiu_ctrl "enable name=up/net/recv/reduce"
	head -c 200000 /dev/urandom >"$BATS_TEST_TMPDIR/in"
	timeout 60 upclient -H 127.0.0.1 -p "$PORT" <"$BATS_TEST_TMPDIR/in" \
	    >"$BATS_TEST_TMPDIR/out"
	uppercase <"$BATS_TEST_TMPDIR/in" | cmp - "$BATS_TEST_TMPDIR/out"
	stop_server
	# Whole reads fill a buffer that doubles up to 64 KiB: under 20 of
	# them for these 200 000 bytes. Cut short, the buffer never fills,
	# stays at 1 KiB, and takes about 400.
	[ "$(grep -c ' received ' "$SERVER_LOG")" -gt 100 ]
}

@test "ulimit -u 40, 80 clients at once on upserver-fork: all served, none reset" {
	as_nobody_with_nproc 40 fork -d 1s
	run --separate-stderr timeout 60 upclient -H 127.0.0.1 -p "$PORT" \
	    -c 80 --verify -s hello
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"requests: 80"* ]]
	stop_server
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(stopped_field requests)" -eq 80 ]
	[ "$(grep -c 'reason=error' "$SERVER_LOG")" -eq 0 ]
	grep -q ' error .* op=fork errno=EAGAIN' "$SERVER_LOG"
	shortages_paired fork
}

@test "ulimit -u 40, 80 clients at once on upserver-thread: all served, none reset" {
	as_nobody_with_nproc 40 thread -d 1s
	run --separate-stderr timeout 60 upclient -H 127.0.0.1 -p "$PORT" \
	    -c 80 --verify -s hello
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"requests: 80"* ]]
	stop_server
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(stopped_field requests)" -eq 80 ]
	[ "$(grep -c 'reason=error' "$SERVER_LOG")" -eq 0 ]
	grep -q ' error .* op=pthread_create errno=EAGAIN' "$SERVER_LOG"
	shortages_paired pthread_create
}

@test "30% of malloc(3) calls failing in upserver-poll: 100 clients x 5 verified requests, no error" {
	start_fiu_server poll -d 100ms
	fiu_ctrl "enable_random name=libc/mm/malloc,probability=0.3" \
	    "enable_random name=libc/mm/realloc,probability=0.3" \
	    "enable_random name=libc/mm/calloc,probability=0.3"
	run --separate-stderr timeout 120 upclient -H 127.0.0.1 -p "$PORT" \
	    -c 100 -n 5 -r 100 --verify -s
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"requests: 500"* ]]
	[[ "$stderr" == *"errors: 0"* ]]
	malloc_ok
	shortage_ends malloc
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(stopped_field requests)" -eq 500 ]
	[ "$(grep -c 'reason=' "$SERVER_LOG")" -eq 0 ]
	grep -vE ' (accepted|responded|closed) ' "$SERVER_LOG"
	shortages_paired malloc
}

@test "30% of malloc(3) calls failing in upserver-poll --http: ab -k loses no request" {
	command -v ab >/dev/null || skip "ab is not installed (apache2-utils)"
	start_fiu_server poll -d 0 --http
	fiu_ctrl "enable_random name=libc/mm/malloc,probability=0.3" \
	    "enable_random name=libc/mm/realloc,probability=0.3" \
	    "enable_random name=libc/mm/calloc,probability=0.3"
	run timeout 120 ab -k -n 1000 -c 20 "http://127.0.0.1:$PORT/a-long-enough-target-to-need-a-response-buffer"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Complete requests:      1000"* ]]
	[[ "$output" == *"Failed requests:        0"* ]]
	[[ "$output" != *"Non-2xx responses"* ]]
	malloc_ok
	shortage_ends malloc
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(grep -c 'reason=error' "$SERVER_LOG")" -eq 0 ]
	[ "$(grep -c ' error .* op=malloc' "$SERVER_LOG")" -ge 1 ]
	shortages_paired malloc
}

# held_client NAME: a python3 client that connects, writes NAME.ready,
# sends "held" once NAME.go exists, and writes what it reads to NAME
# until the server closes (or resets) the connection.
held_client() {
	python3 - "$PORT" "$1" <<'PY' &
import os, socket, sys, time
port, name = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
open(name + ".ready", "w").close()
while not os.path.exists(name + ".go"):
    time.sleep(0.05)
s.sendall(b"held\n")
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except ConnectionResetError:	# closed with our request unread
    pass
open(name, "wb").write(data)
PY
	CLIENT_PIDS+=($!)
}

@test "upserver-poll out of memory: the idle timeout closes a connection that waits too long, the rest are served" {
	local nomem=("enable name=libc/mm/malloc" "enable name=libc/mm/realloc"
	    "enable name=libc/mm/calloc")
	local memory=("disable name=libc/mm/malloc" "disable name=libc/mm/realloc"
	    "disable name=libc/mm/calloc")
	start_fiu_server poll -d 0 -t 2s
	CLIENT_PIDS=()
	held_client "$BATS_TEST_TMPDIR/held"
	wait_for_log "$SERVER_LOG" ' accepted '
	fiu_ctrl "${nomem[@]}"
	touch "$BATS_TEST_TMPDIR/held.go"
	# no buffer for its request: not read, then closed by -t, unanswered
	wait_clients
	[ ! -s "$BATS_TEST_TMPDIR/held" ]
	grep -q ' closed .* requests=0 reason=idle' "$SERVER_LOG"
	fiu_ctrl "${memory[@]}"
	run ask after
	[ "$output" = AFTER ]
	# a client that waits for memory less than -t is served once it is back
	fiu_ctrl "${nomem[@]}"
	ask later >"$BATS_TEST_TMPDIR/later" &
	CLIENT_PIDS=($!)
	sleep 0.5
	[ ! -s "$BATS_TEST_TMPDIR/later" ]
	fiu_ctrl "${memory[@]}"
	wait_clients
	[ "$(cat "$BATS_TEST_TMPDIR/later")" = LATER ]
	# the shortage is over once the next connection's memory is had
	# too: the acceptor tries again within 20 ms
	wait_for_log "$SERVER_LOG" ' recovered ' 2
	stop_server
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(shortage_log malloc | tr '\n' ' ')" = "error recovered error recovered " ]
	[ "$(grep -c ' closed .* reason=error' "$SERVER_LOG")" -eq 0 ]
}

# BLOCKING_MODELS: the models that serve a connection in a blocking
# up_serve(), the pool included, one "MODEL ARGS" each.
BLOCKING_MODELS=("seq" "fork" "thread" "thread -w 2")

# malloc_fails P: malloc, realloc and calloc fail with probability P in
# the server (and its children forked afterwards).
malloc_fails() {
	fiu_ctrl "enable_random name=libc/mm/malloc,probability=$1" \
	    "enable_random name=libc/mm/realloc,probability=$1" \
	    "enable_random name=libc/mm/calloc,probability=$1"
}

@test "20% of malloc(3) calls failing on seq, fork, thread, thread -w 2: 50 clients, every reply byte" {
	local m
	for m in "${BLOCKING_MODELS[@]}"; do
		# shellcheck disable=SC2086 # "thread -w 2" is three words
		start_fiu_server $m -d 0
		malloc_fails 0.2
		run --separate-stderr timeout 120 upclient -H 127.0.0.1 \
		    -p "$PORT" -c 50 -n 4 -r 200 --verify -s
		echo "$m: $stderr"
		[ "$status" -eq 0 ]
		[[ "$stderr" == *"requests: 200"* ]]
		[[ "$stderr" == *"errors: 0"* ]]
		stop_server
		grep -vE ' (accepted|received|responded|closed) ' "$SERVER_LOG"
		[ "$SERVER_STATUS" -eq 0 ]
		[ "$(stopped_field requests)" -eq 200 ]
		[ "$(grep -c 'reason=' "$SERVER_LOG")" -eq 0 ]
		# the shortage was met (P(no failure) is tiny) and logged as
		# the event loop logs it: an error, then recovered
		grep -q ' error .* op=malloc errno=ENOMEM' "$SERVER_LOG"
		shortages_paired malloc
	done
}

@test "20% of malloc(3) calls failing on seq, fork, thread, thread -w 2 --http: ab loses no request" {
	command -v ab >/dev/null || skip "ab is not installed (apache2-utils)"
	local m k
	for m in "${BLOCKING_MODELS[@]}"; do
		# shellcheck disable=SC2086 # "thread -w 2" is three words
		start_fiu_server $m -d 0 --http
		malloc_fails 0.2
		# a connection per request, 10 at a time; then one kept
		# alive (seq and a pool of 2 would keep 10 waiting for ever)
		for k in "-c 10" "-k -c 1"; do
			# shellcheck disable=SC2086 # options, two or three words
			run timeout 120 ab $k -n 250 "http://127.0.0.1:$PORT/a-long-enough-target-to-need-a-response-buffer"
			echo "$m $k: $output"
			[ "$status" -eq 0 ]
			[[ "$output" == *"Complete requests:      250"* ]]
			[[ "$output" == *"Failed requests:        0"* ]]
			[[ "$output" != *"Non-2xx responses"* ]]
		done
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
		[ "$(stopped_field requests)" -eq 500 ]
		[ "$(grep -c 'reason=error' "$SERVER_LOG")" -eq 0 ]
		grep -q ' error .* op=malloc errno=ENOMEM' "$SERVER_LOG"
		shortages_paired malloc
	done
}

# malloc_ok: malloc, realloc and calloc work again, in the server and in
# the children it has forked (which inherited the fault).
malloc_ok() {
	local pids=("$SERVER_PID") pid _
	while read -r pid _; do
		pids+=("$pid")
	done < <(children "$SERVER_PID")
	fiu-ctrl -f "$FIU_CTRL" -c "disable name=libc/mm/malloc" \
	    -c "disable name=libc/mm/realloc" \
	    -c "disable name=libc/mm/calloc" "${pids[@]}"
}

# accepted_count N: the log has N "accepted" lines.
accepted_count() {
	[ "$(grep -c ' accepted ' "$SERVER_LOG")" -eq "$1" ]
}

@test "seq, fork, thread -w 2 out of memory: a client waits, served once memory is back; -t and a stop end the wait" {
	local m
	for m in seq fork "thread -w 2"; do
		# shellcheck disable=SC2086 # "thread -w 2" is three words
		start_fiu_server $m -d 0 -t 2s
		# no buffer for its request: it waits, then -t closes it
		# unanswered (reason=idle), and not as an error
		malloc_fails 1
		CLIENT_PIDS=()
		touch "$BATS_TEST_TMPDIR/held.go"
		held_client "$BATS_TEST_TMPDIR/held"
		wait_clients
		[ ! -s "$BATS_TEST_TMPDIR/held" ]
		grep -q ' closed .* requests=0 reason=idle' "$SERVER_LOG"
		# a client that waits for memory less than -t is served once
		# it is back
		ask later >"$BATS_TEST_TMPDIR/later" &
		CLIENT_PIDS=($!)
		wait_until 10 accepted_count 2
		sleep 0.5
		[ ! -s "$BATS_TEST_TMPDIR/later" ]
		malloc_ok
		wait_clients
		[ "$(cat "$BATS_TEST_TMPDIR/later")" = LATER ]
		wait_for_log "$SERVER_LOG" ' recovered .* op=malloc'
		# a stop ends a wait for memory at once
		malloc_fails 1
		rm -f "$BATS_TEST_TMPDIR/held"*
		touch "$BATS_TEST_TMPDIR/held.go"
		held_client "$BATS_TEST_TMPDIR/held"
		wait_until 10 accepted_count 3
		sleep 0.5
		stop_server
		wait_clients
		cat "$SERVER_LOG"
		[ "$SERVER_STATUS" -eq 0 ]
		[ ! -s "$BATS_TEST_TMPDIR/held" ]
		grep -q ' closed .* requests=0 reason=stop' "$SERVER_LOG"
		[ "$(grep -c ' closed .* reason=error' "$SERVER_LOG")" -eq 0 ]
		[ "$(stopped_field requests)" -eq 1 ]
		rm -f "$BATS_TEST_TMPDIR/held"*
	done
}

@test "upserver-thread out of memory for a connection's job: logged as malloc, served once memory is back, closed at a stop" {
	start_fiu_server thread -d 0
	malloc_fails 1
	ask waited >"$BATS_TEST_TMPDIR/waited" &
	CLIENT_PIDS=($!)
	# the connection is kept, its thread not started: no memory for
	# the job that hands it over
	wait_for_log "$SERVER_LOG" ' error ' 1
	sleep 0.5
	[ ! -s "$BATS_TEST_TMPDIR/waited" ]
	malloc_ok
	wait_clients
	[ "$(cat "$BATS_TEST_TMPDIR/waited")" = WAITED ]
	wait_for_log "$SERVER_LOG" ' recovered .* op=malloc'
	# a stop ends the wait: the connection closed unserved, exit 0
	malloc_fails 1
	ask stopped >"$BATS_TEST_TMPDIR/stopped" &
	CLIENT_PIDS=($!)
	wait_for_log "$SERVER_LOG" ' error ' 2
	stop_server
	wait_clients || true
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ ! -s "$BATS_TEST_TMPDIR/stopped" ]
	# the call that failed, malloc, not pthread_create, which never ran
	[ "$(grep -cE ' error 127\.0\.0\.1:[0-9]+ op=malloc errno=ENOMEM$' "$SERVER_LOG")" -eq 2 ]
	[ "$(grep -c 'op=pthread_create' "$SERVER_LOG")" -eq 0 ]
	[ "$(grep -c ' closed .* reason=stop' "$SERVER_LOG")" -eq 1 ]
	[ "$(grep -c 'reason=' "$SERVER_LOG")" -eq 1 ]
	[ "$(stopped_field requests)" -eq 1 ]
}

@test "a -w event loop that cannot allocate its engine says so, and is replaced once memory is back" {
	start_fiu_server poll -d 0 -w 2
	wait_until 10 live_children 2
	# loops forked from now on find no memory for their engine
	fiu_ctrl "enable name=libc/mm/calloc"
	local w
	w=$(children "$SERVER_PID" | awk '$2 !~ /^Z/ { print $1; exit }')
	kill -KILL "$w"
	wait_until 10 grep -qE '^upserver-poll: event loop pid=[0-9]+: allocating its engine \(--backend poll\): Cannot allocate memory$' "$SERVER_ERR"
	# the memory is back: the next replacement starts and serves
	fiu_ctrl "disable name=libc/mm/calloc"
	wait_until 20 live_children 2
	run ask back
	[ "$output" = BACK ]
	stop_server
	cat "$SERVER_ERR"
	[ "$SERVER_STATUS" -eq 0 ]
	grep -q ' error .* op=worker pid=[0-9]* exit=1' "$SERVER_LOG"
	# the message names what failed, not only the backend
	[ "$(grep -cE '^upserver-poll: poll: ' "$SERVER_ERR")" -eq 0 ]
}

@test "coro: a stack overflow is reported as one, not a bare SIGSEGV" {
	# up/coro/overflow: the request's handling recurses without end
	start_fiu_server coro -d 0 --stack 32k
	fiu_ctrl "enable name=up/coro/overflow"
	timeout 10 upclient -H 127.0.0.1 -p "$PORT" hello || true
	local st=0
	wait "$SERVER_PID" || st=$?
	SERVER_PID=
	cat "$SERVER_ERR"
	# it still dies of the SIGSEGV (128 + 11), but says why first
	[ "$st" -eq 139 ]
	grep -qE '^upserver-coro: connection 127\.0\.0\.1:[0-9]+: stack overflow: its stack of 32768 bytes is too small; raise it with --stack \(now 32k\)$' \
	    "$SERVER_ERR"
}

@test "coro: a kernel that refuses io_uring: --backend uring exits 2 naming what works; the default serves" {
	local have
	uring_refused "$FIU_BIN" >/dev/null &&
	    skip "$(uring_refused "$FIU_BIN")"
	# what works: the build's backends, less the one refused
	have=$(poll_backends "$FIU_BIN" | sed 's/ uring//; s/ /, /g')
	# up/ev/uring: io_uring_setup fails, failinfo the errno, as under
	# kernel.io_uring_disabled=2 (EPERM) or a seccomp filter (ENOSYS)
	run --separate-stderr timeout 10 fiu-run -x -c "enable name=up/ev/uring,failinfo=1" \
	    "$FIU_BIN/upserver-coro" -p 0 --backend uring
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "upserver-coro: --backend: uring: the kernel refuses io_uring (Operation not permitted); the backends that work here: $have" ]
	run --separate-stderr timeout 10 fiu-run -x -c "enable name=up/ev/uring,failinfo=38" \
	    "$FIU_BIN/upserver-coro" -p 0 --backend uring
	[ "$status" -eq 2 ]
	[[ "${stderr_lines[0]}" == *"(Function not implemented); the backends that work here: $have" ]]
	# a server given no --backend never asks for io_uring
	FIU_CTRL="$BATS_TEST_TMPDIR/fiu"
	new_server_logs coro
	fiu-run -x -f "$FIU_CTRL" -c "enable name=up/ev/uring,failinfo=1" \
	    "$FIU_BIN/upserver-coro" -p 0 -d 0 >"$SERVER_LOG" 2>"$SERVER_ERR" 3>&- &
	SERVER_PID=$!
	read_port 10
	run timeout 10 upclient -H 127.0.0.1 -p "$PORT" still served
	[ "$status" -eq 0 ]
	[ "$output" = "STILL SERVED" ]
}

# coro_backends: the --backend of each upserver-coro to test, one a line:
# poll, and uring where this build and kernel have io_uring.
coro_backends() {
	echo poll
	uring_refused "$FIU_BIN" >/dev/null || echo uring
}

@test "30% of malloc(3) calls failing in upserver-coro, each backend: 100 clients x 5 verified requests, the shortage logged as poll logs it" {
	local b
	for b in $(coro_backends); do
		start_fiu_server coro --backend "$b" -d 100ms
		malloc_fails 0.3
		run --separate-stderr timeout 120 upclient -H 127.0.0.1 \
		    -p "$PORT" -c 100 -n 5 -r 100 --verify -s
		echo "$b: $stderr"
		[ "$status" -eq 0 ]
		[[ "$stderr" == *"requests: 500"* ]]
		[[ "$stderr" == *"errors: 0"* ]]
		stop_server
		grep -vE ' (accepted|received|responded|closed) ' "$SERVER_LOG"
		[ "$SERVER_STATUS" -eq 0 ]
		[ "$(stopped_field requests)" -eq 500 ]
		[ "$(grep -c 'reason=' "$SERVER_LOG")" -eq 0 ]
		# the shortage was met, and logged once as it began and once
		# as it ended, as upserver-poll logs it
		grep -qE ' error 127\.0\.0\.1:[0-9]+ op=malloc errno=ENOMEM$' "$SERVER_LOG"
		shortages_paired malloc
	done
}

@test "upserver-coro out of memory, each backend: a client waits, served once memory is back; -t and a stop end the wait" {
	local b
	for b in $(coro_backends); do
		start_fiu_server coro --backend "$b" -d 0 -t 2s
		# accepted (its memory and coroutine were made first), then
		# no buffer for its request: it waits, and -t closes it
		# unanswered, as idle
		run ask before
		[ "$output" = BEFORE ]
		malloc_fails 1
		CLIENT_PIDS=()
		touch "$BATS_TEST_TMPDIR/held.go"
		held_client "$BATS_TEST_TMPDIR/held"
		wait_clients
		[ ! -s "$BATS_TEST_TMPDIR/held" ]
		grep -q ' closed .* requests=0 reason=idle' "$SERVER_LOG"
		# a client that waits for memory less than -t is served
		malloc_ok
		run ask again
		[ "$output" = AGAIN ]
		malloc_fails 1
		ask later >"$BATS_TEST_TMPDIR/later" &
		CLIENT_PIDS=($!)
		wait_until 10 accepted_count 4
		sleep 0.5
		[ ! -s "$BATS_TEST_TMPDIR/later" ]
		malloc_ok
		wait_clients
		[ "$(cat "$BATS_TEST_TMPDIR/later")" = LATER ]
		wait_for_log "$SERVER_LOG" ' recovered .* op=malloc' 2
		# a stop ends a wait for memory at once
		run ask once more
		[ "$output" = "ONCE MORE" ]
		malloc_fails 1
		rm -f "$BATS_TEST_TMPDIR/held"*
		touch "$BATS_TEST_TMPDIR/held.go"
		held_client "$BATS_TEST_TMPDIR/held"
		wait_until 10 accepted_count 6
		wait_for_log "$SERVER_LOG" ' error .* op=malloc' 3
		stop_server
		wait_clients
		cat "$SERVER_LOG"
		[ "$SERVER_STATUS" -eq 0 ]
		[ ! -s "$BATS_TEST_TMPDIR/held" ]
		grep -q ' closed .* requests=0 reason=stop' "$SERVER_LOG"
		[ "$(grep -c ' closed .* reason=error' "$SERVER_LOG")" -eq 0 ]
		[ "$(stopped_field requests)" -eq 4 ]
		rm -f "$BATS_TEST_TMPDIR/held"*
	done
}

# held_ask WORD: asks WORD on a connection left open (fd HELD), so that
# its coroutine stays live.
held_ask() {
	local line
	exec {HELD}<>"/dev/tcp/127.0.0.1/$PORT"
	printf '%s\n' "$1" >&"$HELD"
	read -r -t 10 -u "$HELD" line
	[ "$line" = "$(uppercase <<<"$1")" ]
}

@test "upserver-coro, each backend: a coroutine's stack that cannot be mapped (mmap) or guarded (mprotect) leaves the client in the backlog, served once it can be" {
	local b op first before
	for b in $(coro_backends); do
		for op in mmap mprotect; do
			# a server of its own: one whose coroutines are all
			# live, none done and kept to be run again
			start_fiu_server coro --backend "$b" -d 0
			# served: the coroutine of the next connection is made
			# as this one is accepted, before the fault
			held_ask before
			before=$HELD
			fiu_ctrl "enable name=posix/mm/$op,failinfo=12"
			# this one takes that coroutine; the next cannot be made
			held_ask first
			first=$HELD
			wait_for_log "$SERVER_LOG" " error 127\.0\.0\.1:[0-9]+ op=$op errno=ENOMEM$"
			ask waited >"$BATS_TEST_TMPDIR/waited" &
			CLIENT_PIDS=($!)
			sleep 0.5
			# not accepted: it waits in the backlog, unanswered
			[ ! -s "$BATS_TEST_TMPDIR/waited" ]
			accepted_count 2
			fiu_ctrl "disable name=posix/mm/$op"
			wait_clients
			[ "$(cat "$BATS_TEST_TMPDIR/waited")" = WAITED ]
			wait_for_log "$SERVER_LOG" " recovered .* op=$op "
			exec {before}>&- {first}>&-
			wait_for_log "$SERVER_LOG" ' closed ' 3
			stop_server
			cat "$SERVER_LOG"
			[ "$SERVER_STATUS" -eq 0 ]
			[ "$(stopped_field requests)" -eq 3 ]
			[ "$(grep -c 'reason=' "$SERVER_LOG")" -eq 0 ]
			# what failed, once as the shortage began and once as
			# it ended; nothing called $op that was not
			[ "$(awk '$2 == "error" || $2 == "recovered" { print $2, $4 }' \
			    "$SERVER_LOG" | tr '\n' ,)" = "error op=$op,recovered op=$op," ]
		done
	done
}

@test "coro on uring with two buffers for its standing receives: none free (ENOBUFS) costs no byte" {
	uring_refused "$FIU_BIN" >/dev/null &&
	    skip "$(uring_refused "$FIU_BIN")"
	FIU_CTRL="$BATS_TEST_TMPDIR/fiu"
	new_server_logs coro
	# up/ev/uring-buffers: the engine's ring has two buffers, so most
	# standing receives end with none free, and receive once on their own
	fiu-run -x -f "$FIU_CTRL" -c "enable name=up/ev/uring-buffers" \
	    "$FIU_BIN/upserver-coro" -p 0 -d 10ms --backend uring \
	    >"$SERVER_LOG" 2>"$SERVER_ERR" 3>&- &
	SERVER_PID=$!
	read_port 10
	awk 'BEGIN { for (i = 1; i <= 5000; i++)
	    printf "%095d line\n", i }' >"$BATS_TEST_TMPDIR/in"
	local pipelining
	timeout 60 upclient -H 127.0.0.1 -p "$PORT" \
	    <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" &
	pipelining=$!
	run --separate-stderr timeout 60 upclient -H 127.0.0.1 \
	    -p "$PORT" -c 50 -n 10 -r 100 --verify -s
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"requests: 500"* ]]
	[[ "$stderr" == *"errors: 0"* ]]
	wait "$pipelining"
	uppercase <"$BATS_TEST_TMPDIR/in" | cmp - "$BATS_TEST_TMPDIR/out"
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(stopped_field requests)" -eq 5500 ]
}
