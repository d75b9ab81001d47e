//! Knative: the user's Secret `cred-<slug>-<hash>` in the workspace namespace.
//!
//! Every replica may change it, so a change is optimistic: read the Secret (or
//! find none), apply the change, then write naming what was read: create when
//! there was none (`409 AlreadyExists`: another replica made it first), else a
//! JSON merge patch carrying the `resourceVersion` read, or a delete with it as
//! a precondition when the change leaves no credential (`409 Conflict`: another
//! write came first; `404`: another replica deleted it). Each of those starts
//! over from a fresh read, after a short random pause, at most [`ATTEMPTS`]
//! times; then the answer is `503` `unavailable`. The Secret's labels and
//! annotations are written with every change.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dcs_model::credentials::CredentialFile;
use dcs_model::UserId;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::Api;

use super::{unavailable, UserLocks};
use crate::api::credentials::{Change, CredentialStore};
use crate::api::error::ApiErr;
use crate::runtime::knative::objects::{self, FIELD_MANAGER};
use crate::runtime::knative::KnativeConfig;

/// Reads and writes of one change before it gives up. Each lost race means
/// another replica's change landed, so this bounds how many changes of one user
/// may overtake a change.
pub const ATTEMPTS: u32 = 16;

/// The store of a Knative namespace.
#[derive(Clone)]
pub struct KnativeStore {
    secrets: Api<Secret>,
    cfg: KnativeConfig,
    locks: Arc<UserLocks>,
}

impl KnativeStore {
    /// The store of `cfg`'s namespace through `client`.
    pub fn new(client: kube::Client, cfg: KnativeConfig) -> Self {
        Self {
            secrets: Api::namespaced(client, &cfg.namespace),
            cfg,
            locks: Arc::new(UserLocks::new()),
        }
    }

    /// Writes `stored` over `read` (what the Secret was when read: `None`, absent),
    /// only if the Secret is still as read.
    async fn write(
        &self,
        user: &UserId,
        read: Option<&Secret>,
        stored: &CredentialFile,
    ) -> Result<(), kube::Error> {
        let name = objects::credentials_secret_name(user);
        let mut secret = objects::credentials_secret(&self.cfg, user, stored);
        let Some(read) = read else {
            let params = PostParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..PostParams::default()
            };
            return self.secrets.create(&params, &secret).await.map(|_| ());
        };
        // The API server always gives one; without it a write would be blind.
        let version = read.metadata.resource_version.clone().ok_or_else(|| {
            kube::Error::Service("the credentials Secret has no resourceVersion".into())
        })?;
        if stored.credentials.is_empty() {
            let params = DeleteParams::default().preconditions(Preconditions {
                resource_version: Some(version),
                uid: read.metadata.uid.clone(),
            });
            return self
                .secrets
                .delete(name.as_str(), &params)
                .await
                .map(|_| ());
        }
        secret.metadata.resource_version = Some(version);
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        self.secrets
            .patch(name.as_str(), &params, &Patch::Merge(&secret))
            .await
            .map(|_| ())
    }
}

/// Whether a write lost a race with another replica's (start over).
fn lost_race(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s)
        if s.is_conflict() || s.is_already_exists() || s.is_not_found())
}

/// A random pause before attempt `attempt` (from 1), growing to about 0.3 s, so
/// replicas racing for one Secret fall out of step.
fn pause(attempt: u32) -> Duration {
    let ceiling_ms = 10u64 << attempt.min(5);
    let random = u64::from(getrandom::u32().unwrap_or(u32::MAX / 2));
    Duration::from_millis(ceiling_ms / 2 + random % (ceiling_ms / 2 + 1))
}

#[async_trait]
impl CredentialStore for KnativeStore {
    async fn load(&self, user: &UserId) -> Result<CredentialFile, ApiErr> {
        let name = objects::credentials_secret_name(user);
        match self.secrets.get_opt(name.as_str()).await {
            Ok(Some(secret)) => Ok(objects::secrets::credentials_of(&secret)),
            Ok(None) => Ok(CredentialFile::default()),
            Err(error) => {
                tracing::warn!(%user, %error, "cannot read the credentials Secret");
                Err(unavailable("read"))
            }
        }
    }

    async fn update(&self, user: &UserId, change: &Change<'_>) -> Result<CredentialFile, ApiErr> {
        // This replica's changes of one user wait for each other: only other
        // replicas' can overtake one.
        let _only = self.locks.lock(user).await;
        let name = objects::credentials_secret_name(user);
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(pause(attempt)).await;
            }
            let read = self.secrets.get_opt(name.as_str()).await.map_err(|error| {
                tracing::warn!(%user, %error, "cannot read the credentials Secret");
                unavailable("read")
            })?;
            let before = read
                .as_ref()
                .map(objects::secrets::credentials_of)
                .unwrap_or_default();
            let mut stored = before.clone();
            change(&mut stored)?;
            if stored == before {
                return Ok(stored);
            }
            match self.write(user, read.as_ref(), &stored).await {
                Ok(()) => return Ok(stored),
                Err(error) if lost_race(&error) => {
                    tracing::debug!(%user, attempt, %error, "credentials Secret changed meanwhile; again");
                }
                Err(error) => {
                    tracing::warn!(%user, %error, "cannot write the credentials Secret");
                    return Err(unavailable("written"));
                }
            }
        }
        tracing::warn!(%user, "gave up changing the credentials Secret: other replicas kept changing it");
        Err(ApiErr::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "your credentials are being changed by other requests at the same time; try again shortly",
        ))
    }
}

#[cfg(test)]
mod tests;
