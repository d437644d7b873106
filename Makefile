# OneCity fare engine.  One plain Makefile: `make` builds bin/fare-engine,
# `make test` runs every test, `make demo` runs the main job.
# SAN=1 builds with ASan+UBSan into build-san/ and bin-san/.

CC	?= cc
CSTD	 = -std=c17 -D_GNU_SOURCE
WARN	 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wpointer-arith -Wformat=2
OPT	?= -O2 -g
ifeq ($(SAN),1)
OPT	 = -O1 -g -fno-omit-frame-pointer
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all
BUILD	 = build-san
BIN	 = bin-san
else
BUILD	 = build
BIN	 = bin
endif
CFLAGS	+= $(CSTD) $(WARN) $(OPT) $(SANFLAGS)
LDFLAGS	+= $(SANFLAGS)
CRYPTO	 = -lmbedtls -lmbedx509 -lmbedcrypto
LIBS	 = $(CRYPTO) -levent_core -levent_pthreads -lsqlite3 -linih \
	   -lnats -lpthread -lm

# Three libraries and fare-engine, one per directory; dependencies point one way
# (engine -> store -> fare, engine -> wire, terminal-sim -> wire, fare).
# Each directory compiles with the headers it may use and no others.
#
# libfare.a: the fare rules, pure (time is passed in): libc and mbedcrypto.
FARE_SRC = fare/csv.c fare/strtab.c fare/parse.c fare/tz.c fare/diag.c \
	   fare/tariff.c fare/tariff-load.c fare/price.c fare/price-caps.c \
	   fare/price-window.c fare/tap.c fare/buf.c fare/tapset.c fare/explain.c fare/opt.c \
	   fare/log.c
# libwire.a: frames, mutual TLS on libevent, addresses, certificate paths.
WIRE_SRC = wire/wire.c wire/tls.c wire/acqline.c certs/certs.c
# libstore.a: SQLite; each module owns its tables and statements.
STORE_SRC = store/store.c store/journal.c store/charges.c store/settlement.c store/ledger.c \
	   store/deny.c store/statement.c store/checkpoint.c store/tariff-version.c store/reprice.c \
	   store/reconcile.c store/moves.c
# fare-engine: the commands and the service.
FE_SRC	 = engine/main.c engine/cmd-tariff.c engine/cmd-price.c \
	   engine/cmd-certs.c engine/cmd-serve.c engine/cmd-audit.c \
	   engine/cmd-audit-card.c \
	   engine/cmd-deny.c engine/cmd-backup.c engine/server.c \
	   engine/server-http.c engine/http.c engine/metrics.c engine/writer.c \
	   engine/account-cache.c engine/harden.c engine/config.c \
	   engine/settle.c engine/cmd-audit-ledger.c engine/cmd-web.c \
	   engine/web.c engine/web-data.c engine/web-api.c engine/web-html.c \
	   engine/web-dash.c engine/web-http.c \
	   engine/jsbus.c engine/gateway.c engine/card-mirror.c engine/worker.c \
	   engine/shards.c
# The web pages' stylesheet and script, built into the engine as strings.
WEB_ASSETS = engine/web/onecity.css engine/web/dashboard.js
SIM_SRC	 = terminal-sim/main.c terminal-sim/replay.c terminal-sim/load.c \
	   terminal-sim/idle.c terminal-sim/acquirer.c terminal-sim/day.c

FARE_INC = -iquote fare
WIRE_INC = -iquote wire -iquote certs -iquote fare
STORE_INC = -iquote store -iquote fare
FE_INC	 = -iquote engine -iquote store -iquote wire -iquote certs -iquote fare
SIM_INC	 = -iquote terminal-sim -iquote wire -iquote certs -iquote fare
TEST_INC = -iquote tests $(FE_INC) -iquote terminal-sim

FARE_OBJ = $(FARE_SRC:%.c=$(BUILD)/%.o)
WIRE_OBJ = $(WIRE_SRC:%.c=$(BUILD)/%.o)
STORE_OBJ = $(STORE_SRC:%.c=$(BUILD)/%.o)
FE_OBJ	 = $(FE_SRC:%.c=$(BUILD)/%.o)
SIM_OBJ	 = $(SIM_SRC:%.c=$(BUILD)/%.o)
$(FARE_OBJ): INC = $(FARE_INC)
$(WIRE_OBJ): INC = $(WIRE_INC)
$(STORE_OBJ): INC = $(STORE_INC)
$(FE_OBJ): INC = $(FE_INC)
$(SIM_OBJ): INC = $(SIM_INC)

# `make` builds the programs (the version rules below come first).
.DEFAULT_GOAL := all

# The version /metrics reports (onecity_build_info) and --version prints:
# git's, else "unknown".
VERSION	?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
VERSIONED_OBJ = $(BUILD)/engine/metrics.o $(BUILD)/engine/main.o \
    $(BUILD)/terminal-sim/main.o
