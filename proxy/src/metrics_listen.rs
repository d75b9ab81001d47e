//! `--metrics-listen`: `/metrics` on an address of its own, so the Prometheus
//! scrape port is not reachable through the public route (the main listener then
//! answers `/metrics` with 404). This listener serves `GET /metrics` and nothing
//! else, without sign-in: bind it to an address only the cluster's scraper reaches.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use dcs_net::coarse_timer::CoarseTimer;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::debug;

use crate::body::{full, Body};
use crate::state::AppState;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `/metrics` rendered from `state`, as both listeners answer it.
pub fn metrics_response(state: &AppState) -> Response<Body> {
    let tracked = state.activator.activity.tracked();
    state
        .metrics
        .tracked
        .set(i64::try_from(tracked).unwrap_or(i64::MAX));
    let mut resp = Response::new(full(state.metrics.render()));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE_OPENMETRICS),
    );
    resp
}

fn answer(state: &AppState, req: &Request<Incoming>) -> Response<Body> {
    // A workspace's preview of this port (unsandboxed local mode shares the
    // loopback): the preview hop's mark says so, as on the main listener.
    if dcs_net::preview::looped(req.headers()) {
        let mut resp = Response::new(full("a preview cannot address the proxy's own ports\n"));
        *resp.status_mut() = StatusCode::FORBIDDEN;
        return resp;
    }
    if req.uri().path() == "/metrics" && req.method() == Method::GET {
        return metrics_response(state);
    }
    let mut resp = Response::new(full("only GET /metrics is served here\n"));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}

/// Serves `/metrics` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, state: Arc<AppState>) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(CoarseTimer)
        .header_read_timeout(Duration::from_secs(10));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                debug!(error = %e, "metrics listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let state = state.clone();
        let svc = service_fn(move |req| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(answer(&state, &req)) }
        });
        let conn = http.serve_connection(TokioIo::new(stream), svc);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                debug!(error = %e, "metrics connection ended");
            }
        });
    }
}
