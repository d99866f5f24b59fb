#!/usr/bin/env bats
# uptimeline: server logs drawn as rows of connections, as text or SVG,
# live from a pipe; garbage skipped and counted, never a crash.

# status, output, lines, stderr: set by bats' run; PORT: by start_server
# shellcheck disable=SC2154,SC2153

load helpers
load client-helpers

teardown() {
	teardown_server
}

# run_clients MODEL: four clients at once against upserver-MODEL -d 1s,
# the server's log left in $BATS_TEST_TMPDIR/MODEL.log.
run_clients() {
	start_server "$1" -d 1s
	run upclient -p "$PORT" -c 4 hello
	[ "$status" -eq 0 ]
	stop_server
	cp "$SERVER_LOG" "$BATS_TEST_TMPDIR/$1.log"
}

# rows FILE: "CONN FIRST LAST" for each row of the picture in FILE: the
# column (from 1) where the connection is first drawn, and where its
# last reply ('<' or '*') is.
rows() {
	awk '
	/^ *[0-9]+ / && !/ connection/ {
		match($0, /^ *[0-9]+ /)
		bars = substr($0, RLENGTH + 1, cols)
		first = 0; last = 0
		for (i = 1; i <= length(bars); i++) {
			ch = substr(bars, i, 1)
			if (first == 0 && ch != " ")
				first = i
			if (ch == "<" || ch == "*")
				last = i
		}
		print $1, first, last
	}' cols="$(timeline_columns "$1")" "$1"
}

@test "upserver-seq with four clients is a staircase" {
	run_clients seq
	COLUMNS=80 run --separate-stderr uptimeline "$BATS_TEST_TMPDIR/seq.log"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	echo "$output" >"$BATS_TEST_TMPDIR/pic"
	awk 'length > 80 { print "too wide:", $0; exit 1 }' "$BATS_TEST_TMPDIR/pic"
	[[ "${lines[0]}" == *": upserver-seq pid "*", 4 connections in "* ]]
	rows "$BATS_TEST_TMPDIR/pic" >"$BATS_TEST_TMPDIR/rows"
	cat "$BATS_TEST_TMPDIR/rows"
	[ "$(awk '{ printf "%s ", $1 }' "$BATS_TEST_TMPDIR/rows")" = "1 2 3 4 " ]
	# Each accepted when the one before it was answered: a quarter of the
	# axis further each (an eighth at least), the first at the start and
	# the last answered at the end.
	local cols
	cols=$(timeline_columns "$BATS_TEST_TMPDIR/pic")
	awk -v cols="$cols" '
	    NR == 1 && $2 != 1 { print "first not at 0:", $0; exit 1 }
	    NR > 1 && $2 < prev - 1 { print "accepted early:", $0; exit 1 }
	    NR > 1 && $3 < prevlast + cols / 8 { print "no step:", $0; exit 1 }
	    { prev = $3; prevlast = $3 }
	    END { if (prev < cols - 1) { print "last not at the end"; exit 1 } }
	' "$BATS_TEST_TMPDIR/rows"
	# Each row ends with its peer, as logged.
	local peer
	while read -r peer; do
		grep -qF " $peer" "$BATS_TEST_TMPDIR/pic"
	done < <(awk '$2 == "accepted" { print $3 }' "$BATS_TEST_TMPDIR/seq.log")
}

