# toolgym — one Makefile for the binary, the tests and the benchmarks.
#   make                 build build/toolgym
#   make test            build and run every test suite (exits non-zero on any failure)
#   make test SANITIZE=address,undefined
#   make run             the main job (see README.md)
#   make install PREFIX=/usr/local   the binary and its data (PREFIX/bin, PREFIX/share/toolgym)
#   make bench           benchmarks in bench/ (tables on stdout)
#   make fuzz            each libFuzzer target of tests/fuzz/ for FUZZ_SECONDS (default 60)
#   make soak            bench/soak.sh: clients and injected faults for SOAK_SECONDS (default 300)
#   make format | format-check | lint | clean
#
# Every target first runs scripts/deps.sh, which checks the Debian packages it needs (as root
# it installs what is missing; otherwise it prints the apt-get line to run). Compilation waits
# for that check: it is an order-only prerequisite of every object and binary, so `make -j2`
# on a fresh machine does not race the install.

CC      ?= cc
PKGS    := libmicrohttpd jansson libcurl libseccomp
SANITIZE ?=

BUILD   ?= build
ifneq ($(SANITIZE),)
override BUILD := $(BUILD)/san
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -I. $(WARN) -MMD -MP -pthread
LDLIBS  := -lm -pthread

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lglpk
CFLAGS  += $(PKG_CFLAGS)

ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all -DTG_DEBUG -O1
LDFLAGS += -fsanitize=$(SANITIZE)
endif
ifneq ($(DEBUG),)
CFLAGS  += -DTG_DEBUG -O0
endif

LIB_SRC   := $(wildcard base/*.c tools/*.c server/*.c client/*.c policy/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_SRC  := $(wildcard cmd/*.c)
MAIN_OBJ  := $(MAIN_SRC:%.c=$(BUILD)/%.o)
TEST_SRC  := $(wildcard tests/*.c) tests/fuzz/targets.c
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

BIN       := $(BUILD)/toolgym
TEST_BIN  := $(BUILD)/toolgym-tests

.PHONY: all deps test run install uninstall bench soak fuzz fuzzdeps format format-check lint clean
all: $(BIN)

# The dependency check (see the head of this file). Phony, so it runs on every make; compile
# and link rules name it after a `|` (order-only), so they start only when it has succeeded.
deps:
	@sh scripts/deps.sh

$(BIN): $(MAIN_OBJ) $(LIB_OBJ) | deps
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(TEST_BIN): $(TEST_OBJ) $(LIB_OBJ) | deps
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcunit $(LDLIBS)

# Benchmarks are single files that may use the base layer (buffers, number parsing).
BASE_LIB  := $(BUILD)/libtoolgym-base.a
$(BASE_LIB): $(filter $(BUILD)/base/%.o,$(LIB_OBJ)) | deps
	@rm -f $@
	@$(AR) rcs $@ $^

# bench programs that measure library code above the base link all of it
$(BUILD)/bench/freeze_plan $(BUILD)/bench/freeze_pipe $(BUILD)/bench/sandbox_cpu: $(BUILD)/bench/%: bench/%.c $(LIB_OBJ) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BASE_LIB) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BASE_LIB) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

# Every suite runs with the sandbox in its default run mode (warm where the host allows), then
# the sandbox suites again in cold mode (TOOLGYM_TEST_RUN_MODE=cold). As root, the sandbox
# suites run once more as an ordinary user, in rootless mode, in both run modes
# (scripts/test_rootless.sh); a run of chosen suites (TESTS=...) skips both extra passes.
COLD_SUITES := sandbox sandbox_limits sandbox_e2e code_cache
test: $(BIN) $(TEST_BIN)
	@sh scripts/layers.sh
	TOOLGYM_BIN=$(BIN) $(TEST_BIN) $(TESTS)
	@if [ -z "$(TESTS)" ]; then TOOLGYM_BIN=$(BIN) TOOLGYM_TEST_RUN_MODE=cold $(TEST_BIN) $(COLD_SUITES); fi
	@if [ "$$(id -u)" = 0 ] && [ -z "$(TESTS)" ]; then sh scripts/test_rootless.sh $(BUILD); fi

run: $(BIN)
	@sh scripts/run.sh $(BIN)

# The binary in $(PREFIX)/bin, data/ in $(PREFIX)/share/toolgym, where the binary looks for it
# (base/datadir.h). DESTDIR stages a package build.
PREFIX  ?= /usr/local
install: $(BIN)
	@sh scripts/install.sh $(BIN) "$(DESTDIR)$(PREFIX)"
uninstall:
	@sh scripts/install.sh --uninstall "$(DESTDIR)$(PREFIX)"

bench: $(BIN) $(BENCH_BIN)
	@sh scripts/deps.sh bench
	@sh bench/run.sh $(BUILD)

# not part of make bench: it takes SOAK_SECONDS (default 300); see docs/reliability.md
soak: $(BIN) $(BUILD)/bench/soak
	@sh bench/soak.sh $(BUILD)

# libFuzzer targets (tests/fuzz/, docs/reliability.md): the base, tools and server layers and
# the target bodies built by clang with -fsanitize=fuzzer,address,undefined into build/fuzz,
# one program per target; scripts/fuzz.sh runs each for FUZZ_SECONDS and prints a table.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := http mcp step calc search tasks
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -I. -Itests/fuzz $(WARN) -Wno-unknown-warning-option \
                -MMD -MP -pthread -O1 -g -DTG_DEBUG $(FUZZ_SAN)
FUZZ_OBJ     := $(patsubst %.c,$(FUZZ_DIR)/%.o,$(wildcard base/*.c tools/*.c server/*.c) \
                tests/fuzz/targets.c)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
.SECONDARY: $(FUZZ_OBJ) $(FUZZ_DIR)/tests/fuzz/main.o

fuzz: $(FUZZ_BINS)
	@sh scripts/fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzzdeps:
	@sh scripts/deps.sh fuzz

$(FUZZ_DIR)/%.o: %.c | fuzzdeps
	@mkdir -p $(dir $@)
	@echo "CC (fuzz) $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

# one program per target, all alike: each runs the target its name says (tests/fuzz/main.c)
$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/tests/fuzz/main.o $(FUZZ_OBJ) | fuzzdeps
	@echo "LD (fuzz) $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) $(LDLIBS)

FMT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	@sh scripts/deps.sh format
	clang-format -i $(FMT_SRC)
format-check:
	@sh scripts/deps.sh format
	@clang-format --dry-run --Werror $(FMT_SRC) && echo "format-check: clean"

lint:
	@sh scripts/deps.sh lint
	@sh scripts/layers.sh
	@sh scripts/lint.sh

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)
