#!/bin/sh
# install-deps.sh: installs what the build, tests, examples and lint need
# on Debian when it is missing, and nothing when everything is there
# already. "install-deps.sh bench" adds what make bench runs against.
set -eu

need=""
if [ "${1:-}" = bench ]; then
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ||
	    need="$need nginx"
	command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
	command -v memcached >/dev/null 2>&1 || need="$need memcached"
	# the charts: bench/charts.py, with python3 or Debian's own
	python3 -c 'import matplotlib' 2>/dev/null ||
	    /usr/bin/python3 -c 'import matplotlib' 2>/dev/null ||
	    need="$need python3-matplotlib"
fi
command -v bats >/dev/null 2>&1 || need="$need bats"
command -v mandoc >/dev/null 2>&1 || need="$need mandoc"
command -v shellcheck >/dev/null 2>&1 || need="$need shellcheck"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
command -v socat >/dev/null 2>&1 || need="$need socat"
command -v nc >/dev/null 2>&1 || need="$need netcat-openbsd"
command -v clang >/dev/null 2>&1 || need="$need clang"
command -v valgrind >/dev/null 2>&1 || need="$need valgrind"
command -v tmux >/dev/null 2>&1 || need="$need tmux"
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v wrk >/dev/null 2>&1 || need="$need wrk"
command -v ab >/dev/null 2>&1 || need="$need apache2-utils"
command -v python3 >/dev/null 2>&1 || need="$need python3"
command -v ss >/dev/null 2>&1 || need="$need iproute2"
command -v col >/dev/null 2>&1 || need="$need bsdextrautils"
{ command -v ps && command -v pgrep; } >/dev/null 2>&1 || need="$need procps"
{ command -v unshare && command -v setpriv; } >/dev/null 2>&1 ||
    need="$need util-linux"
command -v fiu-run >/dev/null 2>&1 || need="$need fiu-utils"
[ -f /usr/include/fiu.h ] || need="$need libfiu-dev"
pkg-config --exists libsodium 2>/dev/null || need="$need libsodium-dev"
# upserver-coro --backend uring (io_uring); optional too, as libsodium
pkg-config --exists liburing 2>/dev/null || need="$need liburing-dev"

[ -z "$need" ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "missing:$need" >&2
	echo "install them (on Debian: apt-get install$need) and try again" >&2
	exit 1
fi
echo "installing:$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # the list is meant to split into words
apt-get install -y -qq --no-install-recommends $need >/dev/null
