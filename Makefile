# moth's developer targets. The README's two commands (scripts/demo, scripts/test) are what a
# newcomer needs; these are the pieces they call.
#
#   make ctest      C unit tests of the pure layers (csrc/core, os, remote), with ASan and UBSan
#   make build      the extension, in place (src/moth/_moth*.so) for the current python3
#   make fuzz       each fuzz target for FUZZ_SECONDS (libFuzzer, needs clang)
#   make ctest-coverage  the C unit tests built with gcov counters and run (scripts/coverage)

PYTHON ?= python3
CC ?= gcc
# The pure layers (no interpreter): the core, and the out-of-process reader's os and remote.
CORE_SRC := $(wildcard csrc/core/*.c csrc/os/*.c csrc/remote/*.c)
PURE_INC := -Icsrc/core -Icsrc/os -Icsrc/remote
CTEST_SRC := $(wildcard tests/c/test_*.c)
CTEST_BIN := $(patsubst tests/c/%.c,tests/c/build/%,$(CTEST_SRC))
CFLAGS_TEST := -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-missing-field-initializers \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	-DMOTH_FAULT_INJECTION $(PURE_INC) -Itests/c
FUZZ_SECONDS ?= 30
# elfutils' libdw (csrc/os/unwind.c) when its headers are there, as setup.py decides (the fuzz
# targets build without it, which compiles unwind.c's libdw-less half).
ifneq ($(shell pkg-config --exists libdw 2>/dev/null && echo yes),)
CFLAGS_TEST += -DMOTH_HAVE_LIBDW
LIBDW := $(shell pkg-config --libs libdw)
endif

.PHONY: ctest ctest-coverage build fuzz clean

build:
	$(PYTHON) setup.py -q build_ext --inplace

# The core is compiled once into objects (tests/c/build/obj/...) that every test binary links:
# compiling it into each of the two dozen binaries took most of `make ctest`'s time.
CORE_HDR := $(wildcard csrc/core/*.h csrc/os/*.h csrc/remote/*.h)
CORE_OBJ := $(patsubst csrc/%.c,tests/c/build/obj/%.o,$(CORE_SRC))
tests/c/build/obj/%.o: csrc/%.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TEST) -c -o $@ $<

tests/c/build/%: tests/c/%.c $(CORE_OBJ) $(CORE_HDR) $(wildcard tests/c/*.h)
	@mkdir -p tests/c/build
	$(CC) $(CFLAGS_TEST) -o $@ $< $(CORE_OBJ) -lsqlite3 $(LIBDW) -lm -ldl -lpthread

ctest: $(CTEST_BIN)
	@set -e; for t in $(CTEST_BIN); do echo "== $$t"; (cd tests/c && ASAN_OPTIONS=detect_leaks=1 ./build/$$(basename $$t)); done

# The same tests with gcov counters, no sanitizers: the core's objects count every binary's runs
# (tests/c/build-coverage/obj/.../FILE.gcda), which gcovr adds to the extension's counts.
CTEST_COV_BIN := $(patsubst tests/c/%.c,tests/c/build-coverage/%,$(CTEST_SRC))
CFLAGS_COV := $(filter-out -fsanitize% -O1,$(CFLAGS_TEST)) -O0 --coverage
CORE_COV_OBJ := $(patsubst csrc/%.c,tests/c/build-coverage/obj/%.o,$(CORE_SRC))
tests/c/build-coverage/obj/%.o: csrc/%.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COV) -c -o $@ $<

tests/c/build-coverage/%: tests/c/%.c $(CORE_COV_OBJ) $(CORE_HDR) $(wildcard tests/c/*.h)
	@mkdir -p tests/c/build-coverage
	$(CC) $(CFLAGS_COV) -o $@ $< $(CORE_COV_OBJ) -lsqlite3 $(LIBDW) -lm -ldl -lpthread

ctest-coverage: $(CTEST_COV_BIN)
	@set -e; for t in $(CTEST_COV_BIN); do echo "== $$t"; (cd tests/c && ./build-coverage/$$(basename $$t)); done

FUZZ_SRC := $(wildcard tests/c/fuzz_*.c)
fuzz:
	@mkdir -p tests/c/build
	@set -e; for f in $(FUZZ_SRC); do \
	  b=tests/c/build/$$(basename $$f .c); \
	  clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    $(PURE_INC) -o $$b $$f $(CORE_SRC) -lsqlite3 -lm -ldl -lpthread; \
	  mkdir -p tests/c/build/corpus-$$(basename $$f .c); \
	  seeds=tests/c/corpus/$$(basename $$f .c); [ -d $$seeds ] || seeds=; \
	  $$b -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 tests/c/build/corpus-$$(basename $$f .c) $$seeds; \
	done

clean:
	rm -rf build tests/c/build tests/c/build-coverage src/moth/_moth*.so
