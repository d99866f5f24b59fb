#!/usr/bin/env bats
# upserver-fork: a process per connection, and the pre-forked pool (-w).

# status, output, lines: set by bats' run; PORT, SERVER_*: by helpers
# shellcheck disable=SC2154,SC2153

load helpers
load concurrent

teardown() {
	teardown_family
}

# no_children: the server has no child process left, not even a zombie.
no_children() {
	[ -z "$(children "$SERVER_PID")" ]
}

# worker_pids: the pids of the server's children, sorted, on one line.
worker_pids() {
	children "$SERVER_PID" | awk '{ print $1 }' | sort -n | tr '\n' ' '
}

# has_workers N: the server has N live (not zombie) children.
has_workers() {
	[ "$(children "$SERVER_PID" | awk '$2 !~ /^Z/' | wc -l)" -eq "$1" ]
}

# gone PID: process PID has ended (or is a zombie nobody is left to reap).
gone() {
	[ ! -e "/proc/$1" ] || [ "$(awk '{ print $3 }' "/proc/$1/stat")" = Z ]
}

# pool_renewed OLD: the children are no longer the pids OLD, and two live.
pool_renewed() {
	[ "$(worker_pids)" != "$1" ] && has_workers 2
}

@test "four clients at once with -d 1s: all accepted at once, answered together" {
	start_server fork -d 1s
	local t0=$EPOCHREALTIME
	spawn_clients 4
	wait_clients
	local took
	took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
	check_replies 4
	wait_for_log "$SERVER_LOG" ' closed ' 4
	cat "$SERVER_LOG"
	# all four accepted before the first response: served side by side
	# (each received comes after its accepted, in any interleaving)
	[ "$(events "$SERVER_LOG" | sed -n '2,9p' | sort | uniq -c |
	    awk '{ printf "%s %s ", $1, $2 }')" = "4 accepted 4 received " ]
	[ "$(events "$SERVER_LOG" | sed -n 10p)" = responded ]
	less_than "$(span accepted responded)" 2.5
	less_than "$took" 3.5
	# the parent logs accepted; the child that served tags its lines
	[ "$(grep -c ' accepted 127\.0\.0\.1:[0-9]*$' "$SERVER_LOG")" -eq 4 ]
	[ "$(grep -cE ' (received|responded|closed) .* pid=[0-9]+$' "$SERVER_LOG")" -eq 12 ]
	[ "$(grep ' responded ' "$SERVER_LOG" | grep -o 'pid=[0-9]*' | sort -u | wc -l)" -eq 4 ]
	run ! grep -q "pid=$SERVER_PID\$" "$SERVER_LOG"
}

@test "-c 2: no more than two children at once, the others wait their turn" {
	start_server fork -d 1s -c 2
	spawn_clients 4
	wait_clients
	check_replies 4
	wait_for_log "$SERVER_LOG" ' closed ' 4
	cat "$SERVER_LOG"
	[ "$(max_in_flight)" -eq 2 ]
	[ "$(batches responded 0.5)" = "2 2" ]
	grep -q ' listening .* max-conns=2 ' "$SERVER_LOG"
}

@test "-c 1: a stop while the parent waits at the cap still stops it" {
	start_server fork -d 1s -c 1
	py_client reply first "$BATS_TEST_TMPDIR/first" &
	local first=$!
	wait_until 10 test -e "$BATS_TEST_TMPDIR/first.sent"
	wait_for_log "$SERVER_LOG" ' accepted ' 1
	# a second client waits in the backlog: the parent is at its cap
	timeout 20 upclient -H 127.0.0.1 -p "$PORT" second \
	    >"$BATS_TEST_TMPDIR/second" 2>&1 3>&- &
	CLIENT_PIDS=($!)
	stop_server TERM
	wait "$first"
	[ "$(cat "$BATS_TEST_TMPDIR/first")" = FIRST ]
	[ "$SERVER_STATUS" -eq 0 ]
	cat "$SERVER_LOG"
	[ "$(grep -c ' accepted ' "$SERVER_LOG")" -eq 1 ]
	[ "$(stopped_field requests)" -eq 1 ]
}

@test "-w 2: five clients at once are answered two, two, then one" {
	start_server fork -d 1s -w 2
	# the cap it states is the one it keeps: two at once
	grep -q ' listening .* max-conns=2 workers=2 ' "$SERVER_LOG"
	spawn_clients 5
	wait_clients
	check_replies 5
	wait_for_log "$SERVER_LOG" ' closed ' 5
	cat "$SERVER_LOG"
	[ "$(batches responded 0.5)" = "2 2 1" ]
	[ "$(max_in_flight)" -eq 2 ]
	# the same two workers served everyone, and logged accepted themselves
	[ "$(grep -o 'pid=[0-9]*$' "$SERVER_LOG" | sort -u | wc -l)" -eq 2 ]
	[ "$(grep -cE ' accepted .* pid=[0-9]+$' "$SERVER_LOG")" -eq 5 ]
}

@test "-w 2: a worker killed with SIGKILL is replaced, the others carry on" {
	start_server fork -d 0 -w 2
	wait_until 10 has_workers 2
	local before victim
	before=$(worker_pids)
	victim=${before%% *}
	kill -KILL "$victim"
	wait_until 10 pool_renewed "$before"
	[[ " $(worker_pids)" != *" $victim "* ]]
	spawn_clients 4 after
	wait_clients
	check_replies 4 after
	kill -0 "$SERVER_PID"
}

@test "-w 2: the workers do not outlive a parent killed with SIGKILL" {
	start_server fork -d 0 -w 2
	wait_until 10 has_workers 2
	local kids pid
	kids=$(worker_pids)
	stop_server KILL
	for pid in $kids; do
		wait_until 10 gone "$pid"
	done
}

