//! One install at a time per extensions folder. The folder is shared beyond one
//! workspace (in local mode every workspace of a user has the same config volume,
//! `<workspaces>/.dcs`, so the same `<config>/<kind>/extensions`), and each
//! `--install-extension` run rewrites the folder's `extensions.json` from what it
//! read: two at once lose one of the entries (the extension is on disk, the IDE does
//! not list it). So each run holds an exclusive `flock(2)` on `<folder>.lock` beside
//! the folder (`<config>/<kind>/extensions.lock`; beside it, so the IDE never sees it
//! among its extensions), taken with the lock code the checkout's steps use
//! ([`saved::lock_below`]: no link followed) off the runtime, waiting while another
//! launcher holds it until the workspace stops. Dropped when the run ends, whichever
//! way (a stop included); the kernel lets go of it if the launcher dies.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dcs_os::FileLock;
use tracing::{info, warn};

use super::super::saved;
use crate::app::App;

/// How often a waiting launcher tries the lock again.
const POLL: Duration = Duration::from_millis(50);

/// The log's line while another workspace installs into the same folder.
pub const WAITING: &str = "waiting for another workspace's extension install into the same folder";

/// How taking the lock went.
#[derive(Debug)]
pub(crate) enum Held {
    /// Held until dropped.
    Locked {
        /// Lets go when dropped.
        _lock: FileLock,
    },
    /// It cannot be had (a read-only folder, a link at its name): the install runs
    /// without it, as it did before there was one.
    Without,
    /// The workspace stopped while another launcher held it.
    Stopped,
}

/// The trusted folder the lock file is in (the extensions folder's parent) and its
/// name there: `extensions.lock` beside `extensions`. `None` for a folder without a
/// parent or a name (`/`).
pub(crate) fn place(folder: &Path) -> Option<(PathBuf, PathBuf)> {
    let parent = folder.parent().filter(|p| !p.as_os_str().is_empty())?;
    let mut name = folder.file_name()?.to_os_string();
    name.push(".lock");
    Some((parent.to_path_buf(), PathBuf::from(name)))
}

/// Takes the lock of the extensions folder `folder` without blocking the runtime: at
/// once when free, else (the log says so) once its holder lets go, unless the
/// workspace stops first.
pub(crate) async fn hold(app: &App, folder: &Path) -> Held {
    let Some((base, rel)) = place(folder) else {
        warn!(folder = %folder.display(), "no lock for this extensions folder; installing without");
        return Held::Without;
    };
    let now = {
        let (base, rel) = (base.clone(), rel.clone());
        blocking(move || {
            std::fs::create_dir_all(&base)?;
            saved::lock_below(&base, &rel, POLL, || false)
        })
        .await
    };
    let waited = match now {
        Ok(Some(lock)) => return Held::Locked { _lock: lock },
        Ok(None) => {
            info!(lock = %base.join(&rel).display(), "another launcher installs extensions here; waiting");
            app.devcontainer().log().mark(WAITING).await;
            let draining = app.drain().watch();
            blocking(move || saved::lock_below(&base, &rel, POLL, || !*draining.borrow())).await
        }
        Err(error) => Err(error),
    };
    match waited {
        Ok(Some(lock)) => Held::Locked { _lock: lock },
        Ok(None) => Held::Stopped,
        Err(error) => {
            warn!(%error, "no lock for the extensions folder; installing without");
            Held::Without
        }
    }
}

/// Runs the blocking `f` off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}
