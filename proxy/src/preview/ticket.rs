//! What opens a preview host (subdomain mode): a **lead** the main origin sends a
//! signed-in caller to the preview host with (it opens nothing: it says where to get a
//! ticket), a one-time **ticket** made on the main origin for that caller and bound to
//! the browser (the hash, [`bind`], of a [`nonce`] the preview host keeps in a cookie
//! of its own and sent along as `state`, as OAuth does), and the **session** cookie
//! the preview host exchanges the ticket for. All are HS256 tokens under the proxy's
//! preview key, each with its own audience (none is taken for another), bound to the
//! preview host's label (so to one workspace and port), the caller, and a deadline.
//! A ticket opens only in the browser holding its nonce (a ticket sent to someone
//! else opens nothing for them), and only once: its id is remembered until it
//! expires, within a bound per caller ([`MAX_USED_PER_USER`]), so one user minting
//! and redeeming tickets in a loop fills only their own share, never everyone's.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dcs_model::{UserId, WorkspaceKey};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::secret::Secret;
use crate::auth::Identity;

/// Audience of leads.
const LEAD: &str = "dcs-preview-lead";
/// Audience of tickets.
const TICKET: &str = "dcs-preview-ticket";
/// Audience of session cookies.
const SESSION: &str = "dcs-preview-session";
/// Most ticket ids remembered at once (each for at most a ticket's lifetime).
const MAX_USED: usize = 100_000;
/// Most ticket ids of one caller remembered at once: a person opens a few previews a
/// minute; beyond this, that caller alone waits for their tickets to expire.
const MAX_USED_PER_USER: usize = 2_000;
/// Groups carried in a cookie are dropped beyond this many bytes (browsers keep
/// cookies up to 4 KiB); the workspace then gets no `X-Forwarded-Groups`.
const MAX_GROUP_BYTES: usize = 1024;

/// Who a ticket or cookie was made for: the identity forwarded to the preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    /// The stable user id.
    pub sub: String,
    /// The name shown.
    pub name: String,
    /// Email, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Groups (empty when they did not fit).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl Who {
    /// The parts of `identity` a preview is told.
    pub fn of(identity: &Identity) -> Self {
        let groups_len: usize = identity.groups.iter().map(|g| g.len() + 3).sum();
        Self {
            sub: identity.user.to_string(),
            name: identity.username.clone(),
            email: identity.email.clone(),
            groups: if groups_len <= MAX_GROUP_BYTES {
                identity.groups.clone()
            } else {
                Vec::new()
            },
        }
    }

    /// The identity again; `None` if the user id is not one (never for our tokens).
    pub fn identity(&self) -> Option<Identity> {
        let user = UserId::new(&self.sub).ok()?;
        Some(Identity {
            username: self.name.clone(),
            email: self.email.clone(),
            groups: self.groups.clone(),
            ..Identity::from_user(user)
        })
    }
}

/// What a ticket or cookie grants: one preview host, for one caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The preview host's label, `<port>-<workspace name>`.
    pub host: String,
    /// The workspace (whose, which).
    pub key: WorkspaceKey,
    /// The port previewed.
    pub port: u16,
    /// The preview's URL on the main origin (`https://ide.example.com/github/o/r/ports/<n>`),
    /// where a new ticket is made once the cookie has expired.
    pub back: String,
    /// Who may use it.
    pub who: Who,
    /// The access policy it was allowed under ([`crate::policy::Policy::fingerprint`]);
    /// under another, the preview host sends the caller back to be decided again.
    #[serde(default)]
    pub policy: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    aud: String,
    exp: u64,
    iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    /// A ticket's browser: [`bind`] of the preview host's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(flatten)]
    grant: Grant,
}

/// Why a ticket or cookie does not open this host. Messages never show the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not ours: malformed, another key, another audience.
    #[error("the preview link is not valid")]
    Invalid,
    /// Made for another preview host.
    #[error("the preview link was made for another preview")]
    OtherHost,
    /// Past its deadline (the grant is authentic, so the caller may be sent back).
    #[error("the preview link has expired")]
    Expired(Box<Grant>),
    /// A ticket brought by a browser without the nonce it was made for: someone
    /// else's, or this browser's after its nonce expired.
    #[error(
        "the preview link was made for another browser (or this one took too long to come back)"
    )]
    Unbound,
    /// A ticket already redeemed.
    #[error("the preview link was already used")]
    Used,
    /// Too many tickets redeemed recently (by this caller, or by everyone) to
    /// remember another one.
    #[error("too many previews were opened in the last minutes; try again shortly")]
    Busy,
    /// The key could not be made (no randomness at start-up), so nothing is signed.
    #[error("previews on their own host are unavailable: the proxy has no signing key")]
    NoKey,
}

/// The key that signs tickets and cookies, and the tickets already redeemed.
pub struct Keys {
    key: Option<(EncodingKey, DecodingKey)>,
    used: Mutex<Used>,
}

/// The tickets redeemed and not yet expired: each id's deadline and caller, and how
/// many each caller has.
#[derive(Default)]
struct Used {
    ids: HashMap<String, (u64, String)>,
    per_user: HashMap<String, usize>,
}

impl Used {
    /// Remembers ticket `jti` of `sub` until `exp`; `false` when that caller (or
    /// everyone together) already has as many as may be remembered, even after the
    /// expired ones are forgotten.
    fn remember(&mut self, jti: String, exp: u64, sub: &str) -> bool {
        let full = |u: &Self| {
            u.ids.len() >= MAX_USED
                || u.per_user.get(sub).copied().unwrap_or(0) >= MAX_USED_PER_USER
        };
        if full(self) {
            self.forget_expired(now());
            if full(self) {
                return false;
            }
        }
        *self.per_user.entry(sub.to_owned()).or_default() += 1;
        self.ids.insert(jti, (exp, sub.to_owned()));
        true
    }

