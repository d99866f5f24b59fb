#!/usr/bin/env bats
# upserver-seq: the protocol, the event log and the iterative model.

# status, output, lines, stderr: set by bats' run; PORT: by start_server
# shellcheck disable=SC2154,SC2153

load helpers

teardown() {
	teardown_server
}


@test "the listening line shows the real port and the model" {
	start_server seq -d 0
	[ "$PORT" -gt 0 ]
	grep -qE "^[0-9]+\.[0-9]{6} listening 127\.0\.0\.1:$PORT model=seq pid=$SERVER_PID " "$SERVER_LOG"
}

@test "TEXT arguments come back joined and uppercased" {
	start_server seq -d 0
	run upclient -p "$PORT" hello, big world
	[ "$status" -eq 0 ]
	[ "$output" = "HELLO, BIG WORLD" ]
}

@test "standard input streams through byte for byte, no newline added" {
	start_server seq -d 0
	printf 'hello\nworld' | upclient -p "$PORT" >"$BATS_TEST_TMPDIR/out"
	printf 'HELLO\nWORLD' | cmp - "$BATS_TEST_TMPDIR/out"
	# two requests: the second one ended by the end of stream
	wait_for_log "$SERVER_LOG" ' closed ' 1
	[ "$(grep -c ' responded ' "$SERVER_LOG")" -eq 2 ]
	grep -q ' responded .* bytes=6$' "$SERVER_LOG"
	grep -q ' responded .* bytes=5$' "$SERVER_LOG"
}

@test "empty lines and empty input are answered exactly" {
	start_server seq -d 0
	printf '\n\nx\n\n' | upclient -p "$PORT" >"$BATS_TEST_TMPDIR/out"
	printf '\n\nX\n\n' | cmp - "$BATS_TEST_TMPDIR/out"
	run upclient -p "$PORT" </dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "NUL, carriage returns and bytes >= 0x80 pass unchanged" {
	start_server seq -d 0
	printf 'a\0b\r\n\200\377z\351t\303\251\n' | upclient -p "$PORT" >"$BATS_TEST_TMPDIR/out"
	printf 'A\0B\r\n\200\377Z\351T\303\251\n' | cmp - "$BATS_TEST_TMPDIR/out"
}

@test "a line longer than --max-line is served in pieces, nothing lost" {
	start_server seq -d 0 --max-line 10
	printf 'abcdefghijklmnopqrstuvwxy\n' | upclient -p "$PORT" >"$BATS_TEST_TMPDIR/out"
	printf 'ABCDEFGHIJKLMNOPQRSTUVWXY\n' | cmp - "$BATS_TEST_TMPDIR/out"
	wait_for_log "$SERVER_LOG" ' closed ' 1
	# 26 bytes in pieces of at most ten: 10, 10, 6
	[ "$(grep ' responded ' "$SERVER_LOG" | sed 's/.*bytes=//' | tr '\n' ' ')" = "10 10 6 " ]
}

@test "a multi-megabyte random binary stream comes back uppercased" {
	start_server seq -d 0 -q
	head -c 4000000 /dev/urandom >"$BATS_TEST_TMPDIR/in"
	upclient -p "$PORT" <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out"
	uppercase <"$BATS_TEST_TMPDIR/in" | cmp - "$BATS_TEST_TMPDIR/out"
}

@test "nc and socat work as clients" {
	command -v nc >/dev/null || skip "nc is not installed"
	command -v socat >/dev/null || skip "socat is not installed"
	start_server seq -d 0
	run sh -c "printf 'via nc\n' | nc -N 127.0.0.1 $PORT"
	[ "$status" -eq 0 ]
	[ "$output" = "VIA NC" ]
	run sh -c "printf 'via socat\n' | socat - TCP:127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
	[ "$output" = "VIA SOCAT" ]
}

@test "every log line has the contract's format" {
	start_server seq -d 0 --counter atomic
	upclient -p "$PORT" one >/dev/null
	printf 'two\nthree\n' | upclient -p "$PORT" >/dev/null
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	cat "$SERVER_LOG"
	run grep -cvE "$LINE_RE" "$SERVER_LOG"
	[ "$output" -eq 0 ]
	[ "$(events "$SERVER_LOG" | tr '\n' ' ')" = "listening accepted received responded closed accepted received responded received responded closed draining stopped " ]
	# atomic reads no count before its work: received shows none
	grep -qE ' received 127\.0\.0\.1:[0-9]+ bytes=4$' "$SERVER_LOG"
	grep -qE ' responded 127\.0\.0\.1:[0-9]+ bytes=4 count=1$' "$SERVER_LOG"
	grep -qE ' draining 127\.0\.0\.1:[0-9]+ connections=0 signal=TERM$' "$SERVER_LOG"
	grep -qE ' stopped 127\.0\.0\.1:[0-9]+ requests=3 count=3 lost=0$' "$SERVER_LOG"
}

@test "four clients at once are served one after another" {
	start_server seq -d 1s
	local start=$SECONDS pids=() c
	for c in a b c d; do
		upclient -p "$PORT" "$c" >"$BATS_TEST_TMPDIR/out.$c" &
		pids+=($!)
	done
	for c in "${pids[@]}"; do wait "$c"; done
	local took=$((SECONDS - start))
	for c in a b c d; do
		[ "$(cat "$BATS_TEST_TMPDIR/out.$c")" = "$(echo "$c" | uppercase)" ]
	done
	cat "$SERVER_LOG"
	# Each connection's accepted, received, responded, closed ends before
	# the next accepted: the connection events, in order, are four such.
	[ "$(events "$SERVER_LOG" | grep -v listening | tr '\n' ' ')" = \
	    "$(printf 'accepted received responded closed %.0s' 1 2 3 4)" ]
	# ... and each of them is about one peer.
	run awk '$2 == "accepted" { p = $3 } $2 != "listening" && $3 != p { print "bad: " $0 }' "$SERVER_LOG"
	[ -z "$output" ]
	# Four one-second requests, one at a time, cannot take less than 4 s.
	[ "$took" -ge 3 ]
	[ "$took" -lt 20 ]
}

@test "a busy port says so and exits 1" {
	start_server seq -d 0
	run "$BIN/upserver-seq" -p "$PORT"
	[ "$status" -eq 1 ]
	[ "$output" = "upserver-seq: bind 127.0.0.1:$PORT: Address already in use" ]
}

@test "a server killed after serving clients restarts on the same port at once" {
	start_server seq -d 0 -t 200ms
	local port=$PORT
	upclient -p "$port" before >/dev/null
	# A client the server closes first (idle timeout) leaves the server's
	# side of the connection in TIME_WAIT for a minute: only SO_REUSEADDR
	# lets a new server bind the port meanwhile.
	sleep 5 | nc 127.0.0.1 "$port" >/dev/null &
	local idle=$!
	wait_for_log "$SERVER_LOG" ' closed .* reason=idle' 1
	kill "$idle"
	wait "$idle" || true
	stop_server KILL
	if command -v ss >/dev/null; then
		ss -tan state time-wait "( sport = :$port )" | grep -q ":$port"
	fi
	start_server seq -d 0 -p "$port"
	[ "$PORT" -eq "$port" ]
	run upclient -p "$port" after
	[ "$output" = "AFTER" ]
}

@test "SIGTERM while a request is in progress: it is answered, then stopped" {
	start_server seq -d 2s
	upclient -p "$PORT" slow >"$BATS_TEST_TMPDIR/out" &
	local client=$!
	wait_for_log "$SERVER_LOG" ' accepted ' 1
	stop_server TERM
	wait "$client"
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = "SLOW" ]
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(events "$SERVER_LOG" | tr '\n' ' ')" = "listening accepted received draining responded closed stopped " ]
	grep -qE ' draining 127\.0\.0\.1:[0-9]+ connections=1 signal=TERM$' "$SERVER_LOG"
	grep -qE ' stopped 127\.0\.0\.1:[0-9]+ requests=1$' "$SERVER_LOG"
}

