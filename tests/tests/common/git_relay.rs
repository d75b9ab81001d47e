//! A relay in front of a test git server that holds the upload-pack requests a
//! predicate picks (their body read whole) until the test opens its gate, and
//! passes every other request through at once. Shared by the suites that include it
//! with `#[path]`.

#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use dcs_e2e::client;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A running relay.
pub struct Relay {
    /// Its base URL (`http://127.0.0.1:<port>`), the proxy's git base.
    pub base: String,
    held: Arc<AtomicUsize>,
    open: watch::Sender<bool>,
}

impl Relay {
    /// How many requests were held so far (released ones included).
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// Lets every held request (and every later one) through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}

/// Whether an upload-pack request asks for the rest of a shallow repository's
/// history: libgit2's unshallow (`deepen 2147483647`; a first clone's is `deepen 1`).
pub fn unshallows(body: &[u8]) -> bool {
    body.windows(17).any(|w| w == b"deepen 2147483647")
}

/// Starts a relay to the git server at `to`, holding the requests `hold` picks.
pub async fn start(to: String, hold: fn(&[u8]) -> bool) -> anyhow::Result<Relay> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let held = Arc::new(AtomicUsize::new(0));
    let (open, gate) = watch::channel(false);
    let (counter, http) = (held.clone(), client());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (to, counter, gate, http) =
                (to.clone(), counter.clone(), gate.clone(), http.clone());
            let svc = service_fn(move |req: Request<Incoming>| {
                let (to, counter, mut gate, http) =
                    (to.clone(), counter.clone(), gate.clone(), http.clone());
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    if hold(&body) {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let _ = gate.wait_for(|open| *open).await;
                    }
                    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                    let mut out = http.request(parts.method.clone(), format!("{to}{path}"));
                    for (name, value) in &parts.headers {
                        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
                            out = out.header(name, value);
                        }
                    }
                    let answer = match out.body(body).send().await {
                        Ok(resp) => {
                            let mut back = Response::builder().status(resp.status());
                            for (name, value) in resp.headers() {
                                if !matches!(
                                    name.as_str(),
                                    "content-length" | "transfer-encoding" | "connection"
                                ) {
                                    back = back.header(name, value);
                                }
                            }
                            let bytes = resp.bytes().await.unwrap_or_default();
                            back.body(Full::new(bytes))
                        }
                        Err(err) => Response::builder()
                            .status(502)
                            .body(Full::new(Bytes::from(err.to_string()))),
                    };
                    Ok::<_, Infallible>(answer.unwrap_or_else(|_| Response::new(Full::default())))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc),
            );
        }
    });
    Ok(Relay { base, held, open })
}
