//! Whether a repository exists at the git base, asked before anything is made for
//! it, so that a mistyped `/github/<owner>/<repo>` or API create leaves nothing
//! behind in any runtime (no record, no launcher, no Knative Service, no volume).
//!
//! The question is the one git itself asks first, and as cheap: the smart-HTTP
//! ref advertisement `GET <base>/<owner>/<repo>.git/info/refs?service=git-upload-pack`,
//! with the operator's token (`--git-token-file`, as HTTP Basic `x-access-token`,
//! never logged or shown) when configured; only the status is read. A `file://`
//! base: the directory `<owner>/<repo>.git` exists. What an answer means is
//! [`judge`]'s. A miss is remembered for `--repo-miss-ttl` and answered from
//! memory; a hit is not remembered (the next start is of a known workspace and
//! asks nothing). A server that cannot be reached, or does not answer within
//! `--repo-check-timeout`, makes nothing either: 502 with the reason.

mod roots;
#[cfg(test)]
mod tests;

use base64::Engine as _;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dcs_model::RepoRef;
use futures_util::future::{BoxFuture, FutureExt};
use http::header::{AUTHORIZATION, USER_AGENT};
use http::{HeaderValue, Request, StatusCode, Uri};
use http_body_util::Empty;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tracing::{debug, info};

use crate::config::edge::RepoCheck;
use crate::error::{Error, Result, StartFailure};

/// Misses remembered at most (the oldest are dropped beyond it).
const MAX_MISSES: usize = 10_000;

/// The user name forges accept alongside an access token (as the launcher sends it).
const TOKEN_USER: &str = "x-access-token";

/// What a status of the ref advertisement means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    /// 2xx, or a redirect git would follow (a renamed repository).
    Exists,
    /// 404/410; or 401/403 without a token (private and missing look alike).
    Missing,
    /// 401/403 although a token was sent: the token does not open it.
    Refused,
    /// Anything else: the server is in trouble; nothing is decided.
    Trouble,
}

/// What the ref advertisement's `status` means, `with_token` or without.
pub fn judge(status: StatusCode, with_token: bool) -> Judged {
    match status.as_u16() {
        200..=399 => Judged::Exists,
        404 | 410 => Judged::Missing,
        401 | 403 if with_token => Judged::Refused,
        401 | 403 => Judged::Missing,
        _ => Judged::Trouble,
    }
}

/// An HTTP client that answers a request's status (the body is not read).
trait Fetch: Send + Sync {
    fn status(&self, req: Request<Empty<Bytes>>) -> BoxFuture<'static, Result<StatusCode, String>>;
}

struct Pooled<C>(Client<C, Empty<Bytes>>);

impl<C: Connect + Clone + Send + Sync + 'static> Fetch for Pooled<C> {
    fn status(&self, req: Request<Empty<Bytes>>) -> BoxFuture<'static, Result<StatusCode, String>> {
        let answer = self.0.request(req);
        async move {
            answer.await.map(|resp| resp.status()).map_err(|e| {
                // The causes say what failed (connect refused, DNS, TLS); none holds
                // a header, so the token cannot show.
                let mut why = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    why.push_str(": ");
                    why.push_str(&s.to_string());
                    source = s.source();
                }
                why
            })
        }
        .boxed()
    }
}

/// The client for `base`: plain HTTP, or rustls (the connector the Kubernetes
/// client uses, ring as the one crypto provider) with the platform's verifier, or,
/// with `extra_ca` (`--extra-ca-file`), with Mozilla's, the system's and that
/// file's roots ([`roots`]).
fn client_for(base: &str, extra_ca: Option<&Path>) -> Result<Arc<dyn Fetch>, String> {
    if base.starts_with("https://") {
        use kube::client::ConfigExt;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let uri: Uri = base.parse().map_err(|e| format!("{e}"))?;
        let mut config = kube::Config::new(uri);
        if let Some(file) = extra_ca {
            config.root_cert = Some(roots::with_extra(file)?);
        }
        let connector = config
            .rustls_https_connector()
            .map_err(|e| format!("cannot set up TLS: {e}"))?;
        return Ok(Arc::new(Pooled(
            Client::builder(TokioExecutor::new()).build(connector),
        )));
    }
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    Ok(Arc::new(Pooled(
        Client::builder(TokioExecutor::new()).build(http),
    )))
}

/// A remembered miss.
#[derive(Debug, Clone)]
struct Miss {
    message: String,
    until: Instant,
}

/// Asks the git base whether repositories exist, remembering misses.
pub struct RepoProbe {
    base: String,
    token_file: Option<PathBuf>,
    check: RepoCheck,
    client: Result<Arc<dyn Fetch>, String>,
    misses: Mutex<HashMap<String, Miss>>,
}

impl std::fmt::Debug for RepoProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoProbe")
            .field("base", &shown_base(&self.base))
            .field("check", &self.check)
            .finish_non_exhaustive()
    }
}

impl RepoProbe {
    /// A probe of `base` (no trailing `/`), with the token in `token_file` if any.
    pub fn new(base: &str, token_file: Option<PathBuf>, check: RepoCheck) -> Self {
        Self::trusting(base, token_file, check, None)
    }

