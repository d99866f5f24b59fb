# up: four TCP servers, one per concurrency model, a client, and a tool
# that draws their event logs.
#
# The tree: bin/ the server lessons, one model a file; lib/ the library in
# layers, a folder and a header each (core, proto, ev, robust, pool, server,
# timeline); client/ upclient; viewer/ uptimeline; tests/, man/, examples/.
# Every binary is built into bin/.
#
#   make            build bin/upserver-{seq,fork,thread,poll}, bin/upclient
#                   and bin/uptimeline
#   make demo       build, then show the models side by side
#   make picture    docs/seq-fork.svg, the README's picture, from a real run
#   make check      build, then the unit tests and the bats suite (installs
#                   bats if missing)
#   make unit       the C unit tests of tests/unit alone
#   make lint       mandoc -Tlint on man/, shellcheck on the scripts
#   make install    PREFIX=/usr/local DESTDIR= (uninstall undoes it): the
#                   binaries, man pages, bash and zsh completion
#   make bench      every model against Python's servers (bench/results.md);
#                   BENCH_BASE=REV runs a build of commit REV beside them
#   make soak       100 000 verified random requests against each server
#
#   make check-asan, make check-tsan   the suite against sanitizer builds
#   make check-portable  the suite against a POSIX-only build (PORTABLE=1)
#   make check-aarch64   the coroutine switch's aarch64 assembly under qemu
#
# The build shows a line per file made ("CC lib/core/io.c"), as kbuild and
# automake's silent rules do; V=1 shows every command in full, make -s
# nothing. make demo shows the build as one line.
#
# CC, CFLAGS, LDFLAGS, PREFIX and DESTDIR may be overridden. WERROR=1 adds
# -Werror (CI sets it). SODIUM=0 builds without libsodium even when found;
# URING=0 without liburing (upserver-coro's --backend uring), which
# PORTABLE=1 never has.
# O=DIR builds into DIR/bin and DIR/lib instead of bin/ and lib/ (the
# sanitizer builds use it; tests find binaries through UP_BIN).
# PORTABLE=1 builds with POSIX interfaces only, as on macOS or a BSD.

CC	?= cc
CFLAGS	?= -O2 -g
O	?= .
PREFIX	?= /usr/local
BINDIR	 = $(PREFIX)/bin
MANDIR	 = $(PREFIX)/share/man
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  = $(PREFIX)/share/zsh/vendor-completions

WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN	+= -Werror
endif
UP_CPPFLAGS = -D_GNU_SOURCE -Ilib
# PORTABLE=1: POSIX interfaces only (no epoll, accept4, pipe2, prctl,
# gettid, getrandom...), each Linux fast path replaced by its fallback:
# what a build on macOS or a BSD will meet, checked on Linux.
ifeq ($(PORTABLE),1)
UP_CPPFLAGS = -D_POSIX_C_SOURCE=200809L -D_XOPEN_SOURCE=700 -DUP_PORTABLE -Ilib
endif
UP_CFLAGS   = -std=c11 -pthread $(WARN)
UP_LDLIBS   = -pthread

# FIU=1 compiles in the fault points of our own (UP_FAULT in core/core.h) and
# links libfiu: the build that tests/fiu.bats runs (make fiu-build).
ifeq ($(FIU),1)
UP_CPPFLAGS += -DUP_FIU
UP_LDLIBS   += -lfiu
endif

# libsodium is optional: found through pkg-config unless SODIUM=0.
SODIUM ?= $(shell pkg-config --exists libsodium 2>/dev/null && echo 1 || echo 0)
ifeq ($(SODIUM),1)
UP_CPPFLAGS += -DUP_SODIUM $(shell pkg-config --cflags libsodium)
UP_LDLIBS   += $(shell pkg-config --libs libsodium)
endif

# liburing is optional too: io_uring, upserver-coro's --backend uring.
# A POSIX-only build has no io_uring.
ifeq ($(PORTABLE),1)
override URING = 0
endif
URING ?= $(shell pkg-config --exists liburing 2>/dev/null && echo 1 || echo 0)
ifeq ($(URING),1)
UP_CPPFLAGS += -DUP_URING $(shell pkg-config --cflags liburing)
UP_LDLIBS   += $(shell pkg-config --libs liburing)
endif

SERVERS	 = upserver-seq upserver-fork upserver-thread upserver-poll upserver-coro
PROGS	 = $(SERVERS) upclient uptimeline
# A server is built once its main exists, so the tree builds at every step.
BINS	 = $(patsubst %,$(O)/bin/%,$(foreach p,$(SERVERS),$(if $(wildcard bin/$(p).c),$(p)))) \
	   $(O)/bin/upclient $(O)/bin/uptimeline

# Objects go under OBJ, out of the way of the sources.
OBJ	 = $(if $(filter .,$(O)),build/obj,$(O)/obj)
LAYERS	 = core proto ev coro robust pool server timeline
LIB_SRC	 = $(sort $(foreach l,$(LAYERS),$(wildcard lib/$(l)/*.c)))
LIB_OBJ	 = $(patsubst %.c,$(OBJ)/%.o,$(LIB_SRC))
LIB	 = $(OBJ)/libup.a
CLIENT_SRC = $(sort $(wildcard client/*.c))
CLIENT_OBJ = $(patsubst %.c,$(OBJ)/%.o,$(CLIENT_SRC))
VIEWER_SRC = $(sort $(wildcard viewer/*.c))
VIEWER_OBJ = $(patsubst %.c,$(OBJ)/%.o,$(VIEWER_SRC))
# -MMD: each object lists the headers it includes (a .d file beside it),
# so that it is rebuilt when one of them changes, and only then.
DEPFLAGS = -MMD -MP
MANS	 = $(wildcard man/*.[1-9])
SCRIPTS	 = .ci/run .ci/fresh-debian $(wildcard tests/*.sh examples/*.sh bench/*.sh) \
	   completion/up.bash

.PHONY: all check lint install uninstall clean demo deps check-asan check-tsan check-valgrind soak bench \
	check-portable check-aarch64 unit \
	fuzz fuzz-replay picture fiu-build

all: $(BINS)

COMPILE	 = $(CC) $(UP_CPPFLAGS) $(CPPFLAGS) $(UP_CFLAGS) $(CFLAGS) $(DEPFLAGS)

# Q hides a command; SAY WHAT FILE prints "  WHAT FILE" in its place: what
# is made, not how (V=1: how, in full; make -s: neither).
ifeq ($(V),1)
Q	 =
SAY	 = @:
else ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
Q	 = @
SAY	 = @:
else
Q	 = @
SAY	 = @printf '  %-5s %s\n'
endif

$(OBJ)/%.o: %.c
	@mkdir -p $(@D)
	$(SAY) CC $<
	$(Q)$(COMPILE) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	$(SAY) AR $@
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $(LIB_OBJ)

$(O)/bin/upclient: $(CLIENT_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(SAY) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLIENT_OBJ) $(LIB) $(UP_LDLIBS) $(LDLIBS)

$(O)/bin/uptimeline: $(VIEWER_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(SAY) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(VIEWER_OBJ) $(LIB) $(UP_LDLIBS) $(LDLIBS)

.SECONDARY: $(patsubst %,$(OBJ)/bin/%.o,$(SERVERS))
$(O)/bin/upserver-%: $(OBJ)/bin/upserver-%.o $(LIB)
	@mkdir -p $(@D)
	$(SAY) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(UP_LDLIBS) $(LDLIBS)

-include $(LIB_OBJ:.o=.d) $(CLIENT_OBJ:.o=.d) $(VIEWER_OBJ:.o=.d) \
	$(patsubst %,$(OBJ)/bin/%.d,$(SERVERS))

# Installs what the tests and lint need when it is missing (Debian).
deps:
	@sh tests/install-deps.sh

check: all deps unit fuzz-replay fiu-build
	bats tests

# Unit tests: each tests/unit/*.c is a program linked against the library
# (no framework; tests/unit/check.h holds the shared macros), built into
# build/unit (O/unit with O=) and run. Each assertion prints "ok N - ..."
# or "not ok N - ..."; the run ends with "unit: N passed, N failed", and
# fails when one did, or when a program died before saying so. UNIT_RUN
# runs each through a command (check-aarch64: qemu-aarch64).
UNIT_DIR = $(if $(filter .,$(O)),build/unit,$(O)/unit)
UNIT_BIN = $(patsubst tests/unit/%.c,$(UNIT_DIR)/%,$(sort $(wildcard tests/unit/*.c)))

$(UNIT_DIR)/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(SAY) CCLD $@
	$(Q)$(COMPILE) $(LDFLAGS) -o $@ $< $(LIB) $(UP_LDLIBS) $(LDLIBS)

-include $(UNIT_BIN:=.d)

unit: $(UNIT_BIN)
	@pass=0; fail=0; \
	for t in $(UNIT_BIN); do \
	    echo "# $$t"; \
	    $(UNIT_RUN) $$t >$$t.out 2>&1; rc=$$?; cat $$t.out; \
	    p=$$(grep -c '^ok ' $$t.out); f=$$(grep -c '^not ok ' $$t.out); \
	    if [ $$rc -gt 1 ] || { [ $$rc -ne 0 ] && [ $$f -eq 0 ]; }; then \
		echo "not ok - $$t exited with status $$rc"; f=$$((f + 1)); \
	    fi; \
	    pass=$$((pass + p)); fail=$$((fail + f)); \
	done; \
	echo "unit: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# The binaries of the fault-injection suite, with our own fault points.
fiu-build: deps
	$(MAKE) O=build/fiu FIU=1 all

# Fuzzing: libFuzzer harnesses in tests/fuzz for the request framing, the
# option and time parsing, and the event log as uptimeline reads it.
# `make fuzz` runs each for FUZZ_SECONDS from the seed corpus (clang
# needed); an input that crashes one is written to
# tests/fuzz/regressions/, to be kept once fixed: `make check` replays the
# seeds and every regression through the same harness, built with $(CC).
FUZZERS	      = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS   = -g -O1 -fsanitize=fuzzer,address,undefined $(UP_CPPFLAGS) -std=c11

build/fuzz/fuzz-%: tests/fuzz/fuzz_%.c $(LIB_SRC) $(wildcard lib/*/*.h)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(UP_LDLIBS)

build/replay/replay-%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(LIB)
	@mkdir -p build/replay
	$(CC) $(UP_CPPFLAGS) $(CPPFLAGS) $(UP_CFLAGS) $(CFLAGS) -o $@ \
	    tests/fuzz/replay.c $< $(LIB) $(UP_LDLIBS)

fuzz: deps $(patsubst %,build/fuzz/fuzz-%,$(FUZZERS))
	@for f in $(FUZZERS); do \
	    mkdir -p build/fuzz/corpus-$$f; \
	    echo "fuzz $$f: $(FUZZ_SECONDS) s"; \
	    build/fuzz/fuzz-$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
		-artifact_prefix=tests/fuzz/regressions/$$f- \
		build/fuzz/corpus-$$f tests/fuzz/corpus/$$f 2>build/fuzz/$$f.log \
		|| { tail -40 build/fuzz/$$f.log; exit 1; }; \
	    grep -E '^#[0-9]+ *DONE' build/fuzz/$$f.log || tail -2 build/fuzz/$$f.log; \
	done

fuzz-replay: $(patsubst %,build/replay/replay-%,$(FUZZERS))
	@for f in $(FUZZERS); do \
	    printf 'fuzz-replay %s: ' $$f; \
	    build/replay/replay-$$f tests/fuzz/corpus/$$f/* \
		$(wildcard tests/fuzz/regressions/$$f-*) || exit 1; \
	done

lint: deps
	mandoc -Tlint -Wwarning $(MANS)
	shellcheck -x $(SCRIPTS) tests/*.bash tests/*.bats

# The unit tests and the suite against AddressSanitizer +
# UndefinedBehaviorSanitizer builds.
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer
check-asan: deps
	$(MAKE) O=build/asan CFLAGS="$(SAN_FLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" all unit
	UP_BIN=$(CURDIR)/build/asan/bin UP_SANITIZER=asan \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    bats tests

# The unit tests and the suite against the POSIX-only build, once nm has
# shown that its binaries import none of the Linux-only calls the default
# build uses.
LINUX_ONLY  = epoll_|accept4|prctl|gettid|pipe2|ppoll|getrandom
LINUX_ONLY := $(LINUX_ONLY)|strerrorname_np|sigabbrev_np
check-portable: deps
	$(MAKE) O=build/portable PORTABLE=1 all unit
	@for b in build/portable/bin/*; do \
	    if nm -D --undefined-only $$b | grep -E ' ($(LINUX_ONLY))'; then \
		echo "$$b: calls the Linux-only functions above"; exit 1; \
	    fi; \
	done; echo "build/portable/bin: no Linux-only calls"
	UP_BIN=$(CURDIR)/build/portable/bin bats tests

# The coroutine switch's aarch64 assembly, run under user-mode qemu: the
# unit tests (tests/unit/switch.c holds every callee-saved register across
# switches) and bench/switch, built static for aarch64 with the assembly
# switch, not PORTABLE's ucontext, without the host's optional libraries
# (SODIUM=0, URING=0). Needs gcc-aarch64-linux-gnu and qemu-user, which
# CI does not install; without them it says so and skips.
AARCH64_CC   ?= aarch64-linux-gnu-gcc
QEMU_AARCH64 ?= qemu-aarch64
check-aarch64:
	@if ! command -v $(AARCH64_CC) >/dev/null || \
	    ! command -v $(QEMU_AARCH64) >/dev/null; then \
		echo "check-aarch64: skipped: needs $(AARCH64_CC) and" \
		    "$(QEMU_AARCH64) (apt-get install gcc-aarch64-linux-gnu" \
		    "qemu-user)"; \
		exit 0; \
	fi; \
	$(MAKE) O=build/aarch64 CC=$(AARCH64_CC) LDFLAGS=-static SODIUM=0 \
	    URING=0 PORTABLE= FIU= UNIT_RUN=$(QEMU_AARCH64) unit \
	    build/aarch64/bench-tools/switch && \
	if ! grep -q '^# switching by asm aarch64$$' \
	    build/aarch64/unit/switch.out; then \
		echo "check-aarch64: the build did not switch by assembly"; \
		exit 1; \
	fi && \
	$(QEMU_AARCH64) build/aarch64/bench-tools/switch 100000

# ThreadSanitizer on the thread server, the one with threads that share
# memory; --counter unsafe races on purpose and is left out by the tests.
check-tsan: deps
	$(MAKE) O=build/tsan CFLAGS="$(SAN_FLAGS) -fsanitize=thread" \
	    LDFLAGS="-fsanitize=thread" all
	UP_BIN=$(CURDIR)/build/tsan/bin UP_SANITIZER=tsan \
	    TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
	    bats $(wildcard tests/thread.bats)

# Every upclient and upserver-seq of their tests under valgrind: no error,
# no leak.
check-valgrind: all deps
	sh tests/valgrind.sh

# The benchmark: an -O2 build of every model and the Python peers side by
# side on loopback (bench/bench.py); writes bench/results.md, and every run
# to bench/results.json, from which bench/charts.py draws bench/*.svg with
# matplotlib (installed with the peers when missing), and uptimeline's
# lines per second on generated logs (BENCH_ARGS="--only timeline" alone).
# Run it on an otherwise idle machine.
#
# BENCH_BASE=REV (a commit) also builds REV, from git, into build/base and
# runs its servers beside today's as base-MODEL: a change meant to keep
# the speed is measured against the code before it in the same run.
# bench/switch: lib/coro's switches per second, built with the assembly
# switch (build/bench) and with ucontext (build/bench-portable).
BENCH_DIR = $(if $(filter .,$(O)),build/bench-tools,$(O)/bench-tools)
$(BENCH_DIR)/switch: bench/switch.c $(LIB)
	@mkdir -p $(@D)
	$(SAY) CCLD $@
	$(Q)$(COMPILE) -o $@ $< $(LIB) $(LDFLAGS) $(UP_LDLIBS)

bench:
	@sh tests/install-deps.sh bench
	$(MAKE) O=build/bench CFLAGS="-O2" all build/bench/bench-tools/switch
	$(MAKE) O=build/bench-portable PORTABLE=1 CFLAGS="-O2" \
	    build/bench-portable/bench-tools/switch
ifneq ($(BENCH_BASE),)
	rm -rf build/base && mkdir -p build/base/src
	git archive $(BENCH_BASE) | tar -x -C build/base/src
	$(MAKE) -C build/base/src O=$(CURDIR)/build/base CFLAGS="-O2" all
endif
	python3 bench/bench.py --bin $(CURDIR)/build/bench/bin $(BENCH_ARGS) \
	    $(if $(BENCH_BASE),--baseline $(CURDIR)/build/base/bin)
	$$(python3 -c 'import matplotlib' 2>/dev/null && echo python3 || \
	    echo /usr/bin/python3) bench/charts.py bench/results.json

# 100 000 random requests over 100 connections against each server,
# every reply verified.
soak: all
	sh tests/soak.sh

# The build as one line, then the lesson (V=1: the build in full).
demo:
	@echo "building bin/ (make V=1 demo shows the commands)..."
	@$(MAKE) --no-print-directory $(if $(filter 1,$(V)),,-s) all
	@sh examples/demo.sh

# The README's picture: seq and fork with four clients, from a real run.
picture: all
	sh examples/picture.sh docs/seq-fork.svg

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(wildcard man/*.7) $(DESTDIR)$(MANDIR)/man7
	for p in $(filter-out upserver-seq,$(SERVERS)); do \
	    ln -sf upserver.1 $(DESTDIR)$(MANDIR)/man1/$$p.1; done
	ln -sf upserver.1 $(DESTDIR)$(MANDIR)/man1/upserver-seq.1
	install -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 644 completion/up.bash $(DESTDIR)$(BASHCOMPDIR)/up
	for p in $(PROGS); do ln -sf up $(DESTDIR)$(BASHCOMPDIR)/$$p; done
	install -m 644 completion/_up $(DESTDIR)$(ZSHCOMPDIR)/_up

uninstall:
	rm -f $(patsubst %,$(DESTDIR)$(BINDIR)/%,$(PROGS))
	rm -f $(patsubst %,$(DESTDIR)$(MANDIR)/man1/%.1,$(PROGS) upserver)
	rm -f $(DESTDIR)$(MANDIR)/man7/up.7
	rm -f $(patsubst %,$(DESTDIR)$(BASHCOMPDIR)/%,up $(PROGS))
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_up

clean:
	rm -f $(patsubst %,bin/%,$(PROGS))
	rm -rf build
