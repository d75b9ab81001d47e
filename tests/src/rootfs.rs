//! The workspace container as Kubernetes runs it, without Kubernetes: the container
//! of the Knative Service the proxy generates, run under bubblewrap in a root
//! filesystem of a real distribution (`make rootfs`: Debian bookworm and trixie,
//! minbase without CA certificates, and a musl/busybox root without glibc), as uid
//! 1000 with no capabilities, the static launcher (`make static-launcher`) where the
//! init container puts it.
//!
//! A missing root filesystem, bubblewrap or static launcher fails the test, naming
//! the make target that provides it; nothing is skipped.
//!
//! # Layout
//! - [`spec`]: [`ContainerSpec`](spec::ContainerSpec), the container's process as the
//!   generated Knative Service describes it (pure).
//! - [`mirror`]: a root filesystem made read-only for bubblewrap, mount paths
//!   resolved through its symbolic links.
//! - [`sandbox`]: the bubblewrap command line of a spec in a root and the running
//!   [`Container`](sandbox::Container).
//! - [`files`]: a loopback HTTPS file server (IDE release archives) counting requests.
//! - [`scene`]: one workspace of `acme/hello` in one root: an HTTPS git server signed
//!   by a test CA that the pod's extra CA Secret holds, the generated Service, its
//!   volumes; starts, readiness, stops.
//! - [`running`]: a started workspace container and the launcher requests of a test.

pub mod files;
pub mod mirror;
pub mod running;
pub mod sandbox;
pub mod scene;
pub mod spec;

use std::path::PathBuf;

use crate::browser::{missing, repo_root, required};

/// The make target that builds the root filesystems and installs bubblewrap.
pub const TARGET: &str = "rootfs";
/// The file `make rootfs` writes into a root once it is complete.
pub const STAMP: &str = ".dcs-rootfs";

/// The folder holding the root filesystems (`DCS_TEST_ROOTFS_DIR`, default
/// `.cache/rootfs`).
pub fn rootfs_dir() -> PathBuf {
    std::env::var_os("DCS_TEST_ROOTFS_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| repo_root().join(".cache/rootfs"), PathBuf::from)
}

/// The complete root filesystem `name` (`bookworm`, `trixie`, `musl`); fails the
/// test naming `make rootfs` when it is missing or unfinished.
pub fn root(name: &str) -> PathBuf {
    let dir = rootfs_dir().join(name);
    if !dir.join(STAMP).is_file() {
        missing(
            &format!("the {name} root filesystem ({})", dir.display()),
            TARGET,
        );
    }
    dir
}

/// `bwrap` on `PATH`; fails the test naming `make rootfs` without it.
pub fn bwrap() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("bwrap"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| missing("bubblewrap (`bwrap`, Debian's bubblewrap)", TARGET))
}

/// The static launcher (`DCS_TEST_STATIC_LAUNCHER`, default the `make
/// static-launcher` output); fails the test naming that target without it.
pub fn static_launcher() -> PathBuf {
    required(
        "DCS_TEST_STATIC_LAUNCHER",
        repo_root().join("target/x86_64-unknown-linux-gnu/release/dcs-launcher"),
        "the static launcher",
        "static-launcher",
    )
}
