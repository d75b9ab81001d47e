//! One transfer per checkout folder. Two workspaces can share a folder (a
//! `/github/acme/big` workspace and an API instance of `acme/big` both check out
//! into `<workspaces>/acme/big`), so every launcher takes an exclusive
//! [`FileLock`] on `<owner dir>/.<repo>.dcs-lock` before it clones or fetches there,
//! waiting while another launcher holds it; the second one then finds the clone and
//! fetches.
//!
//! With the lock held, every partial clone `.<repo>.dcs-partial-*` beside the target
//! is abandoned by definition (its launcher died mid-clone, or was killed): they are
//! removed before a transfer starts and after a transfer child is killed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dcs_model::RepoRef;
use dcs_os::lock::FileLock;
use tracing::{info, warn};

use crate::error::{Error, Result};

/// How often a waiting launcher tries the lock again.
const POLL: Duration = Duration::from_millis(200);

/// The lock file of the checkout of `repo` in `owner_dir`.
pub fn lock_path(owner_dir: &Path, repo: &RepoRef) -> PathBuf {
    owner_dir.join(format!(".{}.dcs-lock", repo.repo()))
}

/// The name of the partial clone of `repo` made by process `pid`.
pub fn partial_name(repo: &RepoRef, pid: u32) -> String {
    format!("{}{pid}", partial_prefix(repo))
}

fn partial_prefix(repo: &RepoRef) -> String {
    format!(".{}.dcs-partial-", repo.repo())
}

/// Removes every partial clone of `repo` in `owner_dir`; returns what it removed.
/// Call it only with the checkout lock held. Blocking.
pub fn remove_partials(owner_dir: &Path, repo: &RepoRef) -> io::Result<Vec<PathBuf>> {
    let prefix = partial_prefix(repo);
    let entries = match std::fs::read_dir(owner_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let is_partial = name.to_str().is_some_and(|n| {
            n.strip_prefix(&prefix)
                .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        });
        if !is_partial {
            continue;
        }
        let path = entry.path();
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {
                info!(path = %path.display(), "removed an abandoned partial clone");
                removed.push(path);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// Takes the checkout lock of `repo` in `owner_dir` (made if missing), waiting while
/// another launcher holds it: `waiting` is called once when the wait begins. Gives
/// up with `Ok(None)` when `cancel` is set.
pub async fn acquire(
    owner_dir: &Path,
    repo: &RepoRef,
    cancel: Arc<AtomicBool>,
    waiting: impl FnOnce() + Send + 'static,
) -> Result<Option<FileLock>> {
    let owner_dir = owner_dir.to_path_buf();
    let path = lock_path(&owner_dir, repo);
    let shown = path.display().to_string();
    let taken = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&owner_dir)?;
        let mut waiting = Some(waiting);
        FileLock::lock_polling(&path, POLL, || {
            if let Some(tell) = waiting.take() {
                info!(lock = %path.display(), "another launcher is checking out here; waiting");
                tell();
            }
            !cancel.load(Ordering::Relaxed)
        })
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?;
    taken.map_err(|e| {
        warn!(lock = %shown, error = %e, "cannot take the checkout lock");
        Error::io(format!("taking the checkout lock {shown}"), e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_partial_clones_of_this_repository_are_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = RepoRef::parse("acme/big").expect("repo");
        let partial = dir.path().join(partial_name(&repo, 4242));
        std::fs::create_dir_all(partial.join(".git/objects")).expect("mkdir");
        std::fs::write(partial.join(".git/objects/pack"), "x").expect("write");
        for keep in [
            "big",
            ".big.dcs-lock",
            ".big.dcs-partial-",
            ".big.dcs-partial-12x",
            ".bigger.dcs-partial-1",
            ".other.dcs-partial-1",
        ] {
            std::fs::create_dir_all(dir.path().join(keep)).expect("mkdir");
        }
        let removed = remove_partials(dir.path(), &repo).expect("remove");
        assert_eq!(removed, std::slice::from_ref(&partial));
        assert!(!partial.exists());
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".big.dcs-lock",
                ".big.dcs-partial-",
                ".big.dcs-partial-12x",
                ".bigger.dcs-partial-1",
                ".other.dcs-partial-1",
                "big"
            ]
        );
        assert!(remove_partials(&dir.path().join("absent"), &repo)
            .expect("a missing folder has none")
            .is_empty());
    }

    #[tokio::test]
    async fn a_second_taker_waits_until_the_first_lets_go_or_gives_up_on_cancel() {
        let dir = tempfile::tempdir().expect("tempdir");
        let owner = dir.path().join("acme");
        let repo = RepoRef::parse("acme/big").expect("repo");
        let never = Arc::new(AtomicBool::new(false));
        let first = acquire(&owner, &repo, never.clone(), || {})
            .await
            .expect("lock")
            .expect("free");

        let (told, heard) = tokio::sync::oneshot::channel();
        let second = tokio::spawn({
            let (owner, repo, never) = (owner.clone(), repo.clone(), never.clone());
            async move {
                acquire(&owner, &repo, never, move || {
                    let _ = told.send(());
                })
                .await
            }
        });
        heard.await.expect("the second taker says it waits");
        assert!(!second.is_finished());
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(30), second)
            .await
            .expect("taken once free")
            .expect("task")
            .expect("lock");
        assert!(second.is_some());

        let cancel = Arc::new(AtomicBool::new(true));
        let third = acquire(&owner, &repo, cancel, || {}).await.expect("lock");
        assert!(third.is_none(), "cancelled while the lock is held");
    }
}
