# elbo — plain Makefile.
#   make              library (build/libelbo.a, build/libelbo.so), CLI (build/elbo), tests, examples
#   make test         every test (the README's test command)
#   make SAN=1 test   the same under AddressSanitizer + UndefinedBehaviorSanitizer (in build-san/)
#   make MPI=1        an MPI-enabled CLI (mpicc; build-mpi/elbo) for mpirun; MPI=1 test adds
#                     the data-parallel tests (tests/test_mpi.sh)
#   make bench        elbo against the PyTorch reference (bench/run.sh)
#   make install      PREFIX=/usr/local DESTDIR= : libs, header, elbo.pc, CLI, man page
#   make uninstall    removes what install put there

CC      ?= cc
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
DESTDIR ?=
SAN     ?= 0
VERSION := 0.1.0
SOMAJOR := 0

WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# ARCH: instruction set. -march=native is fastest on the machine that builds;
# use ARCH= (empty) for a portable x86-64 build. Numerics do not depend on it:
# -std=c11 keeps floating-point contraction off, and nothing is reassociated.
ARCH    ?= -march=native
CFLAGS  ?= -O3 -g
# -fno-math-errno / -fno-trapping-math let sqrtf and compare-selects vectorise;
# they change no result. -fvisibility=hidden: only ELBO_API symbols leave
# the shared library.
# OpenBLAS's cblas.h: from pkg-config where it knows openblas (Debian does),
# else Debian's amd64 location.
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null || \
                 echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
CFLAGS  += -std=c11 $(WARN) $(ARCH) -fopenmp -fno-math-errno -fno-trapping-math -fPIC \
           -fvisibility=hidden -D_POSIX_C_SOURCE=200809L -Iinclude $(BLAS_CFLAGS)
LDFLAGS += -fopenmp
LDLIBS  := -lopenblas -lpng -lz -lm -ldl

ifeq ($(SAN),1)
  B       := build-san
  CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
else
  B       := build
endif
# MPI=1: the same build with mpicc and cli/par.c's MPI group, in build-mpi/
# (build-san-mpi/ with SAN=1); `mpirun -np N build-mpi/elbo train ...`.
# The library stays MPI-free: the CLI gives it the group (elbo_group).
MPI     ?= 0
ifeq ($(MPI),1)
  CC      := mpicc
  CFLAGS  += -DELBO_MPI
  B       := $(B)-mpi
endif

