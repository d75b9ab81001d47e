//! Asking a workspace's launcher about its idle clock over the authenticated hop:
//! `GET /_dcs/idle` (the reaper, `GET /api/status`), `POST /_dcs/keepalive` (the
//! keep-alive API), `POST /_dcs/stop` (a stop someone asked for, so that every
//! replica's reaper carries it out) and `POST /_dcs/activity` (the API's start undoes
//! it), each a question of its own ([`crate::hop::ask`]) within a
//! deadline: a launcher that cannot answer is "unknown", never "idle".

use std::time::Duration;

use bytes::Bytes;
use dcs_model::api::{ActivityBeacon, IdleReport, KeepaliveRequest};
use dcs_model::plumbing;
use http::{Method, StatusCode};

use crate::runtime::Upstream;

/// How long one question may take.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// The launcher's clock, or why it could not be read.
pub async fn idle(up: &Upstream) -> Result<IdleReport, String> {
    let (status, body) = exchange(up, Method::GET, plumbing::IDLE, None).await?;
    if status != StatusCode::OK {
        return Err(format!("the launcher answers {status}"));
    }
    serde_json::from_slice(&body).map_err(|e| format!("not an idle report: {e}"))
}

/// Tells the launcher a stop was asked for: its clock says "due" from now on, to
/// every replica's reaper, until someone uses it again.
pub async fn stop(up: &Upstream) -> Result<(), String> {
    // The path a browser's Stop now takes, which the proxy answers itself: only the
    // proxy's own request reaches the launcher there.
    let (status, _) = exchange(up, Method::POST, plumbing::STOP, None).await?;
    if status != StatusCode::OK {
        return Err(format!("the launcher answers {status}"));
    }
    Ok(())
}

/// Tells the launcher someone wants the workspace (the API's start), as the
/// warning's Keep working does: input now, so a stop asked for before is undone and
/// the idle clock starts again.
pub async fn keep_working(up: &Upstream) -> Result<(), String> {
    let beacon = ActivityBeacon {
        kind: "keep-working".to_owned(),
        ago_ms: 0,
    };
    let body = serde_json::to_vec(&beacon).map_err(|e| e.to_string())?;
    let path = plumbing::ACTIVITY;
    let (status, _) = exchange(up, Method::POST, path, Some(body)).await?;
    if status != StatusCode::NO_CONTENT {
        return Err(format!("the launcher answers {status}"));
    }
    Ok(())
}

/// What a keep-alive got.
#[derive(Debug)]
pub enum Kept {
    /// Held: the clock now.
    Held(IdleReport),
    /// Refused by the launcher (beyond its busy limit): its message.
    Refused(String),
}

/// Declares work for `for_s` seconds at the launcher.
pub async fn keepalive(up: &Upstream, for_s: u64) -> Result<Kept, String> {
    let body = serde_json::to_vec(&KeepaliveRequest { for_s }).map_err(|e| e.to_string())?;
    let (status, answer) = exchange(up, Method::POST, plumbing::KEEPALIVE, Some(body)).await?;
    match status {
        StatusCode::OK => serde_json::from_slice(&answer)
            .map(Kept::Held)
            .map_err(|e| format!("not an idle report: {e}")),
        StatusCode::UNPROCESSABLE_ENTITY => {
            let message = serde_json::from_slice::<serde_json::Value>(&answer)
                .ok()
                .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| "beyond the busy limit".to_owned());
            Ok(Kept::Refused(message))
        }
        other => Err(format!("the launcher answers {other}")),
    }
}

/// One request to the launcher behind `up`, within [`ASK_TIMEOUT`].
async fn exchange(
    up: &Upstream,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<(StatusCode, Bytes), String> {
    tokio::time::timeout(ASK_TIMEOUT, crate::hop::ask::ask(up, method, path, body))
        .await
        .unwrap_or_else(|_| Err("no answer in time".to_owned()))
        .map(|answer| (answer.status, answer.body))
}
