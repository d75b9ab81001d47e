//! The launcher's side of a transfer: take the checkout lock (waiting for another
//! launcher that holds it), remove abandoned partial clones, start the transfer
//! child ([`Program`]), relay its progress, and kill it when a git limit is hit
//! ([`Watchdog`]) or the launcher stops. A clone given up fails the start with a
//! message naming the limit; a fetch given up leaves the checkout as it is, with a
//! warning, as any failed fetch does.
//!
//! A checkout left shallow (the first open clones only the last commit) gets the rest
//! of its history in the background ([`complete_history`]): a second transfer under
//! the same lock, started once the first is done, reporting to nobody, so the
//! workspace never waits for it; a failure only leaves the checkout shallow until the
//! next start tries again. A checkout step that ends once done ([`run_alone`]) leaves
//! the history to a process beside the workspace (`crate::checkout_history`).

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tracing::{debug, info, warn};

use super::classify::redact_userinfo;
use super::fetch::could_not_fetch;
use super::progress::{Counts, Op};
use super::protocol::{History, Line, Program, Request, HISTORY_ENV};
use super::watchdog::{Limits, Violation, Watchdog};
use super::{lock, Job, Outcome};
use crate::error::{Error, FailureKind, Result};

/// How often limits and cancellation are checked.
const TICK: Duration = Duration::from_millis(250);
/// How long a child that reported its outcome may take to exit.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// What a transfer is doing, for `/_dcs/ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Another launcher holds the checkout lock; waiting for it.
    Waiting,
    /// Transferring.
    Transfer {
        /// Clone or fetch.
        op: Op,
        /// The counters so far.
        counts: Counts,
    },
}

/// Performs `job` in a transfer child started as `program`, within `limits`, telling
/// `status` what it is doing, then (a checkout left shallow) starts
/// [`complete_history`] beside. Ends early (an error) once `job.cancel` is set.
pub async fn run(
    job: &Job,
    program: &Program,
    limits: Limits,
    status: &(dyn Fn(Status) + Send + Sync),
) -> Result<Outcome> {
    let result = run_alone(job, program, limits, status).await;
    // After a replay the history is the checkout step's (`crate::checkout_history`).
    if result.is_ok() && !is_replay(program) && shallow(&job.target).await {
        tokio::spawn(complete_history(job.clone(), program.clone(), limits));
    }
    result
}

/// [`run`] without the history afterwards (the checkout step's, which ends once done).
pub async fn run_alone(
    job: &Job,
    program: &Program,
    limits: Limits,
    status: &(dyn Fn(Status) + Send + Sync),
) -> Result<Outcome> {
    let owner_dir = owner_dir(&job.target);
    // A replay transfers nothing: the checkout step that recorded the outcome held
    // the lock and cleaned up (and may have refused a path the lock is taken through).
    let replay = is_replay(program);
    let lock = if replay {
        None
    } else {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let waiting = move || {
            let _ = tx.send(());
        };
        let acquiring = lock::acquire(&owner_dir, &job.repo, job.cancel.clone(), waiting);
        tokio::pin!(acquiring);
        let lock = loop {
            tokio::select! {
                // The lock is ours (or the wait was cancelled).
                taken = &mut acquiring => break taken?,
                // Another launcher holds it: say so while waiting.
                Some(()) = rx.recv() => status(Status::Waiting),
            }
        };
        let Some(lock) = lock else {
            return Err(cancelled());
        };
        remove_partials(&owner_dir, job).await?;
        Some(lock)
    };
    let (result, killed) = transfer(job, program, limits, status).await;
    if killed && lock.is_some() {
        remove_partials(&owner_dir, job).await?;
    }
    drop(lock);
    result
}

/// Whether `program` replays a checkout step's outcome ([`super::child::REPLAY_ENV`]).
fn is_replay(program: &Program) -> bool {
    let replay = |(name, _): &(std::ffi::OsString, _)| name == super::child::REPLAY_ENV;
    program.env.iter().any(replay)
}

