//! The file API's writes, which never overwrite or delete anything: `PUT` uploads
//! (streamed to a temporary file beside the target, then published with a hard link
//! that fails if the target exists) and `POST ?mkdir`.

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

/// Stores the request body as the new file `rel`. Returns 201 Created.
pub async fn upload(root: &Path, rel: &RelPath, mut body: Incoming) -> Result<StatusCode> {
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
    let mut tmp = TempUpload::create(&target, name, &shown).await?;
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
    match tokio::fs::hard_link(&tmp.path, &target).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists(&shown)),
        Err(e) => return Err(Error::io(format!("publishing {shown}"), e)),
    }
    drop(tmp); // removes the temporary name; the content lives on as `target`
    info!(path = %shown, "file uploaded");
    Ok(StatusCode::CREATED)
}

/// Creates the directory `rel` (its parent must exist). Returns 201 Created.
pub async fn mkdir(root: &Path, rel: &RelPath) -> Result<StatusCode> {
    let shown = rel.display();
    let target = path::resolve_new(root, rel).await?;
    match tokio::fs::create_dir(&target).await {
        Ok(()) => {
            info!(path = %shown, "directory created");
            Ok(StatusCode::CREATED)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists(&shown)),
        Err(e) => Err(Error::io(format!("creating directory {shown}"), e)),
    }
}

fn exists(shown: &str) -> Error {
    Error::Conflict(format!("{shown} already exists; nothing was overwritten"))
}

/// A temporary upload file, removed when dropped: on success after the hard link, on
/// any error, and when the client goes away mid-upload (the request future is
/// dropped).
struct TempUpload {
    path: PathBuf,
    file: tokio::fs::File,
}

impl TempUpload {
    async fn create(target: &Path, name: &str, shown: &str) -> Result<Self> {
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
        // Keep the temporary name well below NAME_MAX whatever the target's length.
        let stem: String = name.chars().take(64).collect();
        let path = target.with_file_name(format!(".{stem}{UPLOAD_MARK}{unique}"));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| Error::io(format!("creating a temporary file for {shown}"), e))?;
        Ok(Self { path, file })
    }
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
