# postern — plain GNU Makefile.
#
# Targets
#   make               build build/postern
#   make run           install missing Debian packages, build, serve config/echo.xml
#                      (ws://localhost:8000/echo, tcp://localhost:8001)
#   make run-ha        build, run the seed's HA topology on loopback (config/ha-loopback:
#                      two DMZ members, two internal gateways, a backend) until Ctrl-C
#   make test          install missing packages, build, run the unit tests and the scenario
#                      tests on both reactor back ends (io_uring, then epoll)
#   make unit          unit tests only
#   make scenario      scenario tests only (real build/postern, real clients, 127.0.0.x)
#   make bench         Google Benchmark micro-benchmarks (and builds build/postern-load)
#   make load          build/postern-load, the load generator (bench/load/)
#   make fuzz          build the libFuzzer targets of tests/fuzz (clang++) and run each for
#                      FUZZ_SECONDS (default 60; the regressions first, from the seeds)
#   make fuzz-smoke    run each fuzz target for FUZZ_SECONDS (part of `make test`), starting
#                      from its committed seeds (tests/fuzz/corpus/<name without _fuzz>/)
#   make deps          scripts/deps.sh (idempotent)
#   make install       build/postern, postern(8), example configs, systemd unit to $(DESTDIR)$(PREFIX)
#   make clean
#
# Switches
#   SAN=address,undefined   build with these sanitizers (objects go to build/san-<list>/)
#   BACKEND=epoll|io_uring  run tests on this back end only (default: both)
#   CONFIG=file             the config `make run` serves (default config/echo.xml)
#   O=-O2                   optimisation flags
#   FUZZ_SECONDS=10         how long fuzz-smoke (10) or fuzz (60) runs each target
#   V=1                     show full commands
#   PREFIX=/usr/local       where `make install` puts things (the unit's ExecStart says PREFIX/sbin)
#   DESTDIR=                staging root prepended to every installed path (for packaging)

CXX      ?= g++
ifeq ($(origin CXX),default)
CXX      := g++
endif
O        ?= -O2
PKGS     := liburing openssl expat
CONFIG   ?= config/echo.xml
PYTHON   := /usr/bin/python3
PREFIX   ?= /usr/local
DESTDIR  ?=

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Compile with one job per CPU unless the command line says otherwise (make -jN); sub-makes
# share the top make's jobs.
ifeq ($(MAKELEVEL),0)
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 1)
endif
endif

comma := ,
ifneq ($(SAN),)
BUILD    := build/san-$(subst $(comma),-,$(SAN))
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD    := build
SANFLAGS :=
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS  = $(shell pkg-config --libs gtest gmock 2>/dev/null) -lgtest_main
BENCH_LIBS = $(shell pkg-config --libs benchmark 2>/dev/null) -lbenchmark_main

CXXFLAGS := -std=c++2b $(O) -g -Wall -Wextra -Werror -pthread -I. $(SANFLAGS) -MMD -MP
LDFLAGS  := -pthread $(SANFLAGS)