/// Fetches the rest of a shallow checkout's history in a transfer child of its own
/// (under the checkout lock, within `limits`, ended by `job.cancel`), touching
/// nothing but objects and `refs/remotes/origin/*`. Returns what it did; failures
/// are logged, and the checkout stays as it was.
pub async fn complete_history(job: Job, mut program: Program, limits: Limits) -> Result<Outcome> {
    program
        .env
        .push((HISTORY_ENV.into(), History::Complete.env_value().into()));
    // Nobody waits for it: at a lower priority than the workspace's own work.
    program
        .env
        .push((crate::background::BACKGROUND_ENV.into(), "1".into()));
    let owner_dir = owner_dir(&job.target);
    let Some(lock) = lock::acquire(&owner_dir, &job.repo, job.cancel.clone(), || {}).await? else {
        return Err(cancelled());
    };
    if !shallow(&job.target).await {
        // Another launcher completed it meanwhile.
        return Ok(Outcome::Fetched);
    }
    let began = Instant::now();
    let (result, _killed) = transfer(&job, &program, limits, &|_: Status| {}).await;
    drop(lock);
    match &result {
        Ok(Outcome::Fetched) => {
            info!(repo = %job.repo, secs = began.elapsed().as_secs_f32(), "history complete");
        }
        Ok(outcome) => warn!(repo = %job.repo, ?outcome, "the checkout stays shallow for now"),
        Err(error) => warn!(repo = %job.repo, %error, "the checkout stays shallow for now"),
    }
    result
}

/// Whether the checkout at `target` is shallow (off the async threads).
async fn shallow(target: &Path) -> bool {
    let target = target.to_path_buf();
    tokio::task::spawn_blocking(move || super::is_shallow(&target))
        .await
        .unwrap_or(false)
}

