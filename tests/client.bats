#!/usr/bin/env bats
# upclient: the everyday mode stays as it was; the load mode (-c, -n, -j,
# -r, --verify, --timeout, -T, -s, -v) against the sequential server, a
# concurrent one, and fakes that answer wrongly or not at all.

# status, output, lines, stderr: set by bats' run; PORT: by start_server
# shellcheck disable=SC2154,SC2153

load helpers
load client-helpers

teardown() {
	teardown_server
}

# expect_usage_error MESSAGE ARGS...: upclient ARGS exits 2, says
# "upclient: MESSAGE" then its usage, and prints nothing on stdout.
expect_usage_error() {
	local message=$1
	shift
	run --separate-stderr upclient "$@"
	echo "upclient $*: $stderr"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ "${stderr_lines[0]}" = "upclient: $message" ]
	[[ "${stderr_lines[1]}" == "usage: upclient "* ]]
}

# ---- the everyday mode ------------------------------------------------------

@test "TEXT alone is the everyday mode: sent as is, not numbered" {
	start_server seq -d 0
	run --separate-stderr upclient -p "$PORT" hello
	[ "$status" -eq 0 ]
	[ "$output" = "HELLO" ]
	[ -z "$stderr" ]
	wait_for_log "$SERVER_LOG" ' closed ' 1
	# "hello\n": six bytes, no " 1.1"
	grep -qE ' responded 127\.0\.0\.1:[0-9]+ bytes=6$' "$SERVER_LOG"
}

@test "standard input streams through a concurrent server too" {
	start_fake
	printf 'hello\nworld' | upclient -p "$PORT" >"$BATS_TEST_TMPDIR/out"
	printf 'HELLO\nWORLD' | cmp - "$BATS_TEST_TMPDIR/out"
	head -c 3000000 /dev/urandom >"$BATS_TEST_TMPDIR/in"
	upclient -p "$PORT" <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out"
	uppercase <"$BATS_TEST_TMPDIR/in" | cmp - "$BATS_TEST_TMPDIR/out"
}

# ---- the everyday mode: --timeout, --verify, -v, a terminal -----------------

@test "pipe and TEXT take --timeout: a server that never answers fails in time" {
	start_server seq -d 30s
	local t0 t1
	printf 'a\nb\n' >"$BATS_TEST_TMPDIR/in"
	t0=$(now_ms)
	run --separate-stderr upclient -p "$PORT" --timeout 500ms \
	    <"$BATS_TEST_TMPDIR/in"
	t1=$(now_ms)
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "upclient: localhost:$PORT: no reply within 500ms" ]
	[ "$((t1 - t0))" -lt 10000 ]
	# TEXT stays the everyday mode with --timeout: not numbered.
	run --separate-stderr upclient -p "$PORT" --timeout 500ms hello
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$stderr" = "upclient: localhost:$PORT: no reply within 500ms" ]
}

@test "--timeout in the pipe mode: slow replies in time pass, idle input is no wait" {
	start_server seq -d 1s
	run --separate-stderr upclient -p "$PORT" --timeout 5s < <(printf 'a\nb\n')
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'A\nB')" ]
	[ -z "$stderr" ]
	stop_server
	# Nothing owed while standard input is quiet: no timer runs.
	start_server seq -d 0
	run --separate-stderr upclient -p "$PORT" --timeout 1s \
	    < <(printf 'a\n'; sleep 3; printf 'b\n')
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'A\nB')" ]
	[ -z "$stderr" ]
}

@test "--timeout in the pipe mode: a server that never closes after the replies" {
	start_fake --no-close
	run --separate-stderr upclient -p "$PORT" --timeout 500ms < <(printf 'a\n')
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$output" = A ]
	[ "$stderr" = "upclient: localhost:$PORT: the server did not close the connection within 500ms of the last reply" ]
}

