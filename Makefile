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
CFLAGS	+= $(CSTD) $(WARN) $(OPT) $(SANFLAGS) -iquote engine -iquote certs
LDFLAGS	+= $(SANFLAGS)
CRYPTO	 = -lmbedtls -lmbedx509 -lmbedcrypto
LIBS	 = $(CRYPTO) -levent_core -levent_extra -levent_pthreads -lsqlite3 -linih \
	   -lpthread -lm

# The pricing library and its tariff: pure, shared by every binary.
LIB_SRC	 = engine/csv.c engine/strtab.c engine/parse.c engine/tz.c \
	   engine/diag.c engine/tariff.c engine/tariff-load.c \
	   engine/price.c engine/price-caps.c engine/price-window.c engine/tap.c engine/buf.c \
	   engine/tapset.c engine/explain.c certs/certs.c engine/tls.c \
	   engine/wire.c engine/journal.c engine/ledger.c engine/deny.c \
	   engine/settle.c engine/faultvfs.c
FE_SRC	 = engine/main.c engine/cmd-tariff.c engine/cmd-price.c \
	   engine/cmd-certs.c engine/cmd-serve.c engine/server.c \
	   engine/cmd-audit.c engine/cmd-deny.c

SIM_SRC	 = terminal-sim/main.c terminal-sim/replay.c terminal-sim/load.c \
	   terminal-sim/idle.c terminal-sim/acquirer.c terminal-sim/day.c

LIB_OBJ	 = $(LIB_SRC:%.c=$(BUILD)/%.o)
SIM_OBJ	 = $(SIM_SRC:%.c=$(BUILD)/%.o)
FE_OBJ	 = $(FE_SRC:%.c=$(BUILD)/%.o)

TESTS	 = test_csv test_parse test_tariff test_feeds test_window test_price test_props test_tls \
	   test_engine
TEST_BIN = $(TESTS:%=$(BIN)/%)

.PHONY: all deps test test-run demo bench fuzz soak clean contract
all: $(BIN)/fare-engine $(BIN)/terminal-sim

$(BIN)/terminal-sim: $(SIM_OBJ) $(BUILD)/libonecity.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

deps:
	@sh tools/deps.sh

$(BUILD)/%.o: %.c $(wildcard engine/*.h certs/*.h terminal-sim/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libonecity.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/fare-engine: $(FE_OBJ) $(BUILD)/libonecity.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The same engine with SQLite write faults on demand (tests only; see
# engine/faultvfs.c): its faultvfs object comes before the library's.
$(BUILD)/engine/faultvfs-on.o: engine/faultvfs.c engine/faultvfs.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DONECITY_FAULTS -c -o $@ $<

$(BIN)/fare-engine-faults: $(FE_OBJ) $(BUILD)/engine/faultvfs-on.o \
    $(BUILD)/libonecity.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BIN)/test_%: $(BUILD)/tests/test_%.o $(BUILD)/libonecity.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS)

$(BUILD)/tests/%.o: tests/%.c $(wildcard engine/*.h) tests/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -iquote tests -iquote certs -c -o $@ $<

# `make test`: installs what is missing, builds, runs every test.
test: deps
	@$(MAKE) --no-print-directory test-run

test-run: $(BIN)/fare-engine $(BIN)/fare-engine-faults $(BIN)/terminal-sim \
    $(BIN)/gen-taps $(TEST_BIN)
	@sh tests/run.sh $(BIN)

# The main job.  Until the engine service lands it prices the sample day.
demo: deps
	@$(MAKE) --no-print-directory $(BIN)/fare-engine $(BIN)/terminal-sim \
	    $(BIN)/gen-taps
	@sh tools/demo.sh $(BIN)

bench: deps
	@$(MAKE) --no-print-directory $(BIN)/fare-engine $(BIN)/terminal-sim \
	    $(BIN)/gen-taps $(BIN)/gen-tariff $(BIN)/floor
	@sh bench/run.sh $(BIN)

$(BIN)/floor: bench/floor.c
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lsqlite3

$(BIN)/gen-%: bench/gen-%.c $(BUILD)/libonecity.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# The long versions: 20 kill -9 under a bigger load.
soak: deps
	@$(MAKE) --no-print-directory $(BIN)/fare-engine $(BIN)/terminal-sim \
	    $(BIN)/gen-taps
	@KILLS=20 ACCOUNTS=40000 sh tests/crash.test.sh $(BIN)

# libFuzzer harnesses (clang): FUZZ_SECONDS each, default 60.
fuzz: deps
	@sh fuzz/run.sh

contract: $(BIN)/fare-engine
	../shared/tools/check-contract.sh

clean:
	rm -rf build build-san build-fuzz bin bin-san

.SECONDARY:
