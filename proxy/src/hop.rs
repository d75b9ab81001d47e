//! The authenticated hop: only the proxy reaches a workspace. Every request the
//! proxy sends to a launcher (forwarded requests and previews, the local runtime's
//! readiness probe, the Knative route probe) carries the workspace's hop credential
//! in [`HEADER`]; the launcher checks it before anything else (`401` without it).
//!
//! The credential is HMAC-SHA256 of the workspace's name under the proxy's secret
//! ([`HopKey`]), hex: every replica computes the same value without shared state, and
//! one workspace's credential opens no other. The secret is a file
//! (`--hop-secret-file`; local default: generated once into the data dir, `0600`;
//! Knative: a Secret mounted into the proxy). A launcher gets its credential as a
//! file (a per-workspace Secret in Knative) or on its stdin at spawn (local), never
//! in argv, environment values or logs. Rotating the secret: replace the file and
//! restart the proxies; each workspace gets the new credential at its next start.
//!
//! # Layout
//! - [`unix`]: sending requests to a launcher over a unix socket (sandboxed ones).
//! - [`ask`]: one question to a launcher on a connection of its own (readiness, the
//!   idle clock, keep-alives).

pub mod ask;
pub mod unix;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use dcs_model::K8sName;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The request header carrying the credential (also removed from what clients send).
pub const HEADER: &str = dcs_model::env::HOP_HEADER;
/// [`HEADER`] as a header name (a `&str` name is parsed again at every use).
const HEADER_NAME: HeaderName = HeaderName::from_static(HEADER);

/// The shortest secret accepted, bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// The proxy's hop secret. Its `Debug` is redacted; it has no `Display`.
#[derive(Clone)]
pub struct HopKey(Vec<u8>);

impl fmt::Debug for HopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HopKey(<redacted>)")
    }
}

impl PartialEq for HopKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && bool::from(self.0.ct_eq(&other.0))
    }
}

impl Eq for HopKey {}

impl HopKey {
    /// The secret in `bytes` (surrounding whitespace trimmed), at least
    /// [`MIN_SECRET_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let trimmed = bytes.trim_ascii();
        if trimmed.len() < MIN_SECRET_LEN {
            return Err(format!(
                "the hop secret must have at least {MIN_SECRET_LEN} bytes (e.g. `openssl rand -hex 32`)"
            ));
        }
        Ok(Self(trimmed.to_vec()))
    }

    /// Reads the secret from `path`. Errors name the file, never its content.
    pub fn load(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_bytes(&bytes).map_err(|why| format!("{}: {why}", path.display()))
    }

    /// Reads the secret from `path`, generating it there first (32 random bytes,
    /// hex, owner-only) if the file does not exist. The first secret written wins:
    /// one generated while another process generated one too (two proxies first
    /// started on one data dir at once, before either holds its lock) is dropped,
    /// never written over the other, and every caller runs with what the file holds.
    pub fn load_or_generate(path: &Path) -> Result<Self, String> {
        if !path.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
            dcs_os::atomic::create_new_private(path, hex(&bytes).as_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Self::load(path)
    }

    /// The credential of the workspace named `name`.
    pub fn credential(&self, name: &K8sName) -> Credential {
        self.credential_for(name.as_str())
    }

    /// The credential of the workspace named `name` (any string).
    pub fn credential_for(&self, name: &str) -> Credential {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(name.as_bytes());
        let text = hex(&mac.finalize().into_bytes());
        let mut header = HeaderValue::from_str(&text)
            .unwrap_or_else(|_| unreachable!("hex digits are a valid header value"));
        header.set_sensitive(true);
        Credential {
            text: Arc::from(text),
            header,
        }
    }
}

/// A workspace's hop credential (hex). Its `Debug` is redacted, it has no
/// `Display`, and it compares in constant time. It is made once per workspace and
/// sent with every request, so it is held both as text and as a ready (sensitive)
/// header value, each shared: a clone, and each request's header, costs reference
/// counts, not copies.
#[derive(Clone, Eq)]
pub struct Credential {
    text: Arc<str>,
    header: HeaderValue,
}

