//! `--auth trusted-headers`: behind an ingress that already did Authentik forward
//! auth. An ingress overwrites only the headers it is told to, so the identity is
//! taken from the claims of a verified `X-authentik-jwt` ([`super::jwt`]) and from
//! nothing else: `sub` is the user, `preferred_username` (else `sub`) the name
//! shown, `name`, `email`, `groups` and `entitlements` as the token has them. A
//! claim the token lacks is empty, never filled from an `X-authentik-*` header
//! (a client can send those). The `X-authentik-uid` the outpost sends along must be
//! the token's `sub`; optionally the peer must also be one of the
//! `--trusted-proxies`. Anything else is a 401. A tunnel (WebSocket) a request
//! opens lasts until its token's `exp` (plus the leeway): the IDE reconnects
//! through the ingress, with a fresh token ([`super::lease`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use http::request::Parts;
use http::HeaderMap;
use ipnet::IpNet;
use tracing::warn;

use dcs_model::UserId;

use super::headers::{self, HeaderError, MAX_JWT_HEADER};
use super::jwt::{Claims, JwtConfig, JwtError, JwtVerifier};
use super::{Admission, Authenticate, Identity};
use crate::error::{Error, Result};

/// What trusted-headers mode needs.
#[derive(Debug, Clone)]
pub struct TrustedConfig {
    /// How to verify `X-authentik-jwt`.
    pub jwt: JwtConfig,
    /// When not empty, only peers inside one of these may send identity headers.
    pub trusted_proxies: Vec<IpNet>,
}

/// Why identity headers were not accepted (logged; the client sees a generic 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The peer is not one of `--trusted-proxies`.
    #[error("the peer is not a trusted proxy")]
    UntrustedPeer,
    /// `X-authentik-jwt` is absent.
    #[error("X-authentik-jwt is missing")]
    MissingJwt,
    /// An identity header is missing or dirty.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The token does not verify.
    #[error(transparent)]
    Jwt(#[from] JwtError),
}

/// The trusted-headers mode.
#[derive(Debug, Clone)]
pub struct TrustedHeaders {
    verifier: JwtVerifier,
    proxies: Vec<IpNet>,
}

impl TrustedHeaders {
    /// The mode for `cfg`.
    pub fn new(cfg: &TrustedConfig) -> Self {
        Self {
            verifier: JwtVerifier::new(&cfg.jwt),
            proxies: cfg.trusted_proxies.clone(),
        }
    }

    /// The identity a request from `peer` with `headers` proves, or why not.
    pub fn check(&self, headers: &HeaderMap, peer: IpAddr) -> Result<Identity, Refusal> {
        if !is_trusted(&self.proxies, peer) {
            return Err(Refusal::UntrustedPeer);
        }
        let uid = headers::single(headers, headers::UID, headers::MAX_IDENTITY_HEADER)?
            .ok_or(HeaderError::Missing(headers::UID))?;
        let token =
            headers::single(headers, headers::JWT, MAX_JWT_HEADER)?.ok_or(Refusal::MissingJwt)?;
        let claims = self.verifier.verify(token, uid)?;
        identity_of(claims)
    }
}

/// Whether `peer` may send identity headers: every peer when no CIDR is configured.
pub fn is_trusted(proxies: &[IpNet], peer: IpAddr) -> bool {
    let peer = peer.to_canonical();
    proxies.is_empty() || proxies.iter().any(|net| net.contains(&peer))
}

/// The identity a verified token's claims state, and nothing more; a claim with
/// control characters is refused.
fn identity_of(claims: Claims) -> Result<Identity, Refusal> {
    let clean = |v: &str| !v.chars().any(char::is_control);
    let all_clean = [&claims.preferred_username, &claims.name, &claims.email]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .chain(claims.groups.iter().flatten().map(String::as_str))
        .chain(claims.entitlements.iter().flatten().map(String::as_str))
        .all(clean);
    if !all_clean {
        return Err(Refusal::Jwt(JwtError::Malformed));
    }
    let user = UserId::new(&claims.sub).map_err(|e| HeaderError::BadUid(e.to_string()))?;
    let username = claims
        .preferred_username
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| claims.sub.clone());
    Ok(Identity {
        user,
        username,
        name: claims.name,
        email: claims.email,
        groups: claims.groups.unwrap_or_default(),
        entitlements: claims.entitlements.unwrap_or_default(),
        // A tunnel it opens closes when the token expires ([`super::lease`]).
        admission: Admission::Until(claims.exp),
    })
}

#[async_trait]
impl Authenticate for TrustedHeaders {
    async fn authenticate(&self, parts: &Parts, peer: SocketAddr) -> Result<Arc<Identity>> {
        self.check(&parts.headers, peer.ip())
            .map(Arc::new)
            .map_err(|reason| {
                warn!(%peer, %reason, "identity headers refused");
                Error::sign_in_required("this request carries no verified identity")
            })
    }
}

#[cfg(test)]
#[path = "trusted/tests.rs"]
mod tests;