    fn forget_expired(&mut self, now: u64) {
        let per_user = &mut self.per_user;
        self.ids.retain(|_, (exp, sub)| {
            let keep = *exp >= now;
            if !keep {
                if let Some(n) = per_user.get_mut(sub.as_str()) {
                    *n = n.saturating_sub(1);
                }
            }
            keep
        });
        per_user.retain(|_, n| *n > 0);
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    /// Keys from `secret` (`--preview-secret-file`).
    pub fn new(secret: Secret) -> Self {
        let key = (
            EncodingKey::from_secret(secret.expose()),
            DecodingKey::from_secret(secret.expose()),
        );
        Self {
            key: Some(key),
            used: Mutex::new(Used::default()),
        }
    }

    /// A random key for this process (one replica; a restart invalidates cookies).
    /// Without OS randomness nothing can be signed, and subdomain previews refuse.
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        match getrandom::fill(&mut bytes) {
            Ok(()) => Self::new(Secret::new(bytes.to_vec())),
            Err(_) => Self {
                key: None,
                used: Mutex::new(Used::default()),
            },
        }
    }

    /// A lead for `grant`, valid for `ttl`: it sends the caller's browser to the
    /// preview host, which binds the ticket it then asks for to that browser.
    pub fn lead(&self, grant: &Grant, ttl: Duration) -> Result<String, Refusal> {
        self.sign(&Claims::new(LEAD, grant, now(), ttl))
    }

    /// The grant of a lead for the preview host `label`.
    pub fn follow(&self, lead: &str, label: &str) -> Result<Grant, Refusal> {
        self.verify(LEAD, lead, label).map(|c| c.grant)
    }

    /// A one-time ticket for `grant`, valid for `ttl`, for the browser whose nonce
    /// [`bind`]s to `state`.
    pub fn ticket(&self, grant: &Grant, ttl: Duration, state: &str) -> Result<String, Refusal> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|_| Refusal::NoKey)?;
        let claims = Claims {
            jti: Some(hex(&id)),
            state: Some(state.to_owned()),
            ..Claims::new(TICKET, grant, now(), ttl)
        };
        self.sign(&claims)
    }

    /// A session cookie value for `grant`, valid for `ttl`.
    pub fn session(&self, grant: &Grant, ttl: Duration) -> Result<String, Refusal> {
        self.sign(&Claims::new(SESSION, grant, now(), ttl))
    }

    /// Redeems a ticket for the preview host `label` in a browser holding `nonces`:
    /// authentic, unexpired, made for this host and one of these nonces, and never
    /// redeemed before (then never again).
    pub fn redeem<'n>(
        &self,
        ticket: &str,
        label: &str,
        nonces: impl IntoIterator<Item = &'n str>,
    ) -> Result<Grant, Refusal> {
        let claims = self.verify(TICKET, ticket, label)?;
        let state = claims.state.as_deref().ok_or(Refusal::Invalid)?;
        if !nonces.into_iter().any(|n| bind(n) == state) {
            return Err(Refusal::Unbound);
        }
        let jti = claims.jti.ok_or(Refusal::Invalid)?;
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.ids.contains_key(&jti) {
            return Err(Refusal::Used);
        }
        if !used.remember(jti, claims.exp, &claims.grant.who.sub) {
            return Err(Refusal::Busy);
        }
        Ok(claims.grant)
    }

    /// Checks a session cookie value for the preview host `label`.
    pub fn check_session(&self, value: &str, label: &str) -> Result<Grant, Refusal> {
        self.verify(SESSION, value, label).map(|c| c.grant)
    }

    fn sign(&self, claims: &Claims) -> Result<String, Refusal> {
        let (key, _) = self.key.as_ref().ok_or(Refusal::NoKey)?;
        encode(&Header::new(Algorithm::HS256), claims, key).map_err(|_| Refusal::NoKey)
    }

    fn verify(&self, aud: &str, token: &str, label: &str) -> Result<Claims, Refusal> {
        let (_, key) = self.key.as_ref().ok_or(Refusal::NoKey)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        // The deadline is checked below, so an expired grant can still say where to
        // get a new one.
        validation.validate_exp = false;
        validation.set_audience(&[aud]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        let claims = decode::<Claims>(token, key, &validation)
            .map_err(|_| Refusal::Invalid)?
            .claims;
        if claims.grant.host != label {
            return Err(Refusal::OtherHost);
        }
        if claims.exp <= now() {
            return Err(Refusal::Expired(Box::new(claims.grant)));
        }
        Ok(claims)
    }
}

impl Claims {
    fn new(aud: &str, grant: &Grant, iat: u64, ttl: Duration) -> Self {
        Self {
            aud: aud.to_owned(),
            iat,
            exp: iat.saturating_add(ttl.as_secs().max(1)),
            jti: None,
            state: None,
            grant: grant.clone(),
        }
    }
}

/// A new nonce for a preview host's browser (32 random bytes, hex).
pub fn nonce() -> Result<String, Refusal> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| Refusal::NoKey)?;
    Ok(hex(&bytes))
}

/// What a ticket carries of `nonce` (and the main origin sees, as `state`): its
/// SHA-256, hex. The nonce itself never leaves its cookie.
pub fn bind(nonce: &str) -> String {
    hex(&Sha256::digest(nonce.as_bytes()))
}

/// Whether `text` may be a [`bind`]ing (what the main origin accepts as `state`).
pub fn is_state(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
