//! The proxy's one error type, and how each cause becomes a status code.
//!
//! [`Error::status`] is the single place that maps causes to 4xx/5xx; rendering
//! (HTML for browsers, JSON for APIs) lives in [`crate::pages`].

use std::time::Duration;

use http::StatusCode;

/// Why a workspace could not start, as reported by the launcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartFailure {
    /// The repository does not exist at the git base (or is private and no token fits).
    NotFound,
    /// The workspace directory holds something else; nothing was changed.
    Refused,
    /// The git server refused the credentials.
    Auth,
    /// The git server could not be reached.
    Network,
    /// Anything else.
    #[serde(other)]
    Other,
}

/// Everything that can go wrong while serving a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request itself is malformed (path, header, name).
    #[error("{0}")]
    BadRequest(String),
    /// Nothing is routed here, or the caller may not know that it exists.
    #[error("{0}")]
    NotFound(String),
    /// No identity could be established.
    #[error("{0}")]
    Unauthorized(String),
    /// A browser must sign in first: answered with a redirect to `location`
    /// (and a 401 to clients that did not ask for HTML).
    #[error("sign-in required: continue at {location}")]
    SignIn {
        /// Where the sign-in starts (same host, `/outpost.goauthentik.io/start?rd=…`).
        location: String,
    },
    /// The sign-in service cannot answer; the request is refused, never let through.
    #[error("the sign-in service is unavailable; try again in a moment")]
    AuthUnavailable,
    /// The caller may not open this repository (the message names the rule).
    #[error("{0}")]
    Forbidden(String),
    /// The workspace did not become ready in time.
    #[error("the workspace did not become ready within {}s; it keeps starting in the background, reload to try again", after.as_secs())]
    StartTimeout {
        /// The configured start timeout.
        after: Duration,
    },
    /// The launcher reported that it cannot serve this workspace.
    #[error("{message}")]
    StartFailed {
        /// The class of failure.
        kind: StartFailure,
        /// A readable message (never containing secrets).
        message: String,
    },
    /// The workspace was reached but the exchange with it failed.
    #[error("the workspace did not answer: {0}")]
    Upstream(String),
    /// The runtime could not do its job (spawn, state, API).
    #[error("the workspace runtime failed: {0}")]
    Runtime(String),
    /// A start was cancelled (stop, delete or shutdown) before it finished.
    #[error("the workspace was stopped while it was starting; reload to start it again")]
    Cancelled,
    /// The client sent its request body too slowly (a trickle below the minimum rate,
    /// or a stall); the connection is closed.
    #[error("{0}")]
    RequestTimeout(String),
    /// The workspace stopped answering in the middle of an exchange.
    #[error("{0}")]
    UpstreamTimeout(String),
    /// A limit was reached (instances per user, starts at once); retry later.
    #[error("{message}")]
    TooManyRequests {
        /// What limit, and what to do.
        message: String,
        /// When to try again (`Retry-After`).
        retry_after: Duration,
    },
    /// The request named a host this proxy does not serve (DNS rebinding).
    #[error("{0}")]
    Misdirected(String),
    /// The request head (request line and headers) is larger than accepted.
    #[error("{0}")]
    HeadTooLarge(String),
    /// The request target (path and query) is longer than accepted.
    #[error("{0}")]
    UriTooLong(String),
}

/// `Result` with the proxy's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How the auth layer's "not signed in" messages begin (`Error::Unauthorized` of
/// `authentik` and `trusted-headers`, and [`Error::SignIn`]'s text): the 401s that
/// signing in again (a browser navigation) gets past. Other 401s (a preview's
/// cookie, a launcher's push) say something else.
pub const SIGN_IN_REQUIRED: &str = "sign-in required";

impl Error {
    /// The auth layer's "not signed in" ([`SIGN_IN_REQUIRED`]: `detail`), the 401
    /// that [`Self::needs_sign_in`] recognises.
    pub fn sign_in_required(detail: &str) -> Self {
        Error::Unauthorized(format!("{SIGN_IN_REQUIRED}: {detail}"))
    }

