//! [`run`]: the launcher's life from first request to exit. The front serves at once
//! (so `/_dcs/ready` answers during the checkout); start-up runs beside it, watched
//! (`watched`: a start that dies fails the workspace with the reason); on
//! shutdown the launcher stops accepting, runs `DCS_PRE_STOP` ([`crate::pre_stop`]),
//! cancels a transfer in progress, stops the IDE and lets in-flight requests finish,
//! all within the stop grace period. An IDE that kept crashing until its supervisor
//! gave up ends the launcher the same way.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dcs_model::LauncherEnv;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::app::App;
use crate::error::{Error, Result};
use crate::files::temp::TempArea;
use crate::ide::Ide;
use crate::{ide, reap, serve, startup};

mod watched;

/// Why the launcher stopped; `main` turns it into the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Stopped on request; everything ended within the grace period. Exit 0.
    Clean,
    /// Stopped on request while the workspace was failed (the checkout failed), or
    /// ended because the IDE kept crashing; the message says why. Exit 3.
    Failed(String),
    /// Stopped on request, but the IDE ignored SIGTERM for the whole grace period and
    /// its process group was killed. Exit 4.
    IdeKilled,
}

impl Stopped {
    /// The process exit status for this reason.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Clean => 0,
            Self::Failed(_) => 3,
            Self::IdeKilled => 4,
        }
    }
}

/// Serves the workspace `env` describes on `listener` until `shutdown` resolves, then
/// stops gracefully and says how. Fails early only for configuration errors (an
/// unknown IDE kind) or if the listener has no address; everything else is reported
/// by `/_dcs/ready`.
pub async fn run(
    env: LauncherEnv,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Stopped> {
    run_with(env, listener, shutdown, startup::start).await
}

/// [`run`] with `start` as its start-up ([`startup::start`]; tests give one that
/// fails), run beside the front and [`watched`](watched::watched).
pub(crate) async fn run_with<S, F>(
    env: LauncherEnv,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    start: S,
) -> Result<Stopped>
where
    S: FnOnce(LauncherEnv, Arc<App>, Box<dyn Ide>, Arc<AtomicBool>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let ide = ide::for_kind(&env.ide)?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("reading the listener's address", e))?;
    let grace = Duration::from_secs(env.stop_grace_secs);
    let app = Arc::new(App::new(&env));
    info!(%addr, workspace = %env.label(), ide = ide.kind(), "serving");
    reap::run_if_init();
    open_upload_area(&app, &env).await;

    let cancel = Arc::new(AtomicBool::new(false));
    let pre_stop = env.pre_stop.clone().map(|c| (c, env.checkout_dir()));
    crate::progress_push::spawn(&env, app.clone());
    // Watched: a start that dies (a panic) fails the workspace instead of leaving
    // `/_dcs/ready` at its last phase.
    let start = start(env, app.clone(), ide, cancel.clone());
    let mut start = tokio::spawn(watched::watched(start, app.clone(), cancel.clone()));

    serve::accept_until(listener, app.clone(), ended(shutdown, app.clone())).await;
    info!(grace_secs = grace.as_secs(), "shutting down");

    // `DCS_PRE_STOP` first, while the IDE still runs; it shares the grace period.
    let grace = match pre_stop {
        Some((command, folder)) => {
            let began = std::time::Instant::now();
            crate::pre_stop::run(&command, &folder, grace).await;
            grace.saturating_sub(began.elapsed()).max(MIN_GRACE_LEFT)
        }
        None => grace,
    };

    // Kill a clone or fetch in progress (its transfer child) and wait for start-up to
    // settle, so a half-done clone is cleaned up and a starting IDE is known and
    // stopped.
    cancel.store(true, Ordering::Relaxed);
    app.start_drain();
    if tokio::time::timeout(grace, &mut start).await.is_err() {
        warn!("start-up did not settle within the grace period; abandoning it");
        start.abort();
    }

    let failure = app
        .note_ide_failure()
        .then(|| app.readiness().report(false).error)
        .flatten()
        .map(|f| f.message);
    let stop_ide = async {
        match app.ide() {
            Some(ide) => ide.stop(grace).await.forced,
            None => false,
        }
    };
    let drained = async {
        if tokio::time::timeout(grace, app.drained()).await.is_err() {
            warn!("connections still open after the grace period; closing them");
        }
    };
    let (forced, ()) = tokio::join!(stop_ide, drained);
    let stopped = match (failure, forced) {
        (Some(why), _) => Stopped::Failed(why),
        (None, true) => Stopped::IdeKilled,
        (None, false) => Stopped::Clean,
    };
    info!(?stopped, "stopped");
    Ok(stopped)
}

/// `shutdown`, or the running IDE giving up (it kept crashing): a launcher whose IDE
/// is gone for good ends (after its drain, [`Stopped::Failed`], exit 3) rather than
/// answer every path with an error while its workspace reads as running; whoever
/// runs it sees it end, and the next open starts it afresh.
async fn ended(shutdown: impl Future<Output = ()>, app: Arc<App>) {
    tokio::select! {
        () = shutdown => {}
        why = ide_gave_up(&app) => warn!(%why, "the IDE kept crashing; ending the launcher"),
    }
}

/// Resolves, saying why, once an IDE has started and then given up.
async fn ide_gave_up(app: &App) -> String {
    let mut changes = app.readiness().subscribe();
    loop {
        if let Some(ide) = app.ide() {
            return ide.gave_up().await;
        }
        if !changes.changed().await {
            return std::future::pending().await;
        }
    }
}

/// What the IDE's stop gets at least after a pre-stop command took the grace period.
const MIN_GRACE_LEFT: Duration = Duration::from_secs(1);

/// Removes the upload temporaries of launchers that died and makes this one's
/// folder; without one (a read-only volume, say) uploads are written beside their
/// target.
async fn open_upload_area(app: &App, env: &LauncherEnv) {
    let workspaces = env.workspaces_dir.clone();
    match tokio::task::spawn_blocking(move || TempArea::open(&workspaces)).await {
        Ok(Ok(area)) => app.set_upload_area(area),
        Ok(Err(error)) => {
            warn!(%error, "no folder for upload temporaries; writing them beside their target")
        }
        Err(error) => warn!(%error, "making the folder for upload temporaries failed"),
    }
}

#[cfg(test)]
mod tests;
