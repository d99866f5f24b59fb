#!/usr/bin/env bats
# --http: the same servers speak minimal HTTP/1.1, for curl and wrk.

# status, output, lines: set by bats' run; PORT: by start_server
# shellcheck disable=SC2154,SC2153

load helpers

teardown() {
	teardown_server
}

setup() {
	command -v curl >/dev/null || skip "curl is not installed"
}

# each_server: the server models that are built, poll on every backend.
each_server() {
	local s
	for s in seq fork thread; do
		[ -x "$BIN/upserver-$s" ] && echo "$s"
	done
	[ ! -x "$BIN/upserver-poll" ] || poll_models
	[ ! -x "$BIN/upserver-coro" ] || coro_models
}

# raw REQUEST: sends REQUEST (printf escapes) on one connection and prints
# the whole answer, until the server closes.
raw() {
	printf '%b' "$1" | timeout 10 nc -N 127.0.0.1 "$PORT"
}

@test "GET answers the uppercased target, on every model" {
	local s
	for s in $(each_server); do
		start_server "$s" -d 0 --http
		run curl -sS "http://127.0.0.1:$PORT/hello"
		[ "$status" -eq 0 ]
		[ "$output" = "/HELLO" ]
		run curl -sS -o /dev/null -w '%{http_code} %{content_type} %{size_download}' \
		    "http://127.0.0.1:$PORT/a/b?c=d"
		[ "$output" = "200 text/plain 9" ]
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
		grep -qE ' listening .* proto=http' "$SERVER_LOG"
		grep -qE ' responded 127\.0\.0\.1:[0-9]+ bytes=7 status=200' "$SERVER_LOG"
		grep -qE ' stopped .* requests=2$' "$SERVER_LOG"
	done
}

@test "the whole response, byte for byte" {
	start_server seq -d 0 --http
	run raw 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'
	[ "$output" = "$(printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\n/X')" ]
}

@test "HEAD sends the head alone, with the length GET would have" {
	start_server seq -d 0 --http
	run raw 'HEAD /abc HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'
	[ "$output" = "$(printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\n')" ]
}

@test "keep-alive by default on HTTP/1.1: two requests, one connection" {
	local s
	for s in $(each_server); do
		start_server "$s" -d 0 --http
		run curl -sS "http://127.0.0.1:$PORT/one" "http://127.0.0.1:$PORT/two"
		[ "$output" = "$(printf '/ONE\n/TWO')" ]
		wait_for_log "$SERVER_LOG" ' closed ' 1
		[ "$(grep -c ' accepted ' "$SERVER_LOG")" -eq 1 ]
		[ "$(grep -c ' responded ' "$SERVER_LOG")" -eq 2 ]
		stop_server
	done
}

@test "pipelined requests answered in order, byte for byte, until Connection: close" {
	local s h='HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length:'
	for s in $(each_server); do
		start_server "$s" -d 100ms --http
		run raw 'GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /bc HTTP/1.1\r\nHost: h\r\n\r\nGET /d?e HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: h\r\n\r\n'
		[ "$status" -eq 0 ]
		[ "$output" = "$(printf "%b 3\r\n\r\n/A\n%b 4\r\n\r\n%b 5\r\n%s" \
		    "$h" "$h" "$h" $'Connection: close\r\n\r\n/D?E')" ]
		wait_for_log "$SERVER_LOG" ' closed .* requests=3( |$)'
		[ "$(awk '$2 == "responded" { print $4, $5 }' "$SERVER_LOG" | tr '\n' ' ')" \
		    = "bytes=3 status=200 bytes=4 status=200 bytes=5 status=200 " ]
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
	done
}

@test "HTTP/1.0 gets one answer, then the connection closes" {
	local s
	for s in $(each_server); do
		start_server "$s" -d 0 --http
		run raw 'GET /old HTTP/1.0\r\n\r\nGET /more HTTP/1.0\r\n\r\n'
		[ "$(echo "$output" | grep -c '^HTTP/1.1 200 OK')" -eq 1 ]
		[[ "$output" == *"Connection: close"* ]]
		[[ "$output" != *MORE* ]]
		stop_server
	done
}

@test "refused requests: 400, 405, 431, 505 at once, without the delay, uncounted" {
	local s start big
	big=$(printf '%0500d' 0)
	for s in $(each_server); do
		# a delay that refusals must not pay
		start_server "$s" -d 5s --http --max-line 256
		start=$SECONDS
		run raw 'NONSENSE\r\n\r\n'
		[[ "${lines[0]}" == "HTTP/1.1 400 Bad Request"* ]]
		run raw 'GET /x HTTP/1.1\r\nno colon here\r\n\r\n'
		[[ "${lines[0]}" == "HTTP/1.1 400 Bad Request"* ]]
		run raw 'GET /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello'
		[[ "${lines[0]}" == "HTTP/1.1 400 Bad Request"* ]]
		run raw 'GET /truncated HTTP/1.1\r\n'
		[[ "${lines[0]}" == "HTTP/1.1 400 Bad Request"* ]]
		run raw 'POST /x HTTP/1.1\r\nHost: h\r\n\r\n'
		[[ "${lines[0]}" == "HTTP/1.1 405 Method Not Allowed"* ]]
		[[ "$output" == *"Allow: GET, HEAD"* ]]
		[[ "$output" == *"Connection: close"* ]]
		run raw 'GET /x HTTP/2.0\r\n\r\n'
		[[ "${lines[0]}" == "HTTP/1.1 505 HTTP Version Not Supported"* ]]
		# longer than --max-line, with input left unread: the answer
		# still arrives, since the server lingers instead of resetting
		run raw "GET /x HTTP/1.1\r\nX-Big: $big\r\n\r\n"
		[[ "${lines[0]}" == "HTTP/1.1 431 Request Header Fields Too Large"* ]]
		[ $((SECONDS - start)) -lt 5 ]
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
		grep -qE ' stopped .* requests=0$' "$SERVER_LOG"
		[ "$(grep -cE ' responded .* status=(400|405|431|505)( |$)' "$SERVER_LOG")" -eq 7 ]
	done
}