@test "--counter unsafe: processes that share the counter lose updates" {
	ten_with_counter fork unsafe
	[ "$(stopped_field count)" -lt 10 ]
}

@test "--counter mutex: the count is right, one request at a time" {
	ten_with_counter fork mutex
	[ "$(stopped_field count)" -eq 10 ]
	# ten delays of 300 ms, one after another: 3 s at least
	at_least "$(span accepted responded)" 2.99
	less_than "$(span accepted responded)" 8
}

@test "--counter atomic: the count is right, and the requests overlap" {
	ten_with_counter fork atomic
	[ "$(stopped_field count)" -eq 10 ]
	# about one delay, far from the ten of mutex
	less_than "$(span accepted responded)" 1.5
}

@test "300 clients at once: exact replies, whole log lines, no zombie left" {
	start_server fork -d 100ms
	spawn_clients 300 client
	wait_clients
	check_replies 300 client
	wait_for_log "$SERVER_LOG" ' closed ' 300 30
	# every line whole, none lost or repeated (one write(2) per line)
	run grep -cvE "$LINE_RE" "$SERVER_LOG"
	[ "$output" -eq 0 ]
	[ "$(grep -c ' accepted ' "$SERVER_LOG")" -eq 300 ]
	[ "$(grep -c ' responded .* bytes=[0-9]* pid=[0-9]*$' "$SERVER_LOG")" -eq 300 ]
	[ "$(grep -c ' closed .* requests=1 pid=[0-9]*$' "$SERVER_LOG")" -eq 300 ]
	[ "$(sort "$SERVER_LOG" | uniq -d | wc -l)" -eq 0 ]
	# the 300 children have all been waited for
	wait_until 10 no_children || { children "$SERVER_PID"; false; }
	[ "$(ask still here)" = "STILL HERE" ]
}

@test "clients that reset or leave early do not harm the parent or a sibling" {
	start_server fork -d 1s
	py_client reply good "$BATS_TEST_TMPDIR/good" &
	CLIENT_PIDS=($!)
	local i
	for i in 1 2 3 4 5; do
		py_client reset "reset$i" /dev/null &
		CLIENT_PIDS+=($!)
	done
	for i in 1 2 3; do
		py_client leave "leave$i" /dev/null &
		CLIENT_PIDS+=($!)
	done
	wait_clients
	[ "$(cat "$BATS_TEST_TMPDIR/good")" = GOOD ]
	wait_for_log "$SERVER_LOG" ' closed ' 9
	cat "$SERVER_LOG"
	# the resets hit children in the middle of their work
	grep -qE ' error .* pid=[0-9]+ op=write errno=(ECONNRESET|EPIPE)$' "$SERVER_LOG"
	kill -0 "$SERVER_PID"
	[ "$(ask after)" = AFTER ]
	wait_until 10 no_children
}

@test "a child killed mid-request takes nobody else with it" {
	start_server fork -d 1s
	py_client reply victim "$BATS_TEST_TMPDIR/victim" &
	local victim_client=$!
	wait_until 10 test -e "$BATS_TEST_TMPDIR/victim.sent"
	wait_for_log "$SERVER_LOG" ' accepted ' 1
	wait_until 10 has_workers 1
	local child
	child=$(worker_pids)
	spawn_clients 3
	wait_for_log "$SERVER_LOG" ' accepted ' 4
	kill -KILL "$child"
	wait_clients
	check_replies 3
	wait "$victim_client" || true
	[ ! -s "$BATS_TEST_TMPDIR/victim" ]
	[ "$(ask after)" = AFTER ]
	wait_until 10 no_children
}

@test "SIGTERM while requests are in flight: answered, then stopped, exit 0" {
	start_server fork -d 1s
	local i pids=()
	for i in 1 2 3; do
		py_client reply "slow$i" "$BATS_TEST_TMPDIR/slow$i" &
		pids+=($!)
	done
	for i in 1 2 3; do
		wait_until 10 test -e "$BATS_TEST_TMPDIR/slow$i.sent"
	done
	wait_for_log "$SERVER_LOG" ' accepted ' 3
	local kids
	kids=$(worker_pids)
	stop_server TERM
	for i in "${pids[@]}"; do wait "$i"; done
	for i in 1 2 3; do
		[ "$(cat "$BATS_TEST_TMPDIR/slow$i")" = "SLOW$i" ]
	done
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(events "$SERVER_LOG" | tail -1)" = stopped ]
	[ "$(stopped_field requests)" -eq 3 ]
	# the parent waited for every child before it said stopped
	for i in $kids; do
		run ! kill -0 "$i"
	done
}

@test "-w 2: SIGTERM lets the workers finish their requests, then all exit" {
	start_server fork -d 1s -w 2 --counter atomic
	local i pids=()
	for i in 1 2; do
		py_client reply "pool$i" "$BATS_TEST_TMPDIR/pool$i" &
		pids+=($!)
	done
	for i in 1 2; do
		wait_until 10 test -e "$BATS_TEST_TMPDIR/pool$i.sent"
	done
	wait_for_log "$SERVER_LOG" ' accepted ' 2
	local kids
	kids=$(worker_pids)
	stop_server TERM
	for i in "${pids[@]}"; do wait "$i"; done
	[ "$(cat "$BATS_TEST_TMPDIR/pool1")" = POOL1 ]
	[ "$(cat "$BATS_TEST_TMPDIR/pool2")" = POOL2 ]
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(stopped_field requests)" -eq 2 ]
	[ "$(stopped_field count)" -eq 2 ]
	for i in $kids; do
		run ! kill -0 "$i"
	done
}
