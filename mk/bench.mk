# The side-by-side benchmark (see docs/benchmarks.md).
#
#   make bench        the binaries that ship (`dist` profile), then dcs-bench: dcs-proxy, nginx and direct against
#                     the same workspace (HTTP load, WebSocket echo, idle WebSockets; HTTP also
#                     through dcs-bench-hyper, hyper and the proxy's upstream pool alone, for reference), wake
#                     from zero (`none`, code-server), first open against `git clone`,
#                     idle RSS; Markdown on stdout, kept in target/bench/<time>.md
#   make bench-deps   nginx, wrk and bubblewrap (the sandboxed row) from Debian, when missing
#
# BENCH_ARGS go to dcs-bench's environment, e.g. `make bench BENCH_ARGS=DCS_BENCH_QUICK=1`
# for a short run that checks the suite itself. The descriptor limit is raised for the
# run (10,000 WebSockets hold 10,000 descriptors in the bench and more in each target).

BENCH_APT_PACKAGES := nginx wrk bubblewrap
BENCH_NOFILE ?= 65536
BENCH_ARGS ?=

.PHONY: bench bench-deps

## bench-deps: nginx and the load generator (wrk)
bench-deps: deps
	@bash mk/apt-install.sh $(BENCH_APT_PACKAGES)

## bench: the side-by-side suite with the binaries that ship (the `dist` profile: release
## with whole-program optimisation); dcs-bench itself is a release build
bench: bench-deps ide-apt node24 code-server
	$(CARGO) build --profile dist --bins -p dcs-proxy -p dcs-launcher
	$(CARGO) build --release -p dcs-e2e --bin dcs-bench --bin dcs-bench-hyper
	@mkdir -p target/bench
	ulimit -n $(BENCH_NOFILE) 2>/dev/null || ulimit -n $$(ulimit -Hn); \
	  out=target/bench/$$(date -u +%Y%m%d-%H%M%S).md; \
	  env DCS_BIN_DIR=$(CURDIR)/target/dist $(BENCH_ARGS) $(CURDIR)/target/release/dcs-bench | tee $$out; \
	  status=$${PIPESTATUS[0]}; echo "kept in $$out"; exit $$status
