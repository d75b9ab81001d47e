//! The hop check: only the proxy reaches a launcher. Every request the proxy sends
//! carries this workspace's hop credential in [`HOP_HEADER`]; the launcher compares
//! it in constant time (`subtle`) before anything else, and answers anything without
//! it `401` with nothing of the workspace. `/_dcs/ready` stays open for the kubelet's
//! probe, but without the credential it reveals only its status code.
//!
//! The credential comes from `DCS_HOP_SECRET_FILE` (a Secret volume in Knative) or,
//! when that is `-`, from the launcher's stdin at spawn (the local runtime); it is
//! installed once ([`install`]) before the front serves. Without one (tests, tools)
//! nothing is checked. A credential from a file is read again when a request does
//! not match it (at most every [`RELOAD_EVERY`]): after the proxy's secret was
//! rotated and the workspace's Secret re-applied, the kubelet updates the file and
//! the running workspace follows. The header is removed from every request once checked, so
//! nothing behind the launcher (the IDE, a preview's app) ever sees it.

use std::fmt;
use std::path::PathBuf;
use std::sync::{OnceLock, RwLock};
use std::time::{Duration, Instant};

use http::{HeaderMap, Response, StatusCode};
use subtle::ConstantTimeEq;

use dcs_model::env::HOP_HEADER;

use crate::body::Body;
use crate::pages;

/// The longest credential accepted (a hex HMAC-SHA256 is 64 characters).
const MAX_LEN: usize = 1024;

/// A hop credential. Its `Debug` is redacted; it has no `Display`.
#[derive(Clone)]
pub struct Credential(Vec<u8>);

impl Credential {
    /// The credential in `text` (surrounding whitespace trimmed); `None` if empty or
    /// longer than any credential.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        (!text.is_empty() && text.len() <= MAX_LEN).then(|| Self(text.as_bytes().to_vec()))
    }

    /// Whether `presented` is this credential, in constant time for equal lengths.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.len() == presented.len() && bool::from(self.0.ct_eq(presented))
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

impl Credential {
    /// The credential as a (sensitive) header value, for the one place that sends
    /// it: the progress push to the proxy ([`crate::progress_push`]).
    pub fn header_value(&self) -> Option<http::HeaderValue> {
        let mut value = http::HeaderValue::from_bytes(&self.0).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

/// The installed credential (read again from its file if that is due), if any.
pub fn installed() -> Option<Credential> {
    let installed = INSTALLED.get()?;
    installed.reload();
    Some(installed.credential())
}

/// How often a credential file is read again at most.
pub const RELOAD_EVERY: Duration = Duration::from_secs(10);

/// The installed credential, where it came from, and when it was last read.
struct Installed {
    current: RwLock<(Credential, Instant)>,
    file: Option<PathBuf>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Installs this launcher's credential (once; a second call is ignored); `file`
/// is where it was read from, if it may change there.
pub fn install(credential: Credential, file: Option<PathBuf>) {
    let _ = INSTALLED.set(Installed {
        current: RwLock::new((credential, Instant::now())),
        file,
    });
}

impl Installed {
    fn credential(&self) -> Credential {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .clone()
    }

    /// Reads the file again if it is due; whether the credential changed.
    fn reload(&self) -> bool {
        let Some(file) = &self.file else {
            return false;
        };
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if current.1.elapsed() < RELOAD_EVERY {
            return false;
        }
        current.1 = Instant::now();
        match std::fs::read_to_string(file)
            .ok()
            .and_then(|t| Credential::parse(&t))
        {
            Some(fresh) if !fresh.matches(&current.0 .0) => {
                current.0 = fresh;
                tracing::info!("the hop credential changed; using the new one");
                true
            }
            _ => false,
        }
    }
}

/// What the check says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It carries the credential (or none is installed): serve it.
    Pass,
    /// It does not.
    Refuse,
}

/// Checks `headers` against the installed credential, then removes the header.
pub fn check(headers: &mut HeaderMap) -> Verdict {
    let Some(installed) = INSTALLED.get() else {
        headers.remove(HOP_HEADER);
        return Verdict::Pass;
    };
    let mut result = verdict(Some(&installed.credential()), headers);
    if result == Verdict::Refuse && installed.reload() {
        result = verdict(Some(&installed.credential()), headers);
    }
    headers.remove(HOP_HEADER);
    result
}

/// The verdict on `headers` for `credential`: exactly one header value, equal to it.
pub fn verdict(credential: Option<&Credential>, headers: &HeaderMap) -> Verdict {
    let Some(credential) = credential else {
        return Verdict::Pass;
    };
    let mut values = headers.get_all(HOP_HEADER).iter();
    match (values.next(), values.next()) {
        (Some(value), None) if credential.matches(value.as_bytes()) => Verdict::Pass,
        _ => Verdict::Refuse,
    }
}

/// The answer to a request without the credential: 401, naming nothing of the
/// workspace.
pub fn refused() -> Response<Body> {
    pages::json(
        StatusCode::UNAUTHORIZED,
        &serde_json::json!({ "error": "unauthorized", "message": "only the proxy reaches this workspace" }),
    )
}

/// The answer to `/_dcs/ready` without the credential: its status code and nothing
/// else (the kubelet's probe needs no more).
pub fn bare_status(ready: bool) -> Response<Body> {
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut res = Response::new(crate::body::empty());
    *res.status_mut() = status;
    res
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HOP_HEADER, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn only_the_exact_credential_once_passes() {
        let c = Credential::parse("  abc123\n").expect("credential");
        assert_eq!(verdict(Some(&c), &headers(&["abc123"])), Verdict::Pass);
        for refused in [
            headers(&[]),
            headers(&["abc124"]),
            headers(&["abc12"]),
            headers(&["abc1234"]),
            headers(&["ABC123"]),
            headers(&["abc123", "abc123"]),
            headers(&["other", "abc123"]),
        ] {
            assert_eq!(verdict(Some(&c), &refused), Verdict::Refuse, "{refused:?}");
        }
        assert_eq!(
            verdict(None, &headers(&[])),
            Verdict::Pass,
            "nothing to check"
        );
    }

    #[test]
    fn the_credential_is_never_shown_and_empty_ones_are_refused() {
        let c = Credential::parse("s3cret").expect("credential");
        assert_eq!(format!("{c:?}"), "Credential(<redacted>)");
        assert!(Credential::parse(" \n").is_none());
        assert!(Credential::parse(&"a".repeat(MAX_LEN + 1)).is_none());
    }

    #[test]
    fn the_header_is_removed_once_checked() {
        let mut h = headers(&["whatever"]);
        let _ = check(&mut h);
        assert!(h.get(HOP_HEADER).is_none());
    }

    #[test]
    fn a_credential_file_is_read_again_once_it_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("credential");
        std::fs::write(&file, "old\n").expect("write");
        let long_ago = Instant::now()
            .checked_sub(RELOAD_EVERY)
            .unwrap_or_else(Instant::now);
        let installed = Installed {
            current: RwLock::new((Credential::parse("old").expect("c"), long_ago)),
            file: Some(file.clone()),
        };
        std::fs::write(&file, "new\n").expect("write");
        assert!(installed.reload());
        assert!(installed.credential().matches(b"new"));
        std::fs::write(&file, "newer\n").expect("write");
        assert!(!installed.reload(), "not again so soon");
        assert!(installed.credential().matches(b"new"));
    }
}
