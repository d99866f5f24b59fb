#!/usr/bin/env bats
# The man pages and --help agree, and the pages are lint-clean.

# status, output, lines, stderr: set by bats' run; PORT: by start_server
# shellcheck disable=SC2154,SC2153

load helpers

teardown() {
	teardown_server
}

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
	for s in seq fork thread poll coro; do
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

@test "every page reads well in 80 columns: headings, tables, SEE ALSO" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	command -v python3 >/dev/null || skip "python3 is not installed"
	python3 - "$BATS_TEST_DIRNAME"/../man/*.[1-9] <<'PY'
import os, re, subprocess, sys

pages = sys.argv[1:]
names = {}
for p in pages:
    b = os.path.basename(p)
    names[p] = "%s(%s)" % (b.rsplit(".", 1)[0], b.rsplit(".", 1)[1])
bad = []
for page in pages:
    src = open(page).read().splitlines()
    out = subprocess.run(["mandoc", "-Tutf8", "-O", "width=78", page],
                         capture_output=True, check=True).stdout
    text = subprocess.run(["col", "-bx"], input=out, capture_output=True,
                          check=True).stdout.decode().replace("\u00a0", " ")
    lines = text.splitlines()
    flat = " ".join(text.split())
    for i, l in enumerate(lines):
        if len(l) > 80:
            bad.append("%s: line %d is %d columns" % (page, i + 1, len(l)))
    # every heading shows as written (a word such as "An" is a macro)
    for l in src:
        m = re.match(r'\.S[hs] (.*)', l)
        if m:
            want = m.group(1).replace("\\&", "").replace('"', "")
            if " ".join(want.split()) not in flat:
                bad.append("%s: heading %r renders otherwise" % (page, want))
    # every row of a column list: on one line, its cells apart
    inlist = False
    for l in src:
        if l.startswith(".Bl -column"):
            inlist = True
            continue
        if l.startswith(".El"):
            inlist = False
        if not (inlist and l.startswith(".It ")):
            continue
        cells = []
        for c in l[4:].split(" Ta "):
            c = re.sub(r'^((Sy|Em|Li|Cm|Ar|Fl|Ql) )+', "", c.strip())
            cells.append(c.replace("\\ ", " "))
        row = r" {2,}".join(re.escape(c) for c in cells)
        if not any(re.search(r"^ *" + row + r" *$", x) for x in lines):
            bad.append("%s: table row %r is not one line of apart cells"
                       % (page, " | ".join(cells)))
    # SEE ALSO names every other page of the toolkit
    see = flat[flat.rfind("SEE ALSO"):]
    for other, name in names.items():
        if other != page and name not in see:
            bad.append("%s: SEE ALSO lacks %s" % (page, name))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}

@test "upserver(1)'s ceiling for upserver-coro holds: two mappings a connection, vm.max_map_count" {
	local page
	page=$(mandoc -Tascii "$BATS_TEST_DIRNAME/../man/upserver.1" | col -b |
	    tr -s ' \n\t' '   ')
	[[ "$page" == *"Each coroutine's stack is two memory mappings, the guard page and the stack, and Linux gives a process at most vm.max_map_count mappings (65530 by default"* ]]
	[[ "$page" == *"sysctl vm.max_map_count=262144"* ]]
	[[ "$page" == *"error 127.0.0.1:40001 op=mmap errno=ENOMEM"* ]]
	# past it, nobody is reset: the next clients wait in the backlog
	[[ "$page" == *"the next clients wait in the backlog, nothing lost"* ]]
	page=$(mandoc -Tascii "$BATS_TEST_DIRNAME/../man/up.7" | col -b |
	    tr -s ' \n\t' '   ')
	[[ "$page" == *"each stack is two mappings"* ]]
	# what it says: 100 more connections held open, 200 more mappings
	[ -x "$BIN/upserver-coro" ] || skip "no upserver-coro"
	[ -z "${UP_SANITIZER:-}" ] ||
	    skip "a sanitizer's allocator maps memory of its own"
	start_server coro -d 0 -q
	[ -r "/proc/$SERVER_PID/maps" ] || skip "no /proc/PID/maps here"
	run timeout 60 python3 - "$PORT" "/proc/$SERVER_PID/maps" <<'PY'
import socket, sys
port, maps = int(sys.argv[1]), sys.argv[2]
def count():
    with open(maps) as f:
        return sum(1 for _ in f)
held = []
def hold(n):
    while len(held) < n:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"x\n")
        assert s.recv(8) == b"X\n"
        held.append(s)
hold(10)
before = count()
hold(110)
print(count() - before)
PY
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" -ge 195 ] && [ "$output" -le 205 ]
}
