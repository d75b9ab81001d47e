//! `X-authentik-jwt` tokens for `--auth trusted-headers` tests: real HS256 tokens
//! signed the way Authentik signs proxy-provider tokens (the provider's client
//! secret), any claims the test chooses, and forgeries assembled by hand
//! (`alg: none`, RS256 with junk signature bytes) that no library would sign.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

/// The signing side of a proxy provider: secret, issuer and client id.
#[derive(Debug, Clone)]
pub struct JwtIssuer {
    /// The provider's client secret (the HS256 key).
    pub secret: String,
    /// `iss` of every token.
    pub issuer: String,
    /// `aud` of every token (the client id).
    pub audience: String,
}

impl Default for JwtIssuer {
    fn default() -> Self {
        Self {
            secret: "e2e-provider-client-secret-0123456789".into(),
            issuer: "https://auth.e2e.test/application/o/ide/".into(),
            audience: "e2e-client-id".into(),
        }
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

impl JwtIssuer {
    /// The claims Authentik puts in a token for `uid`/`username`, valid 10 minutes.
    pub fn claims(&self, uid: &str, username: &str) -> Value {
        json!({
            "iss": self.issuer, "aud": self.audience, "sub": uid,
            "exp": now() + 600, "iat": now(), "auth_time": now(),
            "preferred_username": username, "email": format!("{username}@e2e.test"),
            "groups": ["developers"], "azp": self.audience,
        })
    }

    /// `claims` signed with HS256 and the right secret.
    pub fn sign(&self, claims: &Value) -> String {
        sign_with(Algorithm::HS256, &self.secret, claims)
    }

    /// `req` as `user`, with the headers an ingress adds after forward auth: the
    /// identity headers and a valid token whose `groups` claim carries the user's
    /// groups (the signed claim is what the proxy believes, not the header).
    pub fn signed(
        &self,
        req: reqwest::RequestBuilder,
        user: &crate::FakeUser,
    ) -> reqwest::RequestBuilder {
        self.headers(user)
            .into_iter()
            .fold(req, |req, (name, value)| req.header(name, value))
    }

    /// The headers the outpost adds for `user` (as [`Self::signed`] sends them):
    /// for a browser, which sends them with every request.
    pub fn headers(&self, user: &crate::FakeUser) -> Vec<(&'static str, String)> {
        let mut claims = self.claims(&user.uid, &user.username);
        claims["groups"] = json!(user.groups);
        vec![
            ("x-authentik-uid", user.uid.clone()),
            ("x-authentik-username", user.username.clone()),
            ("x-authentik-groups", user.groups.join("|")),
            ("x-authentik-jwt", self.sign(&claims)),
        ]
    }

    /// A valid token for `uid`/`username`.
    pub fn token(&self, uid: &str, username: &str) -> String {
        self.sign(&self.claims(uid, username))
    }

    /// Writes the secret to `<dir>/jwt-secret` (with a trailing newline, as
    /// `echo` would) and returns the path.
    pub fn write_secret(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let path = dir.join("jwt-secret");
        std::fs::write(&path, format!("{}\n", self.secret))?;
        Ok(path)
    }

    /// The proxy flags for trusted-headers mode with this issuer.
    pub fn proxy_args(&self, secret_file: &Path) -> Vec<String> {
        vec![
            "--auth".into(),
            "trusted-headers".into(),
            "--jwt-secret-file".into(),
            secret_file.to_string_lossy().into_owned(),
            "--jwt-issuer".into(),
            self.issuer.clone(),
            "--jwt-audience".into(),
            self.audience.clone(),
        ]
    }
}

/// `claims` signed with any HMAC algorithm and secret.
pub fn sign_with(alg: Algorithm, secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default()
}

/// A token assembled by hand from any header, claims and signature bytes.
pub fn forge(header: &Value, claims: &Value, signature: &[u8]) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(header),
        part(claims),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// An unsigned `alg: none` token.
pub fn alg_none(claims: &Value) -> String {
    forge(&json!({"alg": "none", "typ": "JWT"}), claims, b"")
}

/// An `RS256` token with 256 junk signature bytes.
pub fn rs256_forgery(claims: &Value) -> String {
    forge(&json!({"alg": "RS256", "typ": "JWT"}), claims, &[0x5a; 256])
}

/// `claims` with `key` set to `value`.
pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}