@test "upserver-fork with four clients is one column, each row with its pid" {
	run_clients fork
	COLUMNS=100 run --separate-stderr uptimeline "$BATS_TEST_TMPDIR/fork.log"
	echo "$output"
	[ "$status" -eq 0 ]
	echo "$output" >"$BATS_TEST_TMPDIR/pic"
	awk 'length > 100 { print "too wide:", $0; exit 1 }' "$BATS_TEST_TMPDIR/pic"
	rows "$BATS_TEST_TMPDIR/pic" >"$BATS_TEST_TMPDIR/rows"
	cat "$BATS_TEST_TMPDIR/rows"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/rows")" -eq 4 ]
	local cols
	cols=$(timeline_columns "$BATS_TEST_TMPDIR/pic")
	awk -v cols="$cols" '
	    $2 > cols / 10 { print "accepted late:", $0; exit 1 }
	    $3 < cols * 3 / 4 { print "answered early:", $0; exit 1 }
	' "$BATS_TEST_TMPDIR/rows"
	# The pid of each child, as the log gives it, on its connection's row.
	local peer pid
	while read -r peer pid; do
		grep -qE " $peer $pid\$" "$BATS_TEST_TMPDIR/pic"
	done < <(awk '$2 == "closed" { for (i = 4; i <= NF; i++)
	    if ($i ~ /^pid=/) print $3, $i }' "$BATS_TEST_TMPDIR/fork.log")
	[ "$(grep -cE ' pid=[0-9]+$' "$BATS_TEST_TMPDIR/pic")" -eq 4 ]
}

@test "two logs side by side share one scale" {
	run_clients seq
	run_clients fork
	COLUMNS=80 run uptimeline "$BATS_TEST_TMPDIR/seq.log" "$BATS_TEST_TMPDIR/fork.log"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c ' connections in ')" -eq 2 ]
	# The same ruler for both, and fork's replies all in its first half.
	[ "$(echo "$output" | grep -E '^ +[+]' | sort -u | wc -l)" -eq 1 ]
	echo "$output" | awk '/upserver-fork/ { on = 1 } on' >"$BATS_TEST_TMPDIR/pic"
	rows "$BATS_TEST_TMPDIR/pic" | awk -v cols="$(timeline_columns "$BATS_TEST_TMPDIR/pic")" '
	    { n++ } $3 > cols / 2 { print "fork late:", $0; exit 1 }
	    END { if (n != 4) exit 1 }'
}

@test "--svg is one well-formed SVG document with a row per connection" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	run_clients seq
	run_clients fork
	uptimeline --svg "$BATS_TEST_TMPDIR/seq.log" "$BATS_TEST_TMPDIR/fork.log" \
	    >"$BATS_TEST_TMPDIR/pic.svg"
	head -c 300 "$BATS_TEST_TMPDIR/pic.svg"
	python3 - "$BATS_TEST_TMPDIR/pic.svg" <<'PY'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
texts = [t.text or "" for t in root.iter(ns + "text")]
heads = [t for t in texts if " connections in " in t]
assert len(heads) == 2, heads
assert "upserver-seq" in heads[0] and "upserver-fork" in heads[1], heads
# The four rows of each log are numbered 1 to 4.
assert [t for t in texts if t in "1234" and t] == list("12341234"), texts
# Four replies in each, drawn as marks of their colour.
marks = [r for r in root.iter(ns + "rect") if r.get("fill") == "#f58518"]
assert len(marks) >= 8 + 1, len(marks)
PY
}

@test "received events draw each request read and served" {
	local log="$BATS_TEST_TMPDIR/recv.log"
	cat >"$log" <<-'EOF'
	1722293200.000000 listening 127.0.0.1:40001 model=thread pid=77 delay=1s
	1722293200.000000 accepted 127.0.0.1:50000 tid=3
	1722293201.000000 received 127.0.0.1:50000 bytes=6 tid=3
	1722293202.000000 responded 127.0.0.1:50000 bytes=6 tid=3
	1722293203.000000 received 127.0.0.1:50000 bytes=6 tid=3
	1722293204.000000 responded 127.0.0.1:50000 bytes=6 tid=3
	1722293204.000000 error 127.0.0.1:50000 op=send errno=EPIPE tid=3
	1722293204.000000 closed 127.0.0.1:50000 requests=2 tid=3
	EOF
	# 45 columns leave no room for the peer: 40 columns of bars, 10 a
	# second: waiting, read, served, replied, waiting, ..., the error.
	run --separate-stderr uptimeline -w 45 "$log"
	echo "$output"
	[ "$status" -eq 0 ]
	# The heading is cut to the width, the file name first losing its
	# directories.
	[ "${lines[0]}" = "recv.log: upserver-thread pid 77, 1 connectio" ]
	local bars
	bars=$(echo "$output" | awk '/^ +1 / { print substr($0, 6) }')
	echo "[$bars]"
	[[ "$bars" =~ ^\.{9,10}\>=+\<\.+\>=+x$ ]]
	[ "${#bars}" -eq 40 ]
	COLUMNS=200 run uptimeline "$log"
	[ "${lines[0]}" = "$log: upserver-thread pid 77, 1 connection in 4.000s" ]
	echo "$output" | grep -qE '^ +1 .* 127\.0\.0\.1:50000 tid=3$'
}

