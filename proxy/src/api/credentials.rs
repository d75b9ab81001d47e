//! The caller's own git credentials: `PUT /api/me/credentials/{host}` (body
//! `{"username", "token"}`), `GET /api/me/credentials` (hosts and user names, never
//! a token) and `DELETE /api/me/credentials/{host}`. Stored per user by a
//! [`CredentialStore`] (Knative: the user's Secret; local: a `0600` file in the
//! user's volume) and offered inside that user's workspaces only, through the
//! launcher's git credential helper. A token is never answered, logged or put in
//! an error message once it is set. Two changes at once (two hosts set, on one
//! replica or two) both land: each is one [`CredentialStore::update`].
//!
//! # Layout
//! - [`store`]: where credentials are kept, for each runtime.

pub mod store;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use dcs_model::credentials::{parse_host, CredentialFile, CredentialView, SetCredential};
use dcs_model::UserId;
use http::request::Parts;
use http::StatusCode;

use super::error::{json_response, ApiErr};
use super::handlers::Answer;
use super::json;
use crate::auth::Identity;
use crate::body;
use crate::state::AppState;

/// A change of a user's credentials, made in place; an error leaves them as
/// they were. It may run more than once (again on a fresher read), so it only
/// edits what it is given.
pub type Change<'a> = dyn Fn(&mut CredentialFile) -> Result<(), ApiErr> + Send + Sync + 'a;

/// Where a user's credentials are kept.
#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    /// `user`'s credentials (none stored: empty).
    async fn load(&self, user: &UserId) -> Result<CredentialFile, ApiErr>;
    /// Applies `change` to `user`'s credentials and stores the result, as one step: no other change of `user`'s credentials, on
    /// this proxy or another replica, lands between the read `change` edits and
    /// the write of its result. Returns what is stored.
    async fn update(&self, user: &UserId, change: &Change<'_>) -> Result<CredentialFile, ApiErr>;
}

/// The store in `state`.
fn store(state: &AppState) -> &Arc<dyn CredentialStore> {
    &state.credentials
}

/// `GET /api/me/credentials`.
pub async fn list(state: &AppState, identity: &Identity) -> Answer {
    let stored = store(state).load(&identity.user).await?;
    Ok(json_response(StatusCode::OK, &stored.view()))
}

/// `PUT /api/me/credentials/{host}`: stores (or replaces) the credential of `host`.
pub async fn set<B>(
    state: &AppState,
    identity: &Identity,
    parts: &Parts,
    host: &str,
    body: B,
) -> Answer
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let value = json::read_value(parts, body, json::MAX_BODY).await?;
    // Never serde's message: it could quote the token.
    let request: SetCredential = serde_json::from_value(value).map_err(|_| {
        ApiErr::field(
            "body",
            "must be an object with exactly the string fields `username` and `token`",
        )
    })?;
    let credential = request.validate(host).map_err(ApiErr::validation)?;
    let view = CredentialView {
        host: credential.host.clone(),
        username: credential.username.clone(),
    };
    let change = |stored: &mut CredentialFile| {
        stored
            .set(credential.clone())
            .map_err(|why| ApiErr::field("host", why))
    };
    store(state).update(&identity.user, &change).await?;
    tracing::info!(user = %identity.user, host = %view.host, "git credential stored");
    Ok(json_response(StatusCode::OK, &view))
}

/// `DELETE /api/me/credentials/{host}`.
pub async fn delete(state: &AppState, identity: &Identity, host: &str) -> Answer {
    let host = parse_host(host).map_err(|why| ApiErr::field("host", why))?;
    let change = |stored: &mut CredentialFile| {
        if stored.remove(&host) {
            Ok(())
        } else {
            Err(ApiErr::not_found(format!(
                "no credential for {host} is stored"
            )))
        }
    };
    store(state).update(&identity.user, &change).await?;
    tracing::info!(user = %identity.user, %host, "git credential deleted");
    let mut resp = http::Response::new(body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}
