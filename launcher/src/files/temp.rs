//! Where uploads are written before they are published: a folder of this
//! launcher's own, `<workspaces>/.dcs-tmp/<unique>/`, alive as long as the
//! [`FileLock`] on `<unique>.lock` beside it is held (for the launcher's life; the
//! kernel lets go when the launcher dies, however it dies). Each start removes the
//! folders whose lock can be taken: the leftovers of launchers killed mid-upload,
//! found without walking the user's files.
//!
//! Creating a folder and cleaning up happen under one more lock,
//! `.dcs-tmp/.registry.lock`, so a cleaner never sees a folder whose owner has not
//! locked it yet.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dcs_os::lock::FileLock;
use tracing::info;

/// The folder (in the workspaces directory) holding every launcher's temporaries.
pub const DIR: &str = ".dcs-tmp";
/// The lock taken while creating or cleaning up.
const REGISTRY: &str = ".registry.lock";
/// Suffix of each folder's liveness lock.
const LOCK: &str = ".lock";

/// This launcher's temporary folder; removed when dropped.
#[derive(Debug)]
pub struct TempArea {
    dir: PathBuf,
    lock_file: PathBuf,
    _lock: FileLock,
}

impl TempArea {
    /// Removes the abandoned temporary folders under `<workspaces>/.dcs-tmp`, then
    /// makes this launcher's. Blocking.
    pub fn open(workspaces: &Path) -> io::Result<Self> {
        let base = workspaces.join(DIR);
        std::fs::create_dir_all(&base)?;
        let registry =
            FileLock::lock_polling(&base.join(REGISTRY), Duration::from_millis(50), || true)?
                .ok_or_else(|| io::Error::other("the temporary folder registry stayed locked"))?;
        remove_abandoned(&base)?;
        let name = unique();
        let lock_file = base.join(format!("{name}{LOCK}"));
        let lock = FileLock::try_lock(&lock_file)?
            .ok_or_else(|| io::Error::other("a fresh temporary folder lock was taken"))?;
        let dir = base.join(&name);
        std::fs::create_dir(&dir)?;
        drop(registry);
        Ok(Self {
            dir,
            lock_file,
            _lock: lock,
        })
    }

    /// The folder to write temporaries in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TempArea {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.lock_file);
    }
}

/// Removes every folder in `base` whose lock is free (or missing), and free stray
/// locks. Call it with the registry lock held.
fn remove_abandoned(base: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(base)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name == REGISTRY {
            continue;
        }
        let (folder, lock_file) = match name.strip_suffix(LOCK) {
            Some(stem) => (base.join(stem), entry.path()),
            None => (entry.path(), base.join(format!("{name}{LOCK}"))),
        };
        let held = if lock_file.exists() {
            match FileLock::try_lock(&lock_file)? {
                Some(free) => Some(free),
                None => continue, // its launcher is alive
            }
        } else {
            None
        };
        match std::fs::remove_dir_all(&folder) {
            Ok(()) => info!(path = %folder.display(), "removed abandoned upload temporaries"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => std::fs::remove_file(&folder)?,
            Err(e) => return Err(e),
        }
        if held.is_some() {
            let _ = std::fs::remove_file(&lock_file);
        }
    }
    Ok(())
}

/// A name no other launcher uses: pid, time, counter.
fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn abandoned_folders_are_removed_and_live_ones_kept() {
        let ws = tempfile::tempdir().expect("tempdir");
        let live = TempArea::open(ws.path()).expect("open");
        std::fs::write(live.dir().join(".x.dcs-upload-1"), "in progress").expect("write");
        // A launcher that died: its folder and its (now free) lock.
        let base = ws.path().join(DIR);
        std::fs::create_dir(base.join("1-dead-0")).expect("mkdir");
        std::fs::write(base.join("1-dead-0/.big.dcs-upload-0"), vec![0u8; 1024]).expect("write");
        std::fs::write(base.join("1-dead-0.lock"), "").expect("write");
        // One that died before its lock existed, and a stray lock.
        std::fs::create_dir(base.join("2-dead-0")).expect("mkdir");
        std::fs::write(base.join("3-dead-0.lock"), "").expect("write");

        let second = TempArea::open(ws.path()).expect("open");
        let left = names(&base);
        assert!(!left.iter().any(|n| n.contains("dead")), "{left:?}");
        assert!(
            live.dir().join(".x.dcs-upload-1").is_file(),
            "a live upload is kept"
        );
        assert!(second.dir().is_dir());
        assert_ne!(live.dir(), second.dir());

        let gone = live.dir().to_path_buf();
        drop(live);
        assert!(!gone.exists());
        drop(second);
        assert_eq!(names(&base), [REGISTRY]);
    }
}
