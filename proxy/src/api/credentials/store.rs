//! The [`CredentialStore`]s: a `0600` JSON file in the user's volume (local
//! runtime; the launcher's credential helper reads it there), or the user's
//! credentials Secret (Knative; mounted read-only into their workspaces).

use std::path::{Path, PathBuf};

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
///
/// Everything below the volume is the user's to change from their terminal, and
/// every user's volume belongs to the proxy's OS user: the file is read and written
/// with [`dcs_os::confined`] (no symbolic link followed, regular files only, at
/// most [`MAX_FILE`] bytes), so a link planted there cannot make the proxy read
/// another user's credentials, overwrite them, or read `/dev/zero`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    data_dir: PathBuf,
}

/// The largest credentials file read: a few hundred bytes per host.
pub const MAX_FILE: usize = 1 << 20;

impl LocalStore {
    /// The store under `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        Self { data_dir }
    }

    /// The user's volume (trusted: neither it nor its parent is in any sandbox) and
    /// the file's path below it.
    fn file(&self, user: &UserId) -> (PathBuf, PathBuf) {
        let volume = self.data_dir.join("workspaces").join(user.as_str());
        let below = crate::runtime::local::spawn::credentials_file(Path::new(""));
        (volume, below)
    }
}

/// 409 for what the user left in their volume where the file belongs.
fn refused(user: &UserId, volume: &Path, error: &std::io::Error) -> ApiErr {
    tracing::warn!(%user, %error, "refused the credentials file in the user's volume");
    let what = dcs_os::confined::refused_path(error).unwrap_or(Path::new(""));
    ApiErr::new(
        http::StatusCode::CONFLICT,
        "credentials_file_refused",
        format!(
            "your git credentials file in your workspace volume cannot be used ({error}); \
             remove {} from a workspace terminal, then set your credentials again",
            volume.join(what).display()
        ),
    )
}

#[async_trait]
impl CredentialStore for LocalStore {
    async fn load(&self, user: &UserId) -> Result<CredentialFile, ApiErr> {
        let (volume, below) = self.file(user);
        let shown = volume.clone();
        let read = tokio::task::spawn_blocking(move || {
            dcs_os::confined::read_file(&volume, &below, MAX_FILE)
        })
        .await
        .map_err(|_| unavailable("read"))?;
        match read {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(%user, %error, "unreadable credentials file; starting afresh");
                CredentialFile::default()
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CredentialFile::default()),
            Err(e) if dcs_os::confined::is_refusal(&e) => Err(refused(user, &shown, &e)),
            Err(error) => {
                tracing::warn!(%user, %error, "cannot read the credentials file");
                Err(unavailable("read"))
            }
        }
    }

    async fn save(&self, user: &UserId, stored: &CredentialFile) -> Result<(), ApiErr> {
        let (volume, below) = self.file(user);
        let shown = volume.clone();
        let bytes = serde_json::to_vec_pretty(stored).map_err(|_| unavailable("written"))?;
        let written = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&volume)?;
            dcs_os::confined::write_private(&volume, &below, &bytes)
        })
        .await
        .map_err(|_| unavailable("written"))?;
        match written {
            Ok(()) => Ok(()),
            Err(e) if dcs_os::confined::is_refusal(&e) => Err(refused(user, &shown, &e)),
            Err(error) => {
                tracing::warn!(%user, %error, "cannot write the credentials file");
                Err(unavailable("written"))
            }
        }
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
        let (volume, below) = store.file(&alice);
        assert_eq!(volume, dir.path().join("workspaces/alice"));
        let file = volume.join(below);
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let bob = UserId::new("bob").expect("user");
        assert!(store.load(&bob).await.expect("load").credentials.is_empty());
    }

    fn one(host: &str, token: &str) -> CredentialFile {
        let mut stored = CredentialFile::default();
        stored
            .set(StoredCredential {
                host: host.into(),
                username: "x-access-token".into(),
                token: token.into(),
            })
            .expect("set");
        stored
    }

    /// A store where Bob has saved a credential; Alice's volume exists, empty.
    async fn alice_and_bob() -> (tempfile::TempDir, LocalStore, UserId, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new(dir.path().to_path_buf());
        let bob = UserId::new("bob").expect("user");
        store
            .save(&bob, &one("github.com", "ghp_bobs_token"))
            .await
            .expect("save");
        let alice = UserId::new("alice").expect("user");
        std::fs::create_dir_all(dir.path().join("workspaces/alice/.dcs")).expect("mkdir");
        let bobs = dir.path().join("workspaces/bob/.dcs/git-credentials.json");
        (dir, store, alice, bobs)
    }

    /// A 409 that names what to remove, and no token.
    fn assert_refused(result: Result<impl std::fmt::Debug, ApiErr>, remove: &Path) {
        let err = result.expect_err("refused");
        assert_eq!(err.status(), http::StatusCode::CONFLICT, "{err:?}");
        let remove = format!("remove {} from a workspace terminal", remove.display());
        assert!(err.body().message.contains(&remove), "{err:?}");
        assert!(!err.body().message.contains("ghp_"), "{err:?}");
    }

    #[tokio::test]
    async fn bobs_file_linked_from_alices_volume_is_neither_read_nor_written() {
        let (dir, store, alice, bobs) = alice_and_bob().await;
        let before = std::fs::read(&bobs).expect("read");
        let alices = dir
            .path()
            .join("workspaces/alice/.dcs/git-credentials.json");
        std::os::unix::fs::symlink(&bobs, &alices).expect("symlink");
        assert_refused(store.load(&alice).await, &alices);
        // A save (never reached through the API, which loads first) replaces the
        // link with Alice's own file.
        let _ = store.save(&alice, &one("x.org", "ghp_alices")).await;
        assert_eq!(std::fs::read(&bobs).expect("read"), before);
        let text = std::fs::read_to_string(&alices).unwrap_or_default();
        assert!(!text.contains("ghp_bobs_token"), "{text}");
    }

    #[tokio::test]
    async fn a_dcs_folder_linked_to_bobs_leaves_bobs_file_untouched() {
        let (dir, store, alice, bobs) = alice_and_bob().await;
        let before = std::fs::read(&bobs).expect("read");
        let alices = dir.path().join("workspaces/alice/.dcs");
        std::fs::remove_dir(&alices).expect("rmdir");
        std::os::unix::fs::symlink(bobs.parent().expect("dir"), &alices).expect("symlink");
        assert_refused(store.load(&alice).await, &alices);
        let saved = store.save(&alice, &one("x.org", "ghp_alices")).await;
        assert_refused(saved, &alices);
        assert_eq!(std::fs::read(&bobs).expect("read"), before);
        let names = std::fs::read_dir(bobs.parent().expect("dir"))
            .expect("list")
            .count();
        assert_eq!(names, 1, "nothing else is written into Bob's folder");
    }

    #[tokio::test]
    async fn a_link_to_dev_zero_or_an_oversized_file_is_answered_promptly() {
        let (dir, store, alice, _) = alice_and_bob().await;
        let alices = dir
            .path()
            .join("workspaces/alice/.dcs/git-credentials.json");
        std::os::unix::fs::symlink("/dev/zero", &alices).expect("symlink");
        let answer = tokio::time::timeout(std::time::Duration::from_secs(5), store.load(&alice));
        assert_refused(answer.await.expect("answered promptly"), &alices);
        std::fs::remove_file(&alices).expect("rm");
        std::fs::write(&alices, vec![b' '; 2 << 20]).expect("write");
        assert_refused(store.load(&alice).await, &alices);
    }
}
