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
//! [`create_new_private`] is the write that never replaces: the first writer of a
//! file wins and every later one (another process too) leaves it as it is. The
//! content goes to a temporary file as above, synced, and is then hard-linked to the
//! target's name, which fails if that name exists (`link` never replaces, unlike
//! `rename`): for a secret generated once that every process must agree on.
//!
//! This is the one implementation: these functions name the directory by path;
//! [`crate::confined`] hands [`replace_in`] a directory it opened without
//! following links.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{open, openat, renameat, AtFlags, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{fsync, linkat, unlinkat, UnlinkatFlags};

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

/// Creates `path` with `bytes`, readable by its owner only (0600), durably, unless
/// it exists: `Ok(false)` then, and nothing was written. Of several writers at once
/// (threads or processes) exactly one creates it; readers see it whole or not at
/// all. A symbolic link at `path` counts as existing and is never written through.
pub fn create_new_private(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let (dir, name) = parent_of(path)?;
    create_in(dir.as_fd(), name, bytes, 0o600)
}

fn write_with_mode(path: &Path, bytes: &[u8], mode: u32, durable: bool) -> io::Result<()> {
    let (dir, name) = parent_of(path)?;
    replace_in(dir.as_fd(), name, bytes, mode, durable)
}

/// The folder `path` is in, opened, and its file name there.
fn parent_of(path: &Path) -> io::Result<(OwnedFd, &OsStr)> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name to write to"))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    Ok((open(parent, flags, Mode::empty())?, name))
}

/// Creates the entry `name` of `dir` as a file of `bytes` (`mode` before the
/// umask), durably, unless it exists (`Ok(false)`): the whole, synced temporary file
/// is linked to `name`, which never replaces. The temporary name goes either way.
fn create_in(dir: BorrowedFd<'_>, name: &OsStr, bytes: &[u8], mode: u32) -> io::Result<bool> {
    let (tmp, mut file) = create_temp(dir, name, mode)?;
    let linked = (|| -> io::Result<bool> {
        file.write_all(bytes)?;
        file.sync_all()?;
        match linkat(dir, tmp.as_os_str(), dir, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(Errno::EEXIST) => Ok(false),
            Err(e) => Err(e.into()),
        }
    })();
    // Whatever became of the link: a temporary name left behind is only clutter.
    let _ = unlinkat(dir, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
    let created = linked?;
    if created {
        sync_dir(dir)?;
    }
    Ok(created)
}

/// Syncs `dir`'s entries; a file system that cannot sync a directory (EINVAL: some
/// FUSE ones) is let be.
fn sync_dir(dir: BorrowedFd<'_>) -> io::Result<()> {
    match fsync(dir) {
        Ok(()) | Err(Errno::EINVAL) => Ok(()),
        Err(e) => Err(e.into()),
    }
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
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
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

    fn names(dir: &Path) -> Vec<OsString> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_file_is_created_once_and_never_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("key");
        assert!(create_new_private(&file, b"first").expect("created"));
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!create_new_private(&file, b"second").expect("left as it is"));
        assert_eq!(std::fs::read(&file).expect("read"), b"first");
        assert_eq!(names(dir.path()), ["key"], "no temporary file remains");
        // A link in its place is a file that exists, never written through.
        let aim = dir.path().join("aim");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&aim, &link).expect("symlink");
        assert!(!create_new_private(&link, b"x").expect("left as it is"));
        assert!(!aim.exists());
    }

    #[test]
    fn of_writers_at_once_exactly_one_creates_the_file_and_its_content_stays() {
        const WRITERS: usize = 8;
        for _ in 0..20 {
            let dir = tempfile::tempdir().expect("tempdir");
            let file = dir.path().join("key");
            let start = std::sync::Barrier::new(WRITERS);
            let created: Vec<(bool, Vec<u8>)> = std::thread::scope(|s| {
                let writers: Vec<_> = (0..WRITERS)
                    .map(|i| {
                        let (file, start) = (&file, &start);
                        s.spawn(move || {
                            let mine = format!("writer {i}").into_bytes();
                            start.wait();
                            (create_new_private(file, &mine).expect("write"), mine)
                        })
                    })
                    .collect();
                writers
                    .into_iter()
                    .map(|w| w.join().expect("join"))
                    .collect()
            });
            let winners: Vec<_> = created.iter().filter(|(won, _)| *won).collect();
            assert_eq!(winners.len(), 1, "exactly one creates it");
            assert_eq!(std::fs::read(&file).expect("read"), winners[0].1);
            assert_eq!(names(dir.path()), ["key"], "no temporary file remains");
        }
    }
}