LIB_SRCS   := $(sort $(wildcard core/*.cc net/*.cc config/*.cc cluster/*.cc gateway/*.cc))
LIB_SRCS   := $(filter-out gateway/main.cc,$(LIB_SRCS))
LIB_OBJS   := $(LIB_SRCS:%.cc=$(BUILD)/obj/%.o)
TEST_SRCS  := $(sort $(wildcard tests/unit/*.cc))
TEST_OBJS  := $(TEST_SRCS:%.cc=$(BUILD)/obj/%.o)
BENCH_SRCS := $(sort $(wildcard bench/*.cc))
BENCH_OBJS := $(BENCH_SRCS:%.cc=$(BUILD)/obj/%.o)
LOAD_SRCS  := $(sort $(wildcard bench/load/*.cc))
LOAD_OBJS  := $(LOAD_SRCS:%.cc=$(BUILD)/obj/%.o)

POSTERN    := $(BUILD)/postern
UNIT_TESTS := $(BUILD)/unit-tests
BENCH_BIN  := $(BUILD)/bench
LOAD_BIN   := $(BUILD)/postern-load
LIBPOSTERN := $(BUILD)/libpostern.a

BACKENDS := $(if $(BACKEND),$(BACKEND),io_uring epoll)

ifeq ($(origin FUZZ_SECONDS),undefined)
FUZZ_LONG_SECONDS := 60
else
FUZZ_LONG_SECONDS := $(FUZZ_SECONDS)
endif
FUZZ_SECONDS ?= 10
FUZZ_CXX     := clang++
FUZZ_SRCS    := $(sort $(wildcard tests/fuzz/*_fuzz.cc))
FUZZ_BINS    := $(FUZZ_SRCS:tests/fuzz/%.cc=build/fuzz/%)
# Linked into every target. Sources that use std::expected compile too: clang 14 cannot use
# libstdc++ 12's <expected>, so the fuzz build finds tests/fuzz/compat/expected first (see there).
FUZZ_LIB     := net/http_request.cc net/http_response.cc net/ws_frame.cc net/utf8.cc net/socks5.cc
FUZZ_COMPAT  := tests/fuzz/compat/expected
# Sources only some targets need, per target (FUZZ_LIB_<target>).
FUZZ_LIB_config_fuzz := $(sort $(wildcard config/*.cc)) net/uri.cc
FUZZ_LIB_gossip_fuzz := cluster/gossip_codec.cc net/address.cc

.PHONY: all run run-ha test unit scenario bench load deps clean fuzz fuzz-smoke install
all: $(POSTERN)

deps:
	$(Q)scripts/deps.sh

# Every build target checks the dependencies first (cheap when they are present).
$(BUILD)/.deps-ok: scripts/deps.sh
	$(Q)scripts/deps.sh
	$(Q)mkdir -p $(@D) && touch $@

$(BUILD)/obj/%.o: %.cc | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CXX  $<")
	$(Q)$(CXX) $(CXXFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(LIBPOSTERN): $(LIB_OBJS)
	@$(if $(Q),echo "  AR   $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(POSTERN): $(BUILD)/obj/gateway/main.o $(LIBPOSTERN)
	@$(if $(Q),echo "  LD   $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(UNIT_TESTS): $(TEST_OBJS) $(LIBPOSTERN)
	@$(if $(Q),echo "  LD   $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

$(BENCH_BIN): $(BENCH_OBJS) $(LIBPOSTERN)
	@$(if $(Q),echo "  LD   $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(BENCH_LIBS)

$(LOAD_BIN): $(LOAD_OBJS) $(LIBPOSTERN)
	@$(if $(Q),echo "  LD   $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

load: $(LOAD_BIN)

run: $(POSTERN)
	$(POSTERN) -c $(CONFIG)

run-ha: $(POSTERN)
	scripts/ha-loopback.sh run

# The reactor's unit tests run every case on both back ends themselves.
unit: $(UNIT_TESTS)
	$(UNIT_TESTS) --gtest_brief=1

scenario: $(POSTERN)
	$(Q)for b in $(BACKENDS); do \
	  echo "== scenario tests, POSTERN_BACKEND=$$b"; \
	  POSTERN_BACKEND=$$b POSTERN_BIN=$(POSTERN) $(PYTHON) tests/scenario/run.py || exit 1; \
	done

# One step after another (the scenario tests measure time; nothing else may load the CPUs then);
# each step still compiles what it needs with one job per CPU.
test:
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory scenario
	$(Q)$(MAKE) --no-print-directory fuzz-smoke

# libFuzzer needs clang; each target links the pure modules (net/, config/, cluster/).
build/fuzz/config_fuzz: $(FUZZ_LIB_config_fuzz)
build/fuzz/gossip_fuzz: $(FUZZ_LIB_gossip_fuzz)
build/fuzz/%: tests/fuzz/%.cc $(FUZZ_LIB) $(FUZZ_COMPAT) | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ $@")
	$(Q)$(FUZZ_CXX) -std=c++2b -O1 -g -isystem $(dir $(FUZZ_COMPAT)) -I. \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  $< $(FUZZ_LIB) $(FUZZ_LIB_$(@F)) -o $@ $(PKG_LIBS)

# make fuzz runs every target for FUZZ_SECONDS (default 60 there; make test's smoke run uses 10).
fuzz: $(FUZZ_BINS)
	$(Q)$(MAKE) --no-print-directory fuzz-smoke FUZZ_SECONDS=$(FUZZ_LONG_SECONDS)

fuzz-smoke: $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do \
	  echo "== fuzz smoke: $$f for $(FUZZ_SECONDS) s"; \
	  mkdir -p build/fuzz/corpus-$$(basename $$f); \
	  seeds=tests/fuzz/corpus/$$(basename $$f _fuzz); \
	  if [ -d $$seeds ]; then cp $$seeds/* build/fuzz/corpus-$$(basename $$f)/; fi; \
	  regressions=tests/fuzz/regressions/$$(basename $$f); \
	  if [ -d $$regressions ]; then \
	    $$f $$regressions/* > build/fuzz/$$(basename $$f)-regressions.log 2>&1 \
	      || { tail -40 build/fuzz/$$(basename $$f)-regressions.log; exit 1; }; \
	  fi; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=70000 build/fuzz/corpus-$$(basename $$f) \
	    > build/fuzz/$$(basename $$f).log 2>&1 || { tail -40 build/fuzz/$$(basename $$f).log; exit 1; }; \
	  tail -1 build/fuzz/$$(basename $$f).log; \
	done

bench: $(BENCH_BIN) $(if $(LOAD_SRCS),$(LOAD_BIN))
	$(BENCH_BIN)

# install: the binary, its man page, the example configs and the systemd unit, whose @SBINDIR@
# becomes $(PREFIX)/sbin (the path the binary has once DESTDIR is the root). POSTERN=path on the
# command line installs that binary without looking at its objects, so nothing is rebuilt.
INSTALL_SBIN     = $(DESTDIR)$(PREFIX)/sbin
INSTALL_MAN8     = $(DESTDIR)$(PREFIX)/share/man/man8
INSTALL_EXAMPLES = $(DESTDIR)$(PREFIX)/share/doc/postern/examples
INSTALL_UNITS    = $(DESTDIR)$(PREFIX)/lib/systemd/system

install: $(if $(filter command line,$(origin POSTERN)),,$(POSTERN))
	@$(if $(Q),echo "  INSTALL $(DESTDIR)$(PREFIX)")
	$(Q)test -f $(POSTERN) -a -x $(POSTERN) || { echo "$(POSTERN): no executable to install" >&2; exit 1; }
	$(Q)install -D -m 0755 $(POSTERN) $(INSTALL_SBIN)/postern
	$(Q)install -D -m 0644 docs/postern.8 $(INSTALL_MAN8)/postern.8
	$(Q)install -D -m 0644 config/echo.xml $(INSTALL_EXAMPLES)/gateway-config.xml
	$(Q)for f in config/ha-loopback/*.xml; do \
	  install -D -m 0644 $$f $(INSTALL_EXAMPLES)/ha-loopback/$$(basename $$f) || exit 1; \
	done
	$(Q)tmp=$$(mktemp) && \
	  sed 's|@SBINDIR@|$(PREFIX)/sbin|g' scripts/postern.service > $$tmp && \
	  install -D -m 0644 $$tmp $(INSTALL_UNITS)/postern.service; \
	  status=$$?; rm -f $$tmp; exit $$status

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
