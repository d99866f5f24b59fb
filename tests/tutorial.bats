#!/usr/bin/env bats
# The tutorials' experiments as they are written: a client that sends no
# newline (served by default, or by --framing read), CPU-bound work (--cpu), the count each request
# read ("received"), listen(5) (--backlog) and ab -k (HTTP/1.0
# keep-alive). Assertions are on the order of events, the bytes of
# replies and exit statuses; durations only as generous lower bounds
# taken from the server's own clock.

# status, output, lines: set by bats' run; PORT: by start_server
# shellcheck disable=SC2154,SC2153

load helpers
load concurrent

teardown() {
	kill_clients 2>/dev/null || true
	teardown_server
}

# each_server: the server models that are built.
each_server() {
	local s
	for s in seq fork thread poll; do
		[ -x "$BIN/upserver-$s" ] && echo "$s"
	done
	[ ! -x "$BIN/upserver-coro" ] || coro_models
}

# tutorial_client TEXT: the tutorials' client. Sends TEXT with no newline
# and waits in one recv(1024) without closing its side; prints what came
# back. Gives up after 10 s (prints TIMEOUT and fails).
tutorial_client() {
	python3 - "$PORT" "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
s.sendall(sys.argv[2].encode())
try:
    print(s.recv(1024).decode())
except socket.timeout:
    print("TIMEOUT")
    sys.exit(1)
EOF
}

# log_events: the events of the server log, space-separated.
log_events() {
	events "$SERVER_LOG" | tr '\n' ' '
}

@test "--framing read: the tutorial's client gets HELLO from every model" {
	local s
	for s in $(each_server); do
		start_server "$s" -d 200ms --framing read
		grep -qE ' listening .* framing=read ' "$SERVER_LOG"
		run tutorial_client hello
		echo "$s: $output"
		[ "$status" -eq 0 ]
		[ "$output" = HELLO ]
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
		cat "$SERVER_LOG"
		[ "$(log_events)" = "listening accepted received responded closed draining stopped " ]
		grep -qE ' received 127\.0\.0\.1:[0-9]+ bytes=5( |$)' "$SERVER_LOG"
		grep -qE ' responded 127\.0\.0\.1:[0-9]+ bytes=5( |$)' "$SERVER_LOG"
	done
}

@test "--framing read: a multi-megabyte random stream comes back exact on every model" {
	local s
	head -c 3000000 /dev/urandom >"$BATS_TEST_TMPDIR/in"
	uppercase <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/want"
	for s in $(each_server); do
		start_server "$s" -d 0 -q --framing read
		timeout 60 upclient -H 127.0.0.1 -p "$PORT" \
		    <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out"
		cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/out"
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
	done
}

@test "--framing read: several requests on one connection, each answered" {
	start_server poll -d 0 --framing read
	run python3 - "$PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for word in (b"one", b"two\nthree", b"four"):
    s.sendall(word)
    got = b""
    while len(got) < len(word):
        got += s.recv(1024)
    sys.stdout.write(got.decode() + "|")
EOF
	[ "$output" = "ONE|TWO
THREE|FOUR|" ]
	stop_server
	[ "$(grep -c ' received ' "$SERVER_LOG")" -eq 3 ]
	[ "$(grep -c ' responded ' "$SERVER_LOG")" -eq 3 ]
}

# default_models: every model, pool and backend, as start_server takes
# them (a pool as "fork -w 2").
default_models() {
	local s
	for s in $(each_server); do
		if [ "$s" = poll ]; then
			poll_models
			echo "poll -w 2"
		else
			echo "$s"
		fi
		case $s in fork|thread|coro*) echo "$s -w 2" ;; esac
	done
}

