# The Rust toolchain, installed when missing: rustup-init $(RUSTUP_VERSION) from
# static.rust-lang.org, checked against its pinned SHA-256, then the toolchain
# $(RUST_TOOLCHAIN) (minimal profile with rustfmt and clippy) into $(CARGO_HOME).
# An existing toolchain is left as it is (rust-version in Cargo.toml names the
# oldest that builds this workspace); one without rustfmt or clippy gets them.

RUSTUP_VERSION := 1.29.0
RUSTUP_SHA256 := 4acc9acc76d5079515b46346a485974457b5a79893cfb01112423c89aeb5aa10
RUST_TOOLCHAIN ?= 1.95.0
CARGO_HOME ?= $(HOME)/.cargo
# Cargo installed by this target (or by rustup before) is found without a new shell.
export PATH := $(CARGO_HOME)/bin:$(PATH)

.PHONY: rust

## rust: the Rust toolchain with rustfmt and clippy (rustup, when cargo is missing)
rust: apt-deps
	@[ "$$(uname -m)" = x86_64 ] || { echo "this project builds and tests on x86_64 Linux only (Node, code-server and the static launcher are fetched for it); this machine is $$(uname -m)"; exit 1; }
	@if ! command -v $(CARGO) >/dev/null; then \
	  set -e; tmp=$$(mktemp -d); \
	  echo "installing Rust $(RUST_TOOLCHAIN) with rustup $(RUSTUP_VERSION) into $(CARGO_HOME)"; \
	  curl --proto '=https' --tlsv1.2 -sSfL -o "$$tmp/rustup-init" \
	    https://static.rust-lang.org/rustup/archive/$(RUSTUP_VERSION)/x86_64-unknown-linux-gnu/rustup-init; \
	  echo "$(RUSTUP_SHA256)  $$tmp/rustup-init" | sha256sum -c --quiet; \
	  chmod +x "$$tmp/rustup-init"; \
	  "$$tmp/rustup-init" -y --no-modify-path --profile minimal \
	    --default-toolchain $(RUST_TOOLCHAIN) -c rustfmt -c clippy; \
	  rm -rf "$$tmp"; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "cargo is still not on PATH after installing Rust into $(CARGO_HOME)"; exit 1; }
	@if ! { command -v rustfmt && command -v cargo-clippy; } >/dev/null; then \
	  command -v rustup >/dev/null || { echo "rustfmt or clippy is missing and there is no rustup to add them: install them with the toolchain's own installer"; exit 1; }; \
	  rustup component add rustfmt clippy; \
	fi
