#!/usr/bin/env bats
# gil.bats: --gil, one interpreter-wide lock over the work, as CPython's.
# Four clients at once (load.py connects them all, then sends), and the
# event log's times: when the four "responded" lines come, and how long
# from the first "received" to the last "responded". Margins are wide:
# the lesson is a factor of two or four, not milliseconds.

load helpers

LOAD="$BATS_TEST_DIRNAME/load.py"

teardown() {
	teardown_server
}

# cores: the processors this machine has.
cores() {
	nproc 2>/dev/null || getconf _NPROCESSORS_ONLN
}

# four_clients: load.py -c 4 against PORT; fails if any reply is wrong.
four_clients() {
	run timeout 60 python3 "$LOAD" -c 4 "$PORT"
	echo "$output"
	[ "$status" -eq 0 ]
}

# span EVENT: seconds between the first and last EVENT line of the log.
span() {
	awk -v e="$1" '$2 == e { if (n++ == 0) a = $1; b = $1 }
	    END { printf "%.3f\n", b - a }' "$SERVER_LOG"
}

# whole: seconds from the first "received" to the last "responded".
whole() {
	awk '$2 == "received" && a == "" { a = $1 } $2 == "responded" { b = $1 }
	    END { printf "%.3f\n", b - a }' "$SERVER_LOG"
}

# less A B: A < B, for decimals.
less() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}

# gil_waits: the gil-waits= of every "responded" line, one per line.
gil_waits() {
	sed -n 's/.* responded .* gil-waits=\([0-9]*\).*/\1/p' "$SERVER_LOG"
}

@test "gil: thread --gil --cpu: four threads take turns, end together" {
	new_server_logs thread
	start_server thread -d 1s --cpu --gil
	grep -q ' listening .* work=cpu gil=on ' "$SERVER_LOG"
	four_clients
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	echo "responded span $(span responded)s, whole $(whole)s"
	# together, not one delay apart as upserver-seq's staircase
	less "$(span responded)" 0.5
	# one core's worth: four delays, not 4/N of them
	less 3.2 "$(whole)"
	less "$(whole)" 12
	# every line in the contract's format, gil-waits= included
	[ "$(grep -cvE "$LINE_RE" "$SERVER_LOG")" -eq 0 ]
	# each waited for the lock many times: they took turns
	[ "$(gil_waits | wc -l)" -eq 4 ]
	for n in $(gil_waits); do
		[ "$n" -ge 10 ]
	done
	# uptimeline draws four bars as long as the whole, ending together,
	# each row noting its waits
	run uptimeline -w 100 "$SERVER_LOG"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -cE '^ +[1-4] >=+< .* tid=[0-9]+ gil-waits=[0-9]+$' \
	    <<<"$output")" -eq 4 ]
}

@test "gil: thread -w 4 --gil --cpu: the pool's threads take turns too" {
	start_server thread -w 4 -d 500ms --cpu --gil
	four_clients
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	echo "responded span $(span responded)s, whole $(whole)s"
	less "$(span responded)" 0.25
	less 1.6 "$(whole)"
	less "$(whole)" 4
}

@test "gil: fork --gil --cpu: a lock per process, every core still used" {
	[ "$(cores)" -ge 2 ] || skip "one core: processes cannot compute in parallel"
	start_server fork -d 1s --cpu --gil
	four_clients
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	echo "responded span $(span responded)s, whole $(whole)s on $(cores) cores"
	# about 4/N delays on N cores, two on two: less than the four
	# delays of CPU time that one shared lock runs one after another;
	# but only on cores that are free: other work on them (a loaded CI
	# machine) serializes the processes as a shared lock would
	if ! less "$(whole)" 3.8; then
		two_cores_free ||
		    skip "the machine is busy: two cores are not free to compute"
		false
	fi
	# and no process waited for its lock: it has it alone
	[ "$(gil_waits | sort -u)" = 0 ]
}

@test "gil: thread --gil, waiting: the lock is let go, the waits overlap" {
	start_server thread -d 1s --gil
	four_clients
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	echo "responded span $(span responded)s, whole $(whole)s"
	less 0.9 "$(whole)"
	less "$(whole)" 2
	[ "$(gil_waits | wc -l)" -eq 4 ]
}

@test "gil: seq --gil: one thread, nothing to wait for" {
	start_server seq -d 100ms --cpu --gil
	run timeout 10 upclient -p "$PORT" hello
	[ "$status" -eq 0 ]
	[ "$output" = HELLO ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	grep -qE ' responded .* bytes=6 gil-waits=0$' "$SERVER_LOG"
}

@test "gil: poll accepts --gil and nothing changes: one thread" {
	start_server poll -d 1s --gil
	grep -q ' listening .* gil=on ' "$SERVER_LOG"
	four_clients
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
	less "$(whole)" 2
	# no lock changes hands: the responded lines are as without --gil
	[ "$(grep -c ' responded ' "$SERVER_LOG")" -eq 4 ]
	[ "$(grep -c gil-waits "$SERVER_LOG")" -eq 0 ]
}

@test "gil: --gil is in every server's --help and usage" {
	local m
	for m in seq fork thread poll; do
		run "upserver-$m" --help
		[ "$status" -eq 0 ]
		[[ "$output" == *"[--gil]"* ]]
		[[ "$output" == *"--gil            the work under one lock"* ]]
	done
	run upserver-thread --gil=x
	[ "$status" -eq 2 ]
}

@test "gil: examples/gil.sh runs the table, waiting and computing" {
	run sh "$BATS_TEST_DIRNAME/../examples/gil.sh" 200ms
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "-d 200ms, 4 clients at once, $(cores) cores" ]
	[ "${#lines[@]}" -eq 10 ]
	local row
	for row in seq thread "thread --gil" "fork --gil" "seq --cpu" \
	    "thread --cpu"; do
		grep -qE "^$row +[0-9.]+ s +[-0-9]+   about [0-9.]+ s " \
		    <<<"$output"
	done
	# the computing threads waited for the lock, the processes never
	grep -qE '^thread --cpu --gil +[0-9.]+ s +[1-9][0-9]*   about ' \
	    <<<"$output"
	grep -qE '^fork --cpu --gil +[0-9.]+ s +0   about ' <<<"$output"
}
