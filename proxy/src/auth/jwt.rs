//! Verifying `X-authentik-jwt`, the access token Authentik's proxy outpost got at
//! sign-in. Authentik signs proxy-provider tokens with HS256 and the provider's
//! client secret, so the algorithm is pinned to HS256 (`none`, RS256, HS384 … are
//! refused before any key is used); `iss`, `aud` (the client id), `exp` and `sub`
//! are required, with [`LEEWAY_SECS`] of clock skew allowed.

use std::fmt;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::secret::Secret;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// What a token must match.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The provider's client secret (the HS256 key).
    pub secret: Secret,
    /// Expected `iss`, e.g. `https://auth.example.com/application/o/ide/`.
    pub issuer: String,
    /// Expected `aud`: the provider's client id.
    pub audience: String,
}

/// Why a token was refused. Messages never include the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url JSON parts, or an unknown algorithm such as `none`.
    #[error("the token is malformed")]
    Malformed,
    /// Signed with something other than HS256.
    #[error("the token is not signed with HS256")]
    Algorithm,
    /// The signature does not verify with the configured secret.
    #[error("the token's signature does not verify")]
    Signature,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `aud` is not the configured client id.
    #[error("the token was issued for another audience")]
    Audience,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by another issuer")]
    Issuer,
    /// A required claim is absent.
    #[error("the token lacks the {0} claim")]
    MissingClaim(String),
    /// `sub` is not the `X-authentik-uid` it came with.
    #[error("the token's subject is not the X-authentik-uid it came with")]
    Subject,
}

/// The identity claims of a verified token. Absent claims are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// The stable user id.
    pub sub: String,
    /// Login name.
    pub preferred_username: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Group names.
    pub groups: Option<Vec<String>>,
    /// Entitlement names.
    pub entitlements: Option<Vec<String>>,
    /// When the token expires (seconds since the epoch; required, so always there
    /// once verified).
    pub exp: u64,
}

/// Checks tokens against one [`JwtConfig`].
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    issuer: String,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// A verifier for `cfg`.
    pub fn new(cfg: &JwtConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // Authentik's issuer ends in '/'; accept the configured one with or without it.
        let bare = cfg.issuer.trim_end_matches('/');
        validation.set_issuer(&[bare.to_owned(), format!("{bare}/")]);
        validation.set_audience(&[&cfg.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self {
            key: DecodingKey::from_secret(cfg.secret.expose()),
            validation,
            issuer: cfg.issuer.clone(),
        }
    }

    /// Verifies `token` and that its `sub` is `uid`.
    pub fn verify(&self, token: &str, uid: &str) -> Result<Claims, JwtError> {
        let data = decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|e| classify(e.kind()))?;
        let claims = Claims::from_map(&data.claims)?;
        if claims.sub != uid {
            return Err(JwtError::Subject);
        }
        Ok(claims)
    }
}

impl Claims {
    fn from_map(map: &Map<String, Value>) -> Result<Self, JwtError> {
        let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
        let list = |k: &str| {
            map.get(k).and_then(Value::as_array).map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
        };
        Ok(Self {
            sub: text("sub").ok_or_else(|| JwtError::MissingClaim("sub".into()))?,
            preferred_username: text("preferred_username"),
            name: text("name"),
            email: text("email"),
            groups: list("groups"),
            entitlements: list("entitlements"),
            // A number (checked by the validation); a fractional one counts whole.
            exp: map
                .get("exp")
                .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)))
                .ok_or_else(|| JwtError::MissingClaim("exp".into()))?,
        })
    }
}

fn classify(kind: &ErrorKind) -> JwtError {
    match kind {
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => JwtError::Algorithm,
        ErrorKind::InvalidSignature => JwtError::Signature,
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidAudience => JwtError::Audience,
        ErrorKind::InvalidIssuer => JwtError::Issuer,
        ErrorKind::MissingRequiredClaim(c) => JwtError::MissingClaim(c.clone()),
        _ => JwtError::Malformed,
    }
}

#[cfg(test)]
#[path = "jwt/tests.rs"]
mod tests;
