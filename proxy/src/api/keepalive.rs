//! The idle clock through the API: `POST /api/instances/{id}/keepalive` `{"for_s": N}`
//! declares work (the workspace runs at least `N` seconds more, whatever its use;
//! `422` beyond the busy limit `--busy-max`), forwarded to the workspace's launcher
//! (`POST /_dcs/keepalive`), and [`explain`], the launcher's idle report that
//! `GET /api/status` shows.

use bytes::Bytes;
use dcs_model::api::{IdleReport, KeepaliveRequest};
use dcs_model::WorkspaceKey;
use http::request::Parts;
use http::StatusCode;

use super::error::{json_response, ApiErr};
use super::handlers::{owned, spec_of, Answer};
use super::json;
use crate::activator::ask;
use crate::auth::Identity;
use crate::runtime::{Status, WorkspaceSpec};
use crate::state::AppState;

/// `POST /api/instances/{id}/keepalive`: the launcher's idle report once held.
pub async fn keepalive<B>(
    state: &AppState,
    identity: &Identity,
    parts: &Parts,
    id: &str,
    body: B,
) -> Answer
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let info = owned(state, identity, id).await?;
    let value = json::read_value(parts, body, json::MAX_BODY).await?;
    let ask: KeepaliveRequest = serde_json::from_value(value).map_err(|e| {
        ApiErr::field(
            "for_s",
            format!("send {{\"for_s\": <seconds>}} and nothing else ({e})"),
        )
    })?;
    let busy_max = state.activator.idle_policy().busy_max_secs;
    if ask.for_s > busy_max {
        return Err(ApiErr::field(
            "for_s",
            format!(
                "at most {busy_max} s (the busy limit, --busy-max){}",
                if busy_max == 0 {
                    ": keep-alives are off"
                } else {
                    ""
                }
            ),
        ));
    }
    // This replica's address of it, else the runtime's while it runs (nothing
    // starts: a stopped instance is not kept alive).
    let upstream = match state.activator.ready_upstream(&info.key) {
        Some(up) => up,
        None => {
            let status = state.activator.status(&info.key).await?;
            if status != Status::Running {
                return Err(ApiErr::new(
                    StatusCode::CONFLICT,
                    "not_running",
                    format!(
                        "the instance is not running ({}); open it first",
                        match status {
                            Status::Starting => "starting",
                            Status::Failed { .. } => "failed",
                            _ => "stopped",
                        }
                    ),
                ));
            }
            let spec = WorkspaceSpec::new(info.key.clone(), spec_of(state, &info));
            state.activator.upstream(&spec).await?
        }
    };
    match ask::keepalive(&upstream, ask.for_s).await {
        Ok(ask::Kept::Held(report)) => Ok(json_response(StatusCode::OK, &report)),
        Ok(ask::Kept::Refused(message)) => Err(ApiErr::field("for_s", message)),
        Err(why) => Err(ApiErr::new(
            StatusCode::BAD_GATEWAY,
            "workspace_unreachable",
            format!("the workspace's launcher could not be asked: {why}"),
        )),
    }
}

/// The launcher's idle report of a running workspace this proxy routes to, if it
/// answers (`None` otherwise: the status then shows this proxy's own record).
pub async fn explain(state: &AppState, key: &WorkspaceKey, status: &Status) -> Option<IdleReport> {
    if *status != Status::Running {
        return None;
    }
    let upstream = state.activator.ready_upstream(key)?;
    ask::idle(&upstream).await.ok()
}
