# SPDX-License-Identifier: Apache-2.0
# kensa build. Plain GNU make: see docs/BUILD.md for why not CMake.
#
#   make            build libkensa (static + shared), kensa, kensa-gen
#   make hunt       deps + build + generate the demo evidence + hunt it
#   make check      deps + build + every test (closing line "N passed, N failed")
#   make asan       the same suite under AddressSanitizer + UBSan
#   make tsan       the same suite under ThreadSanitizer
#   make fuzz       libFuzzer harnesses (FUZZ_SECONDS each, default 60;
#                   FUZZ="json w3c" picks some, FUZZ_JOBS=2 runs two at once)
#   make bench      benchmarks against peer tools (BENCH=name for one)
#   make deps       install missing Debian packages (says what it installs)
#   make docs       regenerate docs/CONFIG.md's option table from the registry

BUILD    ?= build
CC       ?= cc
PKGS     := yara libcrypto libhs yaml-0.1 sqlite3 libcurl libmicrohttpd libpcre2-8 zlib libzstd \
            gmime-3.0 libarchive poppler-glib libgit2 libsodium gnutls rdkafka libnats \
            libpff libpst libytnef libolecf libxml-2.0
# libphonenumber (C++) ships no .pc file: linked by name, with the C++ runtime
# for the thin C++ shims (src/lib/**/*.cc) that wrap it.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wvla \
            -Wwrite-strings -Wformat-security -fno-common -Wno-missing-field-initializers
CFLAGS_ALL := -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) -fPIC -pthread \
            -Iinclude -Isrc/lib $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_ALL := -Wl,--as-needed $(PKG_LIBS) -lphonenumber -lstdc++ -lpthread -lm $(EXTRA_LDFLAGS)
CXX      ?= c++
CXXFLAGS_ALL := -std=c++17 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -fPIC -pthread \
            -Iinclude -Isrc/lib $(EXTRA_CFLAGS)