@test "lines that are not events are skipped and counted, a cut log is fine" {
	local log="$BATS_TEST_TMPDIR/mixed.log"
	{
		echo "upserver-seq: starting"
		echo "1722293200.000000 accepted 127.0.0.1:50000"
		echo "not an event at all"
		echo ""
		echo "1722293201.000000 responded 127.0.0.1:50000 bytes=3"
		printf '1722293201.5 closed\n'
		echo "1722293202.000000 closed 127.0.0.1:50000"
		printf '1722293202.500000 accepted 127.0.0.1:50002\n'
		printf '1722293203.000000 respon'
	} >"$log"
	COLUMNS=300 run --separate-stderr uptimeline "$log"
	echo "$output"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "uptimeline: $log: skipped 4 lines that are not events" ]
	[[ "${lines[0]}" == "$log: 2 connections in 2.500s (no received events)" ]]
	# From standard input the message names no file.
	run --separate-stderr uptimeline <"$log"
	[ "$status" -eq 0 ]
	[ "$stderr" = "uptimeline: skipped 4 lines that are not events" ]
}

@test "garbage is a clear message, never a crash" {
	head -c 200000 /dev/urandom >"$BATS_TEST_TMPDIR/random"
	run --separate-stderr uptimeline "$BATS_TEST_TMPDIR/random"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"uptimeline: $BATS_TEST_TMPDIR/random: no events"* ]]
	[[ "$stderr" == *"lines that are not events"* ]] ||
	    [[ "$stderr" == *"line that is not an event"* ]]
	# Far apart, out of order and absurd times, and a very long line.
	{
		echo "1.000001 accepted a:1"
		echo "8999999999.999999 responded a:1 bytes=1"
		echo "5.0 received a:1 bytes=1"
		echo "0.000000 closed a:1"
		head -c 10000 /dev/zero | tr '\0' 'x'
		echo
		echo "2.0 error b:2 op=accept errno=EMFILE"
	} >"$BATS_TEST_TMPDIR/odd"
	run --separate-stderr uptimeline --svg "$BATS_TEST_TMPDIR/odd"
	[ "$status" -eq 0 ]
	[ "$stderr" = "uptimeline: $BATS_TEST_TMPDIR/odd: skipped 1 line that is not an event" ]
	[[ "$output" == *"</svg>" ]]
	: | uptimeline 2>"$BATS_TEST_TMPDIR/err" && false
	[ "$(cat "$BATS_TEST_TMPDIR/err")" = "uptimeline: standard input: no events" ]
}

@test "a pipe read on a terminal is drawn again as it grows" {
	command -v script >/dev/null || skip "script(1) is not installed"
	local fifo="$BATS_TEST_TMPDIR/fifo" out="$BATS_TEST_TMPDIR/tty"
	mkfifo "$fifo"
	# uptimeline on a pseudo-terminal, reading the fifo.
	COLUMNS=80 script -qfec "$BIN/uptimeline <'$fifo'" "$out" \
	    >/dev/null 2>&1 3>&- </dev/null &
	SERVER_PID=$!
	exec 4>"$fifo"
	echo "1722293200.000000 accepted 127.0.0.1:50000" >&4
	echo "1722293200.100000 accepted 127.0.0.1:50002" >&4
	wait_for_log "$out" '1 connection|2 connections' 1 20
	echo "1722293201.000000 responded 127.0.0.1:50000 bytes=3" >&4
	echo "1722293201.000000 closed 127.0.0.1:50000" >&4
	echo "1722293201.000000 accepted 127.0.0.1:50004" >&4
	exec 4>&-
	wait "$SERVER_PID"
	SERVER_PID=
	cat -v "$out"
	# Frames, each after a clear screen: more than one, the last with all
	# three connections and the log's own span.
	[ "$(grep -o $'\033\\[H\033\\[J' "$out" | wc -l)" -ge 2 ]
	tr -d '\r' <"$out" | awk 'BEGIN { RS = "\033\\[H\033\\[J" } END { print }' \
	    >"$BATS_TEST_TMPDIR/last"
	grep -q '^standard input: 3 connections in 1.000s (no received events)$' "$BATS_TEST_TMPDIR/last"
}