@test "by default the tutorial's client gets HELLO from every model, pool and backend" {
	local m
	while read -r m; do
		# shellcheck disable=SC2086 # "fork -w 2": a model and options
		start_server $m -d 200ms
		run ! grep -q ' listening .*framing=' "$SERVER_LOG"
		run tutorial_client hello
		echo "$m: $output"
		[ "$status" -eq 0 ]
		[ "$output" = HELLO ]
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
		cat "$SERVER_LOG"
		[ "$(log_events)" = "listening accepted received responded closed draining stopped " ]
		# the log says the request was cut by the client's pause
		grep -qE ' received 127\.0\.0\.1:[0-9]+ bytes=5 framing=pause( |$)' \
		    "$SERVER_LOG"
		grep -qE ' responded 127\.0\.0\.1:[0-9]+ bytes=5( |$)' "$SERVER_LOG"
		run ! grep -q 'pending=' "$SERVER_LOG"
	done < <(default_models)
}

@test "by default a client that pauses mid-line gets both pieces back, each a request" {
	local s
	for s in $(each_server); do
		start_server "$s" -d 0
		run python3 - "$PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
s.sendall(b"hel")
got = b""
while len(got) < 3:
    got += s.recv(1024)
s.sendall(b"lo\n")
s.shutdown(socket.SHUT_WR)
while True:
    more = s.recv(1024)
    if not more:
        break
    got += more
sys.stdout.write(got.decode())
EOF
		echo "$s: $output"
		[ "$output" = HELLO ]
		stop_server
		cat "$SERVER_LOG"
		[ "$(received_keys | tr '\n' '|')" = \
		    "bytes=3 framing=pause|bytes=3|" ]
	done
}

# received_keys: the bytes= and framing= of each "received" line of the
# server log, one line each.
received_keys() {
	awk '$2 == "received" { k = ""; for (i = 4; i <= NF; i++)
	    if ($i ~ /^(bytes|framing)=/) k = k (k == "" ? "" : " ") $i
	    print k }' "$SERVER_LOG"
}

# line_session MODEL [ARGS...]: sends the same lines, in bursts, to
# upserver-MODEL ARGS; leaves its replies in $BATS_TEST_TMPDIR/out and the
# "received" lines' keys in $BATS_TEST_TMPDIR/received.
line_session() {
	start_server "$@" -d 0
	python3 - "$PORT" >"$BATS_TEST_TMPDIR/out" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
# whole lines 50 ms apart, some in one send, one in two sends at once
for chunks in ((b"one\n",), (b"two\nthree\n",), (b"fo", b"ur\n"),
               (b"\x00\xff\r\n",)):
    for chunk in chunks:
        s.sendall(chunk)
    time.sleep(0.05)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    more = s.recv(4096)
    if not more:
        break
    got += more
sys.stdout.buffer.write(got)
EOF
	stop_server
	awk '$2 == "received" { $1 = ""; $3 = ""; sub(/( [pt]id=[0-9]+)+$/, "");
	    print }' "$SERVER_LOG" >"$BATS_TEST_TMPDIR/received"
}

@test "by default a line client gets the same bytes and log as with --framing line" {
	local m
	for m in $(each_server); do
		line_session "$m" --framing line
		cp "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/want"
		cp "$BATS_TEST_TMPDIR/received" "$BATS_TEST_TMPDIR/want-received"
		cat "$BATS_TEST_TMPDIR/want-received"
		[ "$(wc -l <"$BATS_TEST_TMPDIR/want-received")" -eq 5 ]
		line_session "$m"
		cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/out"
		printf 'ONE\nTWO\nTHREE\nFOUR\n\000\377\r\n' |
		    cmp - "$BATS_TEST_TMPDIR/out"
		diff "$BATS_TEST_TMPDIR/want-received" "$BATS_TEST_TMPDIR/received"
		run ! grep -q framing= "$BATS_TEST_TMPDIR/received"
	done
}

@test "uptimeline draws a log with framing= as it draws one without" {
	start_server seq -d 100ms
	tutorial_client hello
	printf 'a\n' | timeout 10 upclient -H 127.0.0.1 -p "$PORT" >/dev/null
	stop_server
	grep -q ' framing=pause' "$SERVER_LOG"
	sed 's/ framing=[a-z-]*//' "$SERVER_LOG" >"$BATS_TEST_TMPDIR/plain.log"
	# from standard input both, so that the headers name the same file
	run uptimeline <"$SERVER_LOG"
	[ "$status" -eq 0 ]
	local with=$output
	run uptimeline <"$BATS_TEST_TMPDIR/plain.log"
	[ "$status" -eq 0 ]
	[ "$output" = "$with" ]
	[ "$(grep -c 127.0.0.1 <<<"$with")" -ge 2 ]
}

