# wafersim build.
#   make                 build ./wafersim
#   make deps            install the Debian packages the build needs (apt-get; nothing if present)
#   make test            build and run the GoogleTest suites; ends with "N passed, N failed"
#   make regress         rerun every baseline in tests/expected/ (one full wafer: minutes) and compare
#   make run             the main job on the embedded default configuration
#   make fuzz            libFuzzer (clang) on every input surface, FUZZ_SECONDS each, after a
#                        replay of the corpus (tests/fuzz/); make deps installs clang for it
#   make bench           benchmarks: engine (PHOLD, systolic mesh, bare queue), SimGrid pairs, masks,
#                        wafersim run end to end (BENCH_SECTIONS, REPS; the e2e part takes an hour)
#   make bench-e2e       only the end-to-end part: cost against PEs and micro-batches, log-log slopes
#                        (BENCH_E2E=quick: GPT-3 125M, about a minute with REPS=1)
#   make SANITIZE=address,undefined [test]   the same targets with sanitizers (in build-san/)
#   make MPI=auto|1|0    sweeps over the ranks of an MPI job (mpirun -n N ./wafersim sweep ...): auto (the
#                        default) builds it when OpenMPI is found (pkg-config ompi-c), 1 requires it, 0 leaves
#                        it out (a sweep under mpirun with more than one rank is then refused)
#   make clean

SANITIZE ?=
BUILD := build$(if $(SANITIZE),-san)
BIN := $(if $(SANITIZE),$(BUILD)/wafersim,wafersim)

DEB_PKGS := libyaml-dev libjansson-dev libsimgrid-dev libgtest-dev gnuplot-nox g++ pkg-config \
  clang libclang-rt-dev libopenmpi-dev openmpi-bin
PKGS := yaml-0.1 jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(or $(shell pkg-config --libs $(PKGS) 2>/dev/null),-lyaml -ljansson)

# MPI (sim/sweep_mpi.c, the only file that includes mpi.h): see the top.
MPI ?= auto
MPI_FOUND := $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1)
ifeq ($(MPI),auto)
  MPI_ON := $(MPI_FOUND)
else ifeq ($(MPI),1)
  MPI_ON := 1
  ifeq ($(MPI_FOUND),)
    ifeq ($(filter deps clean,$(MAKECMDGOALS)),)
      $(error MPI=1: OpenMPI not found (pkg-config ompi-c); run make deps, or build with MPI=0)
    endif
  endif
else ifeq ($(MPI),0)
  MPI_ON :=
else
  $(error MPI=$(MPI): expected auto, 1 or 0)
endif
# OpenMPI's headers as system headers: the warnings are ours only.
MPI_CFLAGS := $(if $(MPI_ON),-DWS_MPI=1 $(patsubst -I%,-isystem %,$(shell pkg-config --cflags ompi-c)))
PKG_LIBS += $(if $(MPI_ON),$(shell pkg-config --libs ompi-c))
# SimGrid (sim/system/) last: libsimgrid also defines the MPI functions (its SMPI), and the first library that
# defines a symbol is the one the binary calls; OpenMPI's must be found first.
PKG_LIBS += -lsimgrid

WARN := -Wall -Wextra -Werror -Wshadow
# Mask queries count bits; without this x86-64 calls a library popcount.
ARCH := $(if $(filter x86_64,$(shell uname -m)),-mpopcnt)
SAN := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer)
CFLAGS ?= -O2 -g
CXXFLAGS ?= -O1 -g
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -pthread $(CFLAGS) $(ARCH) $(WARN) -Wstrict-prototypes \
  -Wmissing-prototypes $(SAN) -I. $(PKG_CFLAGS) -MMD -MP
ALL_CXXFLAGS := -std=c++17 $(CXXFLAGS) $(WARN) $(SAN) -I. $(PKG_CFLAGS) \
  -DWS_SOURCE_DIR='"$(CURDIR)"' -DWS_BUILD_DIR='"$(CURDIR)/$(BUILD)"' -MMD -MP
LDFLAGS += $(SAN) -pthread