@test "usage errors exit 2; -V and -h exit 0; a missing file is exit 1" {
	run --separate-stderr uptimeline --bogus
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"usage: uptimeline "* ]]
	run --separate-stderr uptimeline -w 5 /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"uptimeline: --width: '5' is not a number from 40 to 1000"* ]]
	run uptimeline -V
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^uptimeline\ \(up\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	run uptimeline --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: uptimeline "* ]]
	echo "1722293200.000000 accepted 127.0.0.1:50000" >"$BATS_TEST_TMPDIR/one"
	run --separate-stderr uptimeline "$BATS_TEST_TMPDIR/nothere" "$BATS_TEST_TMPDIR/one"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"uptimeline: $BATS_TEST_TMPDIR/nothere: No such file or directory"* ]]
	[[ "$output" == *"$BATS_TEST_TMPDIR/one: 1 connection in 0us"* ]]
}

# connections N: a log of N connections one after another, each accepted,
# read, answered and closed 4 ms apart, on 60 000 peers used in turn.
connections() {
	awk -v n="$1" 'BEGIN {
		for (i = 0; i < n; i++) {
			p = "127.0.0.1:" (1024 + i % 60000)
			t = 1722293200 + int(i / 250)	# 250 a second
			ms = i % 250 * 4
			printf "%d.%03d000 accepted %s\n", t, ms, p
			printf "%d.%03d000 received %s bytes=6\n", t, ms + 1, p
			printf "%d.%03d000 responded %s bytes=6\n", t, ms + 2, p
			printf "%d.%03d000 closed %s\n", t, ms + 3, p
		}
	}'
}

# sampled N FILE: checks that the rows of the picture in FILE are 32
# connections of N, from the first to the last, each within N/64 of its
# evenly spaced place (what uptimeline(1) promises).
sampled() {
	rows "$2" | awk -v n="$1" '
	    { want = int(NR - 1) * (n - 1) / 31 + 1; d = $1 - want }
	    d > n / 64 || d < -n / 64 { print "row", NR, "is", $1, "not near", want; exit 1 }
	    $1 <= prev { print "row", NR, "out of order"; exit 1 }
	    { prev = $1; last = $1; rows++ }
	    END { if (rows != 32 || last != n) { print rows, "rows, last", last; exit 1 } }'
}

@test "a million lines are drawn in the memory of a picture, not of the log" {
	[ -z "${UP_SANITIZER:-}" ] ||
	    skip "the sanitizers and valgrind change what memory costs"
	# 46 MB of log, 250 000 connections; the picture needs a few MB (it
	# drew in 4), keeping every event took more than 32.
	connections 250000 >"$BATS_TEST_TMPDIR/long.log"
	run --separate-stderr bash -c 'ulimit -v 16384 && exec "$@"' limit \
	    uptimeline -w 100 "$BATS_TEST_TMPDIR/long.log"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "${lines[0]}" == *"long.log: 250000 connections in 1000.0s" ]]
	[ "${lines[1]}" = "(32 of them shown, evenly spaced from the first to the last)" ]
	echo "$output" >"$BATS_TEST_TMPDIR/pic"
	sampled 250000 "$BATS_TEST_TMPDIR/pic"
	# Each row is one request, read and answered within a column.
	[ "$(grep -cE '^ *[0-9]+ +[*<] +127\.0\.0\.1:[0-9]+$' "$BATS_TEST_TMPDIR/pic")" -eq 32 ]
}

