//! `dcs-launcher checkout --history`: the rest of a shallow checkout's history,
//! fetched beside the running workspace by a process that holds the operator's git
//! token, which the workspace never does. The checkout step (`dcs-launcher
//! checkout`, [`crate::checkout_container`]) only ever fetches as a first open does,
//! so a start never waits for a history; this completes it afterwards. The local
//! runtime starts it (outside the sandbox, the token on its stdin) once a sandboxed
//! workspace's launcher is ready and stops it with the workspace; a Knative pod runs
//! it as its `history` container, with `--stay`.
//!
//! It does nothing when the checkout is not shallow (complete already, or missing).
//! Otherwise it runs [`complete_history`]: under the checkout lock (waiting for it if
//! another transfer holds it), nothing when the checkout became complete meanwhile
//! or its `origin` is not the clone URL (see [`crate::checkout::fetch::complete`]),
//! else a transfer child at background priority ([`crate::background`]) within the
//! git limits, touching objects and `refs/remotes/origin/*` only. What came of it is
//! logged; a failure leaves the checkout shallow, opened as it is by the next start,
//! whose history step tries again. As the checkout step, it follows no link below
//! the workspaces folder ([`checkout::links`]).
//!
//! SIGTERM (or SIGINT) ends it at any moment with status 0: a transfer under way is
//! killed, and what it left (partial packs) is removed by the next transfer under the
//! lock. With `--stay` it then waits for that signal instead of exiting, and its
//! failures are only logged: a container that exits is restarted by the kubelet, and
//! one that restarts makes its pod unready.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dcs_model::LauncherEnv;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info, warn};

use crate::checkout::run::complete_history;
use crate::checkout::watchdog::Limits;
use crate::checkout::{self, child, Job};

/// Completes the history of `env`'s checkout; with `stay`, then waits for SIGTERM.
/// Returns the exit status: 0 when it did what it could (or was stopped), 1 when the
/// history transfer could not run.
pub async fn run(env: LauncherEnv, stay: bool) -> u8 {
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => {
            error!(error = %e, "cannot install the signal handlers");
            return 1;
        }
    };
    let stopped = async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    };
    tokio::pin!(stopped);
    let cancel = Arc::new(AtomicBool::new(false));
    let work = complete(&env, &cancel);
    tokio::pin!(work);
    let status = tokio::select! {
        status = &mut work => status,
        signal = &mut stopped => {
            info!(signal, "stop requested; the history fetch is given up");
            cancel.store(true, Ordering::SeqCst);
            // Ends within a tick of the transfer's watch (the child is killed).
            let _ = work.await;
            return 0;
        }
    };
    if !stay {
        return status;
    }
    info!("history step done; staying until SIGTERM");
    let signal = stopped.await;
    info!(signal, "stop requested");
    0
}

/// The history step's work (see the module); its exit status.
async fn complete(env: &LauncherEnv, cancel: &Arc<AtomicBool>) -> u8 {
    let Some(job) = Job::from_env(env, cancel.clone()) else {
        info!("a workspace without a repository: no history to fetch");
        return 0;
    };
    let job = Job {
        // Checked again by the transfer child, under the checkout lock.
        confined: Some(env.workspaces_dir.clone()),
        ..job
    };
    let checked = {
        let (env, target) = (env.clone(), job.target.clone());
        tokio::task::spawn_blocking(move || {
            checkout::links::refuse_links(&env).map(|()| checkout::is_shallow(&target))
        })
        .await
        .unwrap_or_else(|e| Err(crate::error::Error::Task(e.to_string())))
    };
    match checked {
        Ok(true) => {}
        Ok(false) => {
            info!(target = %job.target.display(), "the checkout is not shallow: nothing to fetch");
            return 0;
        }
        Err(error) => {
            warn!(%error, "not completing the history");
            return 1;
        }
    }
    let program = match child::transfer_program(env).await {
        Ok(program) => program,
        Err(error) => {
            warn!(%error, "cannot start the history transfer; the checkout stays shallow");
            return 1;
        }
    };
    info!(target = %job.target.display(), "completing the history of the shallow checkout");
    // Logs what came of it.
    match complete_history(job, program, Limits::from_env(env)).await {
        Ok(_) => 0,
        Err(_) if cancel.load(Ordering::SeqCst) => 0,
        Err(_) => 1,
    }
}
