//! [`run`]: the launcher's life from first request to exit. The front serves at once
//! (so `/_dcs/ready` answers during the checkout); start-up runs beside it; on
//! shutdown the launcher stops accepting, cancels a transfer in progress, stops the
//! IDE and lets in-flight requests finish, all within the stop grace period.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dcs_model::LauncherEnv;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::app::App;
use crate::error::{Error, Result};
use crate::{ide, serve, startup};

/// Serves the workspace `env` describes on `listener` until `shutdown` resolves, then
/// stops gracefully. Fails early only for configuration errors (an unknown IDE kind)
/// or if the listener has no address; everything else is reported by
/// `/_dcs/ready`.
pub async fn run(
    env: LauncherEnv,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let ide = ide::for_kind(&env.ide)?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("reading the listener's address", e))?;
    let grace = Duration::from_secs(env.stop_grace_secs);
    let app = Arc::new(App::new(&env));
    info!(%addr, repo = %env.repo, ide = ide.kind(), "serving");

    let cancel = Arc::new(AtomicBool::new(false));
    let mut start = tokio::spawn(startup::start(env, app.clone(), ide, cancel.clone()));

    serve::accept_until(listener, app.clone(), shutdown).await;
    info!(grace_secs = grace.as_secs(), "shutting down");

    // Stop a clone or fetch at its next progress callback; wait for start-up to settle
    // so a half-done clone is cleaned up and a starting IDE is known and stopped.
    cancel.store(true, Ordering::Relaxed);
    app.start_drain();
    if tokio::time::timeout(grace, &mut start).await.is_err() {
        warn!("start-up did not settle within the grace period; abandoning it");
        start.abort();
    }

    let stop_ide = async {
        if let Some(ide) = app.ide() {
            ide.stop(grace).await;
        }
    };
    let drained = async {
        if tokio::time::timeout(grace, app.drained()).await.is_err() {
            warn!("connections still open after the grace period; closing them");
        }
    };
    tokio::join!(stop_ide, drained);
    info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests;
