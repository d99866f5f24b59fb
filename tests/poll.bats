#!/usr/bin/env bats
# poll.bats: the event-loop server, upserver-poll, on one backend: the
# one its name says (poll-select.bats, poll-epoll.bats, poll-kqueue.bats,
# poll-uring.bats are links to this file), or poll. Tests on a backend
# this build lacks, or the kernel refuses (uring), are skipped.

load helpers

UP_BACKEND=$(basename "$BATS_TEST_FILENAME" .bats)
UP_BACKEND=${UP_BACKEND#poll-}
export UP_BACKEND

LOAD="$BATS_TEST_DIRNAME/load.py"

setup() {
	local why
	case " $(poll_backends) " in
	*" $UP_BACKEND "*) ;;
	*) skip "no $UP_BACKEND backend in this build" ;;
	esac
	if [ "$UP_BACKEND" = uring ] && why=$(uring_refused); then
		skip "$why"
	fi
}

teardown() {
	if [ -n "${FLOOD_PID:-}" ]; then
		kill "$FLOOD_PID" 2>/dev/null || true
		wait "$FLOOD_PID" 2>/dev/null || true
		FLOOD_PID=
	fi
	teardown_server
}

# field EVENT KEY: the value of KEY=... on the first EVENT line of the log.
field() {
	awk -v e="$1" -v k="$2" '$2 == e {
		for (i = 4; i <= NF; i++)
			if (index($i, k "=") == 1) {
				print substr($i, length(k) + 2); exit
			}
	}' "$SERVER_LOG"
}

# span FIRST LAST: seconds from the first FIRST event to the last LAST one.
span() {
	awk -v f="$1" -v l="$2" '
		$2 == f && t0 == "" { t0 = $1 }
		$2 == l { t1 = $1 }
		END { printf "%.3f\n", t1 - t0 }' "$SERVER_LOG"
}

# elapsed OUTPUT: the elapsed= seconds that load.py printed.
elapsed() {
	sed -n 's/.* elapsed=\([0-9.]*\).*/\1/p' <<<"$1"
}

# less A B: A < B, for decimals.
less() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'
}

# rss_kb PID: resident memory in kB.
rss_kb() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# cpu_ticks PID: user plus system CPU time, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# start_server_nofile N ARGS...: start_server poll ARGS with at most N
# descriptors (ulimit -n sets the hard limit too, so the server cannot
# raise it).
start_server_nofile() {
	local nofile=$1
	shift
	new_server_logs poll
	(
		ulimit -n "$nofile"
		exec "$BIN/upserver-poll" -p 0 --backend "$UP_BACKEND" "$@" \
		    >"$SERVER_LOG" 2>"$SERVER_ERR" 3>&-
	) &
	SERVER_PID=$!
	read_port 10
}

@test "poll: the listening line names the backend; 200 clients x 20 verified" {
	start_server poll -d 0 -q
	grep -q " listening .* backend=$UP_BACKEND\$" "$SERVER_LOG"
	run timeout 120 upclient -p "$PORT" -c 200 -n 20 -r 100 --verify -s
	[ "$status" -eq 0 ]
	[[ "$output" == *"requests: 4000"* ]]
	[[ "$output" == *"errors: 0"* ]]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(tail -n 1 "$SERVER_LOG" | awk '{ print $2, $4 }')" = \
	    "stopped requests=4000" ]
}

@test "poll: a client streaming pipelined lines gets every byte back" {
	start_server poll -d 0 -q
	# 20 000 lines of 100 bytes, answered in batches, in order.
	awk 'BEGIN { for (i = 0; i < 20000; i++) printf "%099d\n", i }' |
	    tr 0-9 a-j >"$BATS_TEST_TMPDIR/in"
	timeout 60 upclient -p "$PORT" <"$BATS_TEST_TMPDIR/in" \
	    >"$BATS_TEST_TMPDIR/out"
	uppercase <"$BATS_TEST_TMPDIR/in" | cmp - "$BATS_TEST_TMPDIR/out"
	stop_server
	[ "$(tail -n 1 "$SERVER_LOG" | awk '{ print $4 }')" = requests=20000 ]
}

