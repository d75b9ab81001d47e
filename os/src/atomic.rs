//! Atomic file replacement: the content goes to a temporary file in the same
//! directory, then is renamed over the target, so a process killed at any instant
//! leaves either the old file or the new one, never half of one. A failed write
//! removes its temporary file.
//!
//! [`write_atomic`] also syncs the content to the disk before the rename, so the file
//! survives an OS crash or a power loss too: for records that must (a workspace's
//! state, credentials). [`replace_atomic`] does not: for files remade at every start
//! (a launcher's published address, the trust bundle), which an OS crash makes moot
//! (the processes they describe are gone with it; the next start writes them again),
//! and whose sync only delayed every start: ~1 ms each on a local disk, more on a
//! network volume.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces `path` with `bytes` (mode 0644 before the umask), durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with_mode(path, bytes, 0o644, true)
}

/// Replaces `path` with `bytes`, readable by its owner only (0600) from the first
/// byte written, durably: for tokens and credentials.
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with_mode(path, bytes, 0o600, true)
}

/// Replaces `path` with `bytes` (mode 0644 before the umask) without waiting for the
/// disk: for files remade at every start (see the module docs).
pub fn replace_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with_mode(path, bytes, 0o644, false)
}

fn write_with_mode(path: &Path, bytes: &[u8], mode: u32, durable: bool) -> io::Result<()> {
    let tmp = temp_name(path)?;
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// `.<name>.<pid>.<n>.tmp` beside `path`: unique per process and call, hidden.
fn temp_name(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name to write to"))?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(path.with_file_name(tmp))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_file_is_replaced_whole_and_no_temporary_file_remains() {
        for replace in [write_atomic, replace_atomic] {
            let dir = tempfile::tempdir().expect("tempdir");
            let file = dir.path().join("addr");
            std::fs::write(&file, "old").expect("write");
            replace(&file, b"127.0.0.1:4242").expect("publish");
            assert_eq!(std::fs::read(&file).expect("read"), b"127.0.0.1:4242");
            let names: Vec<_> = std::fs::read_dir(dir.path())
                .expect("list")
                .map(|e| e.expect("entry").file_name())
                .collect();
            assert_eq!(names, ["addr"]);
            let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
            assert_eq!(mode & 0o600, 0o600, "{mode:o}");
        }
    }

    #[test]
    fn private_files_are_owner_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        write_atomic_private(&file, b"secret").expect("write");
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The target is a non-empty directory: the rename fails.
        let target = dir.path().join("taken");
        std::fs::create_dir(&target).expect("mkdir");
        std::fs::write(target.join("x"), "x").expect("write");
        assert!(write_atomic(&target, b"new").is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["taken"]);
    }
}
