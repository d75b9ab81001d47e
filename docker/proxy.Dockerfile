# dcs-proxy: multi-stage; the runtime image is distroless (glibc, CA certificates,
# no shell) and runs as the non-root user 65532. Build from the repository root:
#   docker build -f docker/proxy.Dockerfile -t dcs-proxy:0.1.0 .   (or: make images)
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked -p dcs-proxy --bin dcs-proxy \
 && cp target/dist/dcs-proxy /dcs-proxy

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /dcs-proxy /usr/local/bin/dcs-proxy
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/dcs-proxy"]
CMD ["serve"]
