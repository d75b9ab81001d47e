//! Runtime packages, the way the original product did it: find the image's package
//! manager (`apt-get`, `apk`, `dnf`, `yum`, `microdnf`, `zypper`), install only what
//! the IDE needs and is missing (git, CA certificates, libstdc++), and say clearly
//! when the image cannot run the IDE (no package manager, or a glibc-only IDE on a
//! musl image such as Alpine, naming the kinds that work there).
//!
//! [`plan`] is a pure function over a [`Probe`] (what is on `PATH`, which files
//! exist, `/etc/os-release`); [`prepare`] probes the real system and runs the plan.
//! Packages are installed only when the launcher is a container's PID 1: a local
//! launcher never touches the developer's machine, it only warns.

use std::path::Path;

use tracing::{info, warn};

use crate::error::{Error, Result};

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
    /// The `git` command.
    Git,
    /// A CA certificate bundle.
    CaCertificates,
    /// The C++ runtime Node.js-based servers link against.
    LibStdCxx,
}

const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
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
const MUSL_LOADERS: &[&str] = &["/lib/ld-musl-x86_64.so.1", "/lib/ld-musl-aarch64.so.1"];

impl Need {
    /// The package providing it under `manager`.
    pub fn package(self, manager: Manager) -> &'static str {
        match (self, manager) {
            (Self::Git, _) => "git",
            (Self::CaCertificates, _) => "ca-certificates",
            (Self::LibStdCxx, Manager::AptGet | Manager::Zypper) => "libstdc++6",
            (Self::LibStdCxx, _) => "libstdc++",
        }
    }

    fn present(self, probe: &Probe) -> bool {
        match self {
            Self::Git => (probe.on_path)("git"),
            Self::CaCertificates => CA_BUNDLES.iter().any(|f| (probe.exists)(Path::new(f))),
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
}

/// What `kind` needs, and whether it needs glibc.
pub fn needs(kind: &str) -> (&'static [Need], bool) {
    match kind {
        "code-server" | "openvscode" => (&[Need::Git, Need::CaCertificates, Need::LibStdCxx], true),
        "vscode" => (&[Need::Git, Need::CaCertificates], false),
        _ => (&[], false),
    }
}

/// The kinds that run on a musl image.
pub const MUSL_KINDS: &str = "vscode, none";

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

/// Plans what `kind` needs on the image `probe` describes.
pub fn plan(kind: &'static str, probe: &Probe<'_>) -> Result<Plan> {
    let (wanted, glibc_only) = needs(kind);
    let image = image_name(probe.os_release);
    let musl = MUSL_LOADERS.iter().any(|l| (probe.exists)(Path::new(l)));
    if glibc_only && musl {
        return Err(Error::IdeStart {
            kind,
            message: format!(
                "{kind} needs glibc, and {image} uses musl; choose an IDE that works here ({MUSL_KINDS}) or a glibc base image"
            ),
        });
    }
    let missing: Vec<Need> = wanted
        .iter()
        .copied()
        .filter(|n| !n.present(probe))
        .collect();
    if missing.is_empty() {
        return Ok(Plan::Nothing);
    }
    let Some(manager) = MANAGERS
        .iter()
        .find(|(_, cmd)| (probe.on_path)(cmd))
        .map(|(m, _)| *m)
    else {
        return Err(Error::IdeStart {
            kind,
            message: format!(
                "{image} lacks {} and has no package manager this launcher knows \
                 (apt-get, apk, dnf, yum, microdnf, zypper); add them to the image",
                names(&missing, Manager::AptGet)
            ),
        });
    };
    let packages: Vec<&'static str> = missing.iter().map(|n| n.package(manager)).collect();
    Ok(Plan::Install {
        manager,
        commands: commands(manager, &packages),
        packages,
    })
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

/// Probes this system and makes sure `kind` can run; installs what is missing when
/// `may_install` (the launcher is a container's PID 1), else only warns.
pub async fn prepare(kind: &'static str, may_install: bool) -> Result<()> {
    if !may_install {
        // Outside a container the machine is the developer's: report, never change it.
        match plan_here(kind) {
            Ok(Plan::Nothing) => {}
            Ok(Plan::Install { packages, .. }) => {
                warn!(
                    kind,
                    ?packages,
                    "the IDE may miss packages; not installing them outside a container"
                );
            }
            Err(error) => warn!(kind, %error, "this machine may not run the IDE"),
        }
        return Ok(());
    }
    let (manager, packages, commands) = match plan_here(kind)? {
        Plan::Nothing => return Ok(()),
        Plan::Install {
            manager,
            packages,
            commands,
        } => (manager, packages, commands),
    };
    if !may_install {
        warn!(
            kind,
            ?packages,
            "the IDE may miss packages; not installing them outside a container"
        );
        return Ok(());
    }
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
fn plan_here(kind: &'static str) -> Result<Plan> {
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
    plan(kind, &probe)
}

#[cfg(test)]
mod tests;