@test "--verify in the pipe mode: right replies pass byte for byte, a wrong one fails" {
	start_fake
	head -c 3000000 /dev/urandom >"$BATS_TEST_TMPDIR/in"
	upclient -p "$PORT" --verify --timeout 30s <"$BATS_TEST_TMPDIR/in" \
	    >"$BATS_TEST_TMPDIR/out"
	uppercase <"$BATS_TEST_TMPDIR/in" | cmp - "$BATS_TEST_TMPDIR/out"
	teardown_server
	start_fake --corrupt 2
	printf 'hello\nworld\nagain\n' >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr upclient -p "$PORT" --verify <"$BATS_TEST_TMPDIR/in"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$stderr" = "upclient: localhost:$PORT: reply differs from the request at byte 1 of line 2" ]
	# What was right is written, nothing after it.
	[ "$output" = "HELLO" ]
	# Without --verify the stream passes as it came, as ever.
	run --separate-stderr upclient -p "$PORT" <"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'HELLO\n?ORLD\nAGAIN')" ]
}

@test "a reply longer than the request is reported as that" {
	start_fake --longer 2
	printf 'ab\ncd\n' >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr upclient -p "$PORT" <"$BATS_TEST_TMPDIR/in"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$output" = "$(printf 'AB\nCD\nEXTRA')" ]
	[ "$stderr" = "upclient: localhost:$PORT: the reply is longer than the request: 5 bytes more" ]
	run --separate-stderr upclient -p "$PORT" --verify ab
	echo "$stderr"
	[ "$status" -eq 0 ]
	run --separate-stderr upclient -p "$PORT" --verify <"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 1 ]
	[ "$stderr" = "upclient: localhost:$PORT: the reply is longer than the request: 5 bytes more" ]
}

@test "-v in the pipe and TEXT modes: the client's events, one per request" {
	start_server seq -d 0
	run --separate-stderr upclient -p "$PORT" -v < <(printf 'hello\nworld!!\n')
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'HELLO\nWORLD!!')" ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/events"
	cat "$BATS_TEST_TMPDIR/events"
	local re='^[0-9]+\.[0-9]{6} (connected|sent|received|closed) 127\.0\.0\.1:'"$PORT"' conn=1( [a-z]+=[^ ]+)*$'
	[ "$(grep -cvE "$re" "$BATS_TEST_TMPDIR/events")" -eq 0 ]
	[ "$(awk '{ printf "%s ", $2 }' "$BATS_TEST_TMPDIR/events")" = \
	    "connected sent sent received received closed " ]
	grep -qE ' connected .* conn=1 local=127\.0\.0\.1:[0-9]+$' "$BATS_TEST_TMPDIR/events"
	grep -q ' sent .* conn=1 request=1 bytes=6$' "$BATS_TEST_TMPDIR/events"
	grep -q ' sent .* conn=1 request=2 bytes=8$' "$BATS_TEST_TMPDIR/events"
	grep -qE ' received .* conn=1 request=2 bytes=8 latency=[0-9]+\.[0-9]{6}$' "$BATS_TEST_TMPDIR/events"
	grep -q ' closed .* conn=1 requests=2$' "$BATS_TEST_TMPDIR/events"
	# TEXT with -v is still the everyday mode: sent as is.
	run --separate-stderr upclient -p "$PORT" -v hello
	[ "$status" -eq 0 ]
	[ "$output" = "HELLO" ]
	[[ "$stderr" == *" sent 127.0.0.1:$PORT conn=1 request=1 bytes=6"* ]]
}

@test "-v names a failure: error and closed with a reason" {
	start_server seq -d 30s
	run --separate-stderr upclient -p "$PORT" -v --timeout 300ms hello
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *" error 127.0.0.1:$PORT conn=1 request=1 reason=timeout errno=ETIMEDOUT"* ]]
	[[ "$stderr" == *" closed 127.0.0.1:$PORT conn=1 requests=0 reason=timeout"* ]]
	[[ "$stderr" == *"upclient: localhost:$PORT: no reply within 300ms"* ]]
}