@test "--framing line: the tutorial's client hangs, and closed says pending=5" {
	local s
	for s in $(each_server); do
		start_server "$s" -d 0 -t 500ms --framing line
		grep -qE ' listening .* framing=line ' "$SERVER_LOG"
		run tutorial_client hello
		echo "$s: $output"
		# the server closes it after -t, with nothing to send
		[ "$output" = "" ]
		wait_for_log "$SERVER_LOG" ' closed ' 1
		cat "$SERVER_LOG"
		[ "$(log_events)" = "listening accepted closed " ]
		grep -qE ' closed 127\.0\.0\.1:[0-9]+ requests=0 reason=idle pending=5( |$)' \
		    "$SERVER_LOG"
		stop_server
	done
}

@test "line framing: a line ended by the end of stream is no pending line" {
	start_server seq -d 0 -t 10s
	run sh -c "printf 'hello' | nc -N 127.0.0.1 $PORT"
	[ "$output" = HELLO ]
	stop_server
	run ! grep -q pending= "$SERVER_LOG"
}

@test "--framing: a bad mode, or read with --http, is a usage error" {
	run upserver-seq --framing lines
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == *"--framing: unknown mode 'lines' (auto, line or read)"* ]]
	[[ "${lines[1]}" == "usage: upserver-seq "* ]]
	run upserver-poll --framing read --http
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == *"--framing does not apply with --http: HTTP frames a request by its head"* ]]
	run upserver-fork --framing
	[ "$status" -eq 2 ]
}

# cpu_four MODEL: upserver-MODEL --cpu -d 500ms serves four clients at
# once; checks the replies and that listening says work=cpu.
cpu_four() {
	start_server "$1" --cpu -d 500ms
	grep -qE ' listening .* work=cpu ' "$SERVER_LOG"
	spawn_clients 4
	wait_clients
	check_replies 4
	wait_for_log "$SERVER_LOG" ' closed ' 4
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	cat "$SERVER_LOG"
}

# gaps EVENT: the seconds between consecutive EVENT lines, one per line.
gaps() {
	event_times "$1" | awk 'NR > 1 { printf "%.3f\n", $1 - prev }
	    { prev = $1 }'
}

@test "--cpu: seq computes one request after another" {
	cpu_four seq
	[ "$(events "$SERVER_LOG" | grep -E '^(received|responded)$' | tr '\n' ' ')" = \
	    "$(printf 'received responded %.0s' 1 2 3 4)" ]
}

@test "--cpu: fork and thread compute all four requests at once" {
	local m
	for m in fork thread; do
		cpu_four "$m"
		# all four received before the first responded: side by side
		[ "$(events "$SERVER_LOG" | grep -E '^(received|responded)$' |
		    sed -n 1,5p | tr '\n' ' ')" = \
		    "received received received received responded " ]
	done
}

@test "--cpu: poll computes inline, each reply one delay after the last" {
	cpu_four poll
	# the loop does one request at a time: received, responded, ...
	[ "$(events "$SERVER_LOG" | grep -E '^(received|responded)$' | tr '\n' ' ')" = \
	    "$(printf 'received responded %.0s' 1 2 3 4)" ]
	# and half a second of CPU time cannot take less than that in wall
	# time: by the server's clock, each responded at least 0.45 s apart
	local g
	for g in $(gaps responded); do
		at_least "$g" 0.45
	done
	[ "$(gaps responded | wc -l)" -eq 3 ]
}

@test "--cpu: a request's CPU time is spent, not slept" {
	start_server seq --cpu -d 300ms -q
	local before after hz
	hz=$(getconf CLK_TCK)
	before=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat")
	ask burn >/dev/null
	ask burn >/dev/null
	after=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat")
	# utime + stime in clock ticks: at least the 0.6 s of two requests,
	# less some rounding
	echo "ticks: $before -> $after at $hz a second"
	[ $((after - before)) -ge $((hz * 55 / 100)) ]
}

