//! Making what was written survive a power loss, for writes that are not one file
//! ([`crate::atomic`] syncs those itself): a tree written file by file, or a name
//! made by a rename or a hard link.
//!
//! - [`sync_filesystem`]: everything written to the filesystem holding a path, in
//!   one call (`syncfs`), instead of an `fsync` per file: for a fresh clone's
//!   thousands of files before it is renamed into place.
//! - [`sync_dir`]: a folder's entries (`fsync` of the folder), after a rename or a
//!   link in it, so the new name is on the disk before anyone is told it exists.
//!
//! A filesystem that cannot sync a folder (some FUSE ones answer `EINVAL`) or has no
//! `syncfs` (`ENOSYS`, `EOPNOTSUPP`) is taken as having nothing more to do: it is as
//! durable as it gets there. Any other error (`EIO`: the write-back failed) is
//! returned.

use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{fsync, syncfs};

/// Writes back everything written to the filesystem that holds `path` (a folder or a
/// file on it). Blocking: as long as the write-back takes.
pub fn sync_filesystem(path: &Path) -> io::Result<()> {
    let fd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    tolerated(syncfs(fd.as_fd()))
}

/// Writes back the entries of the folder `dir` (names made, renamed or removed in
/// it). Blocking.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let fd = open(dir, flags, Mode::empty())?;
    tolerated(fsync(fd.as_fd()))
}

/// `synced`, with the answers of a filesystem that has nothing to sync taken as done.
fn tolerated(synced: nix::Result<()>) -> io::Result<()> {
    match synced {
        Ok(()) | Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_their_filesystem_sync_and_missing_ones_say_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a"), "a").expect("write");
        sync_dir(dir.path()).expect("a folder syncs");
        sync_filesystem(dir.path()).expect("its filesystem syncs");
        sync_filesystem(&dir.path().join("a")).expect("named by a file too");
        let gone = dir.path().join("gone");
        let kind = |e: io::Error| e.kind();
        assert_eq!(sync_dir(&gone).map_err(kind), Err(io::ErrorKind::NotFound));
        assert_eq!(
            sync_filesystem(&gone).map_err(kind),
            Err(io::ErrorKind::NotFound)
        );
        assert_eq!(
            sync_dir(&dir.path().join("a")).map_err(kind),
            Err(io::ErrorKind::NotADirectory)
        );
    }
}
