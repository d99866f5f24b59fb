#!/usr/bin/env bats
# --locks (upserver(1), up(7) "Deadlock"): each request takes the board
# and the sink with its work between. "opposite" deadlocks two concurrent
# requests: one "deadlock" line names both workers and both resources,
# the replies never come, and a SIGTERM still stops the server (the two
# requests are abandoned, "closed ... reason=deadlock"). "ordered" and
# "backoff" answer every request. Threads and processes, with and without
# a pool; seq as the control; poll refuses.

# status, output, lines: set by bats' run; PORT, SERVER_*: by helpers
# shellcheck disable=SC2154,SC2153,SC2030,SC2031

load helpers

teardown() {
	local pid
	for pid in ${CLIENTS:-}; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	CLIENTS=''
	teardown_server
}

# deadlocks MODEL...: starts MODEL --locks opposite with a delay of 300ms,
# sends two requests at once, and checks what the log and the clients show
# until a SIGTERM has stopped the server.
deadlocks() {
	local line a b holder waiter i pid w re
	# shellcheck disable=SC2068 # "fork -w 2" is three words on purpose
	start_server $@ -d 300ms --locks opposite
	upclient -H 127.0.0.1 -p "$PORT" one >"$BATS_TEST_TMPDIR/one" \
	    2>&1 3>&- &
	CLIENTS=$!
	upclient -H 127.0.0.1 -p "$PORT" two >"$BATS_TEST_TMPDIR/two" \
	    2>&1 3>&- &
	CLIENTS="$CLIENTS $!"
	wait_for_log "$SERVER_LOG" ' deadlock ' 1 10

	# the workers of the two requests, as their "received" lines name them
	wait_for_log "$SERVER_LOG" ' received ' 2
	a=$(awk '$2 == "received" { print $NF }' "$SERVER_LOG" | sed -n 1p)
	b=$(awk '$2 == "received" { print $NF }' "$SERVER_LOG" | sed -n 2p)
	[[ "$a" =~ ^(tid|pid)=[0-9]+$ ]]
	[[ "$b" =~ ^(tid|pid)=[0-9]+$ ]]
	[ "$a" != "$b" ]

	# one line; each holds what the other waits for
	line=$(grep ' deadlock ' "$SERVER_LOG")
	w='([a-z]+=[0-9]+)'
	re="^[0-9]{10}\.[0-9]{6} deadlock 127\.0\.0\.1:$PORT"
	re="$re board-holder=$w board-waiter=$w sink-holder=$w sink-waiter=$w\$"
	[[ "$line" =~ $re ]]
	holder=${BASH_REMATCH[1]}
	waiter=${BASH_REMATCH[2]}
	[ "${BASH_REMATCH[3]}" = "$waiter" ]
	[ "${BASH_REMATCH[4]}" = "$holder" ]
	[ "$holder" != "$waiter" ]
	[[ "$holder" = "$a" || "$holder" = "$b" ]]
	[[ "$waiter" = "$a" || "$waiter" = "$b" ]]
	grep -qE "$LINE_RE" <<<"$line"

	# three delays on, no reply has come, and still one deadlock line
	sleep 1
	[ "$(grep -c ' responded ' "$SERVER_LOG")" -eq 0 ]
	[ "$(grep -c ' deadlock ' "$SERVER_LOG")" -eq 1 ]
	for pid in $CLIENTS; do
		kill -0 "$pid"
	done
	[ ! -s "$BATS_TEST_TMPDIR/one" ]
	[ ! -s "$BATS_TEST_TMPDIR/two" ]

	# and a stop still stops it, within a few seconds, abandoning both
	kill -TERM "$SERVER_PID"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		echo "still running 5 s after SIGTERM" >&2
		return 1
	fi
	stop_server TERM
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(grep -c ' closed .*requests=0 reason=deadlock' "$SERVER_LOG")" \
	    -eq 2 ]
	# -w adds each worker's accepted= and wasted=
	grep -qE ' stopped 127\.0\.0\.1:[0-9]+ requests=0'\
'( accepted=[0-9,]+ wasted=[0-9,]+)?$' "$SERVER_LOG"
	# the lines in order: deadlock, draining, the two closes, stopped
	run awk '{ print $2 }' "$SERVER_LOG"
	re='deadlock draining closed closed stopped$'
	[[ "${output//$'\n'/ }" =~ $re ]]
}

# answers MODE MODEL...: MODEL --locks MODE answers four requests sent at
# once, every reply verified, and forms no deadlock.
answers() {
	local mode=$1
	shift
	# shellcheck disable=SC2068 # "fork -w 2" is three words on purpose
	start_server $@ -d 200ms --locks "$mode"
	run -0 upclient -H 127.0.0.1 -p "$PORT" -c 4 --verify --timeout 10s \
	    cook
	[ "${#lines[@]}" -eq 4 ]
	wait_for_log "$SERVER_LOG" ' responded ' 4
	stop_server TERM
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(grep -c ' deadlock ' "$SERVER_LOG")" -eq 0 ]
	grep -q " listening .* locks=$mode " "$SERVER_LOG"
	# -w adds each worker's accepted= and wasted=
	grep -qE ' stopped 127\.0\.0\.1:[0-9]+ requests=4'\
'( accepted=[0-9,]+ wasted=[0-9,]+)?$' "$SERVER_LOG"
}

