//! A loopback stand-in for Knative's networking layer (Kourier and the cluster
//! DNS): it routes on the `Host` header (`<name>.<ns>.svc.<domain>`), and a
//! Service has a route only once the fake API server reports it Ready, as in
//! Knative (its first revision must be Ready before DNS and the ingress know
//! it). Until then a request fails the way a cluster fails it: the connection
//! is dropped without an answer (as a name that does not resolve ends a
//! request), or an empty `404` (the ingress not knowing the host), in turns;
//! for [`FakeIngress::set_route_delay`] after Ready, `503 no healthy upstream`
//! (the route not programmed yet). With a route, a request goes to the
//! workspace's backend: a real launcher ([`FakeIngress::forward`]) or, by
//! default, a canned one that answers `/_dcs/ready` with `200`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;

use super::wire::FakeBody;
use super::FakeApiServer;
use dcs_os::mutex::lock;

/// Where a routed Service's requests go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// Answers `/_dcs/ready` with `200 {"ready": true}`, anything else with `200`.
    Canned,
    /// A real launcher.
    Forward(SocketAddr),
}

/// What one Service's requests got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hits {
    /// Refused: dropped connections, empty 404s, 503s while not routed.
    pub refused: usize,
    /// Served by the backend.
    pub served: usize,
}

struct Inner {
    api: FakeApiServer,
    backends: Mutex<HashMap<String, Backend>>,
    hits: Mutex<HashMap<String, Hits>>,
    ready_since: Mutex<HashMap<String, Instant>>,
    route_delay: Mutex<Duration>,
}

/// The stand-in; clones share it.
#[derive(Clone)]
pub struct FakeIngress {
    inner: Arc<Inner>,
    addr: SocketAddr,
}

impl FakeIngress {
    /// An ingress for the Services of `api`, listening on `127.0.0.1`.
    pub fn start(api: &FakeApiServer) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("local address");
        let listener = tokio::net::TcpListener::from_std(listener).expect("a Tokio runtime");
        let ingress = Self {
            inner: Arc::new(Inner {
                api: api.clone(),
                backends: Mutex::default(),
                hits: Mutex::default(),
                ready_since: Mutex::default(),
                route_delay: Mutex::new(Duration::ZERO),
            }),
            addr,
        };
        let this = ingress.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let this = this.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let this = this.clone();
                        async move { this.handle(req).await }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        ingress
    }

    /// Its address: what the runtime's route override points at.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Routes the Service `name` to a real launcher at `to`.
    pub fn forward(&self, name: &str, to: SocketAddr) {
        lock(&self.inner.backends).insert(name.to_owned(), Backend::Forward(to));
    }

    /// After a Service turns Ready, its route answers `503` for this long.
    pub fn set_route_delay(&self, delay: Duration) {
        *lock(&self.inner.route_delay) = delay;
    }

    /// What the Service `name`'s requests got so far.
    pub fn hits(&self, name: &str) -> Hits {
        lock(&self.inner.hits)
            .get(name)
            .copied()
            .unwrap_or_default()
    }

    fn count(&self, name: &str, served: bool) -> usize {
        let mut hits = lock(&self.inner.hits);
        let h = hits.entry(name.to_owned()).or_default();
        if served {
            h.served += 1;
            h.served
        } else {
            h.refused += 1;
            h.refused
        }
    }

    /// Whether the Service has a route: it was Ready (it has a URL), longer ago
    /// than the route delay.
    fn routed(&self, name: &str, ns: &str) -> Result<(), StatusCode> {
        let ksvc = self
            .inner
            .api
            .object("serving.knative.dev", "services", ns, name);
        // Knative sets the URL once the first revision is Ready, and keeps the
        // route while later revisions roll out.
        let ready = ksvc.as_ref().is_some_and(|k| {
            k["status"]["url"].is_string() && k["metadata"]["deletionTimestamp"].is_null()
        });
        let mut since = lock(&self.inner.ready_since);
        if !ready {
            since.remove(name);
            return Err(StatusCode::NOT_FOUND);
        }
        let first = *since.entry(name.to_owned()).or_insert_with(Instant::now);
        if first.elapsed() < *lock(&self.inner.route_delay) {
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        Ok(())
    }

    async fn handle(&self, req: Request<Incoming>) -> Result<Response<FakeBody>, std::io::Error> {
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let mut labels = host.split(':').next().unwrap_or_default().split('.');
        let (name, ns) = (
            labels.next().unwrap_or_default().to_owned(),
            labels.next().unwrap_or_default().to_owned(),
        );
        if let Err(code) = self.routed(&name, &ns) {
            let n = self.count(&name, false);
            return match code {
                // In turns: a dropped connection (no such name), an empty 404.
                StatusCode::NOT_FOUND if n % 2 == 1 => {
                    Err(std::io::Error::other("no route to this host yet"))
                }
                StatusCode::NOT_FOUND => Ok(plain(StatusCode::NOT_FOUND, "")),
                code => Ok(plain(code, "no healthy upstream")),
            };
        }
        self.count(&name, true);
        let backend = lock(&self.inner.backends)
            .get(&name)
            .copied()
            .unwrap_or(Backend::Canned);
        match backend {
            Backend::Canned if req.uri().path() == dcs_model::plumbing::READY => Ok(json_ok(
                r#"{"phase":"ready","ready":true,"error":null,"warning":null,"progress":null}"#,
            )),
            Backend::Canned => Ok(plain(StatusCode::OK, "a canned workspace")),
            Backend::Forward(to) => forward(to, req).await,
        }
    }
}

fn plain(code: StatusCode, text: &'static str) -> Response<FakeBody> {
    let body = if text.is_empty() {
        Empty::new().map_err(|never| match never {}).boxed_unsync()
    } else {
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync()
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = code;
    resp
}

fn json_ok(text: &'static str) -> Response<FakeBody> {
    let mut resp = plain(StatusCode::OK, text);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Sends the request to `to` over a new connection and streams the answer back.
async fn forward(
    to: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<FakeBody>, std::io::Error> {
    let stream = tokio::net::TcpStream::connect(to).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let resp = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(std::io::Error::other)?;
    Ok(resp.map(|b| b.map_err(std::io::Error::other).boxed_unsync()))
}
