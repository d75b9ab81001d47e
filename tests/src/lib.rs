//! Support library for the end-to-end tests in `tests/tests/*.rs`.
//!
//! Everything here talks to real processes and real sockets on 127.0.0.1,
//! always on ports chosen by the kernel (`127.0.0.1:0`), never fixed ones.
//!
//! # Layout
//!
//! - [`git_server`]: a real git smart-HTTP server (`git http-backend` as CGI
//!   behind hyper), optionally token-protected or over HTTPS with a test CA
//!   ([`TestCa`]), recording every request.
//! - [`repos`]: bare upstream repositories built with the `git` CLI, plus
//!   later commits to them.
//! - [`git_cli`]: a `git` command isolated from the user's config, prompts
//!   and proxies; used by [`repos`] and by tests that clone or fetch.
//! - [`raw_http`]: exact-bytes HTTP/1.1 requests over a `TcpStream`, for
//!   paths a URL library would normalise.
//! - [`procs`]: Linux `/proc` helpers (over [`dcs_os::proc`]): find processes by
//!   environment entry or parent, read command lines, liveness, polling with a deadline.
//! - [`fixture`]: the common scene: git server + `acme/hello` + proxy.
//! - [`proxy`]: a real `dcs-proxy` process: start, SIGTERM, SIGKILL, its launchers.
//! - [`bins`]: locate the workspace binaries (`dcs-proxy`, `dcs-launcher`).
//! - [`browser`]: headless Chromium through the playwright-core scripts in `tests/browser/`;
//!   [`browser::required`] and [`browser::missing`] fail a test whose prerequisite is
//!   missing, naming the make target that installs it (nothing is ever skipped).
//! - [`ide_support`]: code-server from `make ide-deps`, screenshots, the IDE's pid.
//! - [`outpost`]: a stand-in Authentik outpost (+ fake IdP) for `--auth authentik`.
//! - [`api`]: management API helpers: JSON calls, waiting for an instance, a
//!   request-head echo app.
//! - [`workspace_echo`]: that echo run inside a workspace (through its terminal), for
//!   previews of sandboxed workspaces, which reach only the workspace's own processes.
//! - [`jwt`]: real and forged `X-authentik-jwt` tokens for `--auth trusted-headers`.
//! - [`rootfs`]: the generated Knative workspace container run under bubblewrap in
//!   Debian-built root filesystems (`make rootfs`), as uid 1000 without capabilities.

pub mod api;
pub mod bins;
pub mod browser;
pub mod fixture;
pub mod git_cli;
pub mod git_server;
pub mod ide_support;
pub mod jwt;
pub mod outpost;
pub mod procs;
pub mod proxy;
pub mod raw_http;
pub mod repos;
pub mod rootfs;
pub mod workspace_echo;

pub use bins::{bin_dir, bin_path};
pub use fixture::{client, location, navigation, Fixture, README};
pub use git_cli::{git_command, run_git};
pub use git_server::{GitServer, GitServerBuilder, RecordedRequest, TestCa};
pub use jwt::JwtIssuer;
pub use outpost::{FakeOutpost, FakeUser};
pub use procs::{cmdline, is_alive, processes_with_env, wait_until};
pub use proxy::{metric, Proxy, ProxyBuilder};
pub use raw_http::{raw_get, raw_request, RawResponse};
pub use repos::UpstreamRepo;
