# elbo — plain Makefile.  make | make test | make SAN=1 test | make clean
#   SAN=1   AddressSanitizer + UndefinedBehaviorSanitizer build (in build-san/)
#   PREFIX, DESTDIR for make install (see issue tracker for the full install)

CC      ?= cc
PREFIX  ?= /usr/local
SAN     ?= 0

WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
# ARCH: instruction set. -march=native is fastest on the machine that builds;
# use ARCH= (empty) for a portable x86-64 build. Numerics do not depend on it:
# -std=c11 keeps floating-point contraction off, and nothing is reassociated.
ARCH    ?= -march=native
CFLAGS  ?= -O3 -g
# -fno-math-errno / -fno-trapping-math let sqrtf and compare-selects vectorise;
# they change no result.
CFLAGS  += -std=c11 $(WARN) $(ARCH) -fopenmp -fno-math-errno -fno-trapping-math \
           -D_POSIX_C_SOURCE=200809L -Iinclude -I/usr/include/x86_64-linux-gnu/openblas-pthread
LDFLAGS += -fopenmp
LDLIBS  := -lopenblas -lpng -lz -lm

ifeq ($(SAN),1)
  B       := build-san
  CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
else
  B       := build
endif

LIB_SRC := $(wildcard src/*/*.c)
LIB_OBJ := $(patsubst src/%.c,$(B)/obj/%.o,$(LIB_SRC))
CLI_SRC := $(wildcard cli/*.c)
CLI_OBJ := $(patsubst cli/%.c,$(B)/obj/cli/%.o,$(CLI_SRC))
TESTS   := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_*.c))
HDRS    := include/elbo.h $(wildcard src/*/*.h) $(wildcard cli/*.h) tests/check.h

.PHONY: all test bench clean
all: $(B)/elbo $(TESTS)

$(B)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/obj/cli/%.o: cli/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/libelbo.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/elbo: $(CLI_OBJ) $(B)/libelbo.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/%.c $(B)/libelbo.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(B)/libelbo.a $(LDFLAGS) $(LDLIBS)

# The README's test command. Runs every C test binary and the CLI smoke
# test; prints one "N passed, N failed" line at the end.
test: all
	@ELBO_BUILD=$(B) sh tests/run.sh

$(B)/bench_infer: bench/bench_infer.c $(B)/libelbo.a include/elbo.h
	$(CC) $(CFLAGS) -o $@ $< $(B)/libelbo.a $(LDFLAGS) $(LDLIBS)

# elbo against the PyTorch reference (see bench/run.sh); writes bench/RESULTS.md
bench: $(B)/elbo $(B)/bench_infer
	sh bench/run.sh

clean:
	rm -rf build build-san
