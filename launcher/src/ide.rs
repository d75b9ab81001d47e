//! The IDE seam: an [`Ide`] kind starts a [`RunningIde`], which answers every request
//! that is not the launcher's own (`/_dcs/…`), reports its health and stops.
//!
//! Real IDEs (VS Code, code-server, openvscode) will be external processes the front
//! forwards to; today only [`none::NoneIde`] exists, a headless file manager.

pub mod none;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use dcs_model::{RepoRef, UserId};
use http::{Request, Response};
use hyper::body::Incoming;

use crate::body::Body;
use crate::error::{Error, Result};

/// The IDE kinds this launcher knows, in `DCS_IDE` spelling: the contract's list,
/// so the proxy can validate `--ide` without asking a launcher.
pub use dcs_model::env::IDE_KINDS as KINDS;

/// What an IDE needs to know to start.
#[derive(Debug, Clone)]
pub struct IdeContext {
    /// The repository.
    pub repo: RepoRef,
    /// The checked-out repository: the IDE's working directory / folder to open.
    pub checkout_dir: PathBuf,
    /// The path prefix the proxy serves the workspace under (`""` at the root); the
    /// front receives paths with it stripped, in `X-Forwarded-Prefix`.
    pub base_path: String,
    /// Whose workspace this is, if known.
    pub user: Option<UserId>,
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
    /// Stops the IDE, giving it `grace` before forcing it.
    async fn stop(&self, grace: Duration);
}

/// The IDE kind named `kind`, or an error listing the known kinds.
pub fn for_kind(kind: &str) -> Result<Box<dyn Ide>> {
    match kind {
        none::KIND => Ok(Box::new(none::NoneIde)),
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
            "unknown IDE kind \"emacs\"; known kinds: none"
        );
    }
}