LIB_SRCS := $(wildcard models/*.c workloads/*.c fabric/*.c kernels/*.c sim/engine/*.c sim/strategy/*.c \
  sim/system/*.c) \
  $(filter-out sim/main.c,$(wildcard sim/*.c))
GEN_TEXTS := $(BUILD)/gen/default_yaml.c $(BUILD)/gen/output_schema.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(GEN_TEXTS:.c=.o)
LIB := $(BUILD)/libwafersim.a
# Benchmark models, shared by the benchmarks and the engine tests.
BENCH_MODELS := $(BUILD)/tests/bench/phold.o $(BUILD)/tests/bench/systolic.o
BENCH_BIN := $(BUILD)/bench/bench
SIMGRID_BIN := $(BUILD)/bench/systolic_simgrid
TEST_SRCS := $(wildcard tests/*.cc)
# The fuzz targets (tests/fuzz/*.c): in the test binary, which replays their corpus.
FUZZ_SRCS := $(wildcard tests/fuzz/*.c)
TEST_OBJS := $(TEST_SRCS:%.cc=$(BUILD)/%.o) $(BENCH_MODELS) $(FUZZ_SRCS:%.c=$(BUILD)/%.o)
TEST_BIN := $(BUILD)/tests/wafersim_tests

.PHONY: all deps test regress run figures fuzz fuzz-targets bench bench-e2e clean
all: $(BIN)

$(BIN): $(BUILD)/sim/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(LIB): $(LIB_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The MPI choice this build directory was last built with (rewritten only
# when it changes): sweep_mpi.o is rebuilt when it does.
ifeq ($(filter clean deps,$(MAKECMDGOALS)),)
  $(shell mkdir -p $(BUILD) && { echo '$(MPI_ON)' | cmp -s - $(BUILD)/mpi.flag || echo '$(MPI_ON)' > $(BUILD)/mpi.flag; })
endif
$(BUILD)/sim/sweep_mpi.o: ALL_CFLAGS += $(MPI_CFLAGS)
$(BUILD)/sim/sweep_mpi.o: $(BUILD)/mpi.flag

$(BUILD)/tests/%.o: tests/%.cc
	@mkdir -p $(@D)
	$(CXX) $(ALL_CXXFLAGS) -c $< -o $@

# Text files compiled in as NUL-terminated byte arrays: the default
# configuration and the output schema.
define embed
	@mkdir -p $(@D)
	{ echo '/* generated from $< by the Makefile */'; \
	  echo 'extern const char $(1)[];'; \
	  echo 'const char $(1)[] = {'; \
	  od -An -v -tx1 $< | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0x00};'; } > $@.tmp && mv $@.tmp $@
endef
$(BUILD)/gen/default_yaml.c: sim/default.yaml
	$(call embed,ws_default_yaml_text)
$(BUILD)/gen/output_schema.c: sim/output.schema.json
	$(call embed,ws_output_schema_text)

$(TEST_BIN): $(TEST_OBJS) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lgtest -lpthread -lm

$(BENCH_BIN): $(BUILD)/tests/bench/bench.o $(BENCH_MODELS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(SIMGRID_BIN): $(BUILD)/tests/bench/systolic_simgrid.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lsimgrid

# The engine tests also run the SimGrid systolic mesh (a small one) to cross-check.
test: $(TEST_BIN) $(BIN) $(SIMGRID_BIN)
	$(TEST_BIN)

# The regression points: each baseline in tests/expected/ run again from its
# own configuration and compared by `wafersim check` (make test checks all but
# the full-wafer wafer-*). After an intended change: see the README.
BASELINES := $(wildcard tests/expected/*.json)
regress: $(BIN)
	@fail=0; for b in $(BASELINES); do echo "== $$b"; ./$(BIN) check --baseline $$b || fail=1; done; exit $$fail

bench: $(BENCH_BIN) $(SIMGRID_BIN) $(BIN)
	tests/bench/run.sh $(BENCH_BIN) $(SIMGRID_BIN) ./$(BIN)

# How the cost of `wafersim run` grows (tests/bench/e2e.sh): BENCH_E2E=full
# (GPT-3 1.3B up to the whole wafer, default) or quick (125M), REPS or E2E_REPS.
bench-e2e: $(BIN)
	tests/bench/e2e.sh ./$(BIN)

# The main job: the default sweep of GPT-3 1.3B on the CS-2 preset (dense,
# the pruning schedule to 84%, 0.9, 0.95), its CSVs in $(DATA), then every
# figure. The sweep always reruns; the sensitivity sweeps only when missing.
DATA := plots/data
FIG_OUT := plots/out
SENS := --set workload.seq_len=512 --set sim.strategy=pipeline --sparsity 0.84
run: $(BIN)
	./$(BIN) sweep --out $(DATA)
	$(MAKE) --no-print-directory figures

# Sensitivity of the pipeline's speedup (0.84 against dense) to its
# micro-batch size and the per-nonzero set-up cost: a 512-token prefill keeps
# them to minutes. The pipeline by name: at 512 tokens auto would run the
# layer-by-layer strategy, which has no micro-batches.
$(DATA)/sens_batch/sweep.csv: | $(BIN)
	./$(BIN) sweep $(SENS) --vary workload.micro_batch=4,8,16 --out $(@D)
$(DATA)/sens_setup/sweep.csv: | $(BIN)
	./$(BIN) sweep $(SENS) --vary kernels.sparse_setup=0,1,2,4 --out $(@D)
$(DATA)/sweep.csv: | $(BIN)
	./$(BIN) sweep --out $(@D)
# Decode after a 1,024-token prompt, 8 new tokens, one sequence, per
# sparsity, on each strategy by name (auto would run the layer-by-layer one,
# whose model is the faster).
DECODE := --set workload.phase=decode --set workload.seq_len=1024 --set workload.new_tokens=8
$(DATA)/decode/sweep.csv: | $(BIN)
	./$(BIN) sweep $(DECODE) --set sim.strategy=layerwise --out $(@D)
$(DATA)/decode_pipeline/sweep.csv: | $(BIN)
	./$(BIN) sweep $(DECODE) --set sim.strategy=pipeline --out $(@D)
# A training step by weight streaming (GPT-3 1.3B's published batch, 512
# sequences of 2,048 tokens), per sparsity on one wafer, and on 1 to 16
# wafers dense and at 0.84: the system on SimGrid.
TRAIN := --set workload.phase=train --set sim.strategy=stream
$(DATA)/train/sweep.csv: | $(BIN)
	./$(BIN) sweep $(TRAIN) --out $(@D)
$(DATA)/train_wafers/sweep.csv: | $(BIN)
	./$(BIN) sweep $(TRAIN) --sparsity 0.84 --vary system.wafers=1,2,4,8,16 --out $(@D)

FIGURES := speedup kinds memory heatmaps sensitivity decode train train_wafers
figures: $(DATA)/sweep.csv $(DATA)/sens_batch/sweep.csv $(DATA)/sens_setup/sweep.csv $(DATA)/decode/sweep.csv \
         $(DATA)/decode_pipeline/sweep.csv $(DATA)/train/sweep.csv $(DATA)/train_wafers/sweep.csv
	@mkdir -p $(FIG_OUT)
	for f in $(FIGURES); do for fmt in png svg; do \
	  gnuplot -e "data='$(DATA)'; out='$(FIG_OUT)'; fmt='$$fmt'" plots/$$f.gp || exit 1; \
	done; done
	@echo "figures: $(FIGURES) (png, svg) in $(FIG_OUT)/"

# Coverage-guided fuzzing (libFuzzer, clang): one binary per target of
# tests/fuzz/ against the library built with clang under ASan+UBSan in
# build-fuzz/. Each replays its corpus and regression inputs, then fuzzes for
# FUZZ_SECONDS with its working corpus in build-fuzz/corpus/TARGET; a crash, a
# leak, a hang or a violated invariant stops it, the input written straight
# into tests/fuzz/regress/TARGET/ (crash-SHA1 etc.), which make test replays:
# fix the cause, keep the input.
FUZZ_TARGETS := config safetensors check cli
FUZZ_SECONDS ?= 15
FUZZ_CC ?= clang
FUZZ_BUILD := build-fuzz
FUZZ_OPTS ?= -timeout=20 -rss_limit_mb=2048 -print_final_stats=1
fuzz:
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: $(FUZZ_CC) not found; run make deps"; exit 2; }
	$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) CFLAGS='-O1 -g' MPI=0 \
	  SANITIZE=fuzzer-no-link,address,undefined fuzz-targets
	@for t in $(FUZZ_TARGETS); do \
	  log=$(FUZZ_BUILD)/$$t.log; \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t tests/fuzz/regress/$$t || exit 1; \
	  echo "== fuzz $$t: replay of tests/fuzz/corpus/$$t tests/fuzz/regress/$$t, then $(FUZZ_SECONDS) s"; \
	  if ! $(FUZZ_BUILD)/fuzz/$$t -runs=0 -artifact_prefix=$(FUZZ_BUILD)/ tests/fuzz/corpus/$$t \
	      tests/fuzz/regress/$$t >$$log 2>&1; then tail -n 40 $$log; \
	    echo "fuzz $$t: an input of tests/fuzz/corpus/$$t or tests/fuzz/regress/$$t fails (log $$log): fix the cause"; \
	    exit 1; fi; \
	  $(FUZZ_BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) $(FUZZ_OPTS) \
	    -artifact_prefix=tests/fuzz/regress/$$t/ $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t \
	    tests/fuzz/regress/$$t >>$$log 2>&1; \
	  st=$$?; grep -E '^#[0-9]+[[:space:]]+DONE|stat::(number_of_executed_units|average_exec_per_sec)' $$log; \
	  if [ $$st -ne 0 ]; then tail -n 40 $$log; \
	    echo "fuzz $$t: found a failure (log $$log); its input is now in tests/fuzz/regress/$$t/: fix the cause, commit both"; \
	    exit 1; fi; \
	done

# Built in the sub-make above (BUILD=build-fuzz, CC=clang).
fuzz-targets: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/tests/fuzz/fuzz.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DWS_FUZZ_LIBFUZZER -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(BUILD)/tests/fuzz/fuzz.o \
	  $(LIB) $(PKG_LIBS) -lm

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then echo "deps: all present ($(DEB_PKGS))"; exit 0; fi; \
	echo "deps: installing" $$missing; \
	sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	$$sudo apt-get update -q && \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing

clean:
	rm -rf build build-san build-fuzz wafersim

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BUILD)/sim/main.d $(BUILD)/tests/bench/bench.d \
  $(BUILD)/tests/bench/systolic_simgrid.d
