# up: four TCP servers, one per concurrency model, and a client.
#
#   make            build bin/upserver-{seq,fork,thread,poll} and bin/upclient
#   make demo       build, then show the models side by side
#   make check      build, then run the bats suite (installs bats if missing)
#   make lint       mandoc -Tlint on man/, shellcheck on the scripts
#   make install    PREFIX=/usr/local DESTDIR= (uninstall undoes it)
#
# CC, CFLAGS, LDFLAGS, PREFIX and DESTDIR may be overridden. WERROR=1 adds
# -Werror (CI sets it). SODIUM=0 builds without libsodium even when found.

CC	?= cc
CFLAGS	?= -O2 -g
PREFIX	?= /usr/local
BINDIR	 = $(PREFIX)/bin
MANDIR	 = $(PREFIX)/share/man

WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN	+= -Werror
endif
UP_CPPFLAGS = -D_GNU_SOURCE -Ilib
UP_CFLAGS   = -std=c11 -pthread $(WARN)
UP_LDLIBS   = -pthread

# libsodium is optional: found through pkg-config unless SODIUM=0.
SODIUM ?= $(shell pkg-config --exists libsodium 2>/dev/null && echo 1 || echo 0)
ifeq ($(SODIUM),1)
UP_CPPFLAGS += -DUP_SODIUM $(shell pkg-config --cflags libsodium)
UP_LDLIBS   += $(shell pkg-config --libs libsodium)
endif

SERVERS	 = upserver-seq upserver-fork upserver-thread upserver-poll
PROGS	 = $(SERVERS) upclient
# A binary is built once its main exists, so the tree builds at every step.
BINS	 = $(patsubst %,bin/%,$(foreach p,$(PROGS),$(if $(wildcard bin/$(p).c),$(p))))

LIB_SRC	 = $(sort $(wildcard lib/*.c))
LIB_OBJ	 = $(LIB_SRC:.c=.o)
LIB	 = lib/libup.a
MANS	 = $(wildcard man/*.[1-9])
SCRIPTS	 = .ci/run $(wildcard tests/*.sh examples/*.sh bench/*.sh)

.PHONY: all check lint install uninstall clean demo deps

all: $(BINS)

lib/%.o: lib/%.c lib/up.h
	$(CC) $(UP_CPPFLAGS) $(CPPFLAGS) $(UP_CFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

# upclient may be split into bin/upclient-*.c files beside its main.
bin/upclient: bin/upclient.c $(wildcard bin/upclient-*.c bin/upclient-*.h) $(LIB)
	$(CC) $(UP_CPPFLAGS) $(CPPFLAGS) $(UP_CFLAGS) $(CFLAGS) $(LDFLAGS) \
	    -o $@ $(filter %.c,$^) $(LIB) $(UP_LDLIBS) $(LDLIBS)

bin/%: bin/%.c $(LIB)
	$(CC) $(UP_CPPFLAGS) $(CPPFLAGS) $(UP_CFLAGS) $(CFLAGS) $(LDFLAGS) \
	    -o $@ $< $(LIB) $(UP_LDLIBS) $(LDLIBS)

# Installs what the tests and lint need when it is missing (Debian).
deps:
	@sh tests/install-deps.sh

check: all deps
	bats tests

lint: deps
	mandoc -Tlint -Wwarning $(MANS)
	shellcheck $(SCRIPTS) tests/*.bash tests/*.bats

demo: all
	@sh examples/demo.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1
	for p in $(filter-out upserver-seq,$(SERVERS)); do \
	    ln -sf upserver.1 $(DESTDIR)$(MANDIR)/man1/$$p.1; done
	ln -sf upserver.1 $(DESTDIR)$(MANDIR)/man1/upserver-seq.1

uninstall:
	rm -f $(patsubst %,$(DESTDIR)$(BINDIR)/%,$(PROGS))
	rm -f $(patsubst %,$(DESTDIR)$(MANDIR)/man1/%.1,$(PROGS) upserver)

clean:
	rm -f $(LIB) lib/*.o $(patsubst %,bin/%,$(PROGS))