@test "poll: -w 2 runs two loops on this backend, each line says which" {
	start_server poll -d 0 -w 2
	grep -qE " listening .* workers=2 .*backend=$UP_BACKEND\$" "$SERVER_LOG"
	run timeout 60 upclient -H 127.0.0.1 -p "$PORT" -c 50 -n 4 -r 50 \
	    --verify
	[ "$status" -eq 0 ]
	wait_for_log "$SERVER_LOG" ' closed ' 50
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	# accepted, closed: 50 each; received, responded: 200 each
	[ "$(grep -cE ' (accepted|received|responded|closed) .* pid=[0-9]+$' \
	    "$SERVER_LOG")" -eq 500 ]
	grep -qE ' stopped .* requests=200 accepted=[0-9]+,[0-9]+'\
' wasted=[0-9]+,[0-9]+$' "$SERVER_LOG"
}

@test "poll: four clients with -d 1s are all accepted, then all answered" {
	start_server poll -d 1s
	run timeout 20 python3 "$LOAD" -c 4 "$PORT"
	[ "$status" -eq 0 ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	# The log: listening, four accepted and received, and only then the
	# responses.
	[ "$(events "$SERVER_LOG" | sed -n 2,9p | sort | uniq -c |
	    awk '{ printf "%s %s ", $1, $2 }')" = "4 accepted 4 received " ]
	[ "$(events "$SERVER_LOG" | grep -c responded)" -eq 4 ]
	# Together: one delay, where one after another would take four.
	less "$(span accepted responded)" 3.5
	less "$(elapsed "$output")" 3.5
}

@test "poll: pipelined requests on one connection are answered in order" {
	start_server poll -d 200ms
	printf 'first line\nsecond\nthird, the last\n' >"$BATS_TEST_TMPDIR/in"
	timeout 10 nc -N 127.0.0.1 "$PORT" <"$BATS_TEST_TMPDIR/in" \
	    >"$BATS_TEST_TMPDIR/out"
	printf 'FIRST LINE\nSECOND\nTHIRD, THE LAST\n' >"$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/out"
	wait_for_log "$SERVER_LOG" ' closed .* requests=3$'
	[ "$(events "$SERVER_LOG" | grep -c accepted)" -eq 1 ]
	[ "$(awk '$2 == "responded" { print $4 }' "$SERVER_LOG" | tr '\n' ' ')" \
	    = "bytes=11 bytes=7 bytes=16 " ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
}

@test "poll: a line longer than --max-line is served in pieces" {
	start_server poll -d 0 --max-line 16
	printf '%s\n' "$(printf 'abcdefghij%.0s' 1 2 3 4 5)" \
	    >"$BATS_TEST_TMPDIR/in"
	timeout 10 nc -N 127.0.0.1 "$PORT" <"$BATS_TEST_TMPDIR/in" \
	    >"$BATS_TEST_TMPDIR/out"
	uppercase <"$BATS_TEST_TMPDIR/in" | cmp - "$BATS_TEST_TMPDIR/out"
	wait_for_log "$SERVER_LOG" ' closed .* requests=4$'
	[ "$(awk '$2 == "responded" { print $4 }' "$SERVER_LOG" | tr '\n' ' ')" \
	    = "bytes=16 bytes=16 bytes=16 bytes=3 " ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
}

@test "poll: bytes with no final newline at the end of stream are answered" {
	start_server poll -d 0
	run bash -c "printf 'abc\ndef' | timeout 10 nc -N 127.0.0.1 $PORT"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'ABC\nDEF')" ]
	wait_for_log "$SERVER_LOG" ' closed .* requests=2$'
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
}

@test "poll: NUL, CR and bytes >= 0x80 pass unchanged" {
	start_server poll -d 0 --max-line 1000
	{
		for i in 1 2 3 4; do
			printf 'mixed Case \0 \r\n\200\377 caf\303\251\n'
		done
		head -c 300000 /dev/urandom
	} >"$BATS_TEST_TMPDIR/in"
	timeout 20 nc -N 127.0.0.1 "$PORT" <"$BATS_TEST_TMPDIR/in" \
	    >"$BATS_TEST_TMPDIR/out"
	uppercase <"$BATS_TEST_TMPDIR/in" | cmp - "$BATS_TEST_TMPDIR/out"
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
}

@test "poll: a thousand clients with -d 500ms are answered together" {
	start_server poll -d 500ms -q
	run timeout 60 python3 "$LOAD" -c 1000 -T 50 "$PORT"
	echo "$output"
	[ "$status" -eq 0 ]
	# One after another would take 500 s; together, about half a second.
	less "$(elapsed "$output")" 4
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(field stopped requests)" -eq 1000 ]
}

@test "poll: a client that sends 50 MB without reading is held back" {
	start_server poll -d 0
	local before after flood_out="$BATS_TEST_TMPDIR/flood"
	before=$(rss_kb "$SERVER_PID")
	python3 "$LOAD" --flood 50000000 --hold 60 "$PORT" >"$flood_out" 3>&- &
	FLOOD_PID=$!
	# It prints once it has sent everything or has been stuck a second.
	wait_for_log "$flood_out" '^sent=' 1 60
	wait_for_log "$SERVER_LOG" ' responded ' 1
	after=$(rss_kb "$SERVER_PID")
	echo "rss before=${before}kB after=${after}kB $(cat "$flood_out")"
	[ $((after - before)) -lt 20480 ]
	# Everyone else is still served, meanwhile.
	run timeout 20 python3 "$LOAD" -c 5 -n 3 -T 15 "$PORT"
	[ "$status" -eq 0 ]
	after=$(rss_kb "$SERVER_PID")
	[ $((after - before)) -lt 20480 ]
	# The flood was held back, not finished: its client is still there.
	kill -0 "$FLOOD_PID"
	kill "$FLOOD_PID"
	wait "$FLOOD_PID" || true
	FLOOD_PID=
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
}

@test "poll: a client that does not read its replies times out" {
	start_server poll -d 0 -t 1s
	python3 "$LOAD" --flood 50000000 --hold 60 "$PORT" \
	    >"$BATS_TEST_TMPDIR/flood" 3>&- &
	FLOOD_PID=$!
	# what it sent and was never answered is pending
	wait_for_log "$SERVER_LOG" ' closed .* reason=idle pending=[0-9]+$' 1 30
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
}

@test "poll: a client that sends nothing is closed after -t" {
	start_server poll -t 300ms
	# nc without -N keeps the connection open after its empty input.
	timeout 10 nc 127.0.0.1 "$PORT" </dev/null
	wait_for_log "$SERVER_LOG" ' closed .* requests=0 reason=idle$'
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
}

@test "poll: a client that resets mid-request does not disturb the others" {
	# Long enough that a loop spinning on the reset would show below.
	start_server poll -d 2s
	python3 - "$PORT" <<-'EOF'
		import socket, struct, sys
		s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
		s.sendall(b"going away\n")
		s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
		    struct.pack("ii", 1, 0))
		s.close()
	EOF
	run timeout 20 python3 "$LOAD" -c 3 "$PORT"
	[ "$status" -eq 0 ]
	wait_for_log "$SERVER_LOG" ' closed .* reason=error$'
	grep -qE ' error .* op=(read|write) errno=(ECONNRESET|EPIPE)$' \
	    "$SERVER_LOG"
	# Not a spinning loop: a fraction of a second of CPU in all.
	echo "cpu: $(cpu_ticks "$SERVER_PID") of $(getconf CLK_TCK) ticks/s"
	[ "$(cpu_ticks "$SERVER_PID")" -lt "$(($(getconf CLK_TCK) / 2))" ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
}

@test "poll: out of descriptors, it pauses, then serves every client" {
	start_server_nofile 64 -d 1s -c 1000
	run timeout 90 python3 "$LOAD" -c 200 -T 80 "$PORT"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qE ' error .* op=accept errno=EMFILE$' "$SERVER_LOG"
	# No busy loop while the descriptors were short: little CPU in all.
	echo "cpu: $(cpu_ticks "$SERVER_PID") of $(getconf CLK_TCK) ticks/s"
	[ "$(cpu_ticks "$SERVER_PID")" -lt "$(($(getconf CLK_TCK) / 2))" ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(field stopped requests)" -eq 200 ]
}

@test "poll: --counter unsafe loses updates without any thread" {
	start_server poll -d 1s --counter unsafe
	run timeout 20 python3 "$LOAD" -c 10 "$PORT"
	[ "$status" -eq 0 ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(field stopped requests)" -eq 10 ]
	[ "$(field stopped count)" -lt 10 ]
}

@test "poll: --counter mutex is correct and takes one delay per request" {
	start_server poll -d 300ms --counter mutex
	run timeout 30 python3 "$LOAD" -c 10 "$PORT"
	[ "$status" -eq 0 ]
	# Ten sections of 300ms, one at a time, without blocking the loop.
	less 2.9 "$(elapsed "$output")"
	less "$(elapsed "$output")" 10
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(field stopped requests)" -eq 10 ]
	[ "$(field stopped count)" -eq 10 ]
	[ "$(awk '$2 == "responded" { print $5 }' "$SERVER_LOG" | tr '\n' ' ')" \
	    = "$(printf 'count=%s ' 1 2 3 4 5 6 7 8 9 10)" ]
}

@test "poll: --counter atomic is correct and takes about one delay" {
	start_server poll -d 300ms --counter atomic
	run timeout 30 python3 "$LOAD" -c 10 "$PORT"
	[ "$status" -eq 0 ]
	less "$(elapsed "$output")" 2
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(field stopped requests)" -eq 10 ]
	[ "$(field stopped count)" -eq 10 ]
}

@test "poll: SIGTERM answers the requests in flight, then exits 0" {
	start_server poll -d 2s
	local i
	for i in 1 2 3; do
		# Two requests in one write; without -N, nc keeps the
		# connection open, so it is the server that ends it.
		printf 'one %s\ntwo %s\n' "$i" "$i" |
		    timeout 20 nc 127.0.0.1 "$PORT" \
		    >"$BATS_TEST_TMPDIR/out$i" 3>&- &
	done
	# Each first reply proves its second request reached the server.
	wait_for_log "$SERVER_LOG" ' responded ' 3
	stop_server TERM
	[ "$SERVER_STATUS" -eq 0 ]
	wait
	for i in 1 2 3; do
		[ "$(cat "$BATS_TEST_TMPDIR/out$i")" = \
		    "$(printf 'ONE %s\nTWO %s' "$i" "$i")" ]
	done
	[ "$(grep -c ' closed .* requests=2 reason=stop$' "$SERVER_LOG")" -eq 3 ]
	[ "$(events "$SERVER_LOG" | tail -n 1)" = stopped ]
	[ "$(field stopped requests)" -eq 6 ]
}

@test "poll --http: four clients with -d 1s are answered together" {
	command -v curl >/dev/null || skip "curl is not installed"
	start_server poll -d 1s --http --counter atomic
	local i pids=()
	for i in 1 2 3 4; do
		timeout 20 curl -sS "http://127.0.0.1:$PORT/c$i" \
		    >"$BATS_TEST_TMPDIR/curl$i" 3>&- &
		pids+=($!)
	done
	wait "${pids[@]}"
	for i in 1 2 3 4; do
		[ "$(cat "$BATS_TEST_TMPDIR/curl$i")" = "/C$i" ]
	done
	[ "$(events "$SERVER_LOG" | sed -n 2,9p | sort | uniq -c |
	    awk '{ printf "%s %s ", $1, $2 }')" = "4 accepted 4 received " ]
	less "$(span accepted responded)" 3.5
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	grep -qE ' stopped .* requests=4 count=4 lost=0$' "$SERVER_LOG"
}

@test "poll: upclient -c 300 --verify, all served together" {
	start_server poll -d 300ms
	run timeout 30 upclient -p "$PORT" -c 300 -n 2 -r 100 --verify \
	    --timeout 20s
	[ "$status" -eq 0 ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(field stopped requests)" -eq 600 ]
	# Two delays each, all connections at once: well under 300 x 0.6 s.
	less "$(span accepted responded)" 4
}
