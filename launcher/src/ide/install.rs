//! Installing an IDE from its upstream release archive into the config volume, once
//! per kind and version: `<config>/ides/<kind>-<version>/`, marked complete by an
//! `.installed` file, so a wake never downloads again.
//!
//! The archive comes from the kind's upstream (or `DCS_IDE_DOWNLOAD_BASE`, serving
//! the same file names), with retries and progress in the log, over TLS verified with
//! the launcher's trust bundle ([`crate::trust`]: Mozilla's roots, the image's,
//! `DCS_EXTRA_CA_FILE`), the same roots its clones use. When a
//! `<archive>.sha256` is published beside it, the archive must match it; a mismatch
//! is refused before anything is unpacked or run.
//!
//! # Layout
//! - [`fetch`]: the download (retries, progress, SHA-256).
//! - [`unpack`]: `.tar.gz` extraction that never writes outside its folder.

pub mod fetch;
pub mod unpack;

use std::path::{Path, PathBuf};

use tracing::info;

use super::{bin, IdeContext};
use crate::error::{Error, Result};
use crate::trust::Bundle;

/// Where one kind's releases come from.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// The `DCS_IDE` kind.
    pub kind: &'static str,
    /// The version installed when `DCS_IDE_VERSION` is unset.
    pub default_version: &'static str,
    /// Upstream archive URL for (version, arch).
    upstream: fn(&str, &str) -> String,
    /// The archive's file name for (version, arch): what a mirror serves.
    file: fn(&str, &str) -> String,
    /// The executable inside the unpacked archive, for (version, arch).
    exe: fn(&str, &str) -> String,
    /// The kind's name for a Rust `std::env::consts::ARCH`.
    arch: fn(&str) -> Option<&'static str>,
}

fn debian_arch(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" => Some("amd64"),
        "aarch64" => Some("arm64"),
        _ => None,
    }
}

fn node_arch(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" => Some("x64"),
        "aarch64" => Some("arm64"),
        _ => None,
    }
}

/// coder/code-server release tarballs (glibc).
pub const CODE_SERVER: Source = Source {
    kind: super::code_server::KIND,
    default_version: "4.139.1",
    upstream: |v, a| {
        format!("https://github.com/coder/code-server/releases/download/v{v}/code-server-{v}-linux-{a}.tar.gz")
    },
    file: |v, a| format!("code-server-{v}-linux-{a}.tar.gz"),
    exe: |v, a| format!("code-server-{v}-linux-{a}/bin/code-server"),
    arch: debian_arch,
};

/// gitpod-io/openvscode-server release tarballs (glibc).
pub const OPENVSCODE: Source = Source {
    kind: super::openvscode::KIND,
    default_version: "1.139.1",
    upstream: |v, a| {
        format!(
            "https://github.com/gitpod-io/openvscode-server/releases/download/\
             openvscode-server-v{v}/openvscode-server-v{v}-linux-{a}.tar.gz"
        )
    },
    file: |v, a| format!("openvscode-server-v{v}-linux-{a}.tar.gz"),
    exe: |v, a| format!("openvscode-server-v{v}-linux-{a}/bin/openvscode-server"),
    arch: node_arch,
};

/// Microsoft's `code` CLI (static, musl), whose `serve-web` fetches the server.
pub const VSCODE: Source = Source {
    kind: super::vscode::KIND,
    default_version: "1.139.1",
    upstream: |v, a| format!("https://update.code.visualstudio.com/{v}/cli-alpine-{a}/stable"),
    file: |_, a| format!("vscode_cli_alpine_{a}_cli.tar.gz"),
    exe: |_, _| "code".into(),
    arch: node_arch,
};

/// The source of `kind`, if it has downloadable releases.
pub fn source(kind: &str) -> Option<Source> {
    [CODE_SERVER, OPENVSCODE, VSCODE]
        .into_iter()
        .find(|s| s.kind == kind)
}

/// One concrete install: which archive, from where, into which folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The version.
    pub version: String,
    /// Archive URL.
    pub url: String,
    /// `<config>/ides/<kind>-<version>`.
    pub dir: PathBuf,
    /// The executable once installed.
    pub exe: PathBuf,
}