@test "on a terminal: how to end and what to expect, on stderr; nothing on a pipe" {
	start_server seq -d 0
	run python3 "$BATS_TEST_DIRNAME/tty-client.py" "$BATS_TEST_TMPDIR/out" \
	    hello HELLO -- "$BIN/upclient" -p "$PORT"
	echo "$output"
	[ "$status" -eq 0 ]
	# Standard output holds the reply alone.
	[ "$(od -An -c "$BATS_TEST_TMPDIR/out" | tr -d ' ')" = 'HELLO\n' ]
	[[ "$output" == *"upclient: connected to localhost:$PORT"* ]]
	[[ "$output" == *"uppercased"* ]]
	[[ "$output" == *"Ctrl-D"* ]]
	# A prompt before the line typed, and another after its reply.
	[[ "$output" == *"> hello"*"> "* ]]
	# On a pipe, not a byte more than the replies.
	run --separate-stderr upclient -p "$PORT" < <(printf 'hello\n')
	[ "$status" -eq 0 ]
	[ "$output" = HELLO ]
	[ -z "$stderr" ]
}

@test "-c: upclient's clients and the servers' most at once point to each other" {
	command -v mandoc >/dev/null || skip "no mandoc"
	local man="$BATS_TEST_DIRNAME/../man"
	run upclient --help
	[[ "$output" == *"not the servers' -c"* ]]
	mandoc -Tutf8 "$man/upclient.1" | col -b | tr -s ' \t\n' '   ' >"$BATS_TEST_TMPDIR/client"
	mandoc -Tutf8 "$man/upserver.1" | col -b | tr -s ' \t\n' '   ' >"$BATS_TEST_TMPDIR/server"
	grep -q "Not the servers' -c" "$BATS_TEST_TMPDIR/client"
	grep -q "Not upclient(1)'s -c" "$BATS_TEST_TMPDIR/server"
}

# ---- requests and replies --------------------------------------------------

@test "-c 3 -n 2 TEXT: numbered requests, each reply whole on stdout" {
	start_server seq -d 0
	run --separate-stderr upclient -p "$PORT" -c 3 -n 2 hello world
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 6 ]
	[ "$(printf '%s\n' "${lines[@]}" | sort | tr '\n' ,)" = \
	    "HELLO WORLD 1.1,HELLO WORLD 1.2,HELLO WORLD 2.1,HELLO WORLD 2.2,HELLO WORLD 3.1,HELLO WORLD 3.2," ]
	# Each connection's replies in order.
	[ "$(printf '%s\n' "${lines[@]}" | grep ' 2\.' | tr '\n' ,)" = \
	    "HELLO WORLD 2.1,HELLO WORLD 2.2," ]
	# The server saw three connections of two 16-byte requests each.
	wait_for_log "$SERVER_LOG" ' closed .*requests=2' 3
	[ "$(grep -c ' responded .* bytes=16$' "$SERVER_LOG")" -eq 6 ]
}

@test "-r: random lowercase letters of the length asked, not printed" {
	start_fake --record "$BATS_TEST_TMPDIR/requests"
	run --separate-stderr upclient -p "$PORT" -c 4 -n 25 -r 100 --verify
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/requests")" -eq 100 ]
	[ "$(grep -cxE '[a-z]{100}' "$BATS_TEST_TMPDIR/requests")" -eq 100 ]
	# 10 000 letters: each of the 26 about 385 times, far from the bounds
	# (15 standard deviations) unless the letters are not uniform.
	tr -d '\n' <"$BATS_TEST_TMPDIR/requests" | fold -w1 | sort | uniq -c >"$BATS_TEST_TMPDIR/counts"
	cat "$BATS_TEST_TMPDIR/counts"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/counts")" -eq 26 ]
	awk '$1 < 100 || $1 > 700 { exit 1 }' "$BATS_TEST_TMPDIR/counts"
	# No two requests alike.
	[ "$(sort -u "$BATS_TEST_TMPDIR/requests" | wc -l)" -eq 100 ]
}

@test "-r 0 sends empty lines, and a long request comes back in pieces" {
	start_server seq -d 0 --max-line 1000
	run upclient -p "$PORT" -c 2 -n 3 -r 0 --verify -s
	[ "$status" -eq 0 ]
	[ "$(stat_of <(echo "$output") requests)" -eq 6 ]
	# 200 001 bytes per request: the server answers in 201 pieces, and
	# the client puts them together.
	run upclient -p "$PORT" -c 2 -r 200000 --verify -s
	[ "$status" -eq 0 ]
	[ "$(stat_of <(echo "$output") requests)" -eq 2 ]
	[ "$(stat_of <(echo "$output") errors)" -eq 0 ]
}

