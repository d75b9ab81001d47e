//! Who may open an instance's link, and `PATCH /api/instances/{id}`, by which its
//! owner (or an admin) shares it.
//!
//! The rule, in one place ([`opening`]): the owner; and only where the operator
//! allows it (`--dangerous-allow-shared-instances`), members of an admin group and
//! the users and groups the instance is shared with. An instance's content is
//! served on the proxy's own origin and comes from its owner's processes: opened by
//! someone else, a page it serves runs in their browser with their sign-in and can
//! act as them (a terminal in their own workspaces, the API; with an admin's
//! sign-in, for everyone). Coder decides the same for path-based apps. Those the
//! flag would admit are told why they are refused ([`Opening::NotHere`]); to anyone
//! else an instance does not exist (404), whatever link or cookie they hold. While
//! the flag is off, sharing itself (a non-empty `shared_with`) is refused
//! ([`sharing_allowed`]) rather than recorded to no effect. A change of sharing
//! closes the instance's open connections on this replica, so one it admitted
//! before does not outlive it.

use bytes::Bytes;
use dcs_model::sharing::Sharing;
use dcs_model::{InstanceSpec, WorkspaceKey};
use http::request::Parts;
use http::StatusCode;

use super::error::{json_response, ApiErr};
use super::handlers::{is_admin, owned, spec_of, view, Answer};
use super::json;
use crate::auth::Identity;
use crate::state::AppState;

/// Whether someone may open an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// Its owner, or someone it is shared with (or an admin) where allowed.
    Yes,
    /// Someone it is shared with, or an admin, where others may not open it.
    NotHere,
    /// Anyone else: for them it does not exist.
    Hidden,
}

/// Whether `identity` may open the instance `key` recorded with `spec`.
pub fn opening(
    state: &AppState,
    identity: &Identity,
    key: &WorkspaceKey,
    spec: &InstanceSpec,
) -> Opening {
    if key.user == identity.user {
        return Opening::Yes;
    }
    let admitted =
        is_admin(state, identity) || spec.shared_with.admits(&identity.user, &identity.groups);
    match (admitted, state.api.others_open) {
        (true, true) => Opening::Yes,
        (true, false) => Opening::NotHere,
        (false, _) => Opening::Hidden,
    }
}

/// Why someone [`Opening::NotHere`] is refused, and what the operator can do.
pub const NOT_HERE: &str = "only its owner opens an instance on this server: its pages \
would run in your browser with your sign-in and could act as you (the operator can \
allow it with --dangerous-allow-shared-instances)";

/// Refuses a non-empty `shared_with` while others may not open instances.
pub fn sharing_allowed(state: &AppState, shared_with: &Sharing) -> Result<(), ApiErr> {
    if state.api.others_open || shared_with.is_empty() {
        return Ok(());
    }
    Err(ApiErr::forbidden(format!(
        "sharing is off on this server: {NOT_HERE}"
    )))
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
    let before = spec.shared_with.clone();
    if let Some(shared_with) = patch.shared_with {
        // `/github/<owner>/<repo>/` is each caller's own workspace: nobody else
        // ever reaches this one, so sharing it would be recorded to no effect.
        if info.key.repo().is_some() && !shared_with.is_empty() {
            return Err(ApiErr::new(
                StatusCode::CONFLICT,
                "not_shareable",
                format!(
                    "{} is a repository workspace, which only its owner opens; to share \
                     a workspace, create an instance of the repository \
                     (POST /api/instances with \"repo\") and share that",
                    info.key.id()
                ),
            ));
        }
        sharing_allowed(state, &shared_with)?;
        spec.shared_with = shared_with;
    }
    state
        .activator
        .runtime()
        .update_spec(&info.key, &spec)
        .await?;
    // The link's cache must not keep admitting whom the owner just removed, nor a
    // connection they opened before: this replica's tunnels of the instance close
    // (the owner's IDE reconnects at once, and is admitted again).
    state.instances.remove(&info.key.id());
    if spec.shared_with != before {
        if let Some(tracker) = state.activator.activity.peek(&info.key) {
            tracker.close_tunnels();
        }
    }
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
