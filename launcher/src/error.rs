//! The one error type of `dcs-launcher`, the HTTP status each error maps to, and the
//! [`FailureKind`] the proxy reads from `/_dcs/ready` to explain a failed workspace.
//!
//! Messages are written for the person using the workspace: they say what happened and
//! what to do, and never carry a secret (the git token never reaches an error).

use std::io;
use std::path::PathBuf;

use http::StatusCode;
use serde::{Deserialize, Serialize};

/// Why a workspace could not be prepared, as reported in `/_dcs/ready` `error.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The repository does not exist at the git base.
    NotFound,
    /// The launcher refused to touch an existing directory.
    Refused,
    /// The git server wants credentials, or rejected the ones given.
    Auth,
    /// The git server could not be reached.
    Network,
    /// Anything else.
    Other,
}

/// Everything that can go wrong in the launcher.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is malformed (bad path, unknown operation). 400.
    #[error("{0}")]
    BadRequest(String),
    /// The request is understood but not allowed (e.g. a path leaving the repository). 403.
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist. 404.
    #[error("{0}")]
    NotFound(String),
    /// The request would overwrite or clash with something that exists. 409.
    #[error("{0}")]
    Conflict(String),
    /// The workspace is not ready for this request yet. 503.
    #[error("{0}")]
    NotReady(String),
    /// A filesystem operation failed; `what` says which, in words.
    #[error("{what}: {source}")]
    Io {
        /// What the launcher was doing, e.g. `creating directory /a/b`.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `DCS_IDE` names an IDE this launcher does not know.
    #[error("unknown IDE kind {kind:?}; known kinds: {known}")]
    UnknownIde {
        /// What was asked for.
        kind: String,
        /// Comma-separated list of the kinds this launcher supports.
        known: String,
    },
    /// The git token file named by `DCS_GIT_TOKEN_FILE` could not be used.
    #[error("git token file {path}: {why}")]
    Token {
        /// The file's path (never its content).
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// Cloning or fetching the repository failed; `kind` classifies why.
    #[error("{message}")]
    Checkout {
        /// Classification the proxy uses to pick the page it shows.
        kind: FailureKind,
        /// A message for the user.
        message: String,
    },
    /// The IDE could not be started.
    #[error("starting the {kind} IDE failed: {message}")]
    IdeStart {
        /// The IDE kind.
        kind: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A local server the front forwards to (the IDE, a preview) did not answer. 502.
    #[error("{0}")]
    BadGateway(String),
    /// The IDE started but then stopped for good (it kept crashing).
    #[error("the IDE stopped: {0}")]
    IdeFailed(String),
    /// A background task died (panicked or was cancelled).
    #[error("internal task failed: {0}")]
    Task(String),
}

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] with a description of what was being done.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Io { source, .. } => match source.kind() {
                io::ErrorKind::NotFound => StatusCode::NOT_FOUND,
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                    StatusCode::FORBIDDEN
                }
                io::ErrorKind::AlreadyExists => StatusCode::CONFLICT,
                io::ErrorKind::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Self::UnknownIde { .. }
            | Self::Token { .. }
            | Self::Checkout { .. }
            | Self::IdeStart { .. }
            | Self::IdeFailed(_)
            | Self::Task(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// How `/_dcs/ready` classifies this error when it stops the workspace.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            Self::Checkout { kind, .. } => *kind,
            _ => FailureKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_the_status_a_user_would_expect() {
        let e = |kind| Error::io("x", io::Error::from(kind)).status();
        assert_eq!(e(io::ErrorKind::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(e(io::ErrorKind::AlreadyExists), StatusCode::CONFLICT);
        assert_eq!(e(io::ErrorKind::PermissionDenied), StatusCode::FORBIDDEN);
        assert_eq!(e(io::ErrorKind::Other), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn failure_kind_serialises_in_snake_case() {
        let json = serde_json::to_string(&FailureKind::NotFound).expect("serialise");
        assert_eq!(json, "\"not_found\"");
        let e = Error::Checkout {
            kind: FailureKind::Refused,
            message: "m".into(),
        };
        assert_eq!(e.failure_kind(), FailureKind::Refused);
        assert_eq!(Error::Task("t".into()).failure_kind(), FailureKind::Other);
    }
}
