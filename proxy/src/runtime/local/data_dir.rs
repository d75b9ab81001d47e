//! The local runtime's hold on its data dir: one proxy per folder.
//!
//! `<data-dir>/proxy.lock` is locked (`flock`, [`dcs_os::FileLock`]) for the
//! runtime's life and holds the pid of the proxy that holds it. A second proxy
//! started on the same folder is refused ("another dcs-proxy serves …") instead of
//! starting a second launcher on a checkout, overwriting records and leaving
//! launchers no one stops when idle. The kernel releases the lock when its holder
//! ends, however it ends (a SIGKILL, a crash), so a restart is never refused by a
//! proxy that is gone. On a read-only file system the lock cannot be taken (nor
//! anything written): the proxy starts without it, with a warning.
//!
//! It also makes the folders the runtime uses; each use makes its own again if
//! someone removed it while the proxy ran (`logs/`, `run/`, `state/`).

use std::io;
use std::path::Path;

use dcs_os::FileLock;
use tracing::warn;

/// The lock file's name in the data dir.
pub const LOCK_FILE: &str = "proxy.lock";

/// The folders of the data dir.
const FOLDERS: [&str; 3] = ["workspaces", "run", "logs"];

/// Makes `dir` and takes its lock, held until the returned value is dropped (`None`:
/// a read-only file system, where no lock can be taken); refused while another
/// process holds it. Then makes the runtime's folders.
pub fn open(dir: &Path) -> io::Result<Option<FileLock>> {
    std::fs::create_dir_all(dir)?;
    let lock = lock(dir)?;
    for sub in FOLDERS {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Ok(lock)
}

fn lock(dir: &Path) -> io::Result<Option<FileLock>> {
    let path = dir.join(LOCK_FILE);
    match FileLock::try_lock(&path) {
        Ok(Some(lock)) => {
            // Only for the message of a proxy refused: nothing reads it otherwise.
            if let Err(err) = std::fs::write(&path, format!("{}\n", std::process::id())) {
                warn!(path = %path.display(), %err, "cannot write this proxy's pid into its lock");
            }
            Ok(Some(lock))
        }
        Ok(None) => {
            let pid = std::fs::read_to_string(&path)
                .ok()
                .map(|text| text.trim().to_owned())
                .filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
                .unwrap_or_else(|| "unknown".into());
            Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "another dcs-proxy serves {} (pid {pid}); stop it first, or give this one another --data-dir",
                    dir.display()
                ),
            ))
        }
        Err(err) if err.raw_os_error() == Some(nix::errno::Errno::EROFS as i32) => {
            warn!(
                path = %path.display(),
                "the data dir is read-only: started without its lock, nothing keeps a second proxy off it"
            );
            Ok(None)
        }
        Err(err) => Err(io::Error::new(
            err.kind(),
            format!("cannot lock {}: {err}", path.display()),
        )),
    }
}

/// Makes the folder `path` is in, should someone have removed it.
pub fn make_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
        _ => Ok(()),
    }
}

/// `path` opened for appending (created, its folder too, if missing): a launcher's
/// log, never truncated, so an outside rotation by copy and truncate loses nothing.
pub fn append_to(path: &Path) -> io::Result<std::fs::File> {
    make_parent(path)?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_hold_is_refused_naming_the_folder_and_the_holder() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("data");
        let held = open(&dir).expect("open").expect("locked");
        assert_eq!(
            std::fs::read_to_string(dir.join(LOCK_FILE)).expect("read"),
            format!("{}\n", std::process::id())
        );
        let err = open(&dir).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "another dcs-proxy serves {} (pid {})",
                dir.display(),
                std::process::id()
            )),
            "{text}"
        );
        drop(held);
        assert!(open(&dir).expect("open").is_some(), "free once dropped");
    }
}