@test "received: the tutorial's three curl log count=0 three times, then count=1" {
	command -v curl >/dev/null || skip "curl is not installed"
	start_server thread --http -d 1s --counter unsafe
	local i pids=()
	for i in 1 2 3; do
		timeout 20 curl -sS "http://127.0.0.1:$PORT/" \
		    >"$BATS_TEST_TMPDIR/curl$i" 3>&- &
		pids+=($!)
	done
	wait "${pids[@]}"
	stop_server
	cat "$SERVER_LOG"
	# three received, then three responded
	[ "$(events "$SERVER_LOG" | grep -E '^(received|responded)$' | tr '\n' ' ')" = \
	    "received received received responded responded responded " ]
	[ "$(grep -cE ' received .* count=0 tid=[0-9]+$' "$SERVER_LOG")" -eq 3 ]
	[ "$(grep -cE ' responded .* status=200 count=1 tid=[0-9]+$' "$SERVER_LOG")" -eq 3 ]
	# the stop says how many updates the race lost
	grep -qE ' stopped .* requests=3 count=1 lost=2$' "$SERVER_LOG"
}

@test "received: every request on every model, --http included; -q hides it" {
	local s
	for s in $(each_server); do
		start_server "$s" -d 0 --counter atomic
		printf 'a\nbb\n' | timeout 10 upclient -H 127.0.0.1 -p "$PORT" >/dev/null
		stop_server
		[ "$(events "$SERVER_LOG" | grep -E '^(received|responded)$' | tr '\n' ' ')" = \
		    "received responded received responded " ]
		grep -qE ' received 127\.0\.0\.1:[0-9]+ bytes=2( |$)' "$SERVER_LOG"
		grep -qE ' received 127\.0\.0\.1:[0-9]+ bytes=3( |$)' "$SERVER_LOG"
		# atomic reads no count before its work: only responded has one
		run ! grep -q ' received .* count=' "$SERVER_LOG"
		grep -qE ' responded 127\.0\.0\.1:[0-9]+ bytes=2 count=1( |$)' "$SERVER_LOG"
		grep -qE ' responded 127\.0\.0\.1:[0-9]+ bytes=3 count=2( |$)' "$SERVER_LOG"

		start_server "$s" -d 0 --http
		printf 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n' >"$BATS_TEST_TMPDIR/req"
		printf 'GET /x HTTP/1.0\r\n\r\n' >>"$BATS_TEST_TMPDIR/req"
		timeout 10 nc -N 127.0.0.1 "$PORT" <"$BATS_TEST_TMPDIR/req" >/dev/null
		stop_server
		cat "$SERVER_LOG"
		[ "$(events "$SERVER_LOG" | grep -E '^(received|responded)$' | tr '\n' ' ')" = \
		    "received responded received responded " ]
		# bytes= is the length of the request head
		grep -qE ' received 127\.0\.0\.1:[0-9]+ bytes=28( |$)' "$SERVER_LOG"
		grep -qE ' received 127\.0\.0\.1:[0-9]+ bytes=19( |$)' "$SERVER_LOG"

		start_server "$s" -d 0 --http -q
		printf 'GET /x HTTP/1.0\r\n\r\n' |
		    timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null
		stop_server
		[ "$(log_events)" = "listening stopped " ]
	done
}

@test "received: with --counter mutex, each request reads the count the last one wrote" {
	local s
	for s in thread poll; do
		start_server "$s" -d 200ms --counter mutex
		spawn_clients 3
		wait_clients
		stop_server
		cat "$SERVER_LOG"
		[ "$(awk '$2 == "received" { for (i = 4; i <= NF; i++)
		    if ($i ~ /^count=/) printf "%s ", $i }' "$SERVER_LOG")" = \
		    "count=0 count=1 count=2 " ]
	done
}

