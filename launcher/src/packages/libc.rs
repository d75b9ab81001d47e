//! The image's C library, read from the dynamic loaders it has: `ld-linux-*` is
//! glibc, `ld-musl-*` is musl (a glibc image with Debian's `musl` package installed
//! is still a glibc image), neither means only static programs run.

use std::path::Path;

use super::Probe;

/// The image's C library, as its dynamic loaders tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Libc {
    /// GNU libc (Debian, Ubuntu, Fedora, RHEL, Amazon Linux, …).
    Glibc,
    /// musl without glibc (Alpine, …).
    Musl,
    /// Neither loader: only static programs run (busybox, distroless static).
    Static,
}

impl Libc {
    /// The IDE kinds that run on an image with this libc.
    pub fn kinds(self) -> &'static str {
        match self {
            Self::Glibc => "none, code-server, openvscode, vscode",
            Self::Musl => "vscode, none",
            Self::Static => "none",
        }
    }

    pub(super) fn described(self) -> &'static str {
        match self {
            Self::Glibc => "uses glibc",
            Self::Musl => "uses musl, not glibc",
            Self::Static => "has no C library (no dynamic loader)",
        }
    }
}

/// The loaders of glibc and musl for `arch` (a Rust `std::env::consts::ARCH`).
fn loaders(arch: &str) -> (Vec<String>, String) {
    let glibc = match arch {
        "x86_64" => vec![
            "/lib64/ld-linux-x86-64.so.2",
            "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "/usr/lib64/ld-linux-x86-64.so.2",
        ],
        "aarch64" => vec![
            "/lib/ld-linux-aarch64.so.1",
            "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
            "/usr/lib/ld-linux-aarch64.so.1",
        ],
        _ => vec![],
    };
    (
        glibc.into_iter().map(str::to_owned).collect(),
        format!("/lib/ld-musl-{arch}.so.1"),
    )
}

/// The libc of the image `probe` describes, for `arch`.
pub fn libc(probe: &Probe<'_>, arch: &str) -> Libc {
    let (glibc, musl) = loaders(arch);
    if glibc.iter().any(|l| (probe.exists)(Path::new(l))) {
        Libc::Glibc
    } else if (probe.exists)(Path::new(&musl)) {
        Libc::Musl
    } else {
        Libc::Static
    }
}