@test "opposite: upserver-thread deadlocks, says so once, and stops" {
	deadlocks thread
}

@test "opposite: upserver-thread -w 2 deadlocks, says so once, and stops" {
	deadlocks thread -w 2
}

@test "opposite: upserver-fork deadlocks, says so once, and stops" {
	deadlocks fork
}

@test "opposite: upserver-fork -w 2 deadlocks, says so once, and stops" {
	deadlocks fork -w 2
}

@test "ordered: every model answers four concurrent requests" {
	local m
	for m in thread "thread -w 2" fork "fork -w 2"; do
		echo "# $m" >&2
		answers ordered "$m"
	done
}

@test "backoff: every model answers four concurrent requests, retrying" {
	local m sum
	for m in thread "thread -w 2" fork "fork -w 2"; do
		echo "# $m" >&2
		answers backoff "$m"
		# every reply says how often it put its first resource down
		[ "$(grep -cE ' responded .* retries=[0-9]+ (tid|pid)=' \
		    "$SERVER_LOG")" -eq 4 ]
		# two opposite requests overlapping in their work: one retried
		sum=$(sed -n 's/.* responded .* retries=\([0-9]*\) .*/\1/p' \
		    "$SERVER_LOG" | awk '{ s += $1 } END { print s + 0 }')
		[ "$sum" -ge 1 ]
	done
}

@test "seq --locks opposite: one request at a time never deadlocks" {
	start_server seq -d 100ms --locks opposite
	run -0 upclient -H 127.0.0.1 -p "$PORT" -c 2 --verify --timeout 10s \
	    cook
	stop_server TERM
	[ "$(grep -c ' deadlock ' "$SERVER_LOG")" -eq 0 ]
	grep -qE ' stopped 127\.0\.0\.1:[0-9]+ requests=2$' "$SERVER_LOG"
}

@test "poll refuses --locks: one thread cannot wait for a lock (exit 2)" {
	run -2 upserver-poll -p 0 --locks ordered
	[[ "${lines[0]}" == "upserver-poll: --locks: the poll model has one"* ]]
	[[ "${lines[1]}" == "usage: upserver-poll "* ]]
	run -0 upserver-poll --help
	[[ "$output" != *--locks* ]]
}

@test "--locks: an unknown mode is a usage error; --help offers it" {
	run -2 upserver-thread -p 0 --locks sideways
	[ "${lines[0]}" = "upserver-thread: --locks: unknown mode 'sideways' \
(opposite, ordered or backoff)" ]
	run -2 upserver-fork -p 0 --locks
	run -0 upserver-fork --help
	[[ "$output" == *"--locks MODE"* ]]
	run -0 upserver-seq --help
	[[ "$output" == *"[--locks mode]"* ]]
	# with --gil: one lesson at a time
	run -2 upserver-thread -p 0 --gil --locks ordered
	[ "${lines[0]}" = \
	    "upserver-thread: --gil and --locks: one lesson at a time" ]
}

@test "uptimeline draws a log with a deadlock in it" {
	deadlocks thread
	run -0 uptimeline -w 60 "$SERVER_LOG"
	[[ "$output" != *skipped* ]]
}

@test "completion offers --locks and its modes where the server takes it" {
	local comp="$BATS_TEST_DIRNAME/../completion/up.bash"
	words() {
		bash -c '. "$1"; shift
		    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		    _up_server "$1" "${COMP_WORDS[COMP_CWORD]}" \
			"${COMP_WORDS[COMP_CWORD - 1]}"
		    printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@" | sort
	}
	run words "$BIN/upserver-thread" --locks ''
	[ "${lines[*]}" = "backoff opposite ordered" ]
	run words "$BIN/upserver-fork" --lo
	[ "$output" = "--locks" ]
	run words "$BIN/upserver-poll" --lo
	[ "$output" = "" ]
	grep -q -- "--locks=.*(opposite ordered backoff)" \
	    "$BATS_TEST_DIRNAME/../completion/_up"
}

@test "examples/deadlock.sh: the hang and its log line, then both fixes" {
	run sh "$BATS_TEST_DIRNAME/../examples/deadlock.sh" 300ms
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^   replies after 0.900s: 0 of 2$' <<<"$output")" -eq 2 ]
	grep -qE ' deadlock .* board-holder=tid=[0-9]+ board-waiter=tid=' \
	    <<<"$output"
	grep -qE ' deadlock .* board-holder=pid=[0-9]+ board-waiter=pid=' \
	    <<<"$output"
	[ "$(grep -c ' closed .* reason=deadlock ' <<<"$output")" -eq 4 ]
	grep -qE '^ordered +4 +[0-9.]+ s +0   all answered$' <<<"$output"
	grep -qE '^backoff +4 +[0-9.]+ s +[0-9]+   all answered$' <<<"$output"
}