@test "random payloads: same format and distribution with libsodium and getrandom" {
	local cc=${CC:-cc} variant out src
	command -v "$cc" >/dev/null || skip "no C compiler"
	local top="$BATS_TEST_DIRNAME/.."
	# Built without make, both ways, from the client's own source.
	"$cc" -std=c11 -D_GNU_SOURCE -I"$top/client" -o "$BATS_TEST_TMPDIR/random-getrandom" \
	    "$BATS_TEST_DIRNAME/client-random.c" "$top/client/payload.c"
	local variants=getrandom
	if pkg-config --exists libsodium 2>/dev/null; then
		# shellcheck disable=SC2046 # pkg-config's words are meant to split
		"$cc" -std=c11 -D_GNU_SOURCE -DUP_SODIUM -I"$top/client" \
		    $(pkg-config --cflags libsodium) \
		    -o "$BATS_TEST_TMPDIR/random-libsodium" \
		    "$BATS_TEST_DIRNAME/client-random.c" "$top/client/payload.c" \
		    $(pkg-config --libs libsodium)
		variants="getrandom libsodium"
	fi
	for variant in $variants; do
		out="$BATS_TEST_TMPDIR/out-$variant"
		src=$("$BATS_TEST_TMPDIR/random-$variant" 260000 2>&1 >"$out")
		echo "$variant: source $src"
		[ "$src" = "$variant" ]
		[ "$(wc -c <"$out")" -eq 260001 ]
		[ "$(tail -c 1 "$out" | od -An -c | tr -d ' ')" = '\n' ]
		[ "$(head -c 260000 "$out" | LC_ALL=C tr -d '[:lower:]' | wc -c)" -eq 0 ]
		# each letter 10 000 times on average, sd 98: allow 8 sd
		head -c 260000 "$out" | fold -w1 | sort | uniq -c >"$out.counts"
		[ "$(wc -l <"$out.counts")" -eq 26 ]
		awk '$1 < 9200 || $1 > 10800 { print "biased:", $0; exit 1 }' "$out.counts"
	done
	[ -n "$(pkg-config --exists libsodium 2>/dev/null && echo yes)" ] ||
	    skip "libsodium not installed: only getrandom checked"
}

# ---- the timeline ------------------------------------------------------------

