//! Advisory whole-file locks (`flock(2)`) that the kernel releases when their holder
//! dies, however it dies. Used where two processes may work on the same folder (two
//! workspaces sharing one checkout) and to tell a live holder's leftovers from an
//! abandoned one's.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// An exclusive lock on a file, held until dropped (or the process ends).
#[derive(Debug)]
pub struct FileLock {
    path: PathBuf,
    _lock: Flock<File>,
}

impl FileLock {
    /// Takes the lock on `path` (created if missing) if nobody holds it:
    /// `Ok(None)` if somebody does.
    pub fn try_lock(path: &Path) -> io::Result<Option<Self>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(Self {
                path: path.to_owned(),
                _lock: lock,
            })),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(io::Error::from(e)),
        }
    }

    /// Takes the lock on `path`, waiting for its holder to let go: polled every
    /// `poll`, calling `waiting` before each wait and giving up (`Ok(None)`) as soon
    /// as it returns `false`. Blocking: call it from a blocking thread.
    pub fn lock_polling(
        path: &Path,
        poll: Duration,
        mut waiting: impl FnMut() -> bool,
    ) -> io::Result<Option<Self>> {
        loop {
            if let Some(lock) = Self::try_lock(path)? {
                return Ok(Some(lock));
            }
            if !waiting() {
                return Ok(None);
            }
            std::thread::sleep(poll);
        }
    }

    /// The locked file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_until_it_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("checkout.lock");
        let held = FileLock::try_lock(&path).expect("lock").expect("free");
        assert!(FileLock::try_lock(&path).expect("try").is_none());
        let mut polls = 0;
        let gave_up = FileLock::lock_polling(&path, Duration::from_millis(1), || {
            polls += 1;
            polls < 3
        })
        .expect("poll");
        assert!(gave_up.is_none());
        assert_eq!(polls, 3);
        drop(held);
        assert!(FileLock::try_lock(&path).expect("try").is_some());
    }
}
