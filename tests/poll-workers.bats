#!/usr/bin/env bats
# upserver-poll -w N: N event loops, each a process with its own engine,
# sharing the port under a supervising parent.

# status, output, lines: set by bats' run; PORT, SERVER_*: by helpers
# shellcheck disable=SC2154,SC2153

load helpers
load concurrent

teardown() {
	teardown_family
}

# loops N: the server has N live (not zombie) children, its loops.
loops() {
	[ "$(children "$SERVER_PID" | awk '$2 !~ /^Z/' | wc -l)" -eq "$1" ]
}

# loop_pids: the pids of the server's live loops, sorted, on one line.
loop_pids() {
	children "$SERVER_PID" | awk '$2 !~ /^Z/ { print $1 }' | sort -n |
	    tr '\n' ' '
}

# renewed OLD: the loops are no longer the pids OLD, and two live.
renewed() {
	[ "$(loop_pids)" != "$1" ] && loops 2
}

# tagged_pids: the pids the connection lines name, sorted, on one line;
# fails if a line of a connection names none.
tagged_pids() {
	awk '$2 != "listening" && $2 != "stopped" && $4 != "op=worker" {
	    if ($NF !~ /^pid=[0-9]+$/) { print "untagged: " $0 > "/dev/stderr"
	    bad = 1 } else { sub(/^pid=/, "", $NF); print $NF } }
	    END { exit bad }' "$SERVER_LOG" | sort -nu | tr '\n' ' '
}

# in_work: the most requests whose work had begun and not ended at once,
# by the order of received and responded in the log.
in_work() {
	awk '$2 == "received" { if (++n > max) max = n }
	    $2 == "responded" { n-- } END { print max + 0 }' "$SERVER_LOG"
}