@test "-c 4 -T against upserver-seq -d 1s draws a staircase" {
	start_server seq -d 1s
	run --separate-stderr upclient -p "$PORT" -c 4 -T hello
	[ "$status" -eq 0 ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/tl"
	cat "$BATS_TEST_TMPDIR/tl"
	[ "${#lines[@]}" -eq 4 ]
	# Every line fits 80 columns.
	awk 'length > 80 { exit 1 }' "$BATS_TEST_TMPDIR/tl"
	grep -q '^timeline: 4 connections, ' "$BATS_TEST_TMPDIR/tl"
	grep -q '^legend: ' "$BATS_TEST_TMPDIR/tl"
	local cols
	cols=$(timeline_columns "$BATS_TEST_TMPDIR/tl")
	[ "$cols" -ge 60 ]
	# The axis is labelled to its last tick, 4s, near its end (the run
	# took 4 s and a little).
	grep -qE '^conn 0 +1s +2s +3s +4s$' "$BATS_TEST_TMPDIR/tl"
	timeline_bars "$BATS_TEST_TMPDIR/tl" >"$BATS_TEST_TMPDIR/bars"
	cat "$BATS_TEST_TMPDIR/bars"
	[ "$(awk '{ printf "%s ", $1 }' "$BATS_TEST_TMPDIR/bars")" = "1 2 3 4 " ]
	# All four sent at the start; the replies one step further each,
	# a quarter of the axis apart (at least an eighth here), the last
	# at the end.
	awk -v cols="$cols" '
	    $2 < 1 || $2 > cols / 10 { print "not sent at the start:", $0; exit 1 }
	    NR > 1 && $3 < prev + cols / 8 { print "no step:", $0; exit 1 }
	    { prev = $3 }
	    END { if (prev < cols - 2) { print "last reply not at the end"; exit 1 } }
	' "$BATS_TEST_TMPDIR/bars"
}

# one_column FILE: the rows of the timeline in FILE all end in (nearly) the
# same column, at the end of the axis: served at once.
one_column() {
	local cols
	cols=$(timeline_columns "$1")
	timeline_bars "$1" >"$1.bars"
	cat "$1.bars"
	[ "$(awk '{ printf "%s ", $1 }' "$1.bars")" = "1 2 3 4 " ]
	awk -v cols="$cols" '
	    $2 < 1 || $2 > cols / 10 { print "not sent at the start:", $0; exit 1 }
	    $3 < cols * 3 / 4 { print "answered early:", $0; exit 1 }
	    NR == 1 || $3 < lo { lo = $3 }
	    NR == 1 || $3 > hi { hi = $3 }
	    END { if (hi - lo > cols / 10) { print "not one column"; exit 1 } }
	' "$1.bars"
}

@test "-c 4 -T against a concurrent server draws one column" {
	local s
	start_fake -d 1
	run --separate-stderr upclient -p "$PORT" -c 4 -T hello
	[ "$status" -eq 0 ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/tl.fake"
	cat "$BATS_TEST_TMPDIR/tl.fake"
	one_column "$BATS_TEST_TMPDIR/tl.fake"
	teardown_server
	for s in $(concurrent_servers); do
		start_server "$s" -d 1s
		run --separate-stderr upclient -p "$PORT" -c 4 -T hello
		[ "$status" -eq 0 ]
		echo "$stderr" >"$BATS_TEST_TMPDIR/tl.$s"
		echo "upserver-$s:"
		cat "$BATS_TEST_TMPDIR/tl.$s"
		one_column "$BATS_TEST_TMPDIR/tl.$s"
		stop_server
	done
}

@test "-c 5 -j 2: two requests at a time, the next when one is done" {
	start_fake -d 1
	run --separate-stderr upclient -p "$PORT" -c 5 -j 2 -T -s hello
	[ "$status" -eq 0 ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/tl"
	cat "$BATS_TEST_TMPDIR/tl"
	[ "${#lines[@]}" -eq 5 ]
	# The server never had more than two requests in its delay, and
	# accepted the third connection only after answering one of the
	# first two: connections start as jobs free up.
	wait_for_log "$SERVER_LOG" ' responded ' 5
	[ "$(grep -o 'busy=[0-9]*' "$SERVER_LOG" | cut -d= -f2 | sort -n | tail -1)" -eq 2 ]
	awk '$2 == "responded" && !r { r = NR }
	    $2 == "accepted" && ++a == 3 { third = NR }
	    END { exit !(r && third > r) }' "$SERVER_LOG"
	# Three rounds of a second each.
	awk -F': ' '$1 == "wall_s" && $2 < 2.9 { exit 1 }' "$BATS_TEST_TMPDIR/tl"
	# 1 and 2 start at once; 3 and 4 when those end; 5 after 3 and 4.
	timeline_bars "$BATS_TEST_TMPDIR/tl" >"$BATS_TEST_TMPDIR/bars"
	cat "$BATS_TEST_TMPDIR/bars"
	local cols
	cols=$(timeline_columns "$BATS_TEST_TMPDIR/tl")
	awk -v cols="$cols" '
	    function min(a, b) { return a < b ? a : b }
	    { f[$1] = $2; l[$1] = $3 }
	    END {
		if (f[1] > cols / 10 || f[2] > cols / 10) exit 1
		if (f[3] < min(l[1], l[2]) - 1 || f[4] < min(l[1], l[2]) - 1)
			exit 1
		if (f[5] < min(l[3], l[4]) - 1) exit 1
		if (l[5] <= l[3] || l[5] <= l[4]) exit 1
	    }' "$BATS_TEST_TMPDIR/bars"
}

@test "-T with many connections draws an evenly spaced sample and says so" {
	start_server seq -d 0 -q
	run --separate-stderr upclient -p "$PORT" -c 100 -r 8 -T
	[ "$status" -eq 0 ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/tl"
	cat "$BATS_TEST_TMPDIR/tl"
	grep -q '^timeline: 100 connections, ' "$BATS_TEST_TMPDIR/tl"
	grep -q '^(32 of them shown, evenly spaced' "$BATS_TEST_TMPDIR/tl"
	awk 'length > 80 { exit 1 }' "$BATS_TEST_TMPDIR/tl"
	timeline_bars "$BATS_TEST_TMPDIR/tl" >"$BATS_TEST_TMPDIR/bars"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/bars")" -eq 32 ]
	[ "$(head -1 "$BATS_TEST_TMPDIR/bars" | cut -d' ' -f1)" -eq 1 ]
	[ "$(tail -1 "$BATS_TEST_TMPDIR/bars" | cut -d' ' -f1)" -eq 100 ]
	# Every row shows its request and its reply (in one column: '*').
	awk '$2 == 0 || $3 == 0 { exit 1 }' "$BATS_TEST_TMPDIR/bars"
}

# ---- stats and the event log -------------------------------------------------

@test "-s prints every key once, in order, with numbers" {
	start_server seq -d 0 -q
	run --separate-stderr upclient -p "$PORT" -c 10 -n 20 -r 16 -s
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/stats"
	cat "$BATS_TEST_TMPDIR/stats"
	# The keys scripts read, in order (those before latency_p99_9_ms
	# unchanged since before -R), then three lines for people, as comments.
	[ "$(grep -v '^#' "$BATS_TEST_TMPDIR/stats" | cut -d: -f1 |
	    tr '\n' ' ')" = \
	    "connections connections_open_max requests requests_unanswered errors errors_refused errors_reset errors_timeout errors_closed errors_mismatch errors_other wall_s requests_per_s latency_p50_ms latency_p90_ms latency_p99_ms latency_max_ms latency_p99_9_ms latency_p99_99_ms " ]
	[ "$(grep -cvE '^[a-z0-9_]+: [0-9]+(\.[0-9]+)?$' "$BATS_TEST_TMPDIR/stats")" -eq 3 ]
	[ "$(grep -c '^# ' "$BATS_TEST_TMPDIR/stats")" -eq 3 ]
	grep -q '^# closed loop: ' "$BATS_TEST_TMPDIR/stats"
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" connections)" -eq 10 ]
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" requests)" -eq 200 ]
	[ "$(stat_of "$BATS_TEST_TMPDIR/stats" errors)" -eq 0 ]
	awk -F': ' '
	    $1 == "requests_per_s" && $2 <= 0 { exit 1 }
	    $1 ~ /^latency_p/ { if ($2 < prev) exit 1; prev = $2 }
	    $1 == "latency_max_ms" && $2 < prev { exit 1 }
	' "$BATS_TEST_TMPDIR/stats"
}

@test "-s measures latency: a 300ms delay is about 300ms" {
	start_fake -d 0.3
	run --separate-stderr upclient -p "$PORT" -c 4 -n 2 -r 8 -s
	[ "$status" -eq 0 ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/stats"
	cat "$BATS_TEST_TMPDIR/stats"
	awk -F': ' '$1 ~ /^latency_/ && ($2 < 280 || $2 > 3000) { exit 1 }' \
	    "$BATS_TEST_TMPDIR/stats"
}

@test "-v logs the client's events in the event log format" {
	start_server seq -d 0
	run --separate-stderr upclient -p "$PORT" -c 2 -n 2 -v hello
	[ "$status" -eq 0 ]
	echo "$stderr" >"$BATS_TEST_TMPDIR/events"
	cat "$BATS_TEST_TMPDIR/events"
	local re='^[0-9]+\.[0-9]{6} (connected|sent|received|closed) 127\.0\.0\.1:'"$PORT"' conn=[12]( [a-z]+=[^ ]+)*$'
	[ "$(grep -cvE "$re" "$BATS_TEST_TMPDIR/events")" -eq 0 ]
	[ "$(grep -c ' connected ' "$BATS_TEST_TMPDIR/events")" -eq 2 ]
	[ "$(grep -c ' sent .* request=[12] bytes=10$' "$BATS_TEST_TMPDIR/events")" -eq 4 ]
	[ "$(grep -cE ' received .* bytes=10 latency=[0-9]+\.[0-9]{6}$' "$BATS_TEST_TMPDIR/events")" -eq 4 ]
	[ "$(grep -c ' closed .* requests=2$' "$BATS_TEST_TMPDIR/events")" -eq 2 ]
	# local= is the address the server logged as its peer.
	wait_for_log "$SERVER_LOG" ' closed ' 2
	local peer n=0
	while read -r peer; do
		grep -q " accepted $peer\$" "$SERVER_LOG"
		n=$((n + 1))
	done < <(grep -o 'local=[^ ]*' "$BATS_TEST_TMPDIR/events" | cut -d= -f2)
	[ "$n" -eq 2 ]
}

# ---- failures ------------------------------------------------------------------

@test "--verify catches a corrupted reply, naming connection and request" {
	start_fake --corrupt 2
	run --separate-stderr upclient -p "$PORT" -c 3 -n 4 --verify -s hello
	echo "$stderr"
	[ "$status" -eq 1 ]
	local c
	for c in 1 2 3; do
		[[ "$stderr" == *"upclient: connection $c request 2: reply differs from the request at byte 1 of 10"* ]]
	done
	# The first replies were right and printed; nothing after.
	[ "$(printf '%s\n' "${lines[@]}" | sort | tr '\n' ,)" = "HELLO 1.1,HELLO 2.1,HELLO 3.1," ]
	[ "$(stat_of <(echo "$stderr") errors_mismatch)" -eq 3 ]
	[ "$(stat_of <(echo "$stderr") requests)" -eq 3 ]
	[ "$(stat_of <(echo "$stderr") requests_unanswered)" -eq 9 ]
}

@test "without --verify the same corrupted reply goes unnoticed" {
	start_fake --corrupt 2
	run --separate-stderr upclient -p "$PORT" -c 1 -n 3 hello
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "?ELLO 1.2" ]
}

@test "a reply cut short by a close is caught, with or without --verify" {
	start_fake --truncate 3
	run --separate-stderr upclient -p "$PORT" -c 2 -n 4 -r 20 --verify -s
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"upclient: connection 1 request 3: the server closed the connection after 20 of the 21 bytes of the reply"* ]]
	[[ "$stderr" == *"upclient: connection 2 request 3: the server closed the connection after 20 of the 21 bytes of the reply"* ]]
	[ "$(stat_of <(echo "$stderr") errors_closed)" -eq 2 ]
	[ "$(stat_of <(echo "$stderr") requests)" -eq 4 ]
	run --separate-stderr upclient -p "$PORT" -c 1 -n 4 hello
	[ "$status" -eq 1 ]
	[ "$stderr" = "upclient: connection 1 request 3: the server closed the connection after 9 of the 10 bytes of the reply" ]
}

