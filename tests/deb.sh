#!/bin/sh
# deb.sh: builds the Debian package from a clean clone of HEAD, lints it,
# installs it, and checks what a user gets: the six binaries run, each
# shows its --help, the manual pages are found by man, and bash completes
# the options. Removes the package again at the end. Debian, as root (it
# installs the build tools when missing: debhelper, devscripts, lintian,
# man-db, bash-completion, libsodium-dev).
#
# Usage: tests/deb.sh [WORKDIR]   (default: a temporary directory, removed)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
progs="upserver-seq upserver-fork upserver-thread upserver-poll upserver-coro upclient uptimeline"
fail() {
	echo "deb.sh: $*" >&2
	exit 1
}

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	fail "needs root on Debian (apt-get, dpkg)"
fi
need=""
for t in dpkg-buildpackage:dpkg-dev dh:debhelper debuild:devscripts \
    lintian:lintian man:man-db make:make cc:gcc git:git \
    pkg-config:pkgconf; do
	command -v "${t%%:*}" >/dev/null 2>&1 || need="$need ${t#*:}"
done
[ -f /usr/share/bash-completion/bash_completion ] || need="$need bash-completion"
pkg-config --exists libsodium 2>/dev/null || need="$need libsodium-dev"
if [ -n "$need" ]; then
	echo "deb.sh: installing:$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086 # the list is meant to split into words
	apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

if [ $# -gt 0 ]; then
	work=$1
	mkdir -p "$work"
else
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi
rm -rf "$work/src"
git clone -q "$top" "$work/src"
cd "$work/src"
rm -f ../up-toolkit_*

echo "deb.sh: dpkg-buildpackage -us -uc -b"
dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1 ||
    { tail -40 "$work/build.log"; fail "the package did not build"; }
deb=$(ls ../up-toolkit_*.deb)
echo "deb.sh: built $(basename "$deb")"

# Every warning is fixed or overridden with its reason (debian/*.lintian-
# overrides); an error or a warning left is a failure.
echo "deb.sh: lintian"
lintian --fail-on error,warning ../up-toolkit_*.changes ||
    fail "lintian is not clean"

# What the package holds: six binaries, their manual pages, completion.
contents=$(dpkg-deb -c "$deb")
for p in $progs; do
	echo "$contents" | grep -q " \./usr/bin/$p\$" || fail "no /usr/bin/$p"
	echo "$contents" | grep -q " \./usr/share/man/man1/$p\.1\.gz" ||
	    fail "no manual page for $p"
	echo "$contents" | grep -q "/bash-completion/completions/$p" ||
	    fail "no completion for $p"
done

echo "deb.sh: installing $(basename "$deb")"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "$(pwd)/$deb" >/dev/null
trap 'dpkg -r up-toolkit >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
[ $# -gt 0 ] && trap 'dpkg -r up-toolkit >/dev/null 2>&1 || true' EXIT

cd /
for p in $progs; do
	[ "$(command -v "$p")" = "/usr/bin/$p" ] || fail "$p is not /usr/bin/$p"
	"$p" -V | grep -q "^$p " || fail "$p -V"
	"$p" --help | grep -q "^usage: $p " || fail "$p --help"
	man -w "$p" | grep -q "^/usr/share/man/man1/" || fail "man -w $p"
done
upserver-seq -V
man -w upclient
man -w 7 up | grep -q '/usr/share/man/man7/up\.7' || fail "man -w 7 up"
man upclient 2>/dev/null | grep -q 'upclient' || fail "man upclient shows nothing"

# The installed server serves, and the installed client and uptimeline
# read it.
log=$(mktemp)
upserver-poll -p 0 -d 0 >"$log" &
server=$!
i=0
until grep -q ' listening ' "$log"; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { kill "$server"; fail "upserver-poll did not start"; }
	sleep 0.1
done
port=$(awk '$2 == "listening" { n = split($3, a, ":"); print a[n]; exit }' "$log")
reply=$(upclient -p "$port" hello deb)
kill -TERM "$server"
wait "$server" || true
[ "$reply" = "HELLO DEB" ] || fail "upclient got '$reply'"
uptimeline "$log" | grep -q '1 connection in' || fail "uptimeline"
rm -f "$log"

# bash-completion finds the completion by the command's name.
out=$(bash -c '. /usr/share/bash-completion/bash_completion
    __load_completion upserver-fork && complete -p upserver-fork')
echo "$out" | grep -q -- '-F _up_server' || fail "no completion loaded"

echo "deb.sh: ok"