    /// Whether this is the auth layer's "not signed in": its answer says so
    /// (`"sign_in": true` in the JSON, a "Sign in again" link on the page), so the
    /// pages' scripts can tell a person whose sign-in expired instead of retrying.
    pub fn needs_sign_in(&self) -> bool {
        match self {
            Error::SignIn { .. } => true,
            Error::Unauthorized(message) => message.starts_with(SIGN_IN_REQUIRED),
            _ => false,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::SignIn { .. } => StatusCode::FOUND,
            Error::AuthUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Error::StartTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Error::StartFailed { kind, .. } => match kind {
                StartFailure::NotFound => StatusCode::NOT_FOUND,
                StartFailure::Refused => StatusCode::CONFLICT,
                StartFailure::Auth => StatusCode::FORBIDDEN,
                StartFailure::Network | StartFailure::Other => StatusCode::BAD_GATEWAY,
            },
            Error::Upstream(_) => StatusCode::BAD_GATEWAY,
            Error::Runtime(_) | Error::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
            Error::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Error::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Misdirected(_) => StatusCode::MISDIRECTED_REQUEST,
            Error::HeadTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Error::UriTooLong(_) => StatusCode::URI_TOO_LONG,
        }
    }

    /// A short title for the error page.
    pub fn title(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "Bad request",
            Error::NotFound(_) => "Not found",
            Error::Unauthorized(_) | Error::SignIn { .. } => "Sign-in required",
            Error::AuthUnavailable => "Sign-in service unavailable",
            Error::Forbidden(_) => "Access denied",
            Error::StartTimeout { .. } => "Workspace is still starting",
            Error::StartFailed {
                kind: StartFailure::NotFound,
                ..
            } => "Repository not found",
            Error::StartFailed {
                kind: StartFailure::Refused,
                ..
            } => "Workspace directory in use",
            Error::StartFailed {
                kind: StartFailure::Auth,
                ..
            } => "Repository access denied",
            Error::StartFailed { .. } => "Workspace failed to start",
            Error::Upstream(_) => "Workspace unreachable",
            Error::Runtime(_) => "Workspace runtime unavailable",
            Error::Cancelled => "Workspace stopped",
            Error::RequestTimeout(_) => "Request too slow",
            Error::UpstreamTimeout(_) => "Workspace not answering",
            Error::TooManyRequests { .. } => "Too many workspaces",
            Error::Misdirected(_) => "Wrong address",
            Error::HeadTooLarge(_) => "Request headers too large",
            Error::UriTooLong(_) => "Address too long",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_mistakes_are_4xx_and_ours_are_5xx() {
        assert_eq!(Error::BadRequest("x".into()).status(), 400);
        assert_eq!(
            Error::StartFailed {
                kind: StartFailure::NotFound,
                message: "m".into()
            }
            .status(),
            404
        );
        assert_eq!(
            Error::StartTimeout {
                after: Duration::from_secs(1)
            }
            .status(),
            504
        );
        assert_eq!(Error::Runtime("x".into()).status(), 503);
        assert_eq!(Error::AuthUnavailable.status(), 503);
        assert_eq!(Error::Unauthorized("x".into()).status(), 401);
        assert_eq!(Error::HeadTooLarge("x".into()).status(), 431);
        assert_eq!(Error::UriTooLong("x".into()).status(), 414);
        assert_eq!(Error::Misdirected("x".into()).status(), 421);
    }

    #[test]
    fn only_the_auth_layers_401s_ask_for_a_sign_in() {
        let expired = Error::Unauthorized(
            "sign-in required: no valid session; sign in with a browser first".into(),
        );
        assert!(expired.needs_sign_in());
        assert!(Error::SignIn {
            location: "/outpost.goauthentik.io/start?rd=x".into()
        }
        .needs_sign_in());
        assert!(Error::SignIn {
            location: String::new()
        }
        .to_string()
        .starts_with(SIGN_IN_REQUIRED));
        let push = Error::Unauthorized("a progress push needs its hop credential".into());
        assert!(!push.needs_sign_in());
        assert!(!Error::Forbidden("sign-in required".into()).needs_sign_in());
    }

    #[test]
    fn unknown_failure_kinds_read_as_other() {
        let k: StartFailure = serde_json::from_str("\"martian\"").expect("other");
        assert_eq!(k, StartFailure::Other);
    }
}
