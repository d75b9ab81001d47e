# Test runs that tell the truth (see the README's quick start).
#
#   make test          every suite to the end, past failing test binaries; the output
#                      goes to target/test-logs/<time>.log and ends with ONE summary of
#                      every failure (mk/test-summary.sh); non-zero exit on any failure
#   make test-stress   the suites STRESS_RUNS times in parallel (default 4), STRESS_ROUNDS
#                      rounds (default 1), with a CPU hog on every core; STRESS_ARGS are
#                      passed to `cargo test` (default: the whole workspace), e.g.
#                      make test-stress STRESS_ARGS="-p dcs-launcher --lib supervise" STRESS_RUNS=8
#
# Variables: TEST_ARGS (more `cargo test` arguments for `make test`), TEST_TIMEOUT (a
# hang guard for one run, default 45m). A missing prerequisite (code-server, Chromium,
# schemathesis, the static launcher, user namespaces) fails its test, naming the make
# target that installs it; nothing is skipped.

TEST_LOG_DIR := $(CURDIR)/target/test-logs
TEST_ARGS ?=
TEST_TIMEOUT ?= 45m
STRESS_RUNS ?= 4
STRESS_ROUNDS ?= 1
STRESS_ARGS ?= --workspace --all-targets
# Everything a test needs (the lints run first in `make test` only).
TEST_PREREQUISITES := deps build ide-deps static-launcher api-fuzz-deps rootfs

.PHONY: test test-stress

## test: formatting, lints, then every test (unit and end-to-end) with one summary
test: deps lint $(TEST_PREREQUISITES)
	@CARGO="$(CARGO)" TEST_TIMEOUT="$(TEST_TIMEOUT)" bash mk/test-run.sh \
	  "$(TEST_LOG_DIR)/$$(date +%Y%m%d-%H%M%S).log" "make test" \
	  --workspace --all-targets $(TEST_ARGS)

## test-stress: the suites STRESS_RUNS times at once under a CPU hog (see above)
test-stress: $(TEST_PREREQUISITES)
	@CARGO="$(CARGO)" TEST_TIMEOUT="$(TEST_TIMEOUT)" STRESS_RUNS="$(STRESS_RUNS)" \
	  STRESS_ROUNDS="$(STRESS_ROUNDS)" STRESS_ARGS="$(STRESS_ARGS)" bash mk/test-stress.sh
