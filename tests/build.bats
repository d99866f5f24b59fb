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
