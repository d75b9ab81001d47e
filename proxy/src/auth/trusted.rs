//! `--auth trusted-headers`: behind an ingress that already did Authentik forward
//! auth. An ingress overwrites only the headers it is told to, so `X-authentik-*`
//! headers count only when `X-authentik-jwt` verifies ([`super::jwt`]) and its
//! `sub` is the `X-authentik-uid`; optionally the peer must also be one of the
//! `--trusted-proxies`. Where the token carries a claim (username, email, name,
//! groups, entitlements) the claim wins over the header. Anything else is a 401.

use std::net::{IpAddr, SocketAddr};

use async_trait::async_trait;
use http::request::Parts;
use http::HeaderMap;
use ipnet::IpNet;
use tracing::warn;

use super::headers::{self, HeaderError, MAX_JWT_HEADER};
use super::jwt::{Claims, JwtConfig, JwtError, JwtVerifier};
use super::{Authenticate, Identity};
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
        let mut identity = headers::identity(headers)?;
        let token =
            headers::single(headers, headers::JWT, MAX_JWT_HEADER)?.ok_or(Refusal::MissingJwt)?;
        let claims = self.verifier.verify(token, identity.user.as_str())?;
        merge(&mut identity, claims)?;
        Ok(identity)
    }
}

/// Whether `peer` may send identity headers: every peer when no CIDR is configured.
pub fn is_trusted(proxies: &[IpNet], peer: IpAddr) -> bool {
    let peer = peer.to_canonical();
    proxies.is_empty() || proxies.iter().any(|net| net.contains(&peer))
}

/// Signed claims win over headers; a claim with control characters is refused.
fn merge(id: &mut Identity, claims: Claims) -> Result<(), Refusal> {
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
    if let Some(v) = claims.preferred_username.filter(|v| !v.is_empty()) {
        id.username = v;
    }
    id.name = claims.name.or(id.name.take());
    id.email = claims.email.or(id.email.take());
    if let Some(groups) = claims.groups {
        id.groups = groups;
    }
    if let Some(entitlements) = claims.entitlements {
        id.entitlements = entitlements;
    }
    Ok(())
}

#[async_trait]
impl Authenticate for TrustedHeaders {
    async fn authenticate(&self, parts: &Parts, peer: SocketAddr) -> Result<Identity> {
        self.check(&parts.headers, peer.ip()).map_err(|reason| {
            warn!(%peer, %reason, "identity headers refused");
            Error::Unauthorized(
                "sign-in required: this request carries no verified identity".into(),
            )
        })
    }
}

#[cfg(test)]
#[path = "trusted/tests.rs"]
mod tests;
