#!/usr/bin/env bats
# --request-timeout: a request must be whole within a bound of its first
# byte, however often its bytes come (slowloris, issue 21). Clients that
# trickle a byte every half second, well inside -t, are closed with
# reason=request-timeout, and meanwhile a pool of two still serves a third
# client. Durations come from the server's own clock, with margins of
# several times the bound.

# status, output, lines: set by bats' run; PORT: by start_server
# shellcheck disable=SC2154,SC2153

load helpers
load concurrent

teardown() {
	teardown_family	# pools have children
}

# slowloris TEXT OUT: in the background (its pid in CLIENT_PIDS), a
# client that sends TEXT (printf escapes), over and over, a byte every
# half second for at most 25 s, then reads what the server sent until it
# closes; writes "sent N" and the repr of what came back into OUT.
slowloris() {
	python3 - "$PORT" "$1" >"$2" 3>&- <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
text = sys.argv[2].encode().decode("unicode_escape").encode()
start, sent = time.monotonic(), 0
try:
    while time.monotonic() - start < 25:
        s.sendall(text[sent % len(text):][:1])
        sent += 1
        time.sleep(0.5)
except OSError:
    pass
got = b""
s.settimeout(5)
try:
    while True:
        more = s.recv(4096)
        if not more:
            break
        got += more
except OSError:
    pass
print("sent", sent)
print(repr(got))
EOF
	CLIENT_PIDS+=($!)
}

# held_for: for each connection closed with reason=request-timeout, the
# seconds from its accepted line to its closed line, by the server's
# clock, one per line.
held_for() {
	awk '$2 == "accepted" { at[$3] = $1 }
	    $2 == "closed" && / reason=request-timeout / {
	    printf "%.3f\n", $1 - at[$3] }' "$SERVER_LOG"
}

# trickle MODEL N TEXT [ARGS...]: N slowloris clients sending TEXT to
# upserver-MODEL -w 2 (seq: no -w) -t 5s --request-timeout 2s ARGS, then
# one more client, which must be served while they trickle; each
# slowloris is closed with reason=request-timeout within 10 s.
trickle() {
	local model=$1 n=$2 text=$3 i t
	shift 3
	local -a pool=(-w 2)
	[ "$model" = seq ] && pool=()
	start_server "$model" "${pool[@]}" -d 0 -t 5s --request-timeout 2s "$@"
	CLIENT_PIDS=()
	for ((i = 1; i <= n; i++)); do
		slowloris "$text" "$BATS_TEST_TMPDIR/slow.$i"
	done
	wait_for_log "$SERVER_LOG" ' accepted ' "$n"
}

# check_closed N: N connections closed with reason=request-timeout, each
# within 10 s of its accept, with the bytes it sent as pending=.
check_closed() {
	local t
	wait_for_log "$SERVER_LOG" ' closed .* reason=request-timeout ' "$1" 20
	cat "$SERVER_LOG"
	[ "$(held_for | wc -l)" -eq "$1" ]
	for t in $(held_for); do
		at_least "$t" 1.9
		less_than "$t" 10
	done
	[ "$(grep -cE ' closed .* requests=0 reason=request-timeout pending=[1-9][0-9]*( |$)' \
	    "$SERVER_LOG")" -eq "$1" ]
}

@test "--request-timeout: a slowloris line is closed, and the pool serves another meanwhile" {
	local m n
	for m in seq fork thread poll $(coro_models); do
		[ -x "$BIN/upserver-${m%%-*}" ] || continue
		n=2
		[ "$m" = seq ] && n=1
		# strict lines: under auto each byte would be a request of its own
		trickle "$m" "$n" x --framing line
		# the workers are all held: the next client waits, then is served
		run timeout 20 upclient -H 127.0.0.1 -p "$PORT" third
		echo "$m: $output"
		[ "$status" -eq 0 ]
		[ "$output" = THIRD ]
		check_closed "$n"
		wait_clients
		grep -qx "b''" "$BATS_TEST_TMPDIR/slow.1"
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
		# the third was served after a slowloris was closed, not after
		# it gave up
		[ "$(events "$SERVER_LOG" | grep -E '^(closed|responded)$' |
		    head -1)" = closed ] || [ "$m" = poll ] || [ "${m%%-*}" = coro ]
	done
}

@test "--request-timeout under --http: a head sent slowly gets 408 and is closed" {
	local m n
	for m in seq fork thread poll $(coro_models); do
		[ -x "$BIN/upserver-${m%%-*}" ] || continue
		n=2
		[ "$m" = seq ] && n=1
		trickle "$m" "$n" 'GET / HTTP/1.1\r\nHost: a\r\n' --http
		run timeout 20 curl -sS "http://127.0.0.1:$PORT/third"
		echo "$m: $output"
		[ "$status" -eq 0 ]
		[ "$output" = /THIRD ]
		check_closed "$n"
		wait_clients
		cat "$BATS_TEST_TMPDIR/slow.1"
		grep -q "^b'HTTP/1.1 408 Request Timeout\\\\r\\\\n.*Connection: close\\\\r\\\\n" \
		    "$BATS_TEST_TMPDIR/slow.1"
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
	done
}

@test "--request-timeout 0: a trickle is held for as long as it lasts, as before" {
	start_server poll -d 0 -t 5s --request-timeout 0 --framing line
	CLIENT_PIDS=()
	slowloris x "$BATS_TEST_TMPDIR/slow.1"
	wait_for_log "$SERVER_LOG" ' accepted ' 1
	# well past where 2s would have closed it: still open
	sleep 4
	run ! grep -q ' closed ' "$SERVER_LOG"
	kill_clients
	stop_server
}

@test "--request-timeout: bad values are refused with the usage and exit 2" {
	local v
	for v in -1 abc 2x 90000s ""; do
		run upserver-thread --request-timeout "$v"
		echo "$v: $output"
		[ "$status" -eq 2 ]
		[[ "${lines[0]}" == "upserver-thread: --request-timeout: '$v' is "* ]]
		[[ "${lines[1]}" == "usage: upserver-thread "* ]]
	done
	run upserver-seq --help
	[[ "$output" == *"--request-timeout TIME"*"[30s]"* ]]
}