LIB_SRC  := $(shell find src/lib -name '*.c' | sort)
LIB_CXX_SRC := $(shell find src/lib -name '*.cc' | sort)
CLI_SRC  := $(wildcard src/cli/*.c)
GEN_SRC  := $(wildcard src/gen/*.c)
TEST_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(LIB_CXX_SRC:%.cc=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
# The portal (kensa serve) is part of the command, not of libkensa.
HTTPD_SRC := $(wildcard src/httpd/*.c)
HTTPD_OBJ := $(HTTPD_SRC:%.c=$(BUILD)/obj/%.o)
GEN_OBJ  := $(GEN_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Tests may call the generators directly (known content, no subprocess).
TEST_GEN_OBJ := $(filter-out %/gen_main.o,$(GEN_OBJ))
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)

.PHONY: all deps hunt check test asan tsan fuzz bench clean format docs stream-demo
all: $(BUILD)/libkensa.a $(BUILD)/libkensa.so $(BUILD)/kensa $(BUILD)/kensa-gen

deps:
	@sh scripts/deps.sh

$(BUILD)/obj/src/lib/%.o: src/lib/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_ALL) -DKS_BUILDING_LIBRARY -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/obj/src/lib/%.o: src/lib/%.cc
	@mkdir -p $(dir $@)
	@echo "  CXX     $<"
	@$(CXX) $(CXXFLAGS_ALL) -DKS_BUILDING_LIBRARY -fvisibility=hidden -MMD -MP -c $< -o $@

# The CLI sees the public headers only (as yara's CLI sees only <yara.h>):
# no -Isrc/lib, and test_options checks it calls no ks__ symbol.
CLI_CFLAGS := $(filter-out -Isrc/lib,$(CFLAGS_ALL))
$(BUILD)/obj/src/cli/%.o: src/cli/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CLI_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libkensa.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/libkensa.so: $(LIB_OBJ)
	@echo "  LD      $@"
	@$(CC) -shared -o $@ $^ $(LDLIBS_ALL)

# The kensa command binds these libraries on first use instead of at start
# (scripts/lazylibs.sh, src/lazy/lazy.c): with their ~90 dependencies
# they were 50 of the 64 ms every run spent starting. x86-64 only; LAZY=0
# links them as the library and the tests do.
LAZY_LIBS := poppler-glib curl phonenumber git2 rdkafka nats microhttpd gmime-3.0 archive pff
ifeq ($(if $(filter 0,$(LAZY)),,$(shell uname -m)),x86_64)
KENSA_LAZY_OBJ := $(BUILD)/obj/lazy.o $(BUILD)/obj/src/lazy/lazy.o
KENSA_LDLIBS := $(filter-out $(LAZY_LIBS:%=-l%),$(LDLIBS_ALL)) -ldl
else
KENSA_LAZY_OBJ :=
KENSA_LDLIBS := $(LDLIBS_ALL)
endif

$(BUILD)/lazy.S: $(CLI_OBJ) $(HTTPD_OBJ) $(BUILD)/libkensa.a scripts/lazylibs.sh
	@CC="$(CC)" sh scripts/lazylibs.sh $@ "$(LAZY_LIBS)" $(CLI_OBJ) $(HTTPD_OBJ) $(BUILD)/libkensa.a

$(BUILD)/obj/lazy.o: $(BUILD)/lazy.S
	@mkdir -p $(dir $@)
	@$(CC) -c $< -o $@

$(BUILD)/kensa: $(CLI_OBJ) $(HTTPD_OBJ) $(KENSA_LAZY_OBJ) $(BUILD)/libkensa.a
	@$(CC) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(HTTPD_OBJ) $(KENSA_LAZY_OBJ) $(BUILD)/libkensa.a $(KENSA_LDLIBS)

$(HTTPD_OBJ): CFLAGS_ALL += -Isrc

$(BUILD)/kensa-gen: $(GEN_OBJ) $(BUILD)/libkensa.a
	@$(CC) $(CFLAGS_ALL) -o $@ $(GEN_OBJ) $(BUILD)/libkensa.a $(LDLIBS_ALL)

$(BUILD)/tests/harness.o: tests/unit/harness.c tests/unit/harness.h
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS_ALL) -Itests/unit -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/tests/harness.o $(TEST_GEN_OBJ) $(BUILD)/libkensa.a
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS_ALL) -Itests/unit -Isrc/gen -o $@ $< $(BUILD)/tests/harness.o $(TEST_GEN_OBJ) $(BUILD)/libkensa.a $(LDLIBS_ALL)

# Fuzz harnesses built without libFuzzer: replay the committed corpora.
$(BUILD)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(BUILD)/libkensa.a
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS_ALL) -o $@ $< tests/fuzz/replay.c $(BUILD)/libkensa.a $(LDLIBS_ALL)

# The portal's parsers (routes, forms, cookies, DNS answers) need no server.
$(BUILD)/fuzz-replay/fuzz_portal: tests/fuzz/fuzz_portal.c tests/fuzz/replay.c $(BUILD)/obj/src/httpd/route.o \
		$(BUILD)/obj/src/httpd/verify.o $(BUILD)/libkensa.a
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS_ALL) -Isrc -o $@ $(filter-out $(BUILD)/libkensa.a,$^) $(BUILD)/libkensa.a $(LDLIBS_ALL)

# The portal's request handling end to end: every httpd object but the
# command itself (serve.c), over a temporary index.
$(BUILD)/fuzz-replay/fuzz_portal_handle: tests/fuzz/fuzz_portal_handle.c tests/fuzz/replay.c \
		$(filter-out $(BUILD)/obj/src/httpd/serve.o,$(HTTPD_OBJ)) $(BUILD)/libkensa.a
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS_ALL) -Isrc -o $@ $(filter-out $(BUILD)/libkensa.a,$^) $(BUILD)/libkensa.a $(LDLIBS_ALL)

# Test tools: programs the script tests drive (the Kafka mock cluster).
$(BUILD)/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS_ALL) -o $@ $< $(LDLIBS_ALL)

TOOLS := $(BUILD)/tools/kafka_mock $(BUILD)/tools/nats_tool

test: all $(TEST_BIN) $(FUZZ_REPLAY) $(TOOLS)
	@BUILD=$(BUILD) sh tests/run.sh

check: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@$(MAKE) --no-print-directory test

# Two kensa stream instances in one group on librdkafka's mock cluster, one
# killed with kill -9 and restarted; compares with a file hunt (docs/STREAM.md).
stream-demo: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all $(TOOLS)
	@BUILD=$(BUILD) sh tests/stream/demo.sh

hunt: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@$(BUILD)/kensa-gen demo $(BUILD)/demo >/dev/null
	@$(BUILD)/kensa hunt $(if $(HUNT_PATH),$(HUNT_PATH),$(BUILD)/demo); rc=$$?; \
	  if [ $$rc -ge 2 ]; then exit $$rc; fi

# -fsanitize-link-c++-runtime: UBSan vptr checks of the C++ libphonenumber
# shim need the runtime's C++ half, which the clang C driver leaves out.
ASAN_OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
  -fsanitize-link-c++-runtime
asan: deps
	@$(MAKE) --no-print-directory -j$$(nproc) BUILD=build-asan CC=clang CXX=clang++ \
	  OPT="$(ASAN_OPT)" LAZY=0 all
	@KENSA_ASAN=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(MAKE) --no-print-directory BUILD=build-asan CC=clang CXX=clang++ \
	  OPT="$(ASAN_OPT)" LAZY=0 test

# ThreadSanitizer: the same suite, every engine run is multi-threaded.
# Halts on the first report (TSAN_OPTIONS), so a data race fails the run.
TSAN_OPT := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
tsan: deps
	@$(MAKE) --no-print-directory -j$$(nproc) BUILD=build-tsan CC=clang CXX=clang++ OPT="$(TSAN_OPT)" LAZY=0 all
	@KENSA_TSAN=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  $(MAKE) --no-print-directory BUILD=build-tsan CC=clang CXX=clang++ OPT="$(TSAN_OPT)" LAZY=0 test

FUZZ_SECONDS ?= 60
fuzz: deps
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ)

bench:
	@sh scripts/deps.sh clamav
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@sh bench/run.sh $(BENCH)

# docs/CONFIG.md's option table, from the option registry
docs: $(BUILD)/kensa
	@BUILD=$(BUILD) sh scripts/gen-config-doc.sh

format:
	clang-format -i $$(find include src tests -name '*.[ch]')

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
