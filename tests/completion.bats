#!/usr/bin/env bats
# Bash completion: every long option each binary's --help shows completes,
# and so do the values of the options that take a fixed set.

# status, output, lines: set by bats' run
# shellcheck disable=SC2154

load helpers

COMPLETION="$BATS_TEST_DIRNAME/../completion/up.bash"

# complete_words WORD...: what bash completes for the last WORD of the
# command line WORD..., one word per line, sorted.
complete_words() {
	bash -c '
	    . "$1"; shift
	    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
	    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
	    spec=$(complete -p "$1") || exit 1
	    fn=${spec#*-F }; fn=${fn%% *}
	    "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	    printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$@" | sort -u
}

# server_words WORD...: what the servers' completion offers for the last
# WORD of the command line WORD... (the command word may be a path, which
# complete -p does not know).
server_words() {
	bash -c '
	    . "$1"; shift
	    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
	    _up_server "$1" "${COMP_WORDS[COMP_CWORD]}" \
		"${COMP_WORDS[COMP_CWORD - 1]}"
	    printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$@" | sort -u
}

@test "every long option of every binary's --help is completed" {
	local prog opt n=0
	for prog in upserver-seq upserver-fork upserver-thread upserver-poll upserver-coro \
	    upclient uptimeline; do
		[ -x "$BIN/$prog" ] || continue
		complete_words "$prog" -- >"$BATS_TEST_TMPDIR/words"
		for opt in $("$BIN/$prog" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
			if ! grep -qx -- "$opt" "$BATS_TEST_TMPDIR/words"; then
				echo "$prog: $opt is not completed"
				return 1
			fi
			n=$((n + 1))
		done
	done
	[ "$n" -ge 30 ]
}

@test "a prefix completes to the options it starts" {
	run complete_words upserver-fork --co
	[ "$output" = "--counter" ]
	run complete_words upclient --ti
	[ "${lines[*]}" = "--timeline --timeout" ]
	run complete_words uptimeline --s
	[ "$output" = "--svg" ]
}

@test "the values of --counter, --backend and --framing complete" {
	run complete_words upserver-thread --counter ''
	[ "${lines[*]}" = "atomic mutex off unsafe" ]
	run complete_words upserver-thread --counter m
	[ "$output" = "mutex" ]
	run complete_words upserver-poll --backend ''
	[ "${lines[*]}" = "$(poll_backends | tr ' ' '\n' | sort | tr '\n' ' ' |
	    sed 's/ $//')" ]
	run complete_words upserver-seq --framing ''
	[ "${lines[*]}" = "auto line read" ]
}

@test "each server completes only the options it takes" {
	run complete_words upserver-seq --
	echo "$output"
	[[ "$output" == *--counter* ]]
	[[ "$output" != *--workers* ]]
	[[ "$output" != *--backend* ]]
	run complete_words upserver-fork --
	[[ "$output" == *--workers* ]]
	[[ "$output" != *--backend* ]]
	run complete_words upserver-poll --
	[[ "$output" == *--workers* ]]
	[[ "$output" == *--backend* ]]
	# and the same typed as a path, bin/upserver-seq
	run server_words "$BIN/upserver-seq" --
	[[ "$output" == *--counter* ]]
	[[ "$output" != *--workers* ]]
}

@test "upserver-coro and upserver-poll complete uring where the build has it" {
	local cmd
	for cmd in upserver-poll upserver-coro; do
		run complete_words "$cmd" --backend ''
		echo "$cmd: $output"
		if uring_refused >/dev/null && ! uring_refused | grep -q kernel
		then
			[[ "$output" != *uring* ]]	# a build without liburing
		else
			[[ "$output" == *uring* ]]
		fi
	done
}

@test "upserver-poll completes the backends it has: no kqueue on Linux" {
	run complete_words upserver-poll --backend ''
	echo "$output"
	[[ "$output" == *poll* ]]
	case $(uname -s) in
	Linux) [[ "$output" != *kqueue* ]] ;;
	esac
	# epoll where this build has it (PORTABLE=1 has not)
	if [[ " $(poll_backends) " == *" epoll "* ]]; then
		[[ "$output" == *epoll* ]]
	else
		[[ "$output" != *epoll* ]]
	fi
}

@test "a server that cannot be run still completes every option" {
	run server_words "$BATS_TEST_TMPDIR/upserver-seq" --ba
	[ "$output" = "$(printf '%s\n' --backend --backlog)" ]
	run server_words "$BATS_TEST_TMPDIR/upserver-poll" --backend ''
	[ "${lines[*]}" = "epoll kqueue poll select uring" ]
}

@test "uptimeline completes file names" {
	mkdir "$BATS_TEST_TMPDIR/d"
	touch "$BATS_TEST_TMPDIR/d/seq.log" "$BATS_TEST_TMPDIR/d/fork.log"
	run complete_words uptimeline "$BATS_TEST_TMPDIR/d/s"
	[ "$output" = "$BATS_TEST_TMPDIR/d/seq.log" ]
}

@test "zsh's _up names every long option too, and parses" {
	local zsh_up="$BATS_TEST_DIRNAME/../completion/_up" prog opt
	if command -v zsh >/dev/null; then
		zsh -n "$zsh_up"
	fi
	for prog in upserver-seq upserver-poll upclient uptimeline; do
		[ -x "$BIN/$prog" ] || continue
		for opt in $("$BIN/$prog" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
			grep -qE -- "(,|')$opt(=|\\[|'|})" "$zsh_up" ||
			    { echo "$prog: $opt not in _up"; return 1; }
		done
	done
}
