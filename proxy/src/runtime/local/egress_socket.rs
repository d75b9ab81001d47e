//! A sandboxed workspace's way out: the proxy's forward proxy ([`crate::egress`])
//! served on `egress.sock` in the workspace's run folder (bound into its sandbox,
//! named to its launcher as `DCS_EGRESS_SOCKET`) for exactly as long as its launcher
//! lives. A launcher this proxy starts gets its socket before it is spawned, and the
//! socket ends when the process is reaped ([`Serving`] dropped); one an earlier proxy
//! started (adopted at open) gets a socket again and keeps it until its process is
//! gone, checked every [`ADOPTED_CHECK`]. Ending it closes every connection the
//! workspace has open through it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tracing::{info, warn};

use super::process;
use super::state::ProcessRecord;
use crate::egress::{Egress, Serving};

/// The socket's file name in a sandboxed launcher's run folder.
pub const SOCKET_NAME: &str = "egress.sock";

/// How often an adopted launcher is checked for being gone.
pub const ADOPTED_CHECK: Duration = Duration::from_secs(2);

/// The socket's path in `run_dir`.
pub fn path(run_dir: &Path) -> PathBuf {
    run_dir.join(SOCKET_NAME)
}

/// Serves `egress` on `run_dir`'s socket for `workspace`, replacing what a
/// previous launcher left there. The socket ends with the returned [`Serving`]; an
/// error says why it could not listen (the workspace then has no way out).
pub fn listen(egress: &Arc<Egress>, run_dir: &Path, workspace: &str) -> std::io::Result<Serving> {
    let socket = path(run_dir);
    match std::fs::remove_file(&socket) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(&socket)?;
    Ok(crate::egress::serve(
        egress.clone(),
        listener,
        workspace.to_owned(),
    ))
}

/// Serves the socket of a launcher an earlier proxy started until `launcher` is
/// gone.
pub fn serve_adopted(
    egress: &Arc<Egress>,
    run_dir: &Path,
    workspace: &str,
    launcher: ProcessRecord,
) {
    let serving = match listen(egress, run_dir, workspace) {
        Ok(serving) => serving,
        Err(err) => {
            warn!(%workspace, %err, "cannot serve the adopted workspace's way out");
            return;
        }
    };
    info!(%workspace, pid = launcher.pid, "serving the adopted workspace's way out");
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(ADOPTED_CHECK).await;
            let gone = tokio::task::spawn_blocking(move || process::is_gone(&launcher))
                .await
                .unwrap_or(true);
            if gone {
                break;
            }
        }
        drop(serving);
    });
}
