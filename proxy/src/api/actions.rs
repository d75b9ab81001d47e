//! An instance's lifecycle actions: `POST /api/instances/{id}/start` (the start
//! opening its link makes) and `POST /api/instances/{id}/stop` (the IDE warning's
//! Stop now, [`crate::resume::stop_requested`]). Who may: its owner and admins
//! ([`owned`]); for a start, the access policy for the caller's groups too.

use http::StatusCode;

use super::error::json_response;
use super::handlers::{owned, spec_of, view, Answer};
use crate::activator::ask;
use crate::auth::Identity;
use crate::runtime::{Status, WorkspaceSpec};
use crate::state::AppState;

/// `POST /api/instances/{id}/stop`: stops it now, as the IDE warning's Stop now
/// does (its open tabs show Resume); files kept, and the next open wakes it.
/// Answers the instance as it is then.
pub async fn stop(state: &AppState, identity: &Identity, id: &str) -> Answer {
    let info = owned(state, identity, id).await?;
    crate::resume::stop_requested(state, &info.key, "the API").await?;
    let status = state.activator.status(&info.key).await?;
    let instance = view(&info.key, &status, &spec_of(state, &info));
    Ok(json_response(StatusCode::OK, &instance))
}

/// `POST /api/instances/{id}/start`: starts it, as opening its link does (the
/// access policy and the start limits apply), without waiting; `202` with the
/// instance as it is then (`GET /api/status` follows the start).
pub async fn start(state: &AppState, identity: &Identity, id: &str) -> Answer {
    let info = owned(state, identity, id).await?;
    let spec = spec_of(state, &info);
    if let Some(repo) = &spec.repo {
        state
            .policy
            .require(&identity.username, &identity.groups, repo)?;
    }
    // Still running (a stop asked for, not yet carried out where the runtime scales
    // by itself): the workspace hears someone wants it, so no replica stops it.
    if let Ok(Status::Running) = state.activator.status(&info.key).await {
        if let Some(up) = state.activator.running_upstream(&info.key).await {
            if let Err(why) = ask::keep_working(&up).await {
                tracing::debug!(instance = %info.key.id(), %why, "the launcher could not be told");
            }
        }
    }
    let workspace = WorkspaceSpec::new(info.key.clone(), spec);
    state.activator.wake(&workspace, true)?;
    tracing::info!(instance = %info.key.id(), by = %identity.user, "start requested");
    let status = state.activator.status(&info.key).await?;
    let instance = view(&info.key, &status, &workspace.instance);
    Ok(json_response(StatusCode::ACCEPTED, &instance))
}
