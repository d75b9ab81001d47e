//! A short-lived cache of successful sign-in checks, keyed by a hash of the
//! credentials that were checked (Authentik's `authentik_proxy_*` session cookies,
//! else the whole `Cookie` header, plus any `Authorization`), so the outpost is
//! asked once per session per TTL instead of once per request. Failures are never
//! cached. The cache is bounded: when full, expired entries go first, then the
//! one closest to expiry.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::header::{HeaderMap, AUTHORIZATION, COOKIE};
use sha2::{Digest, Sha256};

use crate::auth::headers::session_cookies;
use crate::auth::Identity;

/// Most sessions held at once.
pub const MAX_ENTRIES: usize = 10_000;

/// A SHA-256 of a request's credentials. Its `Debug` shows nothing of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey([u8; 32]);

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<hash>)")
    }
}

impl SessionKey {
    /// The key of the credentials in `headers` as checked for `scope` (the
    /// origin); `None` when the request carries no credentials.
    pub fn of(headers: &HeaderMap, scope: &[&[u8]]) -> Option<Self> {
        let mut hash = Sha256::new();
        for part in scope {
            hash.update(b"scope\0");
            hash.update(part);
        }
        let session = session_cookies(headers);
        let mut any = false;
        if session.is_empty() {
            for v in headers.get_all(COOKIE) {
                hash.update(b"cookie\0");
                hash.update(v.as_bytes());
                any = true;
            }
        } else {
            for pair in session {
                hash.update(b"session\0");
                hash.update(pair.as_bytes());
                any = true;
            }
        }
        for v in headers.get_all(AUTHORIZATION) {
            hash.update(b"authorization\0");
            hash.update(v.as_bytes());
            any = true;
        }
        any.then(|| Self(hash.finalize().into()))
    }
}

/// Successful checks, each good until its deadline.
#[derive(Debug)]
pub struct SessionCache {
    ttl: Duration,
    max: usize,
    entries: Mutex<HashMap<SessionKey, (Instant, Arc<Identity>)>>,
}

impl SessionCache {
    /// A cache keeping each entry for `ttl` (zero disables it), at most `max` entries.
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self {
            ttl,
            max,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The identity cached for `key`, if still fresh.
    pub fn get(&self, key: &SessionKey) -> Option<Arc<Identity>> {
        self.get_at(key, Instant::now())
    }

    /// Remembers a successful check.
    pub fn insert(&self, key: SessionKey, identity: Arc<Identity>) {
        self.insert_at(key, identity, Instant::now());
    }

    /// Forgets `key` (on sign-out).
    pub fn remove(&self, key: &SessionKey) {
        self.lock().remove(key);
    }

    /// Entries held, fresh or not.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get_at(&self, key: &SessionKey, now: Instant) -> Option<Arc<Identity>> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((deadline, id)) if now < *deadline => Some(Arc::clone(id)),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn insert_at(&self, key: SessionKey, identity: Arc<Identity>, now: Instant) {
        if self.ttl.is_zero() || self.max == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.max && !entries.contains_key(&key) {
            entries.retain(|_, (deadline, _)| now < *deadline);
            if entries.len() >= self.max {
                let soonest = entries.iter().min_by_key(|(_, (d, _))| *d).map(|(k, _)| *k);
                if let Some(k) = soonest {
                    entries.remove(&k);
                }
            }
        }
        entries.insert(key, (now + self.ttl, identity));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, (Instant, Arc<Identity>)>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use dcs_model::UserId;
    use http::HeaderValue;

    use super::*;

    fn id(u: &str) -> Arc<Identity> {
        Arc::new(Identity::from_user(UserId::new(u).expect("user")))
    }

    fn key(cookie: &str) -> SessionKey {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(cookie).expect("v"));
        SessionKey::of(&h, &[b"http", b"ide"]).expect("key")
    }

    #[test]
    fn keys_follow_the_session_cookie_not_other_cookies() {
        assert_eq!(
            key("authentik_proxy_x=s1; ide=1"),
            key("ide=2; authentik_proxy_x=s1")
        );
        assert_ne!(key("authentik_proxy_x=s1"), key("authentik_proxy_x=s2"));
        assert_ne!(
            key("a=1"),
            key("a=2"),
            "no session cookie: the whole header"
        );
        let mut h = HeaderMap::new();
        assert_eq!(SessionKey::of(&h, &[b"http", b"ide"]), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        assert!(SessionKey::of(&h, &[b"http", b"ide"]).is_some());
        h.insert(COOKIE, HeaderValue::from_static("authentik_proxy_x=s1"));
        assert_ne!(
            SessionKey::of(&h, &[b"http", b"ide"]),
            SessionKey::of(&h, &[b"http", b"other"]),
            "a session checked for one host is not reused for another"
        );
        assert!(!format!("{:?}", key("authentik_proxy_x=s1")).contains("s1"));
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = SessionCache::new(Duration::from_secs(30), 10);
        let t0 = Instant::now();
        cache.insert_at(key("a=1"), id("alice"), t0);
        assert_eq!(
            cache.get_at(&key("a=1"), t0 + Duration::from_secs(29)),
            Some(id("alice"))
        );
        assert_eq!(
            cache.get_at(&key("a=1"), t0 + Duration::from_secs(30)),
            None
        );
        assert!(cache.is_empty(), "expired entries are dropped on read");
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = SessionCache::new(Duration::ZERO, 10);
        cache.insert(key("a=1"), id("alice"));
        assert_eq!(cache.get(&key("a=1")), None);
    }

    #[test]
    fn the_cache_is_bounded_and_evicts_the_oldest() {
        let cache = SessionCache::new(Duration::from_secs(30), 3);
        let t0 = Instant::now();
        for (i, c) in ["a=1", "a=2", "a=3", "a=4"].iter().enumerate() {
            cache.insert_at(key(c), id("alice"), t0 + Duration::from_secs(i as u64));
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get_at(&key("a=1"), t0), None, "the oldest went");
        assert!(cache.get_at(&key("a=4"), t0).is_some());
        cache.remove(&key("a=4"));
        assert!(cache.get_at(&key("a=4"), t0).is_none());
    }
}
