# devcontainer-serverless — the two commands of the README, and their helpers.
#
#   make run           build, then serve http://127.0.0.1:8080/ and /github/<owner>/<repo>/ (local mode)
#   make test          install what the tests need, lint, then run every test to the end
#                      (past failing binaries); the output is kept in
#                      target/test-logs/<time>.log and ends with one summary of every
#                      failure; a missing prerequisite fails, naming the target to run
#   make test-stress   the suites STRESS_RUNS (4) times in parallel, STRESS_ROUNDS (1)
#                      rounds, under a CPU hog on every core; STRESS_ARGS go to
#                      `cargo test` (default the whole workspace), e.g.
#                      make test-stress STRESS_ARGS="-p dcs-launcher --lib supervise"
#
# What `make test` installs: deps (apt: git, python3, build tools; Rust with rustup
# when cargo is missing), ide-deps (Node 24, code-server, Chromium, playwright-core),
# static-launcher, api-fuzz-deps (schemathesis in .cache/venv), rootfs (Debian and
# musl root filesystems with mmdebstrap in .cache/rootfs). Test runs live in mk/test.mk, the IDE and API prerequisites in
# mk/ide.mk and mk/api.mk.
#
# Each target installs what it needs itself (apt packages, the Rust toolchain with
# rustup when cargo is missing: mk/rust.mk); nothing installed by hand is assumed.

SHELL := /bin/bash
CARGO ?= cargo
# Under CI (a fresh clone, built once) incremental compilation only costs: ~6 GB of
# target/ on a shared disk, and time. Developers' runs keep it.
ifneq ($(CI),)
export CARGO_INCREMENTAL ?= 0
endif
LISTEN ?= 127.0.0.1:8080
# Workspaces live outside .cache/: `make clean` removes .cache, and the IDE installed
# there is bound into every sandbox (the proxy refuses a data dir inside it).
DATA_DIR ?= $(CURDIR)/.data
GIT_BASE ?= https://github.com
IDLE_TIMEOUT ?= 30m
RUN_ARGS ?=
# The IDE `make run` serves: code-server (installed from the npm registry into
# .cache/ on first run) or none (the headless file manager and terminal).
IDE ?= code-server
# Port previews on hosts of their own (<port>-<workspace>.localhost:<port>; browsers
# resolve *.localhost to loopback), so apps get an origin of their own (cookies,
# service workers, hot reload). Empty: sandboxed previews under the workspace's path.
PREVIEW_DOMAIN ?= localhost
# python3: the fake IDEs of the launcher's tests and code-server's node-gyp;
# util-linux (unshare) and coreutils (chroot): the static launcher's empty-root test;
# bubblewrap: the sandbox of local workspaces when several users share the machine
# (and with --sandbox), and its tests.
APT_PACKAGES := curl git pkg-config libssl-dev ca-certificates openssl build-essential python3 \
  util-linux coreutils bubblewrap

.PHONY: run deps apt-deps build lint fmt unit e2e bench fuzz clean

# Plain `make` is the README's first command (mk/*.mk below define targets too).
.DEFAULT_GOAL := run

# Kubernetes targets (deploy, undeploy, images, e2e-k8s) live in their own file.
-include mk/*.mk

## deps: system packages and the Rust toolchain needed to build and test (installed
## only when missing; see mk/rust.mk)
deps: apt-deps rust

apt-deps:
	@bash mk/apt-install.sh $(APT_PACKAGES)

## build: debug binaries for dcs-proxy and dcs-launcher
build: deps
	$(CARGO) build --bins

## run: the proxy in local mode, ready to open a repository
run: build $(if $(filter code-server,$(IDE)),ide-apt node24 code-server)
	@mkdir -p "$(DATA_DIR)"
	@echo "data dir: $(DATA_DIR)   git base: $(GIT_BASE)   IDE: $(IDE)   (override: make run IDE=none GIT_BASE=... LISTEN=...)"
	$(CARGO) run -q --bin dcs-proxy -- serve --runtime local --auth none \
	  --listen $(LISTEN) --data-dir "$(DATA_DIR)" --git-base $(GIT_BASE) \
	  --idle-timeout $(IDLE_TIMEOUT) --ide $(IDE) \
	  $(if $(PREVIEW_DOMAIN),--preview-domain $(PREVIEW_DOMAIN)) \
	  $(if $(filter code-server,$(IDE)),--ide-bin $(DCS_TEST_CODE_SERVER)) $(RUN_ARGS)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

unit: deps
	$(CARGO) test --workspace --lib

e2e: build
	$(CARGO) test -p dcs-e2e

## fuzz: every cargo-fuzz target for FUZZ_SECONDS each (results: docs/security.md)
FUZZ_SECONDS ?= 60
fuzz: deps
	bash fuzz/run.sh $(FUZZ_SECONDS)

# bench: the side-by-side benchmark, in mk/bench.mk (see docs/benchmarks.md).

clean:
	$(CARGO) clean
	rm -rf .cache
