# shellcheck shell=bash
# up.bash: bash completion for the up toolkit: upserver-seq, -fork, -thread,
# -poll, upclient and uptimeline. Installed once per command name, so that
# bash-completion loads it on demand for any of them.
#
# Every long option of every binary is completed, and the values of those
# that take a fixed set; tests/completion.bats checks that each option the
# binaries' --help shows is here. A server offers what that binary takes:
# its options are read from its own --help, and upserver-poll's backends
# from its refusal of one that is none, so that upserver-seq offers no -w
# and Linux no kqueue; the lists below serve when it cannot be run.

# _up_reply WORDS CUR: the words that start with CUR.
_up_reply() {
	local IFS=$' \t\n'
	# shellcheck disable=SC2207 # compgen's words are meant to split
	COMPREPLY=($(compgen -W "$1" -- "$2"))
}

# _up_help_opts CMD: the long options CMD's --help shows, or nothing when
# it cannot be run.
_up_help_opts() {
	"$1" --help 2>/dev/null | grep -oE -- '--[a-z][a-z-]*' | sort -u
}

# _up_backends CMD: the backends CMD (an upserver-poll or upserver-coro,
# with uring too where built with liburing) has, from its refusal of one
# that is none; nothing when it has no event loop.
_up_backends() {
	"$1" --backend '?' 2>&1 |
	    sed -n "s/.*unknown backend '?' (\(.*\))\$/\1/p" | tr -d ,
}

_up_server() {
	local cmd=${COMP_WORDS[0]}
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local opts="--bind --port --delay --max-conns --workers --backlog --cpu
	    --framing --gil --timeout --counter --max-line --quiet --http --backend
	    --request-timeout --locks --accept --help --version"
	local backends="select poll epoll kqueue uring" asked
	COMPREPLY=()
	# a binary that runs says what it takes
	asked=$(_up_help_opts "$cmd")
	if [ -n "$asked" ]; then
		opts=$asked
		backends=$(_up_backends "$cmd")
	fi
	case $prev in
	--counter)
		_up_reply "off unsafe mutex atomic" "$cur"
		return ;;
	--backend)
		_up_reply "$backends" "$cur"
		return ;;
	--locks)
		_up_reply "opposite ordered backoff" "$cur"
		return ;;
	--stack)
		_up_reply "16k 64k 256k 1m" "$cur"
		return ;;
	--accept)
		# the modes this build has: event loops, or pools
		case $cmd in
		*upserver-poll | *upserver-coro)
			_up_reply "least herd exclusive reuseport" "$cur" ;;
		*) _up_reply "herd plain lock pass" "$cur" ;;
		esac
		return ;;
	--framing)
		_up_reply "auto line read" "$cur"
		return ;;
	-b|--bind)
		_up_reply "127.0.0.1 0.0.0.0 :: ::1" "$cur"
		return ;;
	-d|--delay|-t|--timeout|--request-timeout)
		_up_reply "0 100ms 250ms 500ms 1s 2s 10s" "$cur"
		return ;;
	-p|--port|-c|--max-conns|-w|--workers|--backlog|--max-line)
		return ;;
	esac
	[[ $cur == -* ]] && _up_reply "$opts" "$cur"
}

_up_client() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local opts="--host --port --clients --requests --jobs --rate --duration
	    --paced --random --verify --literal --timeout --timeline --stats
	    --hist --verbose --help --version"
	COMPREPLY=()
	case $prev in
	-H|--host)
		if declare -F _known_hosts_real >/dev/null; then
			_known_hosts_real -- "$cur"
		else
			_up_reply "localhost $(compgen -A hostname)" "$cur"
		fi
		return ;;
	--timeout)
		_up_reply "0 500ms 1s 5s 30s" "$cur"
		return ;;
	-D|--duration)
		_up_reply "1s 5s 10s 30s 1m" "$cur"
		return ;;
	--hist)
		if declare -F _filedir >/dev/null; then
			_filedir
		else
			# shellcheck disable=SC2207 # one file name per line
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return ;;
	-p|--port|-c|--clients|-n|--requests|-j|--jobs|-r|--random|-R|--rate)
		return ;;
	esac
	[[ $cur == -* ]] && _up_reply "$opts" "$cur"
}

_up_timeline() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local opts="--absolute --svg --width --help --version"
	local IFS=$'\n'
	COMPREPLY=()
	case $prev in
	-w|--width)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		_up_reply "$opts" "$cur"
	elif declare -F _filedir >/dev/null; then
		_filedir
	else
		# shellcheck disable=SC2207 # one file name per line
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}

complete -F _up_server upserver-seq upserver-fork upserver-thread upserver-poll upserver-coro
complete -F _up_client upclient
complete -F _up_timeline uptimeline