@test "--backlog N reaches listen(2): ss shows it on every model" {
	command -v ss >/dev/null || skip "ss is not installed"
	local s n
	for s in $(each_server); do
		for n in 5 1; do
			start_server "$s" -d 0 --backlog "$n"
			grep -qE " listening .* backlog=$n " "$SERVER_LOG"
			run ss -Hltn "sport = :$PORT"
			echo "$s --backlog $n: $output"
			# LISTEN Recv-Q Send-Q: Send-Q is the backlog
			[ "$(awk '{ print $3 }' <<<"$output")" = "$n" ]
			stop_server
		done
	done
}

@test "--backlog: bad values are refused with the usage and exit 2" {
	local v
	for v in -1 65536 abc 5x ""; do
		run upserver-seq --backlog "$v"
		echo "$v: $output"
		[ "$status" -eq 2 ]
		[[ "${lines[0]}" == "upserver-seq: --backlog: '$v' is "* ]]
		[[ "${lines[1]}" == "usage: upserver-seq "* ]]
	done
	run upserver-thread --backlog
	[ "$status" -eq 2 ]
	[[ "$output" == *"option --backlog needs a value"* ]]
}

@test "--backlog 1: clients beyond a full backlog are delayed, not refused" {
	start_server seq --backlog 1 -d 300ms
	spawn_clients 5
	wait_clients
	check_replies 5
	stop_server
	[ "$(stopped_field requests)" -eq 5 ]
}

# http_session REQUESTS: sends each of REQUESTS (printf escapes) on one
# connection, each after the answer to the one before, and prints the
# heads of the answers; ends with "closed" if the server closed after the
# last, or "open".
http_session() {
	python3 - "$PORT" "$@" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
buf = b""
for req in sys.argv[2:]:
    s.sendall(req.encode().decode("unicode_escape").encode())
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            print("closed early")
            sys.exit(1)
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
              if l.lower().startswith(b"content-length:")][0]
    while len(buf) < length:
        buf += s.recv(4096)
    buf = buf[length:]
    print(head.decode().replace("\r\n", "|"))
try:
    print("closed" if s.recv(1) == b"" else "open")
except socket.timeout:
    print("open")
EOF
}

@test "HTTP/1.0 keep-alive keeps the connection; HTTP/1.1 close closes it" {
	local s
	for s in $(each_server); do
		start_server "$s" -d 0 --http -t 2s
		run http_session 'GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' \
		    'GET /b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n' \
		    'GET /c HTTP/1.0\r\n\r\n'
		echo "$s: $output"
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" == "HTTP/1.1 200 OK|"*"|Connection: keep-alive" ]]
		[[ "${lines[1]}" == "HTTP/1.1 200 OK|"*"|Connection: keep-alive" ]]
		[[ "${lines[2]}" == "HTTP/1.1 200 OK|"*"|Connection: close" ]]
		[ "${lines[3]}" = closed ]
		run http_session 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n' \
		    'GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
		echo "$s: $output"
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" != *Connection* ]]
		[[ "${lines[1]}" == *"|Connection: close" ]]
		[ "${lines[2]}" = closed ]
		# close wins over keep-alive
		run http_session 'GET /a HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n'
		[[ "${lines[0]}" == *"|Connection: close" ]]
		[ "${lines[1]}" = closed ]
		stop_server
		[ "$(grep -c ' closed ' "$SERVER_LOG")" -eq 3 ]
		grep -qE ' closed 127\.0\.0\.1:[0-9]+ requests=3( |$)' "$SERVER_LOG"
	done
}

@test "ab -k: every request kept alive on fork, thread and poll" {
	command -v ab >/dev/null || skip "ab (apache2-utils) is not installed"
	local s
	for s in fork thread poll; do
		[ -x "$BIN/upserver-$s" ] || continue
		start_server "$s" -d 0 --http -q
		run timeout 120 ab -k -n 2000 -c 10 "http://127.0.0.1:$PORT/hello"
		echo "$s:"
		grep -E '^(Complete|Failed|Keep-Alive) requests' <<<"$output"
		[ "$status" -eq 0 ]
		grep -qE '^Complete requests: +2000$' <<<"$output"
		grep -qE '^Failed requests: +0$' <<<"$output"
		grep -qE '^Keep-Alive requests: +2000$' <<<"$output"
		stop_server
		[ "$(stopped_field requests)" -eq 2000 ]
	done
}
