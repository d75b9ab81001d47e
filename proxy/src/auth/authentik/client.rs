//! Talking to the Authentik outpost over in-cluster HTTP: the forward-auth check
//! (`GET /outpost.goauthentik.io/auth/nginx`, as nginx's `auth_request` does it)
//! and the streaming pass-through of `/outpost.goauthentik.io/*` (sign-in start,
//! callback, sign-out).

use std::net::SocketAddr;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, COOKIE};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::body::{self, Body};

/// The outpost's forward-auth endpoint for nginx-style callers.
pub const AUTH_PATH: &str = "/outpost.goauthentik.io/auth/nginx";
/// Longest a sign-in check (or a pass-through's response head) may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The outpost's answer to a check.
#[derive(Debug)]
pub enum Verdict {
    /// 200: the session is valid; the response headers carry the identity.
    Allowed(HeaderMap),
    /// 401: no valid session.
    Denied,
}

/// Why the outpost could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum OutpostError {
    /// Connecting or exchanging failed.
    #[error("cannot reach the outpost: {0}")]
    Unreachable(String),
    /// The outpost answered with a status that is neither 200 nor 401.
    #[error("the outpost answered {0}")]
    Status(StatusCode),
    /// No answer in time.
    #[error("the outpost did not answer within {}s", TIMEOUT.as_secs())]
    Timeout,
}

impl OutpostError {
    /// Its `dcs_outpost_errors_total{kind}` label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "unreachable",
            Self::Status(_) => "status",
            Self::Timeout => "timeout",
        }
    }
}

/// Where the original request was going, as the outpost must see it.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]` the user opened.
    pub host: HeaderValue,
}

/// An HTTP client for one outpost.
#[derive(Debug, Clone)]
pub struct OutpostClient {
    base: String,
    client: Client<HttpConnector, Body>,
}

impl OutpostClient {
    /// A client for the outpost at `base` (`http://host:port`, no trailing slash).
    pub fn new(base: &str) -> Self {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(TIMEOUT));
        http.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(http);
        Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
        }
    }

    /// Asks the outpost whether the client's credentials are a valid session for
    /// `original_url`.
    pub async fn check(
        &self,
        client: &HeaderMap,
        original_url: HeaderValue,
        origin: &Origin,
    ) -> Result<Verdict, OutpostError> {
        let mut req = Request::new(body::empty());
        *req.method_mut() = Method::GET;
        *req.uri_mut() = self.uri(AUTH_PATH)?;
        let h = req.headers_mut();
        // Every cookie but the instance cookie (an access token: the sign-in
        // service has no use for it and must not see it).
        let cookies: Vec<&str> = dcs_net::cookies::pairs(client)
            .filter(|p| !crate::api::cookie::is_instance_cookie_name(dcs_net::cookies::name(p)))
            .collect();
        if let (false, Ok(v)) = (
            cookies.is_empty(),
            HeaderValue::from_str(&cookies.join("; ")),
        ) {
            h.insert(COOKIE, v);
        }
        if let Some(v) = client.get(AUTHORIZATION) {
            h.insert(AUTHORIZATION, v.clone());
        }
        h.insert("x-original-url", original_url);
        h.insert("x-forwarded-host", origin.host.clone());
        if let Ok(v) = HeaderValue::from_str(&origin.scheme) {
            h.insert("x-forwarded-proto", v);
        }
        let exchange = async {
            let resp = self.client.request(req).await.map_err(unreachable)?;
            let (parts, body) = resp.into_parts();
            // Drain the (small) body so the connection can be reused.
            let _ = body.collect().await;
            Ok::<_, OutpostError>(parts)
        };
        let parts = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| OutpostError::Timeout)??;
        match parts.status {
            StatusCode::OK => Ok(Verdict::Allowed(parts.headers)),
            StatusCode::UNAUTHORIZED => Ok(Verdict::Denied),
            other => Err(OutpostError::Status(other)),
        }
    }

    /// Forwards `req` to the outpost unchanged but for hop-by-hop headers,
    /// client-sent `X-authentik-*` and the `X-Forwarded-*` set from `origin` and
    /// `peer`. `Host` is kept, so the outpost sees the host the user opened.
    pub async fn pass(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        origin: &Origin,
    ) -> Result<Response<Body>, OutpostError> {
        let (mut parts, incoming) = req.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = self.uri(path)?;
        parts.version = http::Version::HTTP_11;
        let h = &mut parts.headers;
        dcs_net::hop::strip(h, None);
        let spoofable: Vec<HeaderName> = h
            .keys()
            .filter(|n| n.as_str().starts_with("x-authentik-"))
            .cloned()
            .collect();
        for name in spoofable {
            h.remove(name);
        }
        let xff = match h.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(prior) => format!("{prior}, {}", peer.ip()),
            None => peer.ip().to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&xff) {
            h.insert("x-forwarded-for", v);
        }
        h.insert("x-forwarded-host", origin.host.clone());
        if let Ok(v) = HeaderValue::from_str(&origin.scheme) {
            h.insert("x-forwarded-proto", v);
        }
        let req = Request::from_parts(parts, body::boxed(incoming));
        let resp = tokio::time::timeout(TIMEOUT, self.client.request(req))
            .await
            .map_err(|_| OutpostError::Timeout)?
            .map_err(unreachable)?;
        let (mut parts, incoming) = resp.into_parts();
        dcs_net::hop::strip(&mut parts.headers, None);
        Ok(Response::from_parts(parts, body::boxed(incoming)))
    }

    fn uri(&self, path_and_query: &str) -> Result<Uri, OutpostError> {
        format!("{}{path_and_query}", self.base)
            .parse()
            .map_err(|e: http::uri::InvalidUri| OutpostError::Unreachable(e.to_string()))
    }
}

fn unreachable(err: hyper_util::client::legacy::Error) -> OutpostError {
    // The source chain says why (refused, reset, …); the top level only "client error".
    let mut msg = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    OutpostError::Unreachable(msg)
}