impl Credential {
    /// The credential itself, for the one place that writes it (a header, a
    /// Secret, a launcher's stdin).
    pub fn expose(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Credential {
    fn eq(&self, other: &Self) -> bool {
        self.text.len() == other.text.len()
            && bool::from(self.text.as_bytes().ct_eq(other.text.as_bytes()))
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

/// Sets [`HEADER`] to `credential` (replacing whatever a client sent), or removes
/// it when there is none.
pub fn insert(headers: &mut HeaderMap, credential: Option<&Credential>) {
    match credential {
        Some(credential) => {
            headers.insert(HEADER_NAME, credential.header.clone());
        }
        None => {
            headers.remove(HEADER_NAME);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_is_hmac_sha256_of_the_name_rfc_4231() {
        // RFC 4231, test case 2: the construction itself (the key is shorter than
        // a hop secret may be), then a hop key's credential is that construction.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let key = HopKey::from_bytes(&[b'k'; 32]).expect("key");
        let mut mac = Hmac::<Sha256>::new_from_slice(&[b'k'; 32]).expect("key");
        mac.update(b"ws-alice-hello");
        assert_eq!(
            key.credential_for("ws-alice-hello").expose(),
            hex(&mac.finalize().into_bytes())
        );
    }

    #[test]
    fn every_workspace_has_its_own_credential_and_every_replica_the_same() {
        let a = HopKey::from_bytes(b"0123456789abcdef0123456789abcdef\n").expect("key");
        let b = HopKey::from_bytes(b"0123456789abcdef0123456789abcdef").expect("key");
        assert_eq!(a.credential_for("ws-1"), b.credential_for("ws-1"));
        assert_ne!(a.credential_for("ws-1"), a.credential_for("ws-2"));
        let other = HopKey::from_bytes(&[b'z'; 40]).expect("key");
        assert_ne!(a.credential_for("ws-1"), other.credential_for("ws-1"));
        assert_eq!(a.credential_for("ws-1").expose().len(), 64);
    }

    #[test]
    fn secrets_and_credentials_are_never_shown_and_short_secrets_refused() {
        let key = HopKey::from_bytes(&[b's'; 32]).expect("key");
        assert_eq!(format!("{key:?}"), "HopKey(<redacted>)");
        let c = key.credential_for("ws");
        assert_eq!(format!("{c:?}"), "Credential(<redacted>)");
        assert!(HopKey::from_bytes(b"short").is_err());
        assert!(HopKey::from_bytes(&[b' '; 64]).is_err());
    }

    #[test]
    fn a_generated_secret_is_owner_only_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secrets/hop.key");
        let first = HopKey::load_or_generate(&path).expect("generated");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = HopKey::load_or_generate(&path).expect("loaded");
        assert_eq!(first.credential_for("x"), again.credential_for("x"));
        let err = HopKey::load(&dir.path().join("absent")).expect_err("absent");
        assert!(err.contains("absent"), "{err}");
    }

    #[test]
    fn proxies_first_started_at_once_all_load_the_key_the_file_holds() {
        // Two proxies first started on one data dir at once: each must run with the
        // key on disk, or the launchers of the one that keeps running refuse it after
        // its restart. Rounds of racing threads, each one a fresh path.
        const PROXIES: usize = 8;
        for _ in 0..30 {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("secrets/hop.key");
            let start = std::sync::Barrier::new(PROXIES);
            let keys: Vec<HopKey> = std::thread::scope(|s| {
                let proxies: Vec<_> = (0..PROXIES)
                    .map(|_| {
                        let (path, start) = (&path, &start);
                        s.spawn(move || {
                            start.wait();
                            HopKey::load_or_generate(path).expect("key")
                        })
                    })
                    .collect();
                proxies
                    .into_iter()
                    .map(|p| p.join().expect("join"))
                    .collect()
            });
            let on_disk = HopKey::load(&path).expect("on disk");
            assert!(
                keys.iter().all(|key| *key == on_disk),
                "every proxy runs with the key the file holds"
            );
        }
    }

    #[test]
    fn the_header_is_replaced_never_appended() {
        let key = HopKey::from_bytes(&[b's'; 32]).expect("key");
        let c = key.credential_for("ws");
        let mut headers = HeaderMap::new();
        headers.append(HEADER, HeaderValue::from_static("forged"));
        headers.append(HEADER, HeaderValue::from_static("forged-too"));
        insert(&mut headers, Some(&c));
        let values: Vec<_> = headers.get_all(HEADER).iter().collect();
        assert_eq!(values, [c.expose()]);
        assert!(
            values.iter().all(|v| v.is_sensitive()),
            "marked sensitive: never indexed by HTTP/2's header compression"
        );
        insert(&mut headers, None);
        assert!(headers.get(HEADER).is_none());
    }
}