@test "nothing listening: a clear message and exit 1 within a second" {
	start_server seq -d 0
	local port=$PORT t0 t1
	stop_server
	t0=$(now_ms)
	run --separate-stderr upclient -p "$port" -c 50 -r 8 -s
	t1=$(now_ms)
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$((t1 - t0))" -lt 1000 ]
	[ "${stderr_lines[0]}" = "upclient: connection 1: connect localhost:$port: Connection refused" ]
	[[ "$stderr" == *"upclient: 40 more failures not described (-s counts them, -v logs them)"* ]]
	[ "$(stat_of <(echo "$stderr") errors_refused)" -eq 50 ]
	[ "$(stat_of <(echo "$stderr") requests_unanswered)" -eq 50 ]
	# The everyday mode says the same in its own words.
	t0=$(now_ms)
	run --separate-stderr upclient -p "$port" hello
	t1=$(now_ms)
	[ "$status" -eq 1 ]
	[ "$((t1 - t0))" -lt 1000 ]
	[ "$stderr" = "upclient: connect localhost:$port: Connection refused" ]
}

@test "--timeout: no reply in time is a timeout, exit 1, not a hang" {
	start_server seq -d 20s
	local t0 t1
	t0=$(now_ms)
	run --separate-stderr upclient -p "$PORT" -c 2 --timeout 500ms -s hello
	t1=$(now_ms)
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$((t1 - t0))" -lt 10000 ]
	[[ "$stderr" == *"upclient: connection 1 request 1: no reply within 500ms"* ]]
	[[ "$stderr" == *"upclient: connection 2 request 1: no reply within 500ms"* ]]
	[ "$(stat_of <(echo "$stderr") errors_timeout)" -eq 2 ]
}

