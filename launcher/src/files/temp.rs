//! Where uploads are written before they are published: a folder of this
//! launcher's own, `<workspaces>/.dcs-tmp/<unique>/`, alive as long as the
//! [`FileLock`] on `<unique>.lock` beside it is held (for the launcher's life; the
//! kernel lets go when the launcher dies, however it dies). Each start removes the
//! folders whose lock can be taken: the leftovers of launchers killed mid-upload,
//! found without walking the user's files. Only what carries a name this module
//! makes is ever removed: `.dcs-tmp` may be a link to another disk (or anywhere the
//! workspace's own code pointed it), and whatever else is there is someone's.
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
/// locks; nothing whose name [`unique`] did not make. Call it with the registry
/// lock held.
fn remove_abandoned(base: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(base)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let stem = name.strip_suffix(LOCK);
        if !is_unique(stem.unwrap_or(name)) {
            continue;
        }
        let (folder, lock_file) = match stem {
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

/// Whether `name` has the shape [`unique`] gives: decimal, `-`, hex, `-`, decimal.
fn is_unique(name: &str) -> bool {
    let mut parts = name.split('-');
    let digits = |p: Option<&str>, hex: bool| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_digit() || (hex && matches!(b, b'a'..=b'f')))
        })
    };
    digits(parts.next(), false)
        && digits(parts.next(), true)
        && digits(parts.next(), false)
        && parts.next().is_none()
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

    #[test]
    fn only_what_this_module_named_is_removed() {
        let ws = tempfile::tempdir().expect("tempdir");
        let base = ws.path().join(DIR);
        std::fs::create_dir(&base).expect("mkdir");
        // Someone's: a folder, a file, a lock-looking file, names near ours.
        let theirs = [
            "notes",
            "1-2",
            "1-dead-0-x",
            "x1-dead-0",
            "1-DEAD-0",
            "1--0",
        ];
        for name in theirs {
            std::fs::create_dir(base.join(name)).expect("mkdir");
            std::fs::write(base.join(name).join("keep.txt"), name).expect("write");
        }
        std::fs::write(base.join("todo.txt"), "mine").expect("write");
        std::fs::write(base.join("notes.lock"), "mine too").expect("write");
        std::fs::create_dir(base.join("7-beef-1")).expect("mkdir");

        let area = TempArea::open(ws.path()).expect("open");
        drop(area);
        let mut left = names(&base);
        left.retain(|n| n != REGISTRY);
        let mut want: Vec<String> = theirs.iter().map(|n| n.to_string()).collect();
        want.extend(["notes.lock".to_owned(), "todo.txt".to_owned()]);
        want.sort();
        assert_eq!(left, want, "only the abandoned 7-beef-1 goes");
        for name in theirs {
            assert!(base.join(name).join("keep.txt").is_file(), "{name}");
        }
    }

    #[test]
    fn a_temporary_folder_linked_elsewhere_leaves_what_is_there() {
        let ws = tempfile::tempdir().expect("tempdir");
        // The link points at a folder of someone's files (another checkout, /tmp).
        let elsewhere = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(elsewhere.path().join("project")).expect("mkdir");
        std::fs::write(elsewhere.path().join("project/main.rs"), "fn main() {}").expect("write");
        std::fs::write(elsewhere.path().join("Cargo.lock"), "# lock").expect("write");
        std::os::unix::fs::symlink(elsewhere.path(), ws.path().join(DIR)).expect("symlink");

        let area = TempArea::open(ws.path()).expect("open");
        assert!(area.dir().starts_with(ws.path().join(DIR)));
        drop(area);
        assert_eq!(
            std::fs::read_to_string(elsewhere.path().join("project/main.rs")).expect("kept"),
            "fn main() {}"
        );
        assert!(elsewhere.path().join("Cargo.lock").is_file());
    }

    #[test]
    fn the_names_made_here_are_the_names_removed() {
        for _ in 0..3 {
            let name = unique();
            assert!(is_unique(&name), "{name}");
        }
        for name in [
            "",
            "1",
            "1-a",
            "1-a-",
            "-a-1",
            "1-g-1",
            "1-a-1-1",
            ".registry",
        ] {
            assert!(!is_unique(name), "{name}");
        }
    }
}
