//! Pushing start-up progress to the proxy (Knative): while a pod is not routable
//! the proxy cannot ask `/_dcs/ready`, so the launcher POSTs the same report to
//! `DCS_PROGRESS_URL` (the proxy's `/_dcs/hop/progress/<name>`) on every phase or
//! progress change, at most once per [`PACE`], with this workspace's hop credential
//! in [`HOP_HEADER`] (how the proxy knows it is this workspace speaking).
//!
//! Best effort: each POST is bounded by [`TIMEOUT`], failures are logged at debug
//! and never touch the start. The final state (ready or failed) is sent once, then
//! the push ends.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dcs_model::env::HOP_HEADER;
use dcs_model::LauncherEnv;
use http::{header, Method, Request, Uri};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::app::App;
use crate::hop::Credential;
use crate::ready::{Phase, Readiness, ReadyReport};

/// The shortest time between two pushes.
pub const PACE: Duration = Duration::from_millis(1100);

/// How long one push may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Starts pushing `app`'s progress if `env` names a `DCS_PROGRESS_URL`.
pub fn spawn(env: &LauncherEnv, app: Arc<App>) {
    let Some(url) = env.progress_url.clone() else {
        return;
    };
    match url.parse::<Uri>() {
        Ok(uri) => {
            tokio::spawn(run(uri, crate::hop::installed(), app));
        }
        Err(e) => warn!(error = %e, "DCS_PROGRESS_URL is not a URL; no progress is pushed"),
    }
}

/// Pushes `app`'s readiness report to `uri` on every change (paced), carrying
/// `credential`; returns once the final state was sent.
pub async fn run(uri: Uri, credential: Option<Credential>, app: Arc<App>) {
    follow(uri, credential, app.readiness(), || async {
        match app.ide() {
            Some(ide) => ide.healthy().await,
            None => false,
        }
    })
    .await;
}

/// Pushes `readiness`'s report (the IDE's health from `healthy`) to `uri` on every
/// change, paced, carrying `credential`; returns once the final state was sent.
/// The checkout init container follows its own [`Readiness`] this way.
pub async fn follow<F, Fut>(
    uri: Uri,
    credential: Option<Credential>,
    readiness: &Readiness,
    healthy: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let hop = credential.as_ref().and_then(Credential::header_value);
    let mut changes = readiness.subscribe();
    let mut last: Option<ReadyReport> = None;
    let mut sent_at: Option<Instant> = None;
    loop {
        if let Some(at) = sent_at {
            tokio::time::sleep_until(at + PACE).await;
        }
        let now = readiness.report(healthy().await);
        let done = now.ready || now.phase == Phase::Failed;
        if last.as_ref() != Some(&now) {
            sent_at = Some(Instant::now());
            push(&client, &uri, hop.as_ref(), &now).await;
            last = Some(now);
        }
        if done {
            return;
        }
        // The next change, or a second later (an IDE becoming healthy is no change
        // of the readiness cell).
        tokio::select! {
            alive = changes.changed() => if !alive { return },
            () = tokio::time::sleep(PACE) => {}
        }
    }
}

async fn push(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    uri: &Uri,
    hop: Option<&http::HeaderValue>,
    report: &ReadyReport,
) {
    let Ok(body) = serde_json::to_vec(report) else {
        return;
    };
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(uri.clone())
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(hop) = hop {
        req = req.header(HOP_HEADER, hop.clone());
    }
    let Ok(req) = req.body(Full::new(Bytes::from(body))) else {
        return;
    };
    match tokio::time::timeout(TIMEOUT, client.request(req)).await {
        Ok(Ok(resp)) if resp.status().is_success() => {
            debug!(phase = ?report.phase, "progress pushed")
        }
        Ok(Ok(resp)) => debug!(status = resp.status().as_u16(), "progress push refused"),
        Ok(Err(e)) => debug!(error = %e, "progress push failed"),
        Err(_) => debug!("progress push timed out"),
    }
}

#[cfg(test)]
mod tests;
