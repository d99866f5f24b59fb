#!/usr/bin/env bats
# What the build prints: a line per file made, every command with V=1,
# nothing with make -s; make demo shows the build as one line.

# status, output, lines: set by bats' run
# shellcheck disable=SC2154

load helpers

ROOT="$BATS_TEST_DIRNAME/.."

# build ARGS...: make in the tree, into a directory of the test's own
# (O=), with ARGS; one object file, so the test stays quick.
build() {
	make --no-print-directory -C "$ROOT" O="$BATS_TEST_TMPDIR/o" "$@" \
	    "$BATS_TEST_TMPDIR/o/obj/lib/core/time.o"
}

@test "make: one line per file made, CC and its source" {
	run build
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "  CC    lib/core/time.c" ]
}

@test "make V=1: the whole command line" {
	run build V=1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *" -c -o $BATS_TEST_TMPDIR/o/obj/lib/core/time.o lib/core/time.c" ]]
	[[ "$output" == *" -Wall "* ]]
}

@test "make -s: nothing" {
	run build -s
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "make demo: one line, then the build silent (make -s), then the lesson" {
	# -n: what it would run; the build's sub-make is silent (-s)
	run make --no-print-directory -C "$ROOT" -n demo
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 'echo "building bin/ (make V=1 demo shows the commands)..."' ]
	[[ "$output" == *"make --no-print-directory -s all"* ]]
	run make --no-print-directory -C "$ROOT" -n demo V=1
	[[ "$output" != *" -s all"* ]]
}

@test "make VAR=...s...: an s in a variable on the command line is not -s" {
	# MAKEFLAGS carries command-line variables too: only its flags count
	run build CFLAGS="-O0 -Dsilent_is_not_asked=1"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "  CC    lib/core/time.c" ]
}

@test "make URING=0: no uring backend, and upserver-coro --backend uring says so" {
	make --no-print-directory -s -C "$ROOT" O="$BATS_TEST_TMPDIR/o" \
	    URING=0 "$BATS_TEST_TMPDIR/o/bin/upserver-coro"
	# what that build has (not $BIN's: check-portable runs this too)
	local have
	have=$("$BATS_TEST_TMPDIR/o/bin/upserver-coro" --backend '?' 2>&1 |
	    sed -n "s/.*unknown backend '?' (\(.*\))\$/\1/p")
	[[ "$have" == "select, poll"* && "$have" != *uring* ]]
	run --separate-stderr "$BATS_TEST_TMPDIR/o/bin/upserver-coro" \
	    --backend uring -p 0
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "upserver-coro: --backend: uring is not available in this build (it has $have)" ]
	run "$BATS_TEST_TMPDIR/o/bin/upserver-coro" --help
	[[ "$output" != *uring* ]]
}

@test "make PORTABLE=1 never links liburing, even when asked" {
	run make --no-print-directory -C "$ROOT" -n V=1 PORTABLE=1 URING=1 \
	    O="$BATS_TEST_TMPDIR/p" "$BATS_TEST_TMPDIR/p/bin/upserver-coro"
	[ "$status" -eq 0 ]
	[[ "$output" == *"-DUP_PORTABLE"* ]]
	[[ "$output" != *"-DUP_URING"* ]]
	[[ "$output" != *"-luring"* ]]
	# and a default build where liburing is found does
	pkg-config --exists liburing || return 0
	run make --no-print-directory -C "$ROOT" -n V=1 \
	    O="$BATS_TEST_TMPDIR/q" "$BATS_TEST_TMPDIR/q/bin/upserver-coro"
	[[ "$output" == *"-DUP_URING"* ]]
	[[ "$output" == *"-luring"* ]]
}
