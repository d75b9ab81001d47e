//! The checkout step of a sandboxed workspace: `dcs-launcher checkout`, run by the
//! proxy before the sandboxed launcher starts. The sandbox has no network but
//! loopback, and the operator's git token must stay out of it; so the clone or fetch
//! happens here, with the machine's network, the token on this process's stdin only,
//! and the launcher's limits, lock and partial-clone cleanup (it is the launcher's
//! own code). Its outcome goes to the run folder's `checkout.json`, which the
//! sandboxed launcher reports as its own (a failed checkout is still a started
//! launcher that says why). Its output goes to the workspace's log.
//!
//! Cancelled (stop, delete, shutdown) or over the start limit, it is killed.
//!
//! The step never waits for a history: a shallow checkout (the first open's) stays
//! shallow at later starts. Once the launcher is ready, [`spawn_history`] starts the
//! step's history mode (`dcs-launcher checkout --history`) beside it, the same way
//! (outside the sandbox, same environment, the token on its stdin); its transfer runs
//! at background priority. Nothing waits for it; it ends with the workspace (stop,
//! delete, shutdown, the next start: SIGTERM to its group, SIGKILL after the grace),
//! and its failure is only logged.

use std::process::Stdio;
use std::time::Duration;

use dcs_model::env::{StdinSecrets, STDIN};
use nix::sys::signal::Signal;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::spawn::Plan;
use super::stdin::{hand_over, read_token};
use super::LocalConfig;
use crate::error::{Error, Result, StartFailure};

/// Runs the checkout step of `plan` and waits for it.
pub async fn run(plan: &Plan, cfg: &LocalConfig, cancel: &CancellationToken) -> Result<()> {
    let Some(outcome) = plan.env.checkout_outcome_file.clone() else {
        return Ok(());
    };
    if let Some(dir) = outcome.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail("cannot make the run folder", e))?;
    }
    match std::fs::remove_file(&outcome) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(fail("cannot clear the last checkout outcome", e))
        }
        _ => {}
    }
    let mut child = start(plan, &["checkout"])?;
    info!(pid = child.id(), log = %plan.log_path.display(), "checkout step started");
    let status = tokio::select! {
        status = child.wait() => status.map_err(|e| fail("waiting for the checkout step", e))?,
        // Stopped, deleted or shutting down.
        () = cancel.cancelled() => {
            let _ = child.kill().await;
            return Err(Error::Cancelled);
        }
        // The start's own bound.
        () = tokio::time::sleep(cfg.start_limit) => {
            let _ = child.kill().await;
            return Err(Error::Runtime(format!(
                "the checkout did not finish within {}s",
                cfg.start_limit.as_secs()
            )));
        }
    };
    if status.success() {
        Ok(())
    } else {
        Err(Error::StartFailed {
            kind: StartFailure::Other,
            message: format!(
                "the checkout step failed ({status}); its log is {}",
                plan.log_path.display()
            ),
        })
    }
}

/// Starts the history step of `plan`'s workspace (see the module) in a task of its
/// own, and returns at once; `cancel` ends it (SIGTERM, then SIGKILL after `grace`).
/// Nothing for a workspace without a checkout step or a repository.
pub fn spawn_history(plan: &Plan, grace: Duration, cancel: CancellationToken) {
    if plan.env.checkout_outcome_file.is_none() || plan.env.repo.is_none() {
        return;
    }
    let plan = plan.clone();
    tokio::spawn(async move {
        if cancel.is_cancelled() {
            return;
        }
        let mut child = match start(&plan, &["checkout", "--history"]) {
            Ok(child) => child,
            Err(error) => {
                warn!(%error, "cannot start the history step; the checkout stays shallow");
                return;
            }
        };
        let Some(pid) = child.id() else {
            return;
        };
        info!(pid, "history step started");
        tokio::select! {
            status = child.wait() => match status {
                Ok(status) if status.success() => info!(pid, "history step done"),
                Ok(status) => warn!(pid, %status, log = %plan.log_path.display(), "history step failed"),
                Err(error) => warn!(pid, %error, "cannot wait for the history step"),
            },
            () = cancel.cancelled() => {
                // It gives its transfer up and exits; its group goes after the grace.
                signal_group(pid, Signal::SIGTERM);
                if tokio::time::timeout(grace, child.wait()).await.is_err() {
                    signal_group(pid, Signal::SIGKILL);
                    let _ = child.wait().await;
                }
                info!(pid, "history step stopped");
            }
        }
    });
}

fn signal_group(pgid: u32, signal: Signal) {
    if let Err(error) = dcs_os::group::signal(pgid, signal) {
        warn!(pgid, %error, ?signal, "cannot signal the history step");
    }
}

fn fail(what: &str, e: std::io::Error) -> Error {
    Error::Runtime(format!("{what}: {e}"))
}

/// Starts `dcs-launcher <args>` for `plan` outside the sandbox, in a group of its
/// own: the workspace's contract without the hop credential, the operator's token
/// on its stdin, its output in the workspace's log.
fn start(plan: &Plan, args: &[&str]) -> Result<tokio::process::Child> {
    std::fs::create_dir_all(&plan.env.workspaces_dir)
        .map_err(|e| fail("cannot create the workspace volume", e))?;
    let mut env = plan.env.clone();
    env.hop_secret_file = None;
    env.git_token_file = plan.git_token_file.as_ref().map(|_| STDIN.into());
    let secrets = StdinSecrets {
        hop: None,
        git_token: match &plan.git_token_file {
            Some(file) => Some(read_token(file)?),
            None => None,
        },
    };
    let log = plan.open_log()?;
    let log2 = log
        .try_clone()
        .map_err(|e| fail("cannot open the launcher log", e))?;
    let mut cmd = tokio::process::Command::new(&plan.bin);
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("DCS_")) {
            cmd.env_remove(key);
        }
    }
    cmd.args(args)
        .envs(env.to_vars())
        .current_dir(&plan.env.workspaces_dir)
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log2)
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(&format!("cannot start {}", plan.bin.display()), e))?;
    hand_over(&mut child, &secrets);
    Ok(child)
}
