//! Atomic file replacement: the content goes to a temporary file in the same
//! directory, then is renamed over the target, so a process killed at any instant
//! leaves either the old file or the new one, never half of one. A failed write
//! removes its temporary file. The rename replaces whatever has the target's name
//! (a symbolic link too: it is never written through).
//!
//! [`write_atomic`] also syncs the content to the disk before the rename, and the
//! directory after it, so the file survives an OS crash or a power loss too: for
//! records that must (a workspace's state, credentials). [`replace_atomic`] does
//! not: for files remade at every start (a launcher's published address, the trust
//! bundle), which an OS crash makes moot (the processes they describe are gone with
//! it; the next start writes them again), and whose sync only delayed every start:
//! ~1 ms each on a local disk, more on a network volume.
//!
//! This is the one implementation: these functions name the directory by path;
//! [`crate::confined`] hands [`replace_in`] a directory it opened without
//! following links.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{open, openat, renameat, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{fsync, unlinkat, UnlinkatFlags};

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
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name to write to"))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let dir = open(parent, flags, Mode::empty())?;
    replace_in(dir.as_fd(), name, bytes, mode, durable)
}

/// Replaces the entry `name` of the directory `dir` with a file of `bytes` (`mode`
/// before the umask); `durable`: the file and then the directory are synced.
pub(crate) fn replace_in(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    bytes: &[u8],
    mode: u32,
    durable: bool,
) -> io::Result<()> {
    let (tmp, mut file) = create_temp(dir, name, mode)?;
    let written = (|| -> io::Result<()> {
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        Ok(renameat(dir, tmp.as_os_str(), dir, name)?)
    })();
    if written.is_err() {
        let _ = unlinkat(dir, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
    }
    written?;
    match durable.then(|| fsync(dir)) {
        // EINVAL: a file system that cannot sync a directory (some FUSE ones).
        None | Some(Ok(()) | Err(Errno::EINVAL)) => Ok(()),
        Some(Err(e)) => Err(e.into()),
    }
}

/// A new temporary file beside `name` in `dir`, never through a link; another
/// name if one is taken (anyone who can write `dir` may have planted it).
fn create_temp(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<(OsString, File)> {
    const TRIES: usize = 16;
    let flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    for _ in 0..TRIES {
        let tmp = temp_name(name);
        match openat(dir, tmp.as_os_str(), flags, Mode::from_bits_truncate(mode)) {
            Ok(fd) => return Ok((tmp, File::from(fd))),
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary name beside the file",
    ))
}

/// `.<name>.<pid>.<n>.tmp`: unique per process and call, hidden.
fn temp_name(name: &OsStr) -> OsString {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    tmp
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
