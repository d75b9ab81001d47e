//! The file API's writes, which never overwrite or delete anything: `PUT` uploads
//! and `POST ?mkdir`.
//!
//! An upload streams into a temporary file in the launcher's own temporary folder
//! ([`super::temp`]; beside the target when there is none), and is published with a
//! hard link, which fails if the target exists. A body that ends early (the client
//! went away, or sent less than it announced) publishes nothing. Where the hard link
//! cannot cross from the temporary folder to the target (another filesystem), the
//! file is copied to a temporary beside the target and published from there; on a
//! filesystem without hard links, it is copied into the target, created exclusively.
//!
//! **Durable before confirmed.** The temporary's content is synced before the link,
//! and the target's folder after it, before the answer (201) and before the
//! temporary's name is removed: a power loss after a confirmed upload keeps the file,
//! and never leaves its only copy under a temporary name (which the next start
//! removes as abandoned, [`super::temp`]). A new folder is synced into its parent
//! the same way. A sync that fails is answered as an error, not as created: the file
//! or folder is there, but the disk did not say it will stay.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::io::AsyncWriteExt;
use tracing::info;

use super::listing::UPLOAD_MARK;
use super::path::{self, RelPath};
use crate::error::{Error, Result};

/// Stores the request body as the new file `rel`, writing it first in `temp_dir`
/// (if given) or beside the target. Returns 201 Created.
pub async fn upload(
    root: &Path,
    rel: &RelPath,
    mut body: Incoming,
    temp_dir: Option<&Path>,
) -> Result<StatusCode> {
    if rel.is_root() || rel.trailing_slash() {
        return Err(Error::BadRequest(
            "upload to a file path, not to a directory path ending in '/'".into(),
        ));
    }
    let shown = rel.display();
    let target = path::resolve_new(root, rel).await?;
    if tokio::fs::symlink_metadata(&target).await.is_ok() {
        return Err(exists(&shown));
    }
    let name = rel.name().unwrap_or_default();
    let beside = target.parent().unwrap_or(root);
    let mut tmp = TempUpload::create(temp_dir.unwrap_or(beside), name, &shown).await?;
    let io = |e| Error::io(format!("writing {shown}"), e);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Error::BadRequest(format!("the upload of {shown} was interrupted: {e}"))
        })?;
        if let Ok(data) = frame.into_data() {
            tmp.file.write_all(&data).await.map_err(io)?;
        }
    }
    tmp.file.flush().await.map_err(io)?;
    tmp.file.sync_all().await.map_err(io)?;
    match publish(&tmp, &target, &shown).await {
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
            // The temporary folder is on another filesystem: copy beside the target.
            let near = TempUpload::create(beside, name, &shown).await?;
            tokio::fs::copy(&tmp.path, &near.path).await.map_err(io)?;
            near.file.sync_all().await.map_err(io)?;
            drop(tmp);
            publish(&near, &target, &shown).await
        }
        other => other,
    }
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => exists(&shown),
        _ => path::path_error(format!("publishing {shown}"), &shown, e),
    })?;
    info!(path = %shown, "file uploaded");
    Ok(StatusCode::CREATED)
}

/// Links `tmp` as `target` (failing if it exists) and syncs the new name to the
/// disk; the temporary name goes afterwards, when `tmp` is dropped.
async fn publish(tmp: &TempUpload, target: &Path, shown: &str) -> std::io::Result<()> {
    let linked = tokio::fs::hard_link(&tmp.path, target).await;
    published(linked, &tmp.path, target, shown).await?;
    sync_folder_of(target).await
}

/// Syncs the folder holding `path` (its new entry) to the disk, off the runtime.
async fn sync_folder_of(path: &Path) -> std::io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    tokio::task::spawn_blocking(move || dcs_os::durable::sync_dir(&folder))
        .await
        .map_err(std::io::Error::other)?
}

/// After the link: on a filesystem that has no hard links (some SMB and FUSE
/// volumes answer `EPERM`, `EOPNOTSUPP` or `ENOSYS`), `target` is created
/// exclusively and `tmp`'s bytes copied into it. That still never overwrites, but a
/// reader may see the file while it fills; a copy that fails removes what it made.
async fn published(
    linked: std::io::Result<()>,
    tmp: &Path,
    target: &Path,
    shown: &str,
) -> std::io::Result<()> {
    match linked {
        Err(e) if matches!(e.raw_os_error(), Some(EPERM | EOPNOTSUPP | ENOSYS)) => {
            tracing::debug!(path = %shown, error = %e, "no hard links here; copying");
            let mut out = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(target)
                .await?;
            let copied = async {
                let mut from = tokio::fs::File::open(tmp).await?;
                tokio::io::copy(&mut from, &mut out).await?;
                out.sync_all().await
            };
            if let Err(e) = copied.await {
                let _ = tokio::fs::remove_file(target).await;
                return Err(e);
            }
        }
        other => other?,
    }
    tracing::debug!(path = %shown, "published");
    Ok(())
}

/// Linux's `EPERM`, `ENOSYS` and `EOPNOTSUPP`.
const EPERM: i32 = 1;
const ENOSYS: i32 = 38;
const EOPNOTSUPP: i32 = 95;

/// Creates the directory `rel` (its parent must exist). Returns 201 Created.
pub async fn mkdir(root: &Path, rel: &RelPath) -> Result<StatusCode> {
    let shown = rel.display();
    let target = path::resolve_new(root, rel).await?;
    match tokio::fs::create_dir(&target).await {
        Ok(()) => {
            sync_folder_of(&target)
                .await
                .map_err(|e| path::path_error(format!("creating directory {shown}"), &shown, e))?;
            info!(path = %shown, "directory created");
            Ok(StatusCode::CREATED)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists(&shown)),
        Err(e) => Err(path::path_error(
            format!("creating directory {shown}"),
            &shown,
            e,
        )),
    }
}

fn exists(shown: &str) -> Error {
    Error::Conflict(format!("{shown} already exists; nothing was overwritten"))
}

/// The most bytes of the target's name a temporary's name repeats.
const STEM_MAX: usize = 64;

/// A temporary upload file, removed when dropped: on success after the hard link, on
/// any error, and when the client goes away mid-upload (the request future is
/// dropped). A launcher killed mid-upload leaves it in its temporary folder, which
/// the next start removes.
struct TempUpload {
    path: PathBuf,
    file: tokio::fs::File,
}

impl TempUpload {
    /// A new, hidden temporary for the upload of `name` in `dir`.
    async fn create(dir: &Path, name: &std::ffi::OsStr, shown: &str) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let unique = format!(
            "{}-{}-{nanos:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        // Keep the temporary name well below NAME_MAX (bytes) whatever the target's
        // length: at most 64 bytes of its name (as text), cut between characters.
        let name = name.to_string_lossy();
        let stem = &name[..name.floor_char_boundary(STEM_MAX)];
        let path = dir.join(format!(".{stem}{UPLOAD_MARK}{unique}"));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| {
                path::path_error(format!("creating a temporary file for {shown}"), shown, e)
            })?;
        Ok(Self { path, file })
    }
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests;
