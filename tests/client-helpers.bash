# shellcheck shell=bash
# client-helpers.bash: what tests/client*.bats share besides helpers.bash:
# a concurrent fake server, and readers for the timeline and the stats.

# start_fake [ARGS...]: runs tests/fake-server.py -p 0 ARGS (see its
# header) in the background like start_server, so teardown_server stops
# it; sets SERVER_PID, SERVER_LOG, SERVER_ERR and PORT.
start_fake() {
	new_server_logs fake
	python3 "$BATS_TEST_DIRNAME/fake-server.py" -p 0 "$@" \
	    >"$SERVER_LOG" 2>"$SERVER_ERR" 3>&- &
	# shellcheck disable=SC2034 # read_port exports it
	SERVER_PID=$!
	read_port 20
}

# concurrent_servers: the concurrent servers built so far (fork, thread,
# poll), one per line.
concurrent_servers() {
	local s
	for s in fork thread poll; do
		[ -x "$BIN/upserver-$s" ] && echo "$s"
	done
	return 0
}

# timeline_bars FILE: one line per row of the timeline in FILE, as
# "CONN FIRST LAST": the column (from 1) of the row's first request sent
# ('>' or '*') and of its last reply received ('<' or '*'), 0 for none.
timeline_bars() {
	awk '
	/^timeline:/ { on = 1; next }
	/^legend:/ { on = 0 }
	on && /^ *[0-9]+ / {
		match($0, /^ *[0-9]+ /)
		bars = substr($0, RLENGTH + 1)
		first = 0; last = 0
		for (i = 1; i <= length(bars); i++) {
			ch = substr(bars, i, 1)
			if (first == 0 && (ch == ">" || ch == "*"))
				first = i
			if (ch == "<" || ch == "*")
				last = i
		}
		print $1, first, last
	}' "$1"
}

# timeline_columns FILE: how many columns the time axis of FILE has.
timeline_columns() {
	awk '/^ +[+]/ { sub(/^ +/, ""); print length; exit }' "$1"
}

# stat_of FILE KEY: the value of "KEY: value" in the stats in FILE.
stat_of() {
	awk -F': ' -v k="$2" '$1 == k { print $2; found = 1 } END { exit !found }' "$1"
}

# now_ms: the time in milliseconds.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}
