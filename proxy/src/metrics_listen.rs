//! `--metrics-listen`: `/metrics` on an address of its own, so the Prometheus
//! scrape port is not reachable through the public route (the main listener then
//! answers `/metrics` with 404). This listener serves `GET /metrics` and nothing
//! else, without sign-in: bind it to an address only the cluster's scraper reaches.

use std::sync::Arc;

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use tokio::net::TcpListener;

use crate::body::{full, Body};
use crate::side_listener::text;
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
    if req.uri().path() == "/metrics" && req.method() == Method::GET {
        return metrics_response(state);
    }
    text(StatusCode::NOT_FOUND, "only GET /metrics is served here\n")
}

/// Serves `/metrics` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, state: Arc<AppState>) {
    crate::side_listener::serve(listener, state, "metrics", |state, req| async move {
        answer(&state, &req)
    })
    .await;
}
