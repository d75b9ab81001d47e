//! The accept-and-serve loop of the proxy's side listeners, the addresses that
//! serve one thing each and nothing of the public routes: `/metrics`
//! ([`crate::metrics_listen`], `--metrics-listen`) and launchers' progress pushes
//! ([`crate::hop_listen`], `--hop-listen`).
//!
//! Each accepted connection is HTTP/1 with a bounded header read; a whole answer
//! is bounded by [`ANSWER_TIMEOUT`] (408 past it), so a peer that stalls a body
//! holds nothing for long. A request marked by a workspace's preview hop (the
//! unsandboxed local mode shares the loopback with previews) is refused 403 before
//! its handler runs: a previewed app never addresses the proxy's own ports.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use dcs_net::coarse_timer::CoarseTimer;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::debug;

use crate::body::{full, Body};
use crate::state::AppState;

/// The longest a side listener's answer may take, body read included.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `listener` with `answer` until the task is dropped; `what` names the
/// listener in logs.
pub async fn serve<F, Fut>(
    listener: TcpListener,
    state: Arc<AppState>,
    what: &'static str,
    answer: F,
) where
    F: Fn(Arc<AppState>, Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(CoarseTimer)
        .header_read_timeout(Duration::from_secs(10));
    let mut acceptor = crate::accept::acceptor(listener);
    loop {
        let (stream, _) = acceptor.accept().await;
        let state = state.clone();
        let answer = answer.clone();
        let svc = service_fn(move |req| {
            let state = state.clone();
            let answer = answer.clone();
            async move { Ok::<_, Infallible>(bounded(state, req, answer).await) }
        });
        let conn = http.serve_connection(TokioIo::new(stream), svc);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                debug!(error = %e, listener = what, "side listener connection ended");
            }
        });
    }
}

async fn bounded<F, Fut>(state: Arc<AppState>, req: Request<Incoming>, answer: F) -> Response<Body>
where
    F: Fn(Arc<AppState>, Request<Incoming>) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    // A workspace's preview of this port: the preview hop's mark says so, as on
    // the main listener.
    if dcs_net::preview::looped(req.headers()) {
        return text(
            StatusCode::FORBIDDEN,
            "a preview cannot address the proxy's own ports\n",
        );
    }
    match tokio::time::timeout(ANSWER_TIMEOUT, answer(state, req)).await {
        Ok(resp) => resp,
        Err(_) => text(StatusCode::REQUEST_TIMEOUT, "the request took too long\n"),
    }
}

/// A plain-text answer.
pub fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp
}