$(VERSIONED_OBJ): CFLAGS += -DONECITY_VERSION='"$(VERSION)"'
# Rebuilt when the version changes (a new commit), not only their source:
# $(BUILD)/version is rewritten (at parse time) only when it differs.
$(shell mkdir -p $(BUILD) && { echo '$(VERSION)' | cmp -s - $(BUILD)/version || \
    echo '$(VERSION)' >$(BUILD)/version; })
$(VERSIONED_OBJ): $(BUILD)/version

LIBFARE	 = $(BUILD)/libfare.a
LIBWIRE	 = $(BUILD)/libwire.a
LIBSTORE = $(BUILD)/libstore.a
FARE_LIBS = -lmbedcrypto -lm
WIRE_LIBS = $(CRYPTO) -levent_core -levent_pthreads -lpthread
STORE_LIBS = -lsqlite3 -lmbedcrypto

# Unit tests and what each links: the pure ones get libfare.a alone.
FARE_TESTS = test_csv test_parse test_tariff test_feeds test_window \
	   test_price test_props
WIRE_TESTS = test_tls test_engine test_security
STORE_TESTS = test_store
# The writer in-process: its objects, the store, the wire's clock, libevent.
WRITER_TESTS = test_writer test_card_mirror
WRITER_OBJ = $(BUILD)/engine/writer.o $(BUILD)/engine/account-cache.o \
	     $(BUILD)/engine/card-mirror.o
TESTS	 = $(FARE_TESTS) $(WIRE_TESTS) $(STORE_TESTS) $(WRITER_TESTS)
TEST_BIN = $(TESTS:%=$(BIN)/%)

.PHONY: all deps test test-run demo demo-cluster bench fuzz soak clean contract format-check \
	install man
all: $(BIN)/fare-engine $(BIN)/terminal-sim

deps:
	@sh tools/deps.sh

