# Flashback peer discovery - build, test and run.
# GNU make; every library through pkg-config. Objects in $(BUILD), binaries in $(BUILD)/bin.

CC ?= cc
BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
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
# common's headers come after a room's poisoned ones (see the rooms below).
INC_COMMON = -Icommon/include
# -pthread: the torrent hasher's threads (and the server's sweeper).
ALL_CFLAGS = -std=gnu11 -pthread $(CPPFLAGS) $(CFLAGS) $(WARN) $(SAN) -MMD -MP \
	-DFB_VERSION='"$(VERSION)"'
ALL_LDFLAGS = -pthread $(LDFLAGS) $(SAN)

COMMON_SRC = $(wildcard common/src/*.c)
COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o)
COMMON_LIB = $(BUILD)/libflashback-common.a

SERVER_SRC = $(wildcard bootstrap-server/src/*.c)
SERVER_OBJ = $(SERVER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations_sql.o
# Everything but main, so unit tests can link the server's modules.
SERVER_LIB = $(BUILD)/libbootstrap-server.a
MIGRATIONS = $(sort $(wildcard bootstrap-server/migrations/*.sql))

# The agent in layers (docs/architecture.md): one folder a layer, each compiled
# with only what it may use. AGENT_LAYERS lists them in link order.
AGENT_LAYERS = cli control daemon relay torrent net core
layer_src = $(wildcard peer-agent/src/$(1)/*.c)
AGENT_OBJ = $(foreach l,$(AGENT_LAYERS),$(patsubst %.c,$(BUILD)/%.o,$(call layer_src,$(l))))
# The pure core, linked unchanged into the agent and the simulator.
CORE_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(call layer_src,core))
GOSSIP_LIB = $(BUILD)/libfb-gossip.a
# The torrent room's pure modules: bytes in, decisions out, checked like the core.
TORRENT_PURE_OBJ = $(patsubst %,$(BUILD)/peer-agent/src/torrent/%.o,wire picker choke metainfo magnet)
# The rest of the agent but main, so unit tests can link its modules.
AGENT_LIB = $(BUILD)/libpeer-agent.a
AGENT_LIB_OBJ = $(filter-out %/cli/main.o $(CORE_OBJ),$(AGENT_OBJ)) $(BUILD)/gen/ui_files.o
UI_FILES = $(sort $(shell find peer-agent/ui -type f \( -name '*.html' -o -name '*.js' -o -name '*.css' \
	-o -name '*.svg' \)))
TOOL_SRC = $(wildcard tools/*.c)
TOOL_BIN = $(TOOL_SRC:tools/%.c=$(BUILD)/bin/%)

UNIT_SRC = $(wildcard tests/unit/check_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# What each room may include. A room's objects see only its own libraries'
# flags, and a folder of poisoned headers (tools/poison-headers.sh) first on
# their include path makes a forbidden include a build error with a message,
# since most Debian libraries install into /usr/include, where any flags find them.
SYS_IO = event2/ curl/ wslay/ microhttpd.h libpq-fe.h ini.h
FORBID_common = $(SYS_IO) core/ net/ torrent/ relay/ daemon/ control/ cli/
FORBID_core = $(SYS_IO) gnutls/ fb/file.h fb/random.h fb/log.h sys/socket.h netinet/ arpa/ ifaddrs.h net/ torrent/ relay/ daemon/ control/ cli/
FORBID_net = microhttpd.h libpq-fe.h ini.h core/ torrent/ relay/ daemon/ control/ cli/
FORBID_torrent = wslay/ microhttpd.h libpq-fe.h ini.h core/ relay/ daemon/ control/ cli/
FORBID_relay = curl/ wslay/ microhttpd.h libpq-fe.h ini.h core/ torrent/ daemon/ control/ cli/
FORBID_control = curl/ wslay/ gnutls/ microhttpd.h libpq-fe.h ini.h daemon/ cli/
FORBID_daemon = curl/ wslay/ gnutls/ microhttpd.h libpq-fe.h cli/
FORBID_cli = event2/ wslay/ gnutls/ microhttpd.h libpq-fe.h net/ torrent/ relay/ control/
FORBID_server = event2/ curl/ wslay/ core/ net/ torrent/ relay/ daemon/ control/ cli/
POISON = $(BUILD)/poison

FLAGS_common = $(call pc_cflags,$(PKG_COMMON))
FLAGS_core = $(call pc_cflags,jansson)
FLAGS_net = $(call pc_cflags,$(PKG_COMMON) libevent libcurl)
FLAGS_torrent = $(call pc_cflags,$(PKG_COMMON) libevent libcurl)
FLAGS_relay = $(call pc_cflags,$(PKG_COMMON) libevent)
FLAGS_control = $(call pc_cflags,$(PKG_COMMON) libevent)
FLAGS_daemon = $(call pc_cflags,$(PKG_AGENT))
FLAGS_cli = $(call pc_cflags,$(PKG_COMMON) libcurl inih)
FLAGS_server = $(call pc_cflags,$(PKG_SERVER))
INC_AGENT = -Ipeer-agent/src
INC_SERVER = -Ibootstrap-server/src

$(BUILD)/common/%.o: ROOM = common
$(BUILD)/bootstrap-server/%.o: ROOM = server
$(BUILD)/bootstrap-server/%.o: ROOM_INC = $(INC_SERVER)
$(foreach l,$(AGENT_LAYERS),$(eval $(BUILD)/peer-agent/src/$(l)/%.o: ROOM = $(l)))
$(BUILD)/peer-agent/%.o: ROOM_INC = $(INC_AGENT)
$(COMMON_OBJ): | $(POISON)/common.stamp
$(SERVER_SRC:%.c=$(BUILD)/%.o): | $(POISON)/server.stamp
$(foreach l,$(AGENT_LAYERS),$(eval \
	$(patsubst %.c,$(BUILD)/%.o,$(call layer_src,$(l))): | $(POISON)/$(l).stamp))

BINS = $(BUILD)/bin/bootstrap-server $(BUILD)/bin/peer-agent $(TOOL_BIN)
# Man pages, written once in scdoc: man/NAME.SECTION.scd -> $(BUILD)/man/NAME.SECTION.
MAN_SRC = $(wildcard man/*.scd)
MAN_OUT = $(MAN_SRC:man/%.scd=$(BUILD)/man/%)

.SECONDARY:
.PHONY: all deps test unit e2e proto asan bench run format install programs man deb clean
.DEFAULT_GOAL := all

all: $(COMMON_LIB) $(BINS) $(MAN_OUT)

# What `make install` installs, without the tools.
programs: $(COMMON_LIB) $(BUILD)/bin/bootstrap-server $(BUILD)/bin/peer-agent $(MAN_OUT)

man: $(MAN_OUT)

# NO_DEPS=1: a package build, whose build dependencies are already installed
# (debian/control) and which may not run as root.
deps:
	@$(if $(NO_DEPS),:,tools/install-deps.sh)

$(BUILD)/man/%: man/%.scd | deps
	@mkdir -p $(dir $@)
	scdoc <$< >$@.tmp && mv $@.tmp $@

$(POISON)/%.stamp: tools/poison-headers.sh Makefile | deps
	@mkdir -p $(POISON)
	tools/poison-headers.sh $(POISON)/$* $* $(FORBID_$*)
	@touch $@

# Rooms' objects: only their own flags and poisoned headers.
$(COMMON_OBJ) $(SERVER_SRC:%.c=$(BUILD)/%.o) $(AGENT_OBJ): $(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -I$(POISON)/$(ROOM) $(INC_COMMON) $(ROOM_INC) $(FLAGS_$(ROOM)) -c $< -o $@

# The compile command of a room (ROOM=core ...), for tests of the layer rules.
room-cc-%: | deps
	@$(MAKE) --no-print-directory $(POISON)/$*.stamp >/dev/null
	@echo $(CC) $(filter-out -DFB_VERSION% -MMD -MP,$(ALL_CFLAGS)) -I$(POISON)/$* $(INC_COMMON) $(if $(filter server,$*),$(INC_SERVER),$(INC_AGENT)) $(FLAGS_$*)

# Tests and tools may use every module, through its headers.
TEST_TOOL_FLAGS = -Itests/fuzz $(INC_COMMON) $(INC_AGENT) $(INC_SERVER) $(call pc_cflags,$(PKG_SERVER) $(PKG_AGENT) $(PKG_CHECK))
$(BUILD)/tests/%.o: tests/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_TOOL_FLAGS) -c $< -o $@

$(BUILD)/tools/%.o: tools/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_TOOL_FLAGS) -c $< -o $@

$(BUILD)/gen/migrations_sql.c: $(MIGRATIONS) tools/embed-files.sh
	@mkdir -p $(dir $@)
	tools/embed-files.sh migrations.h bs_migrations bootstrap-server/migrations $(MIGRATIONS) \
		> $@.tmp && mv $@.tmp $@

# The agent's web page (peer-agent/ui/), served by the control API (control/ui.c).
$(BUILD)/gen/ui_files.c: $(UI_FILES) tools/embed-files.sh
	@mkdir -p $(dir $@)
	tools/embed-files.sh control/ui.h ctl_ui_files peer-agent/ui $(UI_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c | deps
	$(CC) $(ALL_CFLAGS) $(INC_COMMON) $(INC_SERVER) $(INC_AGENT) -c $< -o $@

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

$(GOSSIP_LIB): $(CORE_OBJ) tools/check-pure.sh
	tools/check-pure.sh $(CORE_OBJ)
	rm -f $@
	ar rcs $@ $(CORE_OBJ)

$(AGENT_LIB): $(AGENT_LIB_OBJ) tools/check-pure.sh
	tools/check-pure.sh $(TORRENT_PURE_OBJ)
	rm -f $@
	ar rcs $@ $(AGENT_LIB_OBJ)

$(BUILD)/bin/peer-agent: $(BUILD)/peer-agent/src/cli/main.o $(AGENT_LIB) $(GOSSIP_LIB) $(COMMON_LIB)
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
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_TEST_SECONDS)
	$(MAKE) proto
	$(MAKE) e2e

# No fork under ASan, so LeakSanitizer sees every test's allocations in one process.
asan: deps
	CK_FORK=no $(MAKE) BUILD=build/asan CC=clang CFLAGS='-O1 -g -fno-omit-frame-pointer' \
		SAN='-fsanitize=address,undefined -fno-sanitize-recover=all' unit

# libFuzzer harnesses (clang, ASan+UBSan), one per parser of network or file
# bytes: tests/fuzz/fuzz_<name>.c, linked with the modules in FUZZ_MODS_<name>
# and common/, all built with the fuzzer's instrumentation. Each runs for
# FUZZ_SECONDS from its seeds (tests/fuzz/corpus/<name>/ and the tests/proto
# folders in FUZZ_SEEDS_<name>), growing a scratch corpus under $(BUILD)/fuzz
# that the next run throws away; a crash, leak, timeout or going over the
# memory bound fails it (tools/fuzz-run.sh). MAX_LEN: a little over the cap
# the parser enforces, so the cap itself is tried.
FUZZ_SECONDS ?= 60
# `make test` runs each only for a few seconds: enough to keep them building and clean.
FUZZ_TEST_SECONDS ?= 4
FUZZ_HARNESSES = upgrade envelope bodies websocket peers_json agent_ini engine bencode tracker \
	httpd wire jscan
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -std=gnu11 -O1 -g -fno-omit-frame-pointer $(WARN) $(FUZZ_SAN) -MMD -MP
FUZZ_OBJ = $(BUILD)/fuzz/obj
FUZZ_COMMON_OBJ = $(COMMON_SRC:%.c=$(FUZZ_OBJ)/%.o)
FUZZ_MODS_upgrade = peer-agent/src/net/upgrade.c
FUZZ_MODS_websocket = peer-agent/src/net/websocket.c
FUZZ_MODS_peers_json = peer-agent/src/daemon/store.c $(call layer_src,core)
FUZZ_MODS_agent_ini = peer-agent/src/daemon/config.c peer-agent/src/daemon/home.c
FUZZ_MODS_engine = $(call layer_src,core)
FUZZ_MODS_bencode = peer-agent/src/torrent/metainfo.c peer-agent/src/torrent/magnet.c
FUZZ_MODS_wire = peer-agent/src/torrent/wire.c
FUZZ_MODS_tracker = peer-agent/src/torrent/tracker.c peer-agent/src/net/httpclient.c
FUZZ_MODS_httpd = peer-agent/src/torrent/httpd_parse.c peer-agent/src/torrent/httpd_tracker.c
FUZZ_SEEDS_envelope = tests/proto/valid/envelope tests/proto/invalid/envelope \
	tests/proto/valid/signed-record tests/proto/invalid/signed-record
FUZZ_SEEDS_bodies = $(foreach d,valid invalid,$(addprefix tests/proto/$(d)/,register-request \
	feedback-request bootstrap-peer-list whitelist-entry torrent-add-request torrent-status \
	torrent-status-list torrent-created relay-status))
FUZZ_SEEDS_engine = tests/proto/valid/envelope
FUZZ_SEEDS_jscan = tests/proto/valid/envelope tests/proto/invalid/envelope
# libFuzzer dictionaries: the JSON field names, agent.ini's keys.
FUZZ_DICT_envelope = tests/fuzz/json.dict
FUZZ_DICT_bodies = tests/fuzz/json.dict
FUZZ_DICT_peers_json = tests/fuzz/json.dict
FUZZ_DICT_engine = tests/fuzz/json.dict
FUZZ_DICT_jscan = tests/fuzz/json.dict
FUZZ_DICT_agent_ini = tests/fuzz/agent_ini.dict
FUZZ_DICT_bencode = tests/fuzz/bencode.dict
FUZZ_MAX_LEN_upgrade = 8200
FUZZ_MAX_LEN_envelope = 262200
FUZZ_MAX_LEN_bodies = 65600
FUZZ_MAX_LEN_websocket = 65536
FUZZ_MAX_LEN_peers_json = 1048576
FUZZ_MAX_LEN_agent_ini = 65600
FUZZ_MAX_LEN_engine = 262200
FUZZ_MAX_LEN_jscan = 262200
# the harness caps a document at 64 KiB (the real caps, 8 and 16 MiB, are too large to fuzz)
FUZZ_MAX_LEN_bencode = 65600
FUZZ_MAX_LEN_tracker = 262200
FUZZ_MAX_LEN_wire = 140000
FUZZ_MAX_LEN_httpd = 8300
.PHONY: fuzz $(FUZZ_HARNESSES:%=fuzz-%)

fuzz: $(FUZZ_HARNESSES:%=fuzz-%)

$(FUZZ_HARNESSES:%=fuzz-%): fuzz-%: $(BUILD)/fuzz/fuzz_%
	@FUZZ_DICT=$(FUZZ_DICT_$*) tools/fuzz-run.sh $(BUILD) $* $(FUZZ_SECONDS) $(FUZZ_MAX_LEN_$*) \
		tests/fuzz/corpus/$* $(FUZZ_SEEDS_$*)

$(FUZZ_OBJ)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(TEST_TOOL_FLAGS) -c $< -o $@

$(foreach h,$(FUZZ_HARNESSES),$(eval \
	$(BUILD)/fuzz/fuzz_$(h): $(FUZZ_MODS_$(h):%.c=$(FUZZ_OBJ)/%.o)))
$(BUILD)/fuzz/fuzz_%: $(FUZZ_OBJ)/tests/fuzz/fuzz_%.o $(FUZZ_COMMON_OBJ)
	clang $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(call pc_libs,$(PKG_AGENT)) \
		$(LIBS_AGENT_EXTRA)

bench: all
	@tools/bench.sh $(BUILD)

run: all
	@tools/run-demo.sh $(BUILD)

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')

install: programs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/fb \
		$(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(BUILD)/bin/bootstrap-server $(BUILD)/bin/peer-agent $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(COMMON_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 common/include/fb/*.h $(DESTDIR)$(PREFIX)/include/fb/
	for m in $(MAN_OUT); do \
		install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} || exit 1; \
	done
	install -m 0644 peer-agent/completion/peer-agent.bash $(DESTDIR)$(BASHCOMPDIR)/peer-agent

# The Debian packages (debian/), built from a copy of the tree's files under
# $(DEB_DIR) so that the tree stays clean; the .debs land in $(DEB_DIR).
DEB_DIR ?= $(BUILD)/deb
DEB_JOBS ?= 2
deb: | deps
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	git ls-files -z --cached --others --exclude-standard | \
		xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh | \
		tar --null -T - -cf - | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc -j$(DEB_JOBS)
	cd $(DEB_DIR) && ls *.deb

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
