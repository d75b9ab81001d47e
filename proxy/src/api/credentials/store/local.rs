//! Local runtime: `<data-dir>/workspaces/<user>/.dcs/git-credentials.json`.
//!
//! Everything below the volume is the user's to change from their terminal, and
//! every user's volume belongs to the proxy's OS user: the file is read and written
//! with [`dcs_os::confined`] (no symbolic link followed, regular files only, at
//! most [`MAX_FILE`] bytes), so a link planted there cannot make the proxy read
//! another user's credentials, overwrite them, or read `/dev/zero`.
//!
//! One proxy process serves a data directory, so a change of a user's file is
//! made under that user's lock in this process ([`super::UserLocks`]): no lock is
//! taken on the file itself, which its user could hold forever.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use dcs_model::credentials::CredentialFile;
use dcs_model::UserId;

use super::{unavailable, UserLocks};
use crate::api::credentials::{Change, CredentialStore};
use crate::api::error::ApiErr;

/// The store of a local proxy's data directory.
#[derive(Clone)]
pub struct LocalStore {
    data_dir: PathBuf,
    locks: Arc<UserLocks>,
}

/// The largest credentials file read: a few hundred bytes per host.
pub const MAX_FILE: usize = 1 << 20;

impl LocalStore {
    /// The store under `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            locks: Arc::new(UserLocks::new()),
        }
    }

    /// The user's volume (trusted: neither it nor its parent is in any sandbox) and
    /// the file's path below it.
    fn file(&self, user: &UserId) -> (PathBuf, PathBuf) {
        let volume = self.data_dir.join("workspaces").join(user.as_str());
        let below = crate::runtime::local::spawn::credentials_file(Path::new(""));
        (volume, below)
    }

    /// Replaces `user`'s file with `stored` (atomically: a reader sees the old
    /// file or the new one). Callers hold the user's lock.
    async fn write(&self, user: &UserId, stored: &CredentialFile) -> Result<(), ApiErr> {
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

    async fn update(&self, user: &UserId, change: &Change<'_>) -> Result<CredentialFile, ApiErr> {
        let _only = self.locks.lock(user).await;
        let mut stored = self.load(user).await?;
        let before = stored.clone();
        change(&mut stored)?;
        if stored != before {
            self.write(user, &stored).await?;
        }
        Ok(stored)
    }
}

#[cfg(test)]
mod tests;