@test "SIGINT on an idle server stops it at once with exit 0" {
	start_server seq
	stop_server INT
	[ "$SERVER_STATUS" -eq 0 ]
	grep -qE ' stopped 127\.0\.0\.1:[0-9]+ requests=0$' "$SERVER_LOG"
}

@test "an idle connection is closed after --timeout" {
	start_server seq -d 0 -t 300ms
	# a client that connects and sends nothing, holding its end open
	sleep 5 | nc 127.0.0.1 "$PORT" >/dev/null &
	local idle=$!
	wait_for_log "$SERVER_LOG" ' closed .* reason=idle' 1 10
	kill "$idle" 2>/dev/null || true
	# the next client is served
	run upclient -p "$PORT" next
	[ "$output" = "NEXT" ]
}

@test "--quiet logs only listening and stopped" {
	start_server seq -d 0 -q
	upclient -p "$PORT" quiet >/dev/null
	stop_server
	[ "$(events "$SERVER_LOG" | tr '\n' ' ')" = "listening stopped " ]
}

@test "IPv6: listening on ::1 and a client that connects there" {
	if ! ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
		skip "no ::1 on this machine"
	fi
	start_server seq -d 0 -b ::1
	grep -qE " listening \[::1\]:$PORT " "$SERVER_LOG"
	run upclient -H ::1 -p "$PORT" six
	[ "$output" = "SIX" ]
	grep -qE " accepted \[::1\]:[0-9]+$" "$SERVER_LOG"
}

@test "localhost is tried address by address" {
	# The server listens on IPv4 only; localhost may resolve to ::1
	# first, which refuses: the client must go on to 127.0.0.1.
	start_server seq -d 0 -b 127.0.0.1
	run upclient -H localhost -p "$PORT" local
	[ "$status" -eq 0 ]
	[ "$output" = "LOCAL" ]
}