HDRS	 = $(wildcard fare/*.h wire/*.h store/*.h engine/*.h certs/*.h \
	   terminal-sim/*.h tests/*.h)

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) -c -o $@ $<

$(BUILD)/lib%.a:
	@rm -f $@
	ar rcs $@ $^

$(LIBFARE): $(FARE_OBJ)
$(LIBWIRE): $(WIRE_OBJ)
$(LIBSTORE): $(STORE_OBJ)

$(BUILD)/engine/web-static.c: $(WEB_ASSETS) tools/text2c.sh
	@mkdir -p $(dir $@)
	{ sh tools/text2c.sh web_css engine/web/onecity.css && \
	  sh tools/text2c.sh web_js engine/web/dashboard.js; } >$@.tmp && \
	  mv $@.tmp $@
$(BUILD)/engine/web-static.o: $(BUILD)/engine/web-static.c
	$(CC) $(CFLAGS) -c -o $@ $<
FE_OBJ	+= $(BUILD)/engine/web-static.o

$(BIN)/fare-engine: $(FE_OBJ) $(LIBSTORE) $(LIBWIRE) $(LIBFARE)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BIN)/terminal-sim: $(SIM_OBJ) $(LIBWIRE) $(LIBFARE)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The same engine with SQLite write faults on demand (tests only; see
# tests/faultvfs.c, which installs itself before main).
$(BIN)/fare-engine-faults: $(FE_OBJ) $(BUILD)/tests/faultvfs.o $(LIBSTORE) \
    $(LIBWIRE) $(LIBFARE)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The forgery tests' insider tool (tests/ledger-forge.c): tests only.
$(BIN)/ledger-forge: $(BUILD)/tests/ledger-forge.o $(LIBSTORE) $(LIBFARE)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(STORE_LIBS) $(FARE_LIBS)

$(FARE_TESTS:%=$(BIN)/%): $(BIN)/test_%: $(BUILD)/tests/test_%.o $(LIBFARE)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(FARE_LIBS)

$(WIRE_TESTS:%=$(BIN)/%): $(BIN)/test_%: $(BUILD)/tests/test_%.o $(LIBWIRE) \
    $(LIBFARE)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(WIRE_LIBS) $(FARE_LIBS)

$(STORE_TESTS:%=$(BIN)/%): $(BIN)/test_%: $(BUILD)/tests/test_%.o $(LIBSTORE) \
    $(LIBFARE)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(STORE_LIBS) $(FARE_LIBS)

$(WRITER_TESTS:%=$(BIN)/%): $(BIN)/test_%: $(BUILD)/tests/test_%.o \
    $(WRITER_OBJ) $(LIBSTORE) $(LIBWIRE) $(LIBFARE)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS)

$(BUILD)/tests/%.o: INC = $(TEST_INC)

# `make test`: installs what is missing, builds, runs every test.
test: deps
	@$(MAKE) --no-print-directory test-run

test-run: $(BIN)/fare-engine $(BIN)/fare-engine-faults $(BIN)/terminal-sim \
    $(BIN)/gen-tariff $(BIN)/floor $(BIN)/jsfloor \
    $(BIN)/gen-taps $(BIN)/ledger-forge $(TEST_BIN)
	@sh tests/run.sh $(BIN)

# The main job: the engine serves a simulated day, settles it, audits it.
demo: deps
	@$(MAKE) --no-print-directory $(BIN)/fare-engine $(BIN)/terminal-sim \
	    $(BIN)/gen-taps
	@sh tools/demo.sh $(BIN)

# The same job on the cluster deployment (3 JetStream nodes, 2 gateways,
# 2 workers on loopback).
demo-cluster: deps
	@$(MAKE) --no-print-directory $(BIN)/fare-engine $(BIN)/terminal-sim
	@DEMO_DEPLOY=cluster sh tools/demo.sh $(BIN)

bench: deps
	@$(MAKE) --no-print-directory $(BIN)/fare-engine $(BIN)/terminal-sim \
	    $(BIN)/gen-taps $(BIN)/gen-tariff $(BIN)/floor $(BIN)/jsfloor
	@sh bench/run.sh $(BIN)

$(BIN)/floor: bench/floor.c
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -iquote terminal-sim -iquote wire $(LDFLAGS) -o $@ $^ \
	    -lsqlite3

$(BIN)/jsfloor: bench/jsfloor.c
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -iquote wire $(LDFLAGS) -o $@ $^ -lnats

$(BIN)/gen-%: bench/gen-%.c $(LIBFARE)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -iquote terminal-sim -iquote fare $(LDFLAGS) -o $@ $^ \
	    $(FARE_LIBS)

# The long versions: 20 kill -9 under a bigger load.
soak: deps
	@$(MAKE) --no-print-directory $(BIN)/fare-engine $(BIN)/terminal-sim \
	    $(BIN)/gen-taps
	@KILLS=20 ACCOUNTS=40000 sh tests/crash.test.sh $(BIN)

# libFuzzer harnesses (clang): FUZZ_SECONDS each, default 60.
fuzz: deps
	@sh fuzz/run.sh

# The files that follow .clang-format (KNF-like).  The others keep their
# tab-aligned declarations and SQL text blocks, which clang-format 14
# cannot express; each joins the list once it conforms.
FORMAT_FILES = wire/clock.h wire/wire.c terminal-sim/main.c terminal-sim/rng.h \
	   fare/opt.c fare/opt.h fare/log.c fare/log.h engine/metrics.c \
	   engine/metrics.h engine/cmd-backup.c \
	   fuzz/fuzz_wire.c fuzz/fuzz_tapcsv.c

format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

# make install [PREFIX=/usr/local] [DESTDIR=]: the programs, their man
# pages (from their own --help), the systemd unit and its user, an example
# config (never over an existing one) and the sample tariff.
PREFIX	?= /usr/local
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
BINDIR	 = $(PREFIX)/bin
MANDIR	 = $(PREFIX)/share/man/man1
DATADIR	 = $(PREFIX)/share/onecity
DOCDIR	 = $(PREFIX)/share/doc/onecity
UNITDIR	?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
SUBST	 = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	   -e 's|@DATADIR@|$(DATADIR)|g'

man: $(BIN)/fare-engine $(BIN)/terminal-sim
	@sh tools/man.sh $(BIN) $(BUILD)/man

install: man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) \
	    $(DESTDIR)$(DATADIR)/tariffs/nl $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/onecity
	install -m 0755 $(BIN)/fare-engine $(BIN)/terminal-sim \
	    $(DESTDIR)$(BINDIR)/
	install -m 0644 $(BUILD)/man/fare-engine.1 \
	    $(BUILD)/man/terminal-sim.1 $(DESTDIR)$(MANDIR)/
	install -m 0644 tariffs/nl/*.txt $(DESTDIR)$(DATADIR)/tariffs/nl/
	install -m 0644 README.md docs/protocol.md $(DESTDIR)$(DOCDIR)/
	$(SUBST) dist/onecity-engine.service.in \
	    >$(DESTDIR)$(UNITDIR)/onecity-engine.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/onecity-engine.service
	install -m 0644 dist/onecity.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/onecity.conf
	$(SUBST) dist/engine.ini.in >$(DESTDIR)$(DOCDIR)/engine.ini.example
	test -e $(DESTDIR)$(SYSCONFDIR)/onecity/engine.ini || \
	    install -m 0644 $(DESTDIR)$(DOCDIR)/engine.ini.example \
	    $(DESTDIR)$(SYSCONFDIR)/onecity/engine.ini

contract: $(BIN)/fare-engine
	../shared/tools/check-contract.sh

clean:
	rm -rf build build-san build-fuzz bin bin-san

.SECONDARY:
