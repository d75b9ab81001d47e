//! Identity is decided once, here, at the edge. Everything after takes `&Identity`,
//! never a header.
//!
//! # Layout
//! - [`Identity`]: who is asking (stable user id, display name, email, groups).
//! - [`Authenticate`]: the seam each auth mode implements; [`build`] picks one.
//! - [`none`]: the single-user loopback mode.
//! - [`authentik`]: forward auth done by the proxy itself against an Authentik
//!   outpost, with a short-lived session cache; also passes
//!   `/outpost.goauthentik.io/*` through to the outpost.
//! - [`trusted`]: behind an ingress that already did forward auth; headers count
//!   only with a verified `X-authentik-jwt` ([`jwt`]).
//! - [`headers`]: reading `X-authentik-*` headers, with size and character hygiene.
//! - [`secret`]: the redacted [`secret::Secret`] newtype.
//! - [`lease`]: what admitted a request ([`Admission`]), and the [`Lease`] that
//!   ends a tunnel it opens when that admission ends.

pub mod authentik;
pub mod headers;
pub mod jwt;
pub mod lease;
pub mod none;
pub mod secret;
pub mod trusted;

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use dcs_model::UserId;
use http::request::Parts;
use http::{HeaderMap, Request, Response, Uri};
use hyper::body::Incoming;

use crate::body::Body;
use crate::config::AuthConfig;
use crate::error::{Error, Result};
pub use lease::{Admission, Lease};

/// A verified person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The stable key workspaces are owned by (Authentik's `uid` / JWT `sub`,
    /// which survives renames).
    pub user: UserId,
    /// The name shown to people (Authentik's username).
    pub username: String,
    /// Full name, when known.
    pub name: Option<String>,
    /// Email, when known.
    pub email: Option<String>,
    /// Group memberships, for access policy.
    pub groups: Vec<String>,
    /// Authentik application entitlements, for access policy.
    pub entitlements: Vec<String>,
    /// What let the requests of this identity in: a tunnel they open ends with it.
    pub admission: Admission,
}

impl Identity {
    /// An identity that is only a user id (shown by that id), no groups.
    pub fn from_user(user: UserId) -> Self {
        Self {
            username: user.to_string(),
            user,
            name: None,
            email: None,
            groups: Vec::new(),
            entitlements: Vec::new(),
            admission: Admission::Lasting,
        }
    }
}

/// An auth mode: turns a request into an [`Identity`] or an error.
#[async_trait]
pub trait Authenticate: Send + Sync {
    /// Establishes who sent the request (headers and peer only; the body is untouched).
    /// Shared: a session's identity is made once and handed to each of its requests.
    async fn authenticate(&self, parts: &Parts, peer: SocketAddr) -> Result<Arc<Identity>>;

    /// The lease of a tunnel (an upgraded connection) that a request of `identity`
    /// with `headers`, for `uri`, opens: it ends when what admitted the request
    /// does. Called once per tunnel, never for a plain request.
    fn lease(&self, identity: &Identity, _headers: &HeaderMap, _uri: &Uri) -> Lease {
        Lease::of(identity.admission)
    }

    /// Answers a request for `/outpost.goauthentik.io/*` (sign-in callback,
    /// sign-out). Only the `authentik` mode serves these; every other mode says 404.
    async fn outpost(&self, req: Request<Incoming>, _peer: SocketAddr) -> Result<Response<Body>> {
        Err(Error::NotFound(format!(
            "nothing is served at {}; sign-in is not handled by this proxy",
            crate::server::truncate(req.uri().path(), 200)
        )))
    }
}

/// The auth mode `cfg` asks for (the outpost's checks counted in `metrics`).
pub fn build(cfg: &AuthConfig, metrics: Arc<crate::metrics::Metrics>) -> Arc<dyn Authenticate> {
    match cfg {
        AuthConfig::None { user } => Arc::new(none::NoAuth::new(user.clone())),
        AuthConfig::Authentik(cfg) => Arc::new(authentik::AuthentikAuth::new(cfg.clone(), metrics)),
        AuthConfig::TrustedHeaders(cfg) => Arc::new(trusted::TrustedHeaders::new(cfg)),
    }
}