    /// [`RepoProbe::new`] trusting the CAs of `extra_ca` (`--extra-ca-file`) too,
    /// as the launchers do. Blocking: reads the roots (at start-up).
    pub fn trusting(
        base: &str,
        token_file: Option<PathBuf>,
        check: RepoCheck,
        extra_ca: Option<&Path>,
    ) -> Self {
        let client = if base.starts_with("file://") {
            Err("file bases need no client".to_owned())
        } else {
            client_for(base, extra_ca)
        };
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token_file,
            check,
            client,
            misses: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` when `repo` exists at the git base (or checks are off); else the
    /// error its start or create is answered with: 404 (missing, remembered), 403
    /// (the token is refused), 502 (the server cannot be reached or is in
    /// trouble), 503 (the token file cannot be read).
    pub async fn require(&self, repo: &RepoRef) -> Result<()> {
        let Some(timeout) = self.check.timeout else {
            return Ok(());
        };
        let url = repo.clone_url(&self.base);
        if let Some(err) = self.remembered(&url) {
            return Err(err);
        }
        let asked = tokio::time::timeout(timeout, self.ask(&url)).await;
        let judged = match asked {
            Ok(judged) => judged?,
            Err(_) => {
                return Err(trouble(format!(
                    "the git server at {} did not answer within {} when asked whether {repo} \
                     exists; nothing was created, try again in a moment",
                    shown_base(&self.base),
                    humantime::format_duration(timeout)
                )))
            }
        };
        let base = shown_base(&self.base);
        match judged {
            (Judged::Exists, _) => Ok(()),
            (Judged::Missing, status) => {
                let private = matches!(status.as_u16(), 401 | 403)
                    .then_some(" (or it is private, and no git token is configured)")
                    .unwrap_or_default();
                let message = format!("repository {repo} was not found at {base}{private}");
                info!(%repo, status = status.as_u16(), "repository not found; nothing created");
                self.remember(url, message.clone());
                Err(not_found(message))
            }
            (Judged::Refused, _) => Err(Error::StartFailed {
                kind: StartFailure::Auth,
                message: format!(
                    "the git server at {base} refused the configured token for {repo}; \
                     nothing was created"
                ),
            }),
            (Judged::Trouble, status) => Err(trouble(format!(
                "the git server at {base} answered {status} when asked whether {repo} exists; \
                 nothing was created, try again in a moment"
            ))),
        }
    }

    /// Asks the base about the clone URL `url`: the judgement and the status it
    /// rests on.
    async fn ask(&self, url: &str) -> Result<(Judged, StatusCode)> {
        if let Some(path) = url.strip_prefix("file://") {
            let exists = tokio::fs::metadata(path).await.is_ok_and(|m| m.is_dir());
            return Ok(if exists {
                (Judged::Exists, StatusCode::OK)
            } else {
                (Judged::Missing, StatusCode::NOT_FOUND)
            });
        }
        let client = self.client.as_ref().map_err(|why| {
            Error::Runtime(format!(
                "cannot check repositories at {}: {why}",
                shown_base(&self.base)
            ))
        })?;
        let uri: Uri = format!("{url}/info/refs?service=git-upload-pack")
            .parse()
            .map_err(|_| {
                Error::Runtime(format!(
                    "the git base {} does not make a usable URL",
                    shown_base(&self.base)
                ))
            })?;
        let token = self.token().await?;
        let mut req = Request::get(uri)
            .header(USER_AGENT, "git/dcs-proxy")
            .body(Empty::new())
            .map_err(|e| Error::Runtime(e.to_string()))?;
        if let Some(auth) = token.as_deref().map(basic) {
            let mut value = HeaderValue::from_str(&auth)
                .map_err(|_| Error::Runtime("the git token holds unusable characters".into()))?;
            value.set_sensitive(true);
            req.headers_mut().insert(AUTHORIZATION, value);
        }
        let status = client.status(req).await.map_err(|why| {
            trouble(format!(
                "cannot reach the git server at {} to check the repository: {why}; \
                 nothing was created",
                shown_base(&self.base)
            ))
        })?;
        debug!(status = status.as_u16(), "repository checked");
        Ok((judge(status, token.is_some()), status))
    }

    /// The token, read fresh (it may be rotated); `None` without a token file.
    async fn token(&self) -> Result<Option<String>> {
        let Some(file) = &self.token_file else {
            return Ok(None);
        };
        let raw = tokio::fs::read_to_string(file).await.map_err(|e| {
            Error::Runtime(format!(
                "the git token file {} cannot be read: {}",
                file.display(),
                e.kind()
            ))
        })?;
        let token = raw.trim();
        Ok((!token.is_empty()).then(|| token.to_owned()))
    }

    /// The remembered miss of `url`, saying when it will be asked again.
    fn remembered(&self, url: &str) -> Option<Error> {
        let misses = self.misses.lock().unwrap_or_else(|p| p.into_inner());
        let miss = misses.get(url)?;
        let left = miss.until.checked_duration_since(Instant::now())?;
        Some(not_found(format!(
            "{} (the next attempt starts in {} s)",
            miss.message,
            left.as_secs() + 1
        )))
    }

    fn remember(&self, url: String, message: String) {
        let now = Instant::now();
        let mut misses = self.misses.lock().unwrap_or_else(|p| p.into_inner());
        if misses.len() >= MAX_MISSES {
            misses.retain(|_, m| m.until > now);
            if misses.len() >= MAX_MISSES {
                misses.clear();
            }
        }
        let until = now + self.check.miss_ttl.max(Duration::from_millis(1));
        misses.insert(url, Miss { message, until });
    }
}

fn not_found(message: String) -> Error {
    Error::StartFailed {
        kind: StartFailure::NotFound,
        message,
    }
}

fn trouble(message: String) -> Error {
    Error::StartFailed {
        kind: StartFailure::Network,
        message,
    }
}

/// `base` without any user info (`https://user:pw@host` → `https://host`).
fn shown_base(base: &str) -> String {
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => base.to_owned(),
    }
}

/// `Basic base64(x-access-token:<token>)`.
fn basic(token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{TOKEN_USER}:{token}"))
    )
}
