# dcs-launcher: built fully static (glibc +crt-static, static OpenSSL and zlib,
# vendored libgit2) so it runs in any workspace base image. The image only carries
# it for the workspace's init container, which copies it with `cp` into an
# emptyDir: hence busybox (static) as the base, running as the non-root user 65532.
# Build from the repository root (or: make images):
#   docker build -f docker/launcher.Dockerfile -t dcs-launcher:0.1.0 .
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
ARG LAUNCHER_FEATURES=""
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pkg-config libssl-dev file \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV OPENSSL_STATIC=1 LIBZ_SYS_STATIC=1 RUSTFLAGS="-C target-feature=+crt-static"
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked -p dcs-launcher --bin dcs-launcher \
      --target x86_64-unknown-linux-gnu ${LAUNCHER_FEATURES:+--features $LAUNCHER_FEATURES} \
 && cp target/x86_64-unknown-linux-gnu/dist/dcs-launcher /dcs-launcher \
 && file /dcs-launcher | tee /dev/stderr | grep -Eq 'statically linked|static-pie linked' \
 && /dcs-launcher --version

FROM busybox:1.37-musl
COPY --from=build --chmod=0755 /dcs-launcher /usr/local/bin/dcs-launcher
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/dcs-launcher"]
CMD ["--help"]
