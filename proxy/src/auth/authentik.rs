//! `--auth authentik`: the proxy does forward auth itself, the way nginx's
//! `auth_request` does. A request without a fresh cached session is checked
//! against the outpost's `/outpost.goauthentik.io/auth/nginx` with the client's
//! cookies (and `Authorization`), `X-Original-URL` and `X-Forwarded-Host`, whose
//! scheme and host are always `--public-url` (required in this mode): the host
//! picks which Authentik application checks the session, so it is never one the
//! client chose (`Host`, `X-Forwarded-*`):
//! - 200 → the identity from the outpost's `X-authentik-*` response headers,
//!   cached for `--auth-cache-ttl` under a hash of the credentials;
//! - 401 → a browser's top-level navigation is sent to
//!   `/outpost.goauthentik.io/start?rd=…`; anything else (a frame such as a VS Code
//!   webview, XHR, API, scripts) gets a 401;
//! - unreachable, slow or any other answer → 503: never an open door.
//!
//! `/outpost.goauthentik.io/*` is passed to the outpost unauthenticated, so the
//! sign-in callback and sign-out work on the IDE's own host. A sign-out through
//! this replica drops the session's cache entry and closes its open tunnels here;
//! other replicas close theirs at their next re-check ([`tunnels`]).
//!
//! # Layout
//! - [`client`]: the HTTP exchanges with the outpost.
//! - [`cache`]: the bounded, hashed session cache.
//! - [`tunnels`]: the sessions of open tunnels, closed when a session ends.

pub mod cache;
pub mod client;
pub mod tunnels;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::header::{HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tracing::{debug, info, warn};

use self::cache::{SessionCache, SessionKey, MAX_ENTRIES};
use self::client::{Origin, OutpostClient, Verdict};
use self::tunnels::Tunnels;
use super::{headers, Admission, Authenticate, Identity, Lease};
use crate::body::Body;
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// Where the outpost starts a sign-in; `rd` is where to come back to.
pub const START_PATH: &str = "/outpost.goauthentik.io/start";
/// Where the outpost ends a session.
pub const SIGN_OUT_PATH: &str = "/outpost.goauthentik.io/sign_out";

/// Everything but RFC 3986 unreserved characters is encoded in `rd`.
const RD: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What authentik mode needs.
#[derive(Debug, Clone)]
pub struct AuthentikConfig {
    /// The outpost, `http://host:port`, no trailing slash.
    pub outpost_url: String,
    /// How long a successful check is reused (zero: never).
    pub cache_ttl: Duration,
    /// The origin users open (`https://ide.example.com`): what the outpost is told,
    /// whatever `Host` and `X-Forwarded-*` the client sent.
    pub public_url: PublicUrl,
}

/// A pinned public origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub host: String,
}

impl PublicUrl {
    /// Parses `http(s)://host[:port]` (a trailing `/` is allowed, nothing else).
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let uri: Uri = s.parse().map_err(|e| format!("{e}"))?;
        let scheme = uri.scheme_str().unwrap_or("");
        let host = uri.authority().map(|a| a.as_str()).unwrap_or("");
        let path_ok = matches!(uri.path(), "" | "/") && uri.query().is_none();
        if !matches!(scheme, "http" | "https") || host.is_empty() || host.contains('@') || !path_ok
        {
            return Err(format!(
                "expected http(s)://host[:port] with no path (got {s:?})"
            ));
        }
        Ok(Self {
            scheme: scheme.to_owned(),
            host: host.to_owned(),
        })
    }
}

/// The authentik mode.
#[derive(Debug)]
pub struct AuthentikAuth {
    client: OutpostClient,
    cache: Arc<SessionCache>,
    /// The sessions of this replica's open tunnels.
    tunnels: Tunnels,
    /// `--public-url` as the outpost is told it (`None`: a host that is no header
    /// value, which [`PublicUrl::parse`] never returns).
    origin: Option<Origin>,
    metrics: Arc<Metrics>,
}

impl AuthentikAuth {
    /// The mode for `cfg`; its checks are timed and counted in `metrics`.
    pub fn new(cfg: AuthentikConfig, metrics: Arc<Metrics>) -> Self {
        let origin = HeaderValue::from_str(&cfg.public_url.host)
            .ok()
            .map(|host| Origin {
                scheme: cfg.public_url.scheme.clone(),
                host,
            });
        let client = OutpostClient::new(&cfg.outpost_url);
        let cache = Arc::new(SessionCache::new(cfg.cache_ttl, MAX_ENTRIES));
        let tunnels = Tunnels::new(
            client.clone(),
            origin.clone(),
            Arc::clone(&cache),
            Arc::clone(&metrics),
            tunnels::period(cfg.cache_ttl),
        );
        Self {
            client,
            cache,
            tunnels,
            origin,
            metrics,
        }
    }

