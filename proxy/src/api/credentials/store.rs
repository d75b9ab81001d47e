//! The [`CredentialStore`]s: a `0600` JSON file in the user's volume (local
//! runtime; the launcher's credential helper reads it there), or the user's
//! credentials Secret (Knative; mounted read-only into their workspaces).

use std::path::PathBuf;

use async_trait::async_trait;
use dcs_model::credentials::CredentialFile;
use dcs_model::UserId;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::Api;

use super::CredentialStore;
use crate::api::error::ApiErr;
use crate::runtime::knative::objects::{self, FIELD_MANAGER};
use crate::runtime::knative::KnativeConfig;

fn unavailable(what: &str) -> ApiErr {
    ApiErr::new(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("the credential store cannot be {what} right now; try again shortly"),
    )
}

/// Local runtime: `<data-dir>/workspaces/<user>/.dcs/git-credentials.json`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    data_dir: PathBuf,
}

impl LocalStore {
    /// The store under `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        Self { data_dir }
    }

    fn file(&self, user: &UserId) -> PathBuf {
        let volume = self.data_dir.join("workspaces").join(user.as_str());
        crate::runtime::local::spawn::credentials_file(&volume)
    }
}

#[async_trait]
impl CredentialStore for LocalStore {
    async fn load(&self, user: &UserId) -> Result<CredentialFile, ApiErr> {
        let file = self.file(user);
        let read = tokio::task::spawn_blocking(move || std::fs::read(&file))
            .await
            .map_err(|_| unavailable("read"))?;
        match read {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(%user, %error, "unreadable credentials file; starting afresh");
                CredentialFile::default()
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CredentialFile::default()),
            Err(error) => {
                tracing::warn!(%user, %error, "cannot read the credentials file");
                Err(unavailable("read"))
            }
        }
    }

    async fn save(&self, user: &UserId, stored: &CredentialFile) -> Result<(), ApiErr> {
        let file = self.file(user);
        let bytes = serde_json::to_vec_pretty(stored).map_err(|_| unavailable("written"))?;
        let user = user.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            dcs_os::atomic::write_atomic_private(&file, &bytes)
        })
        .await
        .map_err(|_| unavailable("written"))?
        .map_err(|error| {
            tracing::warn!(%user, %error, "cannot write the credentials file");
            unavailable("written")
        })
    }
}

/// Knative: the user's Secret `cred-<slug>-<hash>` in the workspace namespace.
#[derive(Clone)]
pub struct KnativeStore {
    secrets: Api<Secret>,
    cfg: KnativeConfig,
}

impl KnativeStore {
    /// The store of `cfg`'s namespace through `client`.
    pub fn new(client: kube::Client, cfg: KnativeConfig) -> Self {
        Self {
            secrets: Api::namespaced(client, &cfg.namespace),
            cfg,
        }
    }
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

    async fn save(&self, user: &UserId, stored: &CredentialFile) -> Result<(), ApiErr> {
        let name = objects::credentials_secret_name(user);
        let result = if stored.credentials.is_empty() {
            match self
                .secrets
                .delete(name.as_str(), &DeleteParams::default())
                .await
            {
                Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
                other => other.map(|_| ()),
            }
        } else {
            let secret = objects::credentials_secret(&self.cfg, user, stored);
            self.secrets
                .patch(
                    name.as_str(),
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&secret),
                )
                .await
                .map(|_| ())
        };
        result.map_err(|error| {
            tracing::warn!(%user, %error, "cannot write the credentials Secret");
            unavailable("written")
        })
    }
}

#[cfg(test)]
mod tests {
    use dcs_model::credentials::StoredCredential;

    use super::*;

    #[tokio::test]
    async fn the_local_file_is_owner_only_and_round_trips() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new(dir.path().to_path_buf());
        let alice = UserId::new("alice").expect("user");
        assert_eq!(
            store.load(&alice).await.expect("load"),
            CredentialFile::default()
        );
        let mut stored = CredentialFile::default();
        stored
            .set(StoredCredential {
                host: "github.com".into(),
                username: "x-access-token".into(),
                token: "ghp_x".into(),
            })
            .expect("set");
        store.save(&alice, &stored).await.expect("save");
        assert_eq!(store.load(&alice).await.expect("load"), stored);
        let file = store.file(&alice);
        assert!(file.starts_with(dir.path().join("workspaces/alice")));
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let bob = UserId::new("bob").expect("user");
        assert!(store.load(&bob).await.expect("load").credentials.is_empty());
    }
}
