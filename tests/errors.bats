#!/usr/bin/env bats
# Bad input gets a clear error: usage and exit 2 for the command line,
# a precise message and exit 1 for what fails at run time.

# status, output, lines, stderr: set by bats' run; PORT: by start_server
# shellcheck disable=SC2154,SC2153

load helpers

teardown() {
	teardown_server
}

# expect_usage_error PROGRAM MESSAGE ARGS...: PROGRAM ARGS exits 2, says
# "PROGRAM: MESSAGE" and then its usage line, and prints nothing on stdout.
# Under timeout: a server that starts where it should refuse fails the
# test instead of hanging it.
expect_usage_error() {
	local prog=$1 message=$2
	shift 2
	run --separate-stderr timeout 10 "$BIN/$prog" "$@"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ "${stderr_lines[0]}" = "$prog: $message" ]
	[[ "${stderr_lines[1]}" == "usage: $prog "* ]]
}

servers() {
	local s
	for s in seq fork thread poll coro; do
		[ -x "$BIN/upserver-$s" ] && echo "upserver-$s"
	done
}

@test "servers: unknown options and missing values" {
	local s
	for s in $(servers); do
		expect_usage_error "$s" "unknown option --nope" --nope
		expect_usage_error "$s" "unknown option -x" -x
		expect_usage_error "$s" "option -d needs a value" -d
		expect_usage_error "$s" "option --port needs a value" --port
		expect_usage_error "$s" "unexpected argument 'extra'" -d 0 extra
		# a long option of no value given one is named as written,
		# not by the letter it has inside (or has not)
		expect_usage_error "$s" "option --cpu takes no value" --cpu=x
		expect_usage_error "$s" "option --http takes no value" --http=1
		# a cluster after an --opt=value is still its own letter
		expect_usage_error "$s" "unknown option -Z" --delay=1 -Zq
	done
}

@test "--backend: only upserver-poll has one; unknown or absent ones are refused" {
	local s
	for s in $(servers); do
		case $s in upserver-poll|upserver-coro) continue ;; esac
		expect_usage_error "$s" "--backend: the ${s#upserver-} model has no event loop" --backend poll
	done
	expect_usage_error upserver-poll "--backend: unknown backend 'bogus' ($(poll_backends | sed 's/ /, /g'))" --backend bogus
	case " $(poll_backends) " in
	*" kqueue "*) ;;
	*) expect_usage_error upserver-poll "--backend: kqueue is not available in this build (it has $(poll_backends | sed 's/ /, /g'))" --backend kqueue ;;
	esac
}

@test "--backend uring: both loop models take it where the build has it; elsewhere refused naming what works" {
	local have cmd
	[ -x "$BIN/upserver-coro" ] || skip "no upserver-coro in $BIN"
	have=$(poll_backends | sed 's/ /, /g')
	for cmd in upserver-poll upserver-coro; do
		if uring_refused >/dev/null; then
			# no liburing in this build, or a kernel that refuses it
			run --separate-stderr "$cmd" --backend uring -p 0
			[ "$status" -eq 2 ]
			[[ "${stderr_lines[0]}" == "$cmd: --backend: uring"* ]]
		else
			[[ "$have" == *", uring" ]]
			expect_usage_error "$cmd" "--backend: unknown backend 'bogus' ($have)" --backend bogus
			run "$cmd" --help
			[[ "$output" == *"--backend NAME   how the loop waits: $have [poll]"* ]]
		fi
	done
}

@test "--backend uring where the kernel refuses io_uring (a seccomp filter): exit 2, what works named" {
	local have no
	[ -x "$BIN/upserver-coro" ] || skip "no upserver-coro in $BIN"
	[ "$(uname -s)" = Linux ] || skip "seccomp is Linux's"
	no="$BATS_TEST_TMPDIR/no-uring"
	"${CC:-cc}" -o "$no" "$BATS_TEST_DIRNAME/no-uring.c" 2>/dev/null ||
	    skip "cannot build tests/no-uring.c (a C compiler, linux/seccomp.h)"
	# what works: the build's backends, less the one refused
	have=$(poll_backends | sed 's/ uring//; s/ /, /g')
	if uring_refused >/dev/null && ! uring_refused | grep -q kernel; then
		# a build without liburing says that, whatever the kernel
		run --separate-stderr "$no" 1 upserver-coro --backend uring -p 0
		[ "$status" -eq 2 ]
		[ "${stderr_lines[0]}" = "upserver-coro: --backend: uring is not available in this build (it has $have)" ]
		return
	fi
	# EPERM, as kernel.io_uring_disabled=2; ENOSYS, as Docker's profile
	run --separate-stderr timeout 10 "$no" 1 upserver-coro --backend uring -p 0
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "upserver-coro: --backend: uring: the kernel refuses io_uring (Operation not permitted); the backends that work here: $have" ]
	[[ "${stderr_lines[1]}" == "usage: upserver-coro "* ]]
	run --separate-stderr timeout 10 "$no" 38 upserver-coro --backend uring -p 0
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "upserver-coro: --backend: uring: the kernel refuses io_uring (Function not implemented); the backends that work here: $have" ]
	run --separate-stderr timeout 10 "$no" 1 upserver-poll --backend uring -p 0
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "upserver-poll: --backend: uring: the kernel refuses io_uring (Operation not permitted); the backends that work here: $have" ]
	# a server given no --backend never asks for io_uring
	new_server_logs coro
	"$no" 1 "$BIN/upserver-coro" -p 0 -d 0 >"$SERVER_LOG" \
	    2>"$SERVER_ERR" 3>&- &
	SERVER_PID=$!
	read_port 10
	run timeout 10 upclient -H 127.0.0.1 -p "$PORT" served all the same
	[ "$status" -eq 0 ]
	[ "$output" = "SERVED ALL THE SAME" ]
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
}