    /// The scheme and host the user opened: `--public-url`, whatever the request
    /// says (its `Host` or `X-Forwarded-Host` would let the client pick which
    /// Authentik application checks the session).
    fn origin(&self) -> Result<Origin> {
        self.origin.clone().ok_or(Error::AuthUnavailable)
    }
}

/// The full URL the user asked for.
pub fn original_url(origin: &Origin, uri: &Uri) -> String {
    let host = String::from_utf8_lossy(origin.host.as_bytes());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    format!("{}://{host}{path}", origin.scheme)
}

/// Where a browser goes to sign in before coming back to `original_url`.
pub fn sign_in_location(original_url: &str) -> String {
    format!("{START_PATH}?rd={}", utf8_percent_encode(original_url, RD))
}

/// Whether the request is a browser's top-level navigation (which may be
/// redirected to sign in): `Sec-Fetch-Dest: document`, or, without fetch metadata,
/// a request for HTML that is no XHR. A frame (a VS Code webview), XHR, `fetch` or a
/// script gets a 401 it can act on: a sign-in page inside a frame is a dead end.
pub fn is_navigation(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-dest") {
        Some(dest) => dest.as_bytes().eq_ignore_ascii_case(b"document"),
        None => crate::pages::wants_html(headers),
    }
}

/// The cache key: the credentials, scoped to the origin they were checked for.
fn session_key(headers: &HeaderMap, origin: &Origin) -> Option<SessionKey> {
    SessionKey::of(headers, &[origin.scheme.as_bytes(), origin.host.as_bytes()])
}

#[async_trait]
impl Authenticate for AuthentikAuth {
    async fn authenticate(&self, parts: &Parts, peer: SocketAddr) -> Result<Arc<Identity>> {
        let origin = self.origin()?;
        let key = session_key(&parts.headers, &origin);
        if let Some(id) = key.as_ref().and_then(|k| self.cache.get(k)) {
            return Ok(id);
        }
        let url = original_url(&origin, &parts.uri);
        let url_value = HeaderValue::from_str(&url)
            .map_err(|_| Error::BadRequest("the request URL cannot be checked".into()))?;
        let began = std::time::Instant::now();
        let checked = self.client.check(&parts.headers, url_value, &origin).await;
        match &checked {
            Ok(_) => self
                .metrics
                .outpost_seconds
                .observe(began.elapsed().as_secs_f64()),
            Err(e) => self.metrics.outpost_failed(e.kind()),
        }
        match checked {
            Ok(Verdict::Allowed(answer)) => {
                let id = headers::identity(&answer).map_err(|reason| {
                    warn!(%peer, %reason, "the outpost allowed a request without a usable identity");
                    Error::AuthUnavailable
                })?;
                debug!(%peer, user = %id.user, username = %id.username, "session checked by the outpost");
                // A tunnel it opens lasts as long as the session (`tunnels`).
                let admission = key.map_or(Admission::Lasting, Admission::Session);
                let id = Arc::new(Identity { admission, ..id });
                if let Some(k) = key {
                    self.cache.insert(k, Arc::clone(&id));
                }
                Ok(id)
            }
            Ok(Verdict::Denied) if is_navigation(&parts.headers) => Err(Error::SignIn {
                location: sign_in_location(&url),
            }),
            Ok(Verdict::Denied) => Err(Error::sign_in_required(
                "no valid session; sign in with a browser first",
            )),
            Err(err) => {
                warn!(%peer, %err, "sign-in check failed");
                Err(Error::AuthUnavailable)
            }
        }
    }

    fn lease(&self, identity: &Identity, headers: &HeaderMap, uri: &Uri) -> Lease {
        let (Admission::Session(key), Some(origin)) = (identity.admission, &self.origin) else {
            return Lease::of(identity.admission);
        };
        // The URL was checked when the request was let in; else the public root.
        let url = HeaderValue::from_str(&original_url(origin, uri))
            .or_else(|_| HeaderValue::from_str(&original_url(origin, &Uri::from_static("/"))));
        match url {
            Ok(url) => self.tunnels.admit(key, headers, url),
            Err(_) => Lease::of(identity.admission),
        }
    }

    async fn outpost(&self, req: Request<Incoming>, peer: SocketAddr) -> Result<Response<Body>> {
        let origin = self.origin()?;
        if req.uri().path() == SIGN_OUT_PATH {
            if let Some(k) = session_key(req.headers(), &origin) {
                self.cache.remove(&k);
                let closed = self.tunnels.end(&k);
                if closed > 0 {
                    info!(%peer, tunnels = closed, "signed out: the session's tunnels are closed");
                }
            }
        }
        self.client.pass(req, peer, &origin).await.map_err(|err| {
            warn!(%peer, %err, "passing a request to the outpost failed");
            Error::AuthUnavailable
        })
    }
}

#[cfg(test)]
#[path = "authentik/tests.rs"]
mod tests;