LIB_SRC := $(wildcard src/*/*.c)
LIB_OBJ := $(patsubst src/%.c,$(B)/obj/%.o,$(LIB_SRC))
CLI_SRC := $(wildcard cli/*.c)
CLI_OBJ := $(patsubst cli/%.c,$(B)/obj/cli/%.o,$(CLI_SRC))
TESTS   := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_*.c))
EXAMPLES:= $(patsubst examples/%.c,$(B)/examples/%,$(filter-out examples/vi_%.c,$(wildcard examples/*.c)))
# `elbo fit` plug-ins: shared libraries exporting elbo_vi_model_open
PLUGINS := $(patsubst examples/%.c,$(B)/examples/%.so,$(wildcard examples/vi_*.c)) \
           $(patsubst tests/posteriordb/%.c,$(B)/tests/posteriordb/%.so,$(wildcard tests/posteriordb/*.c))
HDRS    := Makefile include/elbo.h include/elbo_vi.h include/elbo_lda.h include/elbo_m2.h $(wildcard src/*/*.h) $(wildcard cli/*.h) tests/check.h tests/fd.h tests/fixture.h
SONAME  := libelbo.so.$(SOMAJOR)

.PHONY: all test bench clean install uninstall fuzz fuzz-run
all: $(B)/elbo $(B)/libelbo.so $(TESTS) $(EXAMPLES) $(PLUGINS) $(B)/bench_infer

$(B)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/obj/cli/%.o: cli/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Every object, internal symbols included: for the unit tests.
$(B)/libelbo_internal.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The installed static library: one relocatable object whose hidden
# (non-ELBO_API) symbols are made local, so it exports only elbo_ names.
$(B)/libelbo.a: $(LIB_OBJ)
	@rm -f $@ $(B)/elbo_all.o
	$(LD) -r -o $(B)/elbo_all.o $^
	objcopy --localize-hidden $(B)/elbo_all.o
	ar rcs $@ $(B)/elbo_all.o

$(B)/libelbo.so.$(VERSION): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/libelbo.so: $(B)/libelbo.so.$(VERSION)
	ln -sf libelbo.so.$(VERSION) $(B)/$(SONAME)
	ln -sf libelbo.so.$(VERSION) $@

# The CLI links the public static library: it can only use the public API.
$(B)/elbo: $(CLI_OBJ) $(B)/libelbo.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/%.c $(B)/libelbo_internal.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(B)/libelbo_internal.a $(LDFLAGS) $(LDLIBS) -lpthread

$(B)/examples/%: examples/%.c $(B)/libelbo.a include/elbo.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libelbo.a $(LDFLAGS) $(LDLIBS)

# A plug-in links the static library for the transform helpers it uses.
$(B)/examples/%.so: examples/%.c examples/vi_csv.h $(wildcard examples/vi_eight_schools.c) $(B)/libelbo.a include/elbo_vi.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -o $@ $< $(B)/libelbo.a $(LDFLAGS) $(LDLIBS)

$(B)/tests/posteriordb/%.so: tests/posteriordb/%.c examples/vi_csv.h $(B)/libelbo.a include/elbo_vi.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -o $@ $< $(B)/libelbo.a $(LDFLAGS) $(LDLIBS)

$(B)/bench_infer: bench/bench_infer.c $(B)/libelbo.a include/elbo.h
	$(CC) $(CFLAGS) -o $@ $< $(B)/libelbo.a $(LDFLAGS) $(LDLIBS)

# The README's test command. Runs every C test binary and the shell tests;
# prints one "N passed, N failed" line at the end.
# With mpicc on the PATH (Debian's libopenmpi-dev) it also builds the MPI CLI
# for tests/test_mpi.sh, which is skipped without one.
test: all
	@if [ "$(MPI)" != 1 ] && command -v mpicc > /dev/null; then $(MAKE) --no-print-directory MPI=1 SAN=$(SAN) $(B)-mpi/elbo; fi
	@ELBO_BUILD=$(B) sh tests/run.sh

# elbo against the PyTorch reference (see bench/run.sh); writes bench/RESULTS.md
bench: $(B)/elbo $(B)/bench_infer
	sh bench/run.sh

install: $(B)/elbo $(B)/libelbo.a $(B)/libelbo.so
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include \
	           $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(B)/elbo $(DESTDIR)$(PREFIX)/bin/elbo
	install -m 644 $(B)/libelbo.a $(DESTDIR)$(LIBDIR)/libelbo.a
	install -m 755 $(B)/libelbo.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libelbo.so.$(VERSION)
	ln -sf libelbo.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf libelbo.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libelbo.so
	install -m 644 include/elbo.h $(DESTDIR)$(PREFIX)/include/elbo.h
	install -m 644 include/elbo_vi.h $(DESTDIR)$(PREFIX)/include/elbo_vi.h
	install -m 644 include/elbo_lda.h $(DESTDIR)$(PREFIX)/include/elbo_lda.h
	install -m 644 include/elbo_m2.h $(DESTDIR)$(PREFIX)/include/elbo_m2.h
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@VERSION@|$(VERSION)|' elbo.pc.in \
	    > $(DESTDIR)$(LIBDIR)/pkgconfig/elbo.pc
	install -m 644 docs/elbo.1 $(DESTDIR)$(PREFIX)/share/man/man1/elbo.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/elbo $(DESTDIR)$(LIBDIR)/libelbo.a \
	      $(DESTDIR)$(LIBDIR)/libelbo.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libelbo.so $(DESTDIR)$(PREFIX)/include/elbo.h $(DESTDIR)$(PREFIX)/include/elbo_vi.h $(DESTDIR)$(PREFIX)/include/elbo_lda.h \
	      $(DESTDIR)$(PREFIX)/include/elbo_m2.h $(DESTDIR)$(LIBDIR)/pkgconfig/elbo.pc $(DESTDIR)$(PREFIX)/share/man/man1/elbo.1

# libFuzzer targets (clang, ASan + UBSan), one per parser; see docs/robustness.md.
#   make fuzz                      build them in build-fuzz/
#   make fuzz-run FUZZ_SECONDS=30  run each for that long from the committed seeds
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZERS      := fuzz_idx fuzz_safetensors fuzz_json fuzz_npy fuzz_csv fuzz_ldac fuzz_text
FUZZ_FLAGS   := -g -O1 -std=c11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fopenmp -Wno-pass-failed -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc $(BLAS_CFLAGS)

build-fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(LIB_SRC) $(HDRS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRC) $(LDLIBS)

fuzz: $(addprefix build-fuzz/,$(FUZZERS))

fuzz-run: fuzz
	sh tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf build build-san build-fuzz build-mpi build-san-mpi