@test "up to 64 connections the rows are exactly evenly spaced; a reused peer is a new connection" {
	local n
	for n in 40 41 64; do
		connections "$n" >"$BATS_TEST_TMPDIR/$n.log"
		COLUMNS=100 run uptimeline "$BATS_TEST_TMPDIR/$n.log"
		[ "$status" -eq 0 ]
		echo "$output" >"$BATS_TEST_TMPDIR/pic"
		rows "$BATS_TEST_TMPDIR/pic" | awk '{ printf "%s ", $1 }' >"$BATS_TEST_TMPDIR/got"
		if [ "$n" -eq 40 ]; then
			seq 1 40 | tr '\n' ' ' >"$BATS_TEST_TMPDIR/want"
		else
			awk -v n="$n" 'BEGIN { for (r = 0; r < 32; r++)
			    printf "%d ", int(r * (n - 1) / 31) + 1 }' >"$BATS_TEST_TMPDIR/want"
		fi
		diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	done
	# 60 001 connections on 60 000 peers: the first peer's two are two.
	connections 60001 >"$BATS_TEST_TMPDIR/reuse.log"
	COLUMNS=100 run uptimeline "$BATS_TEST_TMPDIR/reuse.log"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"reuse.log: 60001 connections in "* ]]
	echo "$output" >"$BATS_TEST_TMPDIR/pic"
	sampled 60001 "$BATS_TEST_TMPDIR/pic"
	grep -qE '^60001 .* 127\.0\.0\.1:1024$' "$BATS_TEST_TMPDIR/pic"
}

@test "10 000 connections open at once, and a log read from its middle" {
	# All accepted, then each read, each answered, each closed.
	awk 'BEGIN {
		us = 0	# 100 us apart
		for (e = 0; e < 4; e++)
			for (i = 0; i < 10000; i++) {
				printf "%d.%06d %s 10.0.%d.%d:%d%s\n", \
				    1722293200 + int(us / 1000000), us % 1000000, \
				    e == 0 ? "accepted" : e == 1 ? "received" : \
				    e == 2 ? "responded" : "closed", \
				    i / 250, i % 250, 2000 + i, \
				    e == 1 || e == 2 ? " bytes=6 pid=" 100 + i % 7 : ""
				us += 100
			}
	}' >"$BATS_TEST_TMPDIR/open.log"
	COLUMNS=100 run --separate-stderr uptimeline "$BATS_TEST_TMPDIR/open.log"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"open.log: 10000 connections in 4.000s" ]]
	echo "$output" >"$BATS_TEST_TMPDIR/pic"
	sampled 10000 "$BATS_TEST_TMPDIR/pic"
	# Every row waits, is served, is answered and waits until the end:
	# connected from the first quarter, answered in the third.
	rows "$BATS_TEST_TMPDIR/pic" | awk -v cols="$(timeline_columns "$BATS_TEST_TMPDIR/pic")" '
	    $2 > cols / 4 + 1 || $3 < cols / 2 || $3 > cols * 3 / 4 + 1 {
		print "misplaced:", $0; exit 1 }'
	[ "$(grep -cE '^ *[0-9]+ +\.+>=+<\.+ +10\.0\.[0-9]+\.[0-9]+:[0-9]+ pid=1[0-9][0-9]$' \
	    "$BATS_TEST_TMPDIR/pic")" -eq 32 ]
	# The same log from its middle: no accepted lines; each connection
	# begins at its first event, its received line.
	grep -v ' accepted ' "$BATS_TEST_TMPDIR/open.log" >"$BATS_TEST_TMPDIR/middle.log"
	COLUMNS=100 run --separate-stderr uptimeline "$BATS_TEST_TMPDIR/middle.log"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"middle.log: 10000 connections in 3.000s" ]]
	echo "$output" >"$BATS_TEST_TMPDIR/pic"
	sampled 10000 "$BATS_TEST_TMPDIR/pic"
	[ "$(grep -cE '^ *[0-9]+ +>=+<\.+ +10\.0\.[0-9]+\.[0-9]+:[0-9]+ pid=1[0-9][0-9]$' \
	    "$BATS_TEST_TMPDIR/pic")" -eq 32 ]
}