# cpu_four [ARGS]: --cpu -d 500ms, four clients at once; sets SPAN to
# the seconds of work by the server's clock, first received to last
# responded.
cpu_four() {
	start_server poll --cpu -d 500ms "$@"
	spawn_clients 4
	wait_clients
	check_replies 4
	wait_for_log "$SERVER_LOG" ' closed ' 4
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	cat "$SERVER_LOG"
	SPAN=$(awk '$2 == "received" && !a { a = $1 }
	    $2 == "responded" { z = $1 } END { printf "%.3f\n", z - a }' \
	    "$SERVER_LOG")
}

@test "-w 2: 500 clients x 4 verified random requests, every line says which loop served it" {
	start_server poll -d 0 -w 2
	grep -qE ' listening .* workers=2 ' "$SERVER_LOG"
	wait_until 10 loops 2
	local kids
	kids=$(loop_pids)
	run timeout 120 upclient -H 127.0.0.1 -p "$PORT" -c 500 -n 4 -r 100 \
	    --verify
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for_log "$SERVER_LOG" ' closed ' 500 30
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	# every connection line names its loop, one of the two; both served
	[ "$(tagged_pids)" = "$kids" ]
	[ "$(grep -c ' accepted ' "$SERVER_LOG")" -eq 500 ]
	[ "$(grep -c ' responded ' "$SERVER_LOG")" -eq 2000 ]
	# one stopped line, from the parent, with the total of both loops
	[ "$(grep -c ' stopped ' "$SERVER_LOG")" -eq 1 ]
	[ "$(stopped_field requests)" -eq 2000 ]
	[ "$(tail -n 1 "$SERVER_LOG" | awk '{ print $2 }')" = stopped ]
	run ! grep -vE "$LINE_RE" "$SERVER_LOG"
}

@test "-w 2 on every backend: verified requests, both loops serve" {
	local b
	for b in $(poll_backends); do
		[ "$b" = uring ] && uring_refused >/dev/null && continue
		start_server "poll-$b" -d 0 -w 2
		grep -qE " listening .* workers=2 .*backend=$b$" "$SERVER_LOG"
		run timeout 60 upclient -H 127.0.0.1 -p "$PORT" -c 100 -n 4 \
		    -r 50 --verify
		[ "$status" -eq 0 ]
		wait_for_log "$SERVER_LOG" ' closed ' 100
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
		[ "$(tagged_pids | wc -w)" -eq 2 ]
		[ "$(stopped_field requests)" -eq 400 ]
	done
}

@test "-w 2: SIGTERM lets both loops finish their requests in flight, then one stopped line" {
	start_server poll -d 1s -w 2 --counter atomic
	wait_until 10 loops 2
	local kids pid
	kids=$(loop_pids)
	spawn_clients 6
	wait_for_log "$SERVER_LOG" ' received ' 6
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	wait_clients
	check_replies 6
	cat "$SERVER_LOG"
	[ "$(grep -c ' stopped ' "$SERVER_LOG")" -eq 1 ]
	[ "$(stopped_field requests)" -eq 6 ]
	[ "$(stopped_field count)" -eq 6 ]
	[ "$(tail -n 1 "$SERVER_LOG" | awk '{ print $2 }')" = stopped ]
	# and no loop outlives the parent
	for pid in $kids; do
		if kill -0 "$pid" 2>/dev/null; then
			echo "loop $pid lives on" >&2
			return 1
		fi
	done
}

@test "-w 2 --counter atomic, 20 clients at once: stopped count=20" {
	start_server poll -d 300ms -w 2 --counter atomic
	spawn_clients 20
	wait_clients
	check_replies 20
	wait_for_log "$SERVER_LOG" ' closed ' 20
	stop_server
	cat "$SERVER_LOG"
	[ "$(stopped_field count)" -eq 20 ]
	# side by side: far more than one request in work at once
	[ "$(in_work)" -gt 2 ]
	[ "$(tagged_pids | wc -w)" -eq 2 ]
}

@test "-w 2 --counter mutex: count=20, one section at a time across both loops" {
	start_server poll -d 50ms -w 2 --counter mutex
	spawn_clients 20
	wait_clients
	check_replies 20
	wait_for_log "$SERVER_LOG" ' closed ' 20
	stop_server
	cat "$SERVER_LOG"
	[ "$(stopped_field count)" -eq 20 ]
	# each request read the count the one before it left: 0 to 19, each
	# once, so no two sections overlapped, in either loop or across
	[ "$(awk '$2 == "received" { sub(/count=/, "", $5); print $5 }' \
	    "$SERVER_LOG" | sort -n | tr '\n' ' ')" = "$(seq 0 19 | tr '\n' ' ')" ]
	# and both loops held the lock in turn
	[ "$(grep ' received ' "$SERVER_LOG" | awk '{ print $NF }' |
	    sort -u | wc -l)" -eq 2 ]
}

@test "-w 2 --counter unsafe still loses updates" {
	start_server poll -d 500ms -w 2 --counter unsafe
	spawn_clients 20
	wait_clients
	check_replies 20
	stop_server
	[ "$(stopped_field requests)" -eq 20 ]
	less_than "$(stopped_field count)" 20
}

@test "-w 2 -c 3: at most three connections served at once, in all" {
	start_server poll -d 1s -w 2 -c 3
	spawn_clients 5
	wait_clients
	check_replies 5
	wait_for_log "$SERVER_LOG" ' closed ' 5
	cat "$SERVER_LOG"
	[ "$(max_in_flight)" -eq 3 ]
}

@test "-w 2: a loop killed with SIGKILL is logged and replaced, the other carries on" {
	start_server poll -d 0 -w 2
	wait_until 10 loops 2
	local before victim
	before=$(loop_pids)
	victim=${before%% *}
	kill -KILL "$victim"
	wait_for_log "$SERVER_LOG" " error .* op=worker pid=$victim signal=KILL$"
	wait_until 10 renewed "$before"
	[[ " $(loop_pids)" != *" $victim "* ]]
	run timeout 60 upclient -H 127.0.0.1 -p "$PORT" -c 20 -n 4 -r 50 \
	    --verify
	[ "$status" -eq 0 ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(stopped_field requests)" -eq 80 ]
}

@test "-w 2 --counter mutex: a loop killed while it holds the lock does not stop the others" {
	start_server poll -d 2s -w 2 --counter mutex
	spawn_clients 3
	# the first request holds the lock; the others wait for it
	wait_for_log "$SERVER_LOG" ' received ' 1
	local holder
	holder=$(awk '$2 == "received" { sub(/pid=/, "", $NF); print $NF;
	    exit }' "$SERVER_LOG")
	kill -KILL "$holder"
	wait_for_log "$SERVER_LOG" " op=worker pid=$holder signal=KILL$"
	# the lock passes on: the other loop's waiters are served
	wait_for_log "$SERVER_LOG" ' responded ' 1 15
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	cat "$SERVER_LOG"
}

@test "--cpu: one loop computes one request after another, -w 2 two at once" {
	local one two
	cpu_four
	one=$SPAN
	# one loop: received, responded, four times; never two in work
	[ "$(events "$SERVER_LOG" | grep -E '^(received|responded)$' |
	    tr '\n' ' ')" = "$(printf 'received responded %.0s' 1 2 3 4)" ]
	cpu_four -w 2
	two=$SPAN
	# two loops: two requests in work at once, never more, both served
	[ "$(in_work)" -eq 2 ]
	[ "$(tagged_pids | wc -w)" -eq 2 ]
	# so by the server's clock -w 2 takes well under the one loop's time
	# (about half on two free cores; a loaded machine narrows it)
	echo "one loop: $one s, -w 2: $two s"
	if ! less_than "$two" "$(awk -v t="$one" 'BEGIN { print t * 0.85 }')"
	then
		two_cores_free ||
		    skip "the machine is busy: two cores are not free to compute"
		false
	fi
}
