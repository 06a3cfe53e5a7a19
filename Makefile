# moth's developer targets. The README's two commands (scripts/demo, scripts/test) are what a
# newcomer needs; these are the pieces they call.
#
#   make ctest      C unit tests of the pure layers (csrc/core, os, remote), with ASan and UBSan
#   make build      the extension, in place (src/moth/_moth*.so) for the current python3
#   make fuzz       each fuzz target for FUZZ_SECONDS (libFuzzer, needs clang)

PYTHON ?= python3
CC ?= gcc
# The pure layers (no interpreter): the core, and the out-of-process reader's os and remote.
CORE_SRC := $(wildcard csrc/core/*.c csrc/os/*.c csrc/remote/*.c)
PURE_INC := -Icsrc/core -Icsrc/os -Icsrc/remote
CTEST_SRC := $(wildcard tests/c/test_*.c)
CTEST_BIN := $(patsubst tests/c/%.c,tests/c/build/%,$(CTEST_SRC))
CFLAGS_TEST := -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-missing-field-initializers \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	$(PURE_INC) -Itests/c
FUZZ_SECONDS ?= 30

.PHONY: ctest build fuzz clean

build:
	$(PYTHON) setup.py -q build_ext --inplace

tests/c/build/%: tests/c/%.c $(CORE_SRC) $(wildcard csrc/core/*.h csrc/os/*.h csrc/remote/*.h) tests/c/check.h
	@mkdir -p tests/c/build
	$(CC) $(CFLAGS_TEST) -o $@ $< $(CORE_SRC) -lsqlite3 -lm -ldl -lpthread

ctest: $(CTEST_BIN)
	@set -e; for t in $(CTEST_BIN); do echo "== $$t"; (cd tests/c && ASAN_OPTIONS=detect_leaks=1 ./build/$$(basename $$t)); done

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
	rm -rf build tests/c/build src/moth/_moth*.so