@test "--timeout: a connect that is never answered is a timeout too" {
	# A backlog of 0 and no accept: the kernel queues a connection or
	# two, then drops every other handshake.
	start_fake --no-accept
	run --separate-stderr upclient -p "$PORT" -c 8 --timeout 500ms -s -r 4
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *": connect localhost:$PORT: no answer within 500ms"* ]]
	[ "$(stat_of <(echo "$stderr") errors_timeout)" -eq 8 ]
}

@test "--timeout 1m says 1m, as the man page writes it, in both modes" {
	# A minute is the shortest time that prints in minutes: the test
	# takes a minute, the two modes waiting side by side.
	start_server seq -d 5m
	upclient -p "$PORT" --timeout 1m hello \
	    >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	local everyday=$!
	wait_for_log "$SERVER_LOG" ' received ' 1
	run --separate-stderr upclient -p "$PORT" -c 1 -n 1 --timeout 1m hi
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"upclient: connection 1 request 1: no reply within 1m"* ]]
	local st=0
	wait "$everyday" || st=$?
	cat "$BATS_TEST_TMPDIR/err"
	[ "$st" -eq 1 ]
	[ "$(cat "$BATS_TEST_TMPDIR/err")" = "upclient: localhost:$PORT: no reply within 1m" ]
}

