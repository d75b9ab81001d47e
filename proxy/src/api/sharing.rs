//! Who may open an instance's link, and `PATCH /api/instances/{id}`, by which its
//! owner (or an admin) shares it.
//!
//! The rule, in one place ([`may_open`]): the owner, members of an admin group, and
//! the users and groups the instance is shared with. To anyone else an instance
//! does not exist (404), whatever link or cookie they hold.

use bytes::Bytes;
use dcs_model::{InstanceSpec, WorkspaceKey};
use http::request::Parts;
use http::StatusCode;

use super::error::{json_response, ApiErr};
use super::handlers::{is_admin, owned, spec_of, view, Answer};
use super::json;
use crate::auth::Identity;
use crate::state::AppState;

/// Whether `identity` may open the instance `key` recorded with `spec`.
pub fn may_open(
    state: &AppState,
    identity: &Identity,
    key: &WorkspaceKey,
    spec: &InstanceSpec,
) -> bool {
    key.user == identity.user
        || is_admin(state, identity)
        || spec.shared_with.admits(&identity.user, &identity.groups)
}

/// `PATCH /api/instances/{id}`: replaces who the instance is shared with. Only
/// its owner and admins may; the workspace keeps running.
pub async fn patch<B>(
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
    let patch = json::patch_instance(value)?
        .validate()
        .map_err(ApiErr::validation)?;
    let mut spec = spec_of(state, &info);
    if let Some(shared_with) = patch.shared_with {
        spec.shared_with = shared_with;
    }
    state
        .activator
        .runtime()
        .update_spec(&info.key, &spec)
        .await?;
    // The link's cache must not keep admitting whom the owner just removed.
    state.instances.remove(&info.key.id());
    tracing::info!(
        instance = %info.key.id(),
        by = %identity.user,
        users = spec.shared_with.users.len(),
        groups = spec.shared_with.groups.len(),
        "instance sharing changed"
    );
    Ok(json_response(
        StatusCode::OK,
        &view(&info.key, &info.status, &spec),
    ))
}