# held REQUEST: sends REQUEST (printf escapes) and, without closing its
# side, prints what comes until the server closes; "timeout" after 5 s.
held() {
	python3 - "$PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
s.settimeout(5)
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    data += b"timeout"
sys.stdout.write(data.decode("latin-1"))
PY
}

@test "RFC 9112: Host required in HTTP/1.1, empty lines first ignored, HTTP/0.9 answered at once" {
	local s ok
	ok=$'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\n/X'
	for s in $(each_server); do
		start_server "$s" -d 0 --http -t 30s
		# no Host, or two: 400 (RFC 9112, 3.2)
		run raw 'GET /x HTTP/1.1\r\n\r\n'
		[[ "${lines[0]}" == "HTTP/1.1 400 Bad Request"* ]]
		run raw 'GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'
		[[ "${lines[0]}" == "HTTP/1.1 400 Bad Request"* ]]
		# HTTP/1.0 needs none
		run raw 'GET /x HTTP/1.0\r\n\r\n'
		[ "$output" = "$ok" ]
		# empty lines before the request line: ignored (2.2), up to 4
		run raw '\r\n\n\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'
		[ "$output" = "$ok" ]
		run raw '\r\n\r\n\r\n\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n'
		[[ "${lines[0]}" == "HTTP/1.1 400 Bad Request"* ]]
		# empty lines and nothing else: 400, and the server lives on
		run raw '\r\n\r\n'
		[[ "${lines[0]}" == "HTTP/1.1 400 Bad Request"* ]]
		kill -0 "$SERVER_PID"
		# a request line with no version, the connection left open:
		# 400 and the close at once, not after -t
		run held 'GET /\r\n'
		[[ "${lines[0]}" == "HTTP/1.1 400 Bad Request"* ]]
		[[ "$output" == *"Connection: close"* ]]
		[[ "$output" != *timeout ]]
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
		grep -qE " stopped .* requests=2$" "$SERVER_LOG"
	done
}

@test "after a 431 the server goes on serving" {
	start_server seq -d 0 --http --max-line 256
	run raw "GET /x HTTP/1.1\r\nX-Big: $(printf '%0500d' 0)\r\n\r\n"
	[[ "${lines[0]}" == "HTTP/1.1 431 Request Header Fields Too Large"* ]]
	run curl -sS "http://127.0.0.1:$PORT/ok"
	[ "$output" = "/OK" ]
}

@test "--http with --counter counts like line mode" {
	start_server seq -d 0 --http --counter mutex
	curl -sS "http://127.0.0.1:$PORT/1" "http://127.0.0.1:$PORT/2" >/dev/null
	stop_server
	grep -qE ' responded .* status=200 count=2$' "$SERVER_LOG"
	grep -qE ' stopped .* requests=2 count=2 lost=0$' "$SERVER_LOG"
}

@test "the tutorial's race: three curls at once against thread --http --counter unsafe" {
	[ "${UP_SANITIZER:-}" != tsan ] || skip "races on purpose"
	start_server thread -d 1s --http --counter unsafe
	local i pids=()
	for i in 1 2 3; do
		curl -sS "http://127.0.0.1:$PORT/count$i" >"$BATS_TEST_TMPDIR/curl$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	for i in 1 2 3; do
		[ "$(cat "$BATS_TEST_TMPDIR/curl$i")" = "/COUNT$i" ]
	done
	stop_server
	cat "$SERVER_LOG"
	# all three read 0 and wrote back 1: two updates lost
	[ "$(grep -c ' responded .* status=200 count=1 ' "$SERVER_LOG")" -eq 3 ]
	grep -qE ' stopped .* requests=3 count=1 lost=2$' "$SERVER_LOG"
}

@test "wrk runs against every model without socket errors" {
	command -v wrk >/dev/null || skip "wrk is not installed"
	local s conns
	for s in $(each_server); do
		# the sequential server serves one keep-alive connection at a
		# time: more would wait, unserved, for the whole run
		conns=20
		[ "$s" = seq ] && conns=1
		start_server "$s" -d 0 --http -q
		run wrk -t 1 -c "$conns" -d 1s "http://127.0.0.1:$PORT/bench"
		echo "$s: $output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"requests in"* ]]
		[[ "$output" != *"Socket errors"* ]]
		[[ "$output" != *"Non-2xx"* ]]
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
	done
}