# ---- the command line -------------------------------------------------------

@test "load options: bad values and missing payloads are usage errors" {
	expect_usage_error "--clients: '0' is not a number of connections (1 to 1000000)" -c 0 hi
	expect_usage_error "--clients: 'x' is not a number of connections (1 to 1000000)" --clients x hi
	expect_usage_error "--requests: '0' is not a number of requests (1 to 1000000000)" -n 0 hi
	expect_usage_error "--jobs: '-1' is not a number of jobs (1 to 1000000)" -j -1 hi
	expect_usage_error "--random: '-1' is not a number of bytes (0 to 16777216)" -r -1
	expect_usage_error "--random: '16777217' is not a number of bytes (0 to 16777216)" -r 16777217
	expect_usage_error "--timeout: 'soon' is not a time (try 1.5, 250ms, 2s or 0)" --timeout soon hi
	expect_usage_error "--timeout: '2000000s' is out of range (at most one day)" --timeout 2000000s hi
	expect_usage_error "option -c needs a value" -c
	expect_usage_error "unknown option --verbosity" --verbosity hi
	expect_usage_error "nothing to send: the load mode needs TEXT or -r BYTES" -c 4
	expect_usage_error "nothing to send: the load mode needs TEXT or -r BYTES" -s
	expect_usage_error "give TEXT or -r BYTES, not both" -r 8 hello
}

@test "-c or -j beyond the descriptor limit is refused before connecting" {
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" != unlimited ] && [ "$hard" -lt 999000 ] ||
	    skip "the descriptor limit is too high to exceed"
	run --separate-stderr upclient -p 1 -c $((hard + 1)) -r 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "upclient: -c $((hard + 1)) needs $((hard + 17)) descriptors, the limit is $hard (ulimit -n)" ]
	# With -j, only that many are open at once.
	run --separate-stderr upclient -p 1 -c $((hard + 10)) -j $((hard + 1)) -r 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "upclient: -j $((hard + 1)) needs $((hard + 17)) descriptors, the limit is $hard (ulimit -n)" ]
}

@test "--help lists every option and the load mode's outputs" {
	run upclient --help
	[ "$status" -eq 0 ]
	local opt
	for opt in -c --clients -n --requests -j --jobs -r --random --verify \
	    --timeout -T --timeline -s --stats -v --verbose -H --host \
	    -p --port -h --help -V --version; do
		[[ "$output" == *" $opt"* ]]
	done
	[[ "$output" == *'"TEXT C.R"'* ]]
}