fn owner_dir(target: &Path) -> PathBuf {
    target
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

async fn remove_partials(owner_dir: &Path, job: &Job) -> Result<()> {
    let (dir, repo) = (owner_dir.to_path_buf(), job.repo.clone());
    tokio::task::spawn_blocking(move || lock::remove_partials(&dir, &repo))
        .await
        .map_err(|e| Error::Task(e.to_string()))?
        .map_err(|e| {
            Error::io(
                format!(
                    "removing abandoned partial clones in {}",
                    owner_dir.display()
                ),
                e,
            )
        })?;
    Ok(())
}

fn cancelled() -> Error {
    Error::Checkout {
        kind: FailureKind::Other,
        message: "the checkout was cancelled because the launcher is stopping".into(),
    }
}

/// How a transfer child ended.
enum End {
    /// It reported its outcome.
    Reported(Result<Outcome>),
    /// It was killed for hitting a limit.
    Limit(Violation),
    /// It was killed because the launcher stops.
    Cancelled,
    /// Its output ended without an outcome.
    Silent,
    /// It was started without TLS roots and met a TLS server.
    NeedsRoots,
}

/// Runs the child, and once more with the TLS roots if it was started without them
/// and needed them ([`Program::with_roots`]); returns the result and whether the
/// child was killed.
async fn transfer(
    job: &Job,
    program: &Program,
    limits: Limits,
    status: &(dyn Fn(Status) + Send + Sync),
) -> (Result<Outcome>, bool) {
    let first = transfer_once(job, program, limits, status).await;
    let (end, op, exit) = match (first, program.with_roots()) {
        ((End::NeedsRoots, ..), Some(again)) => {
            info!(repo = %job.repo, "the git server asked for TLS: transferring again with the roots");
            transfer_once(job, &again, limits, status).await
        }
        (ended, _) => ended,
    };
    let killed = matches!(end, End::Limit(_) | End::Cancelled);
    (outcome(job, op, end, exit), killed)
}

/// Runs the child once: how it ended, what it was doing, its exit status.
async fn transfer_once(
    job: &Job,
    program: &Program,
    limits: Limits,
    status: &(dyn Fn(Status) + Send + Sync),
) -> (End, Option<Op>, Option<ExitStatus>) {
    let mut child = match start(job, program).await {
        Ok(child) => child,
        Err(err) => return (End::Reported(Err(err)), None, None),
    };
    let Some(stdout) = child.stdout.take() else {
        let no_stdout = Error::Task("the transfer child has no stdout".into());
        return (End::Reported(Err(no_stdout)), None, None);
    };
    let mut lines = BufReader::new(stdout).lines();
    let mut watchdog = Watchdog::new(limits, Instant::now());
    let mut tick = tokio::time::interval(TICK);
    let mut op = None;
    let end = loop {
        tokio::select! {
            // A line from the child (or the end of its output).
            line = lines.next_line() => match line {
                Ok(Some(text)) => match serde_json::from_str::<Line>(&text) {
                    Ok(Line::Progress { op: now_op, counts }) => {
                        op = Some(now_op);
                        watchdog.observe(Instant::now(), counts.bytes(), counts.received_all());
                        status(Status::Transfer { op: now_op, counts });
                    }
                    Ok(Line::Done { outcome }) => break End::Reported(Ok(outcome)),
                    Ok(Line::Failed { kind, message }) => {
                        break End::Reported(Err(Error::Checkout { kind, message }))
                    }
                    Ok(Line::NeedsRoots) => break End::NeedsRoots,
                    Err(_) => debug!(line = %text, "transfer child: not a protocol line"),
                },
                Ok(None) | Err(_) => break End::Silent,
            },
            // Time to check the limits and whether the launcher stops.
            _ = tick.tick() => {
                if job.cancel.load(Ordering::Relaxed) {
                    break End::Cancelled;
                }
                if let Some(violation) = watchdog.check(Instant::now()) {
                    break End::Limit(violation);
                }
            }
        }
    };
    let killed = matches!(end, End::Limit(_) | End::Cancelled);
    let exit = match end {
        _ if killed => {
            let _ = child.start_kill();
            child.wait().await.ok()
        }
        // The child said how the checkout ended, its last word: what it does after
        // (giving back its memory and files to the system, ~10 ms for a clone) is
        // not waited for. Reaped beside, killed if it lingers.
        End::Reported(_) => {
            tokio::spawn(async move {
                let exit = finish(&mut child).await;
                debug!(?exit, "transfer child ended after its report");
            });
            None
        }
        _ => finish(&mut child).await,
    };
    debug!(?exit, "transfer child done");
    (end, op, exit)
}

async fn start(job: &Job, program: &Program) -> Result<Child> {
    let mut command = Command::new(&program.path);
    // The job travels on stdin; of the contract only the log filter applies (and the
    // child is not mistaken for a launcher by anything that looks for `DCS_*`).
    for var in dcs_model::env::ALL {
        if *var != dcs_model::env::DCS_LOG {
            command.env_remove(var);
        }
    }
    // Named like its parent in process lists (the program may be /proc/self/exe).
    if let Some(name) = std::env::args_os().next() {
        command.arg0(name);
    }
    command
        .args(&program.args)
        .envs(program.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    // Started from a blocking thread: the fork and exec hold the thread that makes
    // them for milliseconds, and a history fetch starts the moment the workspace is
    // ready, when its first requests (and the proxy's readiness answer) want the
    // runtime's threads.
    let mut child = tokio::task::spawn_blocking(move || command.spawn())
        .await
        .map_err(|e| Error::Task(e.to_string()))?
        .map_err(|e| {
            Error::io(
                format!("starting the git transfer ({})", program.path.display()),
                e,
            )
        })?;
    let request = Request {
        repo: job.repo.to_string(),
        git_base: job.git_base.clone(),
        target: job.target.clone(),
        token_file: job.token_file.clone(),
        confined: job.confined.clone(),
    };
    let mut text = serde_json::to_vec(&request).map_err(|e| Error::Task(e.to_string()))?;
    text.push(b'\n');
    let written = match child.stdin.as_mut() {
        Some(stdin) => stdin.write_all(&text).await,
        None => Err(std::io::ErrorKind::BrokenPipe.into()),
    };
    // A child that died at once says why on its stdout (or not at all): read on.
    if let Err(error) = written {
        warn!(%error, "could not hand the job to the transfer child");
    }
    info!(pid = child.id(), repo = %job.repo, "transfer child started");
    Ok(child)
}

/// Waits for a child that reported (or closed its output) to exit; kills it if it
/// does not.
async fn finish(child: &mut Child) -> Option<ExitStatus> {
    match tokio::time::timeout(EXIT_WAIT, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            let _ = child.start_kill();
            child.wait().await.ok()
        }
    }
}

fn outcome(job: &Job, op: Option<Op>, end: End, exit: Option<ExitStatus>) -> Result<Outcome> {
    let fetch = op == Some(Op::Fetch);
    let why = match end {
        End::Reported(result) => return result,
        End::Cancelled => return Err(cancelled()),
        End::Limit(violation) => {
            let doing = match op {
                Some(Op::Fetch) => format!("fetching {}", job.repo),
                _ => format!("cloning {}", job.repo),
            };
            let why = violation.describe(&doing, &redact_userinfo(&job.git_base));
            warn!(%why, "git transfer given up");
            (FailureKind::Network, why)
        }
        End::Silent => {
            let status = exit.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
            let why = format!("the git transfer process ended without a result ({status})");
            warn!(%why, "git transfer failed");
            (FailureKind::Other, why)
        }
        End::NeedsRoots => {
            let why = format!(
                "{} answered with TLS, and the transfer had no roots to verify it",
                redact_userinfo(&job.git_base)
            );
            warn!(%why, "git transfer failed");
            (FailureKind::Network, why)
        }
    };
    match why {
        (_, why) if fetch => Ok(Outcome::UsedAsIs {
            warning: could_not_fetch(&why),
        }),
        (kind, message) => Err(Error::Checkout { kind, message }),
    }
}

#[cfg(test)]
mod tests;
