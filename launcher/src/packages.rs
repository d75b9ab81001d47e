//! What an IDE needs from the image, checked before it is downloaded or started:
//!
//! - **the C library.** code-server and openvscode run a glibc build of Node.js: on an
//!   image without glibc (Alpine's musl, a busybox or distroless image) they cannot
//!   run, so the start fails at once, naming the kinds that work there. The image's
//!   libc is read from the dynamic loaders it has (`ld-linux-*` is glibc,
//!   `ld-musl-*` is musl, neither: static binaries only);
//! - **libstdc++**, which that Node.js links against (required);
//! - **git**, for the IDE's source control and the user's terminal (optional: the
//!   launcher itself clones with libgit2).
//!
//! Nothing else is needed: TLS roots come with the launcher ([`crate::trust`]), the
//! IDE's runtime with its release. A shell is needed only by terminals.
//!
//! What is missing is installed only where that can work: the launcher is a
//! container's PID 1 running as root, with the image's package manager (`apt-get`,
//! `apk`, `dnf`, `microdnf`, `yum`, `zypper`). Anywhere else nothing is installed: in
//! a container running as another user (Knative runs workspaces as uid 1000 without
//! capabilities) a missing requirement fails the start, naming the package to add to
//! the image; on a developer's machine (the launcher is not PID 1) it is only a
//! warning, the machine is never changed. A missing git is always only a warning.
//!
//! [`plan`] is a pure function over a [`Probe`] of the image and the launcher's
//! [`Privilege`] ([`libc()`] reads the image's C library from it); [`prepare`] probes
//! this system and carries the plan out.

use std::path::Path;

use tracing::{info, warn};

use crate::error::{Error, Result};

mod libc;

pub use self::libc::{libc, Libc};

/// A package manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// Debian, Ubuntu.
    AptGet,
    /// Alpine.
    Apk,
    /// Fedora, RHEL 8+, Amazon Linux 2023.
    Dnf,
    /// RHEL 7, Amazon Linux 2.
    Yum,
    /// Minimal RHEL/UBI images.
    Microdnf,
    /// openSUSE, SLES.
    Zypper,
}

const MANAGERS: [(Manager, &str); 6] = [
    (Manager::AptGet, "apt-get"),
    (Manager::Apk, "apk"),
    (Manager::Dnf, "dnf"),
    (Manager::Microdnf, "microdnf"),
    (Manager::Yum, "yum"),
    (Manager::Zypper, "zypper"),
];

/// Something an IDE needs from the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The `git` command (optional).
    Git,
    /// The C++ runtime Node.js-based servers link against (required).
    LibStdCxx,
}

const LIB_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/lib64",
    "/lib",
];

impl Need {
    /// The package providing it under `manager`.
    pub fn package(self, manager: Manager) -> &'static str {
        match (self, manager) {
            (Self::Git, _) => "git",
            (Self::LibStdCxx, Manager::AptGet | Manager::Zypper) => "libstdc++6",
            (Self::LibStdCxx, _) => "libstdc++",
        }
    }

    /// Whether the IDE cannot run without it.
    pub fn required(self) -> bool {
        matches!(self, Self::LibStdCxx)
    }

    fn present(self, probe: &Probe) -> bool {
        match self {
            Self::Git => (probe.on_path)("git"),
            Self::LibStdCxx => LIB_DIRS
                .iter()
                .any(|d| (probe.exists)(&Path::new(d).join("libstdc++.so.6"))),
        }
    }
}

/// What the image looks like.
pub struct Probe<'a> {
    /// Whether a command is on `PATH`.
    pub on_path: &'a dyn Fn(&str) -> bool,
    /// Whether a file exists.
    pub exists: &'a dyn Fn(&Path) -> bool,
    /// The content of `/etc/os-release`, if any.
    pub os_release: Option<&'a str>,
}

/// What the launcher may do to the system it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// A container's PID 1 running as root: it may install packages.
    ContainerRoot,
    /// A container's PID 1 running as this other user: it cannot install anything.
    ContainerUser {
        /// The effective uid.
        uid: u32,
    },
    /// Not a container's PID 1 (local mode): the machine is the developer's, never
    /// changed.
    Local,
}

impl Privilege {
    /// This process's.
    pub fn here() -> Self {
        let uid = nix::unistd::geteuid();
        match (std::process::id() == 1, uid.is_root()) {
            (false, _) => Self::Local,
            (true, true) => Self::ContainerRoot,
            (true, false) => Self::ContainerUser { uid: uid.as_raw() },
        }
    }
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Everything is there.
    Nothing,
    /// Run these commands (in order) to install `packages`.
    Install {
        /// The manager found.
        manager: Manager,
        /// The missing packages.
        packages: Vec<&'static str>,
        /// The command lines.
        commands: Vec<Vec<String>>,
    },
    /// These are missing and will not be installed: start anyway, with a warning.
    Lacking {
        /// The missing packages (named as Debian does when no manager is known).
        packages: Vec<&'static str>,
    },
}

/// What `kind` needs, and whether it needs glibc.
pub fn needs(kind: &str) -> (&'static [Need], bool) {
    match kind {
        "code-server" | "openvscode" => (&[Need::Git, Need::LibStdCxx], true),
        "vscode" => (&[Need::Git], false),
        _ => (&[], false),
    }
}

/// The image's name from `/etc/os-release` (`PRETTY_NAME`, else `ID`).
pub fn image_name(os_release: Option<&str>) -> String {
    let field = |key: &str| {
        os_release?.lines().find_map(|l| {
            let v = l.strip_prefix(key)?.strip_prefix('=')?;
            Some(v.trim_matches('"').to_owned())
        })
    };
    field("PRETTY_NAME")
        .or_else(|| field("ID"))
        .unwrap_or_else(|| "this image".into())
}

/// Plans what `kind` needs on the image `probe` describes (of architecture `arch`),
/// for a launcher with `privilege`.
pub fn plan(
    kind: &'static str,
    probe: &Probe<'_>,
    privilege: Privilege,
    arch: &str,
) -> Result<Plan> {
    let (wanted, glibc_only) = needs(kind);
    let image = image_name(probe.os_release);
    let fail = |message: String| Error::IdeStart { kind, message };
    let libc = libc(probe, arch);
    if glibc_only && libc != Libc::Glibc {
        return Err(fail(format!(
            "{kind} needs glibc (it runs a glibc build of Node.js), and {image} {}; \
             the IDE kinds that work on this image: {}. Choose one of them, or a base \
             image with glibc",
            libc.described(),
            libc.kinds()
        )));
    }
    let missing: Vec<Need> = wanted
        .iter()
        .copied()
        .filter(|n| !n.present(probe))
        .collect();
    if missing.is_empty() {
        return Ok(Plan::Nothing);
    }
    let manager = MANAGERS
        .iter()
        .find(|(_, cmd)| (probe.on_path)(cmd))
        .map(|(m, _)| *m);
    let named = manager.unwrap_or(Manager::AptGet);
    let required: Vec<Need> = missing.iter().copied().filter(|n| n.required()).collect();
    let lacking = Plan::Lacking {
        packages: missing.iter().map(|n| n.package(named)).collect(),
    };
    match (privilege, manager) {
        (Privilege::ContainerRoot, Some(manager)) => {
            let packages: Vec<&'static str> = missing.iter().map(|n| n.package(manager)).collect();
            Ok(Plan::Install {
                manager,
                commands: commands(manager, &packages),
                packages,
            })
        }
        (_, _) if required.is_empty() => Ok(lacking),
        (Privilege::Local, _) => Ok(lacking),
        (Privilege::ContainerRoot, None) => Err(fail(format!(
            "{image} lacks {}, which {kind} needs, and has no package manager this \
             launcher knows (apt-get, apk, dnf, yum, microdnf, zypper); add it to the image",
            names(&required, named)
        ))),
        (Privilege::ContainerUser { uid }, _) => {
            let packages: Vec<&str> = required.iter().map(|n| n.package(named)).collect();
            let how = manager.map_or_else(String::new, |m| {
                let install = commands(m, &packages);
                let last = install.last().map(|c| c.join(" ")).unwrap_or_default();
                format!(" (e.g. `RUN {last}` in its Dockerfile)")
            });
            Err(fail(format!(
                "{image} lacks {}, which {kind} needs, and the workspace runs as uid {uid}, \
                 which cannot install packages; add it to the image{how}, or choose the \
                 `none` IDE",
                packages.join(", ")
            )))
        }
    }
}

fn names(needs: &[Need], manager: Manager) -> String {
    needs
        .iter()
        .map(|n| n.package(manager))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The command lines installing `packages` with `manager`, non-interactively.
pub fn commands(manager: Manager, packages: &[&str]) -> Vec<Vec<String>> {
    let with = |base: &[&str]| -> Vec<String> {
        base.iter()
            .chain(packages)
            .map(|s| (*s).to_owned())
            .collect()
    };
    match manager {
        Manager::AptGet => vec![
            vec!["apt-get".into(), "update".into()],
            with(&["apt-get", "install", "-y", "--no-install-recommends"]),
        ],
        Manager::Apk => vec![with(&["apk", "add", "--no-cache"])],
        Manager::Dnf => vec![with(&["dnf", "install", "-y"])],
        Manager::Yum => vec![with(&["yum", "install", "-y"])],
        Manager::Microdnf => vec![with(&["microdnf", "install", "-y"])],
        Manager::Zypper => vec![with(&["zypper", "--non-interactive", "install"])],
    }
}

/// Probes this system and makes sure `kind` can run here: installs what is missing
/// where [`plan`] says so, warns about what will not be installed, fails when the
/// IDE cannot run.
pub async fn prepare(kind: &'static str) -> Result<()> {
    let privilege = Privilege::here();
    let plan = tokio::task::spawn_blocking(move || plan_here(kind, privilege))
        .await
        .map_err(|e| Error::Task(e.to_string()))??;
    let (manager, packages, commands) = match plan {
        Plan::Nothing => return Ok(()),
        Plan::Lacking { packages } => {
            warn!(
                kind,
                ?privilege,
                ?packages,
                "the IDE may miss packages; not installing them here"
            );
            return Ok(());
        }
        Plan::Install {
            manager,
            packages,
            commands,
        } => (manager, packages, commands),
    };
    info!(kind, ?manager, ?packages, "installing missing packages");
    for argv in commands {
        let status = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .await
            .map_err(|e| Error::io(format!("running {}", argv.join(" ")), e))?;
        if !status.success() {
            return Err(Error::IdeStart {
                kind,
                message: format!("`{}` failed ({status})", argv.join(" ")),
            });
        }
    }
    Ok(())
}

/// [`plan`] for this system.
fn plan_here(kind: &'static str, privilege: Privilege) -> Result<Plan> {
    let path = std::env::var_os("PATH");
    let on_path = |cmd: &str| {
        path.as_deref()
            .map(std::env::split_paths)
            .into_iter()
            .flatten()
            .any(|d| crate::ide::bin::is_executable(&d.join(cmd)))
    };
    let os_release = std::fs::read_to_string("/etc/os-release").ok();
    let probe = Probe {
        on_path: &on_path,
        exists: &|p: &Path| p.exists(),
        os_release: os_release.as_deref(),
    };
    plan(kind, &probe, privilege, std::env::consts::ARCH)
}

#[cfg(test)]
mod tests;