@test "--backend select: -c beyond FD_SETSIZE is refused with the reason, the default capped" {
	expect_usage_error upserver-poll "--max-conns: 5000 is more than select can watch: its bitmaps stop at FD_SETSIZE (1024) descriptors, so at most 1008 connections (or use --backend poll)" --backend select -c 5000
	start_server poll-select -d 0
	grep -q ' listening .* max-conns=1008 .*backend=select$' "$SERVER_LOG"
	stop_server
	[ "$SERVER_STATUS" -eq 0 ]
}

@test "servers: bad times, numbers, ports and counter modes" {
	local s
	for s in $(servers); do
		expect_usage_error "$s" "--delay: '-1' is not a time (try 1.5, 250ms, 2s or 0)" -d -1
		expect_usage_error "$s" "--delay: '10parsecs' is not a time (try 1.5, 250ms, 2s or 0)" -d 10parsecs
		expect_usage_error "$s" "--delay: '' is not a time (try 1.5, 250ms, 2s or 0)" -d ''
		expect_usage_error "$s" "--delay: '2d' is not a time (try 1.5, 250ms, 2s or 0)" --delay=2d
		expect_usage_error "$s" "--timeout: '99999999s' is out of range (at most one day)" -t 99999999s
		expect_usage_error "$s" "--port: '65536' is out of range (0 to 65535)" -p 65536
		expect_usage_error "$s" "--port: 'http' is not a number" -p http
		expect_usage_error "$s" "--max-conns: '0' is out of range (1 to 1000000)" -c 0
		expect_usage_error "$s" "--max-conns: '99999999999999999999' is out of range (1 to 1000000)" -c 99999999999999999999
		expect_usage_error "$s" "--max-line: '-5' is out of range (1 to 67108864)" --max-line -5
		expect_usage_error "$s" "--counter: unknown mode 'racy' (off, unsafe, mutex or atomic)" --counter racy
	done
}

@test "servers: --framing with --http is refused, in any mode and order" {
	local s mode msg
	msg="--framing does not apply with --http: HTTP frames a request by its head"
	for s in $(servers); do
		for mode in line read auto; do
			# on port 0, should a server start
			expect_usage_error "$s" "$msg" -p 0 --framing "$mode" \
			    --http
			expect_usage_error "$s" "$msg" -p 0 --http \
			    --framing="$mode"
		done
	done
	# --http alone still starts, framed by the head
	start_server seq -d 0 --http
	grep -qE ' listening .* proto=http ' "$SERVER_LOG"
}

@test "upserver-seq refuses --workers: it has no worker pool" {
	expect_usage_error upserver-seq "--workers: the seq model has no worker pool" -w 4
}

@test "servers: -h prints the usage on stdout and exits 0, -V the version" {
	local s
	for s in $(servers); do
		run "$BIN/$s" -h
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" == "usage: $s [-hqV] "* ]]
		run "$BIN/$s" --version
		[ "$status" -eq 0 ]
		[[ "$output" =~ ^$s\ \(up\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	done
}

# offers PROGRAM OPTION: whether PROGRAM's -h, or its usage line after a
# usage error, names OPTION.
offers() {
	"$BIN/$1" -h | grep -qE -- "(^| |\[)$2( |\]|,|$)"
}

# offers_not PROGRAM OPTION: fails, saying so, when PROGRAM offers OPTION.
offers_not() {
	if offers "$1" "$2"; then
		echo "$1 -h offers $2"
		return 1
	fi
}

@test "servers: -h and the usage line offer only the options the model takes" {
	local s
	for s in $(servers); do
		case $s in
		upserver-seq) offers_not "$s" -w; offers_not "$s" --workers ;;
		*) offers "$s" -w; offers "$s" --workers ;;
		esac
		case $s in
		upserver-poll|upserver-coro) offers "$s" --backend ;;
		*) offers_not "$s" --backend ;;
		esac
		case $s in
		upserver-coro) offers "$s" --stack ;;
		*) offers_not "$s" --stack ;;
		esac
		offers "$s" --counter
		# the usage line after a usage error is the same synopsis
		run --separate-stderr "$BIN/$s" --nope
		[ "$status" -eq 2 ]
		[ "${stderr_lines[*]:1}" = "$("$BIN/$s" -h |
		    awk 'NF == 0 { exit } { print }' | tr '\n' ' ' |
		    sed 's/ $//')" ]
		# the synopsis fits in 80 columns
		run awk 'length($0) > 79' <<<"$("$BIN/$s" -h)"
		[ -z "$output" ]
	done
}

@test "upserver-poll -h names the backends this build has, and no other" {
	[ -x "$BIN/upserver-poll" ] || skip "no upserver-poll"
	run "$BIN/upserver-poll" -h
	[ "$status" -eq 0 ]
	local want
	want=$(poll_backends | sed 's/ /, /g')
	[[ "$output" == *"--backend NAME   how the loop waits: $want [poll]"* ]]
	case $(uname -s) in
	*BSD|Darwin) ;;
	*) [[ "$output" != *kqueue* ]] ;;
	esac
}

@test "servers: an address that does not resolve is named in the error" {
	run --separate-stderr "$BIN/upserver-seq" -b no.such.host.invalid -p 0
	[ "$status" -eq 1 ]
	[[ "$stderr" == "upserver-seq: bind no.such.host.invalid:0: "* ]]
}

# no_mount_namespace COMMAND: runs COMMAND with sh in a mount namespace of
# its own; when that fails, prints why and fails. unshare -m fails without
# root, and as root in a chroot whose / is not a mount point (it cannot
# make / private there: bind the root on itself first, as .ci/fresh-debian
# does).
no_mount_namespace() {
	local err
	if ! command -v unshare >/dev/null; then
		echo "no unshare (util-linux) to make a mount namespace"
		return 0
	fi
	err=$(unshare -m sh -c "$1" 2>&1) && return 1
	if [ "$(id -u)" -ne 0 ]; then
		echo "needs root to make a mount namespace ($err)"
	elif ! cut -d' ' -f5 /proc/self/mountinfo 2>/dev/null | grep -qx /; then
		echo "unshare -m fails: / is not a mount point (a chroot onto a" \
		    "plain directory; bind it on itself first): $err"
	else
		echo "unshare -m fails: $err"
	fi
}

@test "upclient: localhost is the loopback even with no /etc/hosts" {
	# A minimal Debian has no /etc/hosts; hide ours in a mount namespace.
	local hide='[ ! -e /etc/hosts ] || mount --bind /dev/null /etc/hosts'
	local why
	if why=$(no_mount_namespace "$hide"); then
		skip "$why"
	fi
	start_server seq -d 0
	hide="$hide"' && exec "$@"'
	# the name does not resolve there: the fallback is what answers
	run unshare -m sh -c "$hide" sh getent hosts localhost
	[ "$status" -ne 0 ]
	run --separate-stderr unshare -m sh -c "$hide" sh upclient -p "$PORT" hello
	[ "$status" -eq 0 ]
	[ "$output" = "HELLO" ]
	run --separate-stderr unshare -m sh -c "$hide" sh \
	    upclient -p "$PORT" -c 3 -H a.localhost. --verify hi
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	# names that merely end in "localhost" are not reserved
	run --separate-stderr unshare -m sh -c "$hide" sh \
	    upclient -p "$PORT" -H notlocalhost.invalid hello
	[ "$status" -eq 1 ]
	[[ "$stderr" == "upclient: connect notlocalhost.invalid:$PORT: "* ]]
}

@test "upclient: connection refused is named, exit 1, within a second" {
	# a port that was just free: bind it with a server, stop it
	start_server seq -d 0
	local port=$PORT
	stop_server
	local start=$SECONDS
	run --separate-stderr upclient -p "$port" hello
	[ "$status" -eq 1 ]
	[ "$stderr" = "upclient: connect localhost:$port: Connection refused" ]
	[ $((SECONDS - start)) -le 1 ]
}

@test "upclient: a server that closes early is an error, exit 1" {
	command -v socat >/dev/null || skip "socat is not installed"
	# a fake server that reads a request and closes without replying
	socat TCP-LISTEN:0,bind=127.0.0.1,reuseaddr SYSTEM:'head -c 1 >/dev/null' \
	    >/dev/null 2>&1 3>&- &
	SERVER_PID=$!
	local port="" i
	for ((i = 0; i < 100; i++)); do
		port=$(ss -ltnp 2>/dev/null | awk -v pid="pid=$SERVER_PID," \
		    'index($0, pid) { n = split($4, a, ":"); print a[n]; exit }')
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ]
	run --separate-stderr upclient -p "$port" hello
	[ "$status" -eq 1 ]
	[ "$stderr" = "upclient: localhost:$port closed the connection after 0 of 6 bytes" ]
}

@test "upclient: bad options and values are usage errors" {
	expect_usage_error upclient "unknown option --nope" --nope
	expect_usage_error upclient "option --verify takes no value" --verify=1
	expect_usage_error upclient "option -p needs a value" -p
	expect_usage_error upclient "--port: '0' is not a port (1 to 65535)" -p 0
	expect_usage_error upclient "--port: 'x' is not a port (1 to 65535)" --port x
}
