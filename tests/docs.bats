#!/usr/bin/env bats
# The man pages and --help agree, and the pages are lint-clean.

# status, output, lines, stderr: set by bats' run; PORT: by start_server
# shellcheck disable=SC2154,SC2153

load helpers

# synopsis PAGE PROGRAM: PROGRAM's synopsis in PAGE, on one line.
synopsis() {
	mandoc -Tascii "$1" | col -b |
	    awk '/^SYNOPSIS/ { on = 1; next } /^[A-Z]/ { on = 0 } on' |
	    tr -s ' \n\t' '   ' |
	    awk -v prog="$2" '{
		n = split($0, w, " "); out = ""; on = 0
		for (i = 1; i <= n; i++) {
			if (w[i] ~ /^up(server-[a-z]+|client|timeline)$/) on = (w[i] == prog)
			if (on) out = out (out == "" ? "" : " ") w[i]
		}
		print out
	    }'
}

# usage PROGRAM: the usage line(s) of PROGRAM -h, on one line, without
# "usage: ".
usage() {
	"$BIN/$1" -h | awk 'NF == 0 { exit } { print }' | tr -s ' \n\t' '   ' |
	    sed 's/^usage: //; s/ $//'
}

@test "mandoc -Tlint is clean on every page" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	run mandoc -Tlint -Wwarning "$BATS_TEST_DIRNAME"/../man/*
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "each server's SYNOPSIS is its --help usage, word for word" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	local s n=0
	for s in seq fork thread poll; do
		[ -x "$BIN/upserver-$s" ] || continue
		echo "man:  $(synopsis "$BATS_TEST_DIRNAME/../man/upserver.1" "upserver-$s")"
		echo "help: $(usage "upserver-$s")"
		[ "$(synopsis "$BATS_TEST_DIRNAME/../man/upserver.1" "upserver-$s")" = "$(usage "upserver-$s")" ]
		n=$((n + 1))
	done
	[ "$n" -ge 1 ]
}

@test "upclient's SYNOPSIS is its --help usage, word for word" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	[ -f "$BATS_TEST_DIRNAME/../man/upclient.1" ] || skip "no upclient page yet"
	echo "man:  $(synopsis "$BATS_TEST_DIRNAME/../man/upclient.1" upclient)"
	echo "help: $(usage upclient)"
	[ "$(synopsis "$BATS_TEST_DIRNAME/../man/upclient.1" upclient)" = "$(usage upclient)" ]
}

@test "uptimeline's SYNOPSIS is its --help usage, word for word" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	echo "man:  $(synopsis "$BATS_TEST_DIRNAME/../man/uptimeline.1" uptimeline)"
	echo "help: $(usage uptimeline)"
	[ "$(synopsis "$BATS_TEST_DIRNAME/../man/uptimeline.1" uptimeline)" = "$(usage uptimeline)" ]
}

@test "every long option in --help is described in the man page" {
	local prog page opt
	for prog in upserver-seq upclient uptimeline; do
		page="$BATS_TEST_DIRNAME/../man/upserver.1"
		[ "$prog" = upclient ] && page="$BATS_TEST_DIRNAME/../man/upclient.1"
		[ "$prog" = uptimeline ] && page="$BATS_TEST_DIRNAME/../man/uptimeline.1"
		[ -f "$page" ] || continue
		for opt in $("$BIN/$prog" -h | grep -oE -- '--[a-z-]+' | sort -u); do
			echo "$prog $opt"
			mandoc -Tascii "$page" | col -b | grep -q -- "$opt"
		done
	done
}

@test "the README's commands for reading a man page work without man-db" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	# a fresh Debian has mandoc (make check installs it) and no man: a
	# man that is not there stands in front of any this machine has
	mkdir "$BATS_TEST_TMPDIR/nobin"
	printf '#!/bin/sh\necho "sh: man: not found" >&2; exit 127\n' \
	    >"$BATS_TEST_TMPDIR/nobin/man"
	chmod +x "$BATS_TEST_TMPDIR/nobin/man"
	local readme="$BATS_TEST_DIRNAME/../README.md" page cmd
	for page in "$BATS_TEST_DIRNAME"/../man/*.[1-9]; do
		page=man/$(basename "$page")
		# the README gives a command that reads it
		cmd=$(grep -oE "\`[a-z]+ [^\`]*\.?/?$page\`" "$readme" |
		    tr -d '\`' | grep -vE '^man ' | head -n 1)
		echo "$page: ${cmd:-no command in the README}"
		[ -n "$cmd" ]
		run --separate-stderr env PATH="$BATS_TEST_TMPDIR/nobin:$PATH" \
		    sh -c "cd '$BATS_TEST_DIRNAME/..' && $cmd"
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		# the page itself, rendered: its NAME section and its title
		run col -b <<<"$output"
		[[ "$output" == *NAME* ]]
		[[ "$output" == *"$(basename "${page%.*}" | tr '[:lower:]' '[:upper:]')("* ]]
	done
	# and where the README says man ./man/PAGE, it says when that works
	if grep -q '`man \./man/' "$readme"; then
		grep -B3 -A3 '`man \./man/' "$readme" | grep -q man-db
	fi
}
