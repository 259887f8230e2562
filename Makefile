# Flashback peer discovery - build, test and run.
# GNU make; every library through pkg-config. Objects in $(BUILD), binaries in $(BUILD)/bin.

CC ?= cc
BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
SAN ?=
VERSION := 0.1.0

PKG_COMMON = jansson gnutls uuid
PKG_SERVER = $(PKG_COMMON) libmicrohttpd libpq inih
# wslay ships no pkg-config file on Debian: its header is in the default path, -lwslay links it.
PKG_AGENT = $(PKG_COMMON) libevent libcurl inih
LIBS_AGENT_EXTRA = -lwslay -lm
PKG_CHECK = check

# Recursive (=) so pkg-config runs only in recipes, after `deps` has installed it.
pc_cflags = $(shell pkg-config --cflags $(1))
pc_libs = $(shell pkg-config --libs $(1))

WARN = -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(CFLAGS) $(WARN) $(SAN) -MMD -MP -Icommon/include \
	-DFB_VERSION='"$(VERSION)"'
ALL_LDFLAGS = $(LDFLAGS) $(SAN)

COMMON_SRC = $(wildcard common/src/*.c)
COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o)
COMMON_LIB = $(BUILD)/libflashback-common.a

SERVER_SRC = $(wildcard bootstrap-server/src/*.c)
SERVER_OBJ = $(SERVER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations_sql.o
# Everything but main, so unit tests can link the server's modules.
SERVER_LIB = $(BUILD)/libbootstrap-server.a
MIGRATIONS = $(sort $(wildcard bootstrap-server/migrations/*.sql))
AGENT_SRC = $(wildcard peer-agent/src/*.c)
AGENT_OBJ = $(AGENT_SRC:%.c=$(BUILD)/%.o)
# The pure gossip core, linked unchanged into the agent and the simulator.
GOSSIP_NAMES = engine peertable
GOSSIP_OBJ = $(filter $(GOSSIP_NAMES:%=$(BUILD)/peer-agent/src/%.o),$(AGENT_OBJ))
GOSSIP_LIB = $(BUILD)/libfb-gossip.a
# The rest of the agent but main, so unit tests can link its modules.
AGENT_LIB = $(BUILD)/libpeer-agent.a
AGENT_LIB_OBJ = $(filter-out %/main.o $(GOSSIP_OBJ),$(AGENT_OBJ))
TOOL_SRC = $(wildcard tools/*.c)
TOOL_BIN = $(TOOL_SRC:tools/%.c=$(BUILD)/bin/%)

UNIT_SRC = $(wildcard tests/unit/check_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# C drivers the end-to-end scripts run against real servers.
E2E_DRIVER_SRC = $(wildcard tests/e2e/drivers/*.c)
E2E_DRIVER_BIN = $(E2E_DRIVER_SRC:tests/e2e/drivers/%.c=$(BUILD)/tests/e2e/%)

BINS = $(BUILD)/bin/bootstrap-server $(BUILD)/bin/peer-agent $(TOOL_BIN)

.SECONDARY:
.PHONY: all deps test unit e2e proto asan bench run format install clean
.DEFAULT_GOAL := all

all: $(COMMON_LIB) $(BINS) $(E2E_DRIVER_BIN)

deps:
	@tools/install-deps.sh

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(call pc_cflags,$(PKG_SERVER) $(PKG_AGENT) $(PKG_CHECK)) -c $< -o $@

$(BUILD)/gen/migrations_sql.c: $(MIGRATIONS) tools/embed-sql.sh
	@mkdir -p $(dir $@)
	tools/embed-sql.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(ALL_CFLAGS) -Ibootstrap-server/src -c $< -o $@

$(COMMON_LIB): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(SERVER_LIB): $(filter-out %/main.o,$(SERVER_OBJ))
	rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/bootstrap-server: $(SERVER_OBJ) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,$(PKG_SERVER))

$(GOSSIP_LIB): $(GOSSIP_OBJ)
	rm -f $@
	ar rcs $@ $^

$(AGENT_LIB): $(AGENT_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/peer-agent: $(BUILD)/peer-agent/src/main.o $(AGENT_LIB) $(GOSSIP_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,$(PKG_AGENT)) $(LIBS_AGENT_EXTRA)

# Tools may use the agent's modules (load generators, test drivers, the simulator).
$(BUILD)/bin/%: $(BUILD)/tools/%.o $(AGENT_LIB) $(GOSSIP_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,$(PKG_AGENT)) $(LIBS_AGENT_EXTRA)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(AGENT_LIB) $(GOSSIP_LIB) $(SERVER_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,$(PKG_SERVER) $(PKG_AGENT) $(PKG_CHECK)) \
		$(LIBS_AGENT_EXTRA)

$(BUILD)/tests/e2e/%: $(BUILD)/tests/e2e/drivers/%.o $(AGENT_LIB) $(GOSSIP_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,$(PKG_AGENT)) $(LIBS_AGENT_EXTRA)

# Unit suites: each prints Check's summary line; all run even when one fails.
unit: $(UNIT_BIN)
	@rc=0; for t in $(UNIT_BIN); do \
		echo "== $$t"; $$t || rc=1; \
	done; exit $$rc

proto: all
	@tests/proto/run.sh $(BUILD)

e2e: all
	@tests/e2e/run.sh $(BUILD)

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) proto
	$(MAKE) e2e

# No fork under ASan, so LeakSanitizer sees every test's allocations in one process.
asan: deps
	CK_FORK=no $(MAKE) BUILD=build/asan CC=clang CFLAGS='-O1 -g -fno-omit-frame-pointer' \
		SAN='-fsanitize=address,undefined -fno-sanitize-recover=all' unit

bench: all
	@tools/bench.sh $(BUILD)

run: all
	@tools/run-demo.sh $(BUILD)

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/fb
	install -m 0755 $(BUILD)/bin/bootstrap-server $(BUILD)/bin/peer-agent $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(COMMON_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 common/include/fb/*.h $(DESTDIR)$(PREFIX)/include/fb/

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
