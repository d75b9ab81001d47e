//! The IDE seam: an [`Ide`] kind starts a [`RunningIde`], which answers every request
//! that is not the launcher's own (`/_dcs/…`, `/ports/…`), reports its health and
//! stops.
//!
//! Real IDEs are external HTTP servers ([`external::ExternalIde`]): supervised,
//! probed, and forwarded to. [`none::NoneIde`] is the headless file manager.
//!
//! # Layout
//! - [`none`]: the file manager (and web terminal) without an editor.
//! - [`code_server`], [`openvscode`], [`vscode`]: how each kind is started.
//! - [`external`]: the [`RunningIde`] of every external kind.
//! - [`bin`]: finding the IDE's executable (`DCS_IDE_BIN`, `PATH`).
//! - [`install`]: downloading a kind's release into the config volume, once.
//! - [`dirs`]: the kind's user data and extensions in the config volume.
//! - [`program`]: an installed IDE's executable and folders, to run its command line
//!   (installing extensions) beside it.
//! - [`hot_exit`]: VS Code's hot exit on, so unsaved edits survive a stop.

pub mod bin;
pub mod code_server;
pub mod dirs;
pub mod external;
pub mod hot_exit;
pub mod install;
pub mod none;
pub mod openvscode;
pub mod program;
pub mod vscode;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use dcs_model::{LauncherEnv, UserId};
use http::{Request, Response};
use hyper::body::Incoming;

use crate::app::Drain;
use crate::body::Body;
use crate::error::{Error, Result};
use crate::supervise::Ending;

/// The IDE kinds this launcher knows, in `DCS_IDE` spelling: the contract's list,
/// so the proxy can validate `--ide` without asking a launcher.
pub use dcs_model::env::IDE_KINDS as KINDS;

/// What an IDE needs to know to start.
#[derive(Debug, Clone)]
pub struct IdeContext {
    /// What the workspace holds, for titles: `owner/repo` or the instance id.
    pub label: String,
    /// The checked-out repository: the IDE's working directory / folder to open.
    pub checkout_dir: PathBuf,
    /// The path prefix the proxy serves the workspace under (`""` at the root); the
    /// front receives paths with it stripped, in `X-Forwarded-Prefix`.
    pub base_path: String,
    /// Whose workspace this is, if known.
    pub user: Option<UserId>,
    /// The config volume: installs, user data, settings, extensions.
    pub config_dir: PathBuf,
    /// An installed IDE to use as is (`DCS_IDE_BIN`).
    pub ide_bin: Option<PathBuf>,
    /// The version to install instead of the kind's pinned default.
    pub version: Option<String>,
    /// Where downloads come from instead of upstream.
    pub download_base: Option<String>,
    /// CA certificates downloads trust besides the carried and the image's
    /// (`DCS_EXTRA_CA_FILE`).
    pub extra_ca_file: Option<PathBuf>,
    /// Hands out drain receivers, so tunnels to the IDE end on shutdown.
    pub drain: Drain,
    /// Called when an IDE release starts being downloaded and installed.
    pub on_install: OnInstall,
    /// The checkout's `devcontainer.json` variables, when it is allowed at the IDE's
    /// start ([`crate::devcontainer`]): set (and removed) under the IDE's own.
    pub devcontainer_env: Option<std::sync::Arc<crate::devcontainer::EnvChange>>,
    /// Called with the IDE's executable and folders before it starts (kinds that run
    /// their own server).
    pub on_program: program::OnProgram,
}

/// What [`IdeContext::on_install`] calls (nothing by default).
#[derive(Clone, Default)]
pub struct OnInstall(Option<std::sync::Arc<dyn Fn() + Send + Sync>>);

impl OnInstall {
    /// Calls `f` when an install starts.
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Self {
        Self(Some(std::sync::Arc::new(f)))
    }

    /// Says an install starts.
    pub fn call(&self) {
        if let Some(f) = &self.0 {
            f();
        }
    }
}

impl std::fmt::Debug for OnInstall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnInstall")
    }
}

impl IdeContext {
    /// The context for the workspace `env` describes.
    pub fn from_env(env: &LauncherEnv, drain: Drain) -> Self {
        Self {
            label: env.label(),
            checkout_dir: env.checkout_dir(),
            base_path: env.base_path.clone(),
            user: env.user.clone(),
            config_dir: env.config_dir(),
            ide_bin: env.ide_bin.clone(),
            version: env.ide_version.clone(),
            download_base: env.ide_download_base.clone(),
            extra_ca_file: env.extra_ca_file.clone(),
            drain,
            on_install: OnInstall::default(),
            devcontainer_env: None,
            on_program: program::OnProgram::default(),
        }
    }
}

/// A kind of IDE, able to start an instance.
#[async_trait]
pub trait Ide: Send + Sync {
    /// The `DCS_IDE` name of this kind.
    fn kind(&self) -> &'static str;
    /// Starts an instance for `ctx`; returns once it can take requests.
    async fn start(&self, ctx: &IdeContext) -> Result<Box<dyn RunningIde>>;
}

/// A started IDE.
#[async_trait]
pub trait RunningIde: Send + Sync {
    /// Answers a request for a path outside `/_dcs/` (prefix already stripped).
    async fn handle(&self, req: Request<Incoming>) -> Response<Body>;
    /// True while the IDE answers; `/_dcs/ready` is 200 only then.
    async fn healthy(&self) -> bool;
    /// Why the IDE stopped for good (it kept crashing), if it did.
    fn failure(&self) -> Option<String> {
        None
    }
    /// Resolves, saying why, once the IDE stopped for good (it kept crashing);
    /// never for IDEs without a process of their own.
    async fn gave_up(&self) -> String {
        std::future::pending().await
    }
    /// Stops the IDE, giving it `grace` before forcing it.
    async fn stop(&self, grace: Duration) -> Ending;
    /// Which run of the IDE process answers now, as a token that differs for every
    /// start of it, in this launcher or a later one (a restart after a crash, a
    /// launcher or pod started again). A page served by another run lost its
    /// connection for good (the IDE's sessions died with it); `idle.js` tells the
    /// user. `None` for IDEs without a process of their own.
    fn run(&self) -> Option<String> {
        None
    }
    /// The IDE process's pid while it runs (its terminals are below it), `None` for
    /// IDEs without a process of their own.
    fn pid(&self) -> Option<u32> {
        None
    }
}

/// The IDE kind named `kind`, or an error listing the known kinds.
pub fn for_kind(kind: &str) -> Result<Box<dyn Ide>> {
    match kind {
        none::KIND => Ok(Box::new(none::NoneIde)),
        code_server::KIND => Ok(Box::new(code_server::CodeServer)),
        openvscode::KIND => Ok(Box::new(openvscode::OpenVsCode)),
        vscode::KIND => Ok(Box::new(vscode::VsCode)),
        other => Err(Error::UnknownIde {
            kind: other.to_owned(),
            known: KINDS.join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_the_contract_resolves() {
        for kind in KINDS {
            assert_eq!(for_kind(kind).expect("known").kind(), *kind);
        }
    }

    #[test]
    fn known_kinds_resolve_and_unknown_ones_list_the_choices() {
        assert_eq!(for_kind("none").expect("known").kind(), "none");
        let err = for_kind("emacs").err().expect("unknown");
        assert_eq!(
            err.to_string(),
            "unknown IDE kind \"emacs\"; known kinds: none, code-server, openvscode, vscode"
        );
    }
}
