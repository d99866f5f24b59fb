#!/usr/bin/env bats
# How a server stops (upserver(1), SIGNALS): SIGINT, SIGTERM and SIGHUP
# close the listener at once, log "draining", answer what is in flight,
# log "stopped" and exit 0; a second SIGINT or SIGTERM ends it at once.
# Every model and pool, every event engine.

# status, output, lines: set by bats' run; PORT, SERVER_*: by helpers
# shellcheck disable=SC2154,SC2153,SC2030,SC2031

load helpers

# Each model as start_server takes it, its pool after it: "fork -w 2".
MODELS=("seq" "fork" "fork -w 2" "fork -w 2 --accept pass" "thread"
    "thread -w 2")
while read -r m; do
	MODELS+=("$m")
done < <(poll_models)
MODELS+=("poll -w 2" "coro" "coro -w 2")
# and on io_uring, where the build and the kernel have it
uring_refused >/dev/null || MODELS+=("coro-uring" "coro-uring -w 2")

teardown() {
	local pid
	for pid in "${CLIENT:-}" "${SECOND_PID:-}"; do
		[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
	done
	CLIENT='' SECOND_PID=''
	teardown_server
}

# slow_request MODEL...: starts the server with a delay of 4 s and one
# client ("slow", its reply in $BATS_TEST_TMPDIR/slow, its pid CLIENT)
# whose request the server has begun.
slow_request() {
	# shellcheck disable=SC2068 # "fork -w 2" is three words on purpose
	start_server $@ -d 4s
	upclient -H 127.0.0.1 -p "$PORT" slow >"$BATS_TEST_TMPDIR/slow" \
	    2>&1 3>&- &
	CLIENT=$!
	wait_for_log "$SERVER_LOG" ' received ' 1
}

# gone PID: process PID has ended (or is a zombie nobody is left to reap).
gone() {
	[ ! -e "/proc/$1" ] || [ "$(awk '{ print $3 }' "/proc/$1/stat")" = Z ]
}

# eventually SECONDS CMD...: CMD succeeds within SECONDS.
eventually() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

@test "swap: a second server binds the port while the first drains, and both answer" {
	local m first port second_log
	for m in "${MODELS[@]}"; do
		echo "# $m" >&2
		slow_request "$m"
		kill -TERM "$SERVER_PID"
		wait_for_log "$SERVER_LOG" ' draining ' 1
		first=$SERVER_PID port=$PORT
		# the next server, at once, on the same port (as after Ctrl-C)
		second_log="$BATS_TEST_TMPDIR/second.log"
		upserver-seq -p "$port" -d 0 >"$second_log" \
		    2>"$BATS_TEST_TMPDIR/second.err" 3>&- &
		SECOND_PID=$!
		wait_for_log "$second_log" ' listening ' 1
		run upclient -H 127.0.0.1 -p "$port" new
		[ "$status" -eq 0 ]
		[ "$output" = NEW ]
		# the request in flight on the first server is still answered
		wait "$CLIENT"
		CLIENT=
		[ "$(cat "$BATS_TEST_TMPDIR/slow")" = SLOW ]
		SERVER_PID=$first
		# it ends by itself; a TERM now would be a second signal
		stop_server 0
		[ "$SERVER_STATUS" -eq 0 ]
		cat "$SERVER_LOG"
		[ "$(events "$SERVER_LOG" | grep -v accepted | tr '\n' ' ')" = \
		    "listening received draining responded closed stopped " ]
		grep -qE " draining 127\.0\.0\.1:$port connections=1 signal=TERM$" \
		    "$SERVER_LOG"
		# -w adds each worker's accepted= and wasted=
		grep -qE ' stopped .* requests=1( accepted=[0-9,]+'\
' wasted=[0-9,]+)?$' "$SERVER_LOG"
		kill -TERM "$SECOND_PID"
		wait "$SECOND_PID"
		SECOND_PID=
	done
}

@test "during the drain a new client is refused at once, not left waiting" {
	local m
	for m in "${MODELS[@]}"; do
		echo "# $m" >&2
		slow_request "$m"
		kill -INT "$SERVER_PID"
		wait_for_log "$SERVER_LOG" ' draining ' 1
		run timeout 10 upclient -H 127.0.0.1 -p "$PORT" late
		[ "$status" -eq 1 ]
		[[ "$output" == *"Connection refused"* ]]
		wait "$CLIENT"
		CLIENT=
		[ "$(cat "$BATS_TEST_TMPDIR/slow")" = SLOW ]
		stop_server 0	# it ends by itself: no second signal
		[ "$SERVER_STATUS" -eq 0 ]
		grep -qE ' draining .* connections=1 signal=INT$' "$SERVER_LOG"
		[ "$(grep -c ' accepted ' "$SERVER_LOG")" -eq 1 ]
	done
}

@test "a second SIGINT or SIGTERM ends the server at once: no stopped line, workers gone" {
	local m sig pids p
	for m in "${MODELS[@]}"; do
		for sig in INT TERM; do
			echo "# $m, $sig" >&2
			slow_request "$m"
			# the processes that serve, besides the server itself
			pids=$(pgrep -P "$SERVER_PID" || true)
			kill -"$sig" "$SERVER_PID"
			wait_for_log "$SERVER_LOG" ' draining ' 1
			kill -"$sig" "$SERVER_PID"
			# long before the request's 4 s are over
			eventually 3 gone "$SERVER_PID"
			stop_server
			[ "$SERVER_STATUS" -eq "$([ "$sig" = INT ] && echo 130 ||
			    echo 143)" ]
			for p in $pids; do
				eventually 3 gone "$p"
			done
			wait "$CLIENT" || true
			CLIENT=
			[ "$(cat "$BATS_TEST_TMPDIR/slow")" != SLOW ]
			cat "$SERVER_LOG"
			[ "$(events "$SERVER_LOG" | tail -n 1)" = draining ]
		done
	done
}

@test "SIGHUP stops a server as SIGTERM does, even sent twice" {
	local m
	for m in "${MODELS[@]}"; do
		echo "# $m" >&2
		slow_request "$m"
		kill -HUP "$SERVER_PID"
		wait_for_log "$SERVER_LOG" ' draining ' 1
		# a closing terminal may send it twice: that is no second signal
		kill -HUP "$SERVER_PID"
		wait "$CLIENT"
		CLIENT=
		[ "$(cat "$BATS_TEST_TMPDIR/slow")" = SLOW ]
		# it ends by itself; a TERM now would be a second signal
		stop_server 0
		[ "$SERVER_STATUS" -eq 0 ]
		cat "$SERVER_LOG"
		grep -qE ' draining .* connections=1 signal=HUP$' "$SERVER_LOG"
		[ "$(events "$SERVER_LOG" | tail -n 1)" = stopped ]
		# -w adds each worker's accepted= and wasted=
		grep -qE ' stopped .* requests=1( accepted=[0-9,]+'\
' wasted=[0-9,]+)?$' "$SERVER_LOG"
	done
}

@test "a stop resets the clients still waiting in seq's backlog, as upserver(1) says" {
	command -v ss >/dev/null || skip "no ss(8) to see the backlog"
	slow_request seq
	upclient -H 127.0.0.1 -p "$PORT" waiting \
	    >"$BATS_TEST_TMPDIR/waiting" 2>&1 3>&- &
	local waiting=$! st=0
	# it is in the backlog once the kernel has completed its handshake
	eventually 10 ss_connected 2
	kill -TERM "$SERVER_PID"
	wait "$waiting" || st=$?
	[ "$st" -eq 1 ]
	grep -q 'reset by peer' "$BATS_TEST_TMPDIR/waiting"
	wait "$CLIENT"
	CLIENT=
	[ "$(cat "$BATS_TEST_TMPDIR/slow")" = SLOW ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(grep -c ' accepted ' "$SERVER_LOG")" -eq 1 ]
}

# ss_connected N: N connections (client side) to the server's port.
ss_connected() {
	[ "$(ss -Htn "( dport = :$PORT )" | wc -l)" -ge "$1" ]
}

@test "uptimeline reads a log with a draining line: nothing skipped, the row drawn" {
	slow_request thread
	kill -TERM "$SERVER_PID"
	wait "$CLIENT"
	CLIENT=
	stop_server
	grep -q ' draining ' "$SERVER_LOG"
	run --separate-stderr uptimeline "$SERVER_LOG"
	echo "$output"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" == *"1 connection in "* ]]
	grep -qE '^ +1 >=+< 127\.0\.0\.1:[0-9]+ tid=[0-9]+$' <<<"$output"
}