impl Source {
    /// The install of `version` (or the default) for `arch`, from `base` (or upstream).
    pub fn plan(
        &self,
        config: &Path,
        version: Option<&str>,
        base: Option<&str>,
        arch: &str,
    ) -> Result<Plan> {
        let a = (self.arch)(arch).ok_or_else(|| Error::IdeStart {
            kind: self.kind,
            message: format!("no {} release for the {arch} architecture", self.kind),
        })?;
        let version = version.unwrap_or(self.default_version).to_owned();
        let url = match base {
            Some(base) => format!(
                "{}/{}",
                base.trim_end_matches('/'),
                (self.file)(&version, a)
            ),
            None => (self.upstream)(&version, a),
        };
        let dir = config.join("ides").join(format!("{}-{version}", self.kind));
        let exe = dir.join((self.exe)(&version, a));
        Ok(Plan {
            version,
            url,
            dir,
            exe,
        })
    }
}

/// The executable of `kind` for `ctx`: installed already, or downloaded now.
pub async fn ensure(source: Source, ctx: &IdeContext) -> Result<PathBuf> {
    let plan = source.plan(
        &ctx.config_dir,
        ctx.version.as_deref(),
        ctx.download_base.as_deref(),
        std::env::consts::ARCH,
    )?;
    if plan.dir.join(".installed").is_file() && bin::is_executable(&plan.exe) {
        info!(kind = source.kind, version = %plan.version, dir = %plan.dir.display(), "IDE already installed");
        return Ok(plan.exe);
    }
    info!(kind = source.kind, version = %plan.version, url = %plan.url, "installing the IDE");
    ctx.on_install.call();
    let kind = source.kind;
    let job = plan.clone();
    let extra = ctx.extra_ca_file.clone();
    tokio::task::spawn_blocking(move || install(kind, &job, extra.as_deref()))
        .await
        .map_err(|e| Error::Task(e.to_string()))??;
    Ok(plan.exe)
}

/// Downloads, verifies and unpacks into a temporary folder beside the target, then
/// renames it into place: a crash never leaves a half install that looks complete.
fn install(kind: &'static str, plan: &Plan, extra_ca: Option<&Path>) -> Result<()> {
    let fail = |message: String| Error::IdeStart { kind, message };
    let roots = Bundle::build(extra_ca).map_err(|e| fail(e.to_string()))?;
    let agent = fetch::agent(&roots);
    let parent = plan
        .dir
        .parent()
        .ok_or_else(|| fail("bad install folder".into()))?;
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(format!("creating a folder in {}", parent.display()), e))?;
    let archive = tmp.path().join("archive.tar.gz");
    let digest = fetch::download(&agent, &plan.url, &archive).map_err(|e| fail(e.to_string()))?;
    match fetch::published_sha256(&agent, &plan.url).map_err(|e| fail(e.to_string()))? {
        Some(expected) if expected != digest => {
            return Err(fail(format!(
                "checksum mismatch for {}: expected sha256 {expected}, got {digest}; nothing was installed",
                plan.url
            )));
        }
        Some(_) => info!(kind, sha256 = %digest, "checksum verified"),
        None => info!(kind, sha256 = %digest, "no checksum published; installed unverified"),
    }
    let unpacked = tmp.path().join("unpacked");
    unpack::tar_gz(&archive, &unpacked)
        .map_err(|e| fail(format!("unpacking {}: {e}", plan.url)))?;
    std::fs::write(
        unpacked.join(".installed"),
        format!("{}\n{digest}\n", plan.url),
    )
    .map_err(|e| Error::io("marking the install complete", e))?;
    if plan.dir.exists() {
        std::fs::remove_dir_all(&plan.dir)
            .map_err(|e| Error::io(format!("removing the incomplete {}", plan.dir.display()), e))?;
    }
    std::fs::rename(&unpacked, &plan.dir)
        .map_err(|e| Error::io(format!("moving the install to {}", plan.dir.display()), e))?;
    if !bin::is_executable(&plan.exe) {
        return Err(fail(format!(
            "the archive has no executable {}",
            plan.exe.display()
        )));
    }
    info!(kind, dir = %plan.dir.display(), "IDE installed");
    Ok(())
}

#[cfg(test)]
mod tests;
