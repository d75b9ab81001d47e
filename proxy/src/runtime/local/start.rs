//! One start of a launcher: spawn it, record its process, wait until it publishes its
//! address and reports ready, and commit the outcome to its slot. [`join`] is the
//! same wait for a launcher an earlier proxy started (see `super::adopt`).
//!
//! A start can be cancelled at any point (stop, delete, shutdown): its launcher is
//! then stopped (SIGTERM, grace, SIGKILL of its group) and nothing of the outcome is
//! recorded as the workspace's failure. A start that fails stops its launcher too
//! and records why, for `status` and the error page; it fails with that reason even
//! when its record cannot be written (the write's failure is logged).
//!
//! A launcher's identity is its pid and start time, read from `/proc` right after
//! the spawn; a `/proc` that cannot be read then (out of descriptors) is read again
//! rather than recorded wrong, since a wrong start time would make the live launcher
//! read as gone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{sleep, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use dcs_model::api::{Progress, StartPhase};

use super::ready::{self, Readiness};
use super::slot::Slot;
use super::spawn::{Isolation, Plan};
use super::state::{ProcessRecord, StateDir};
use super::{process, LocalConfig};
use crate::error::{Error, Result, StartFailure};
use crate::runtime::Upstream;

/// Starts a launcher for `slot`'s record and waits until it is ready, failed, or
/// `cancel` fires.
pub async fn run(
    cfg: &LocalConfig,
    iso: &Isolation,
    dir: &StateDir,
    slot: &Arc<Slot>,
    cancel: &CancellationToken,
) -> Result<Upstream> {
    let record = slot.record();
    let key = record.key.clone();
    let plan = Plan::new(cfg, iso, &key, &record.base_path, &record.spec);
    // What `progress` reads until the launcher reports (`crate::progress`).
    let phase = match plan.sandbox {
        Some(_) => StartPhase::Cloning,
        None => StartPhase::Starting,
    };
    slot.lock().progress = Some(Progress::at(phase));
    // A history step an earlier launcher left ends: this start's step takes the lock.
    let earlier = slot.lock().history.take();
    if let Some(earlier) = earlier {
        earlier.cancel();
    }
    // Sandboxed: the clone runs first, outside the sandbox (`super::checkout`).
    plan.check_out_first(cancel).await?;
    // Its way out listens before it starts, and ends when it is reaped.
    let egress = plan.serve_egress();
    let mut child = plan.spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| Error::Runtime("launcher exited at once".into()))?;
    let start_time = match start_time_of(pid).await {
        Ok(start_time) => start_time,
        Err(err) => {
            // Nothing is recorded of it yet: stop it rather than leave it unknown.
            let _ = child.kill().await;
            return Err(err);
        }
    };
    let launched = ProcessRecord {
        pid,
        start_time,
        addr: None,
    };
    info!(workspace = %key, pid, log = %plan.log_path.display(), "launcher started");
    tokio::spawn(async move {
        // Reap it whenever it exits, so it never lingers as a zombie.
        match child.wait().await {
            Ok(status) => info!(pid, %status, "launcher exited"),
            Err(err) => warn!(pid, %err, "cannot wait for launcher"),
        }
        drop(egress);
    });
    slot.lock().record.process = Some(launched);
    // The record of the process is made durable while the launcher starts: its fsync
    // is not the user's wait.
    finish(cfg, &plan, dir, slot, cancel, launched, slot.persist(dir)).await
}

/// Waits for `launched`, which an earlier proxy started for `slot` and recorded
/// but did not see ready (see `super::adopt`), as [`run`] waits for its own: ready
/// and recorded, or failed and stopped.
pub async fn join(
    cfg: &LocalConfig,
    iso: &Isolation,
    dir: &StateDir,
    slot: &Arc<Slot>,
    cancel: &CancellationToken,
    launched: ProcessRecord,
) -> Result<Upstream> {
    let record = slot.record();
    let plan = Plan::new(cfg, iso, &record.key, &record.base_path, &record.spec);
    slot.lock().progress = Some(Progress::at(StartPhase::Starting));
    info!(workspace = %record.key, pid = launched.pid, "waiting for a start an earlier proxy began");
    finish(cfg, &plan, dir, slot, cancel, launched, async { Ok(()) }).await
}

/// The rest of a start once `launched` runs and is recorded in `slot`: waits until
/// it is ready (while `save` writes what was recorded), then commits; or stops it.
async fn finish(
    cfg: &LocalConfig,
    plan: &Plan,
    dir: &StateDir,
    slot: &Arc<Slot>,
    cancel: &CancellationToken,
    launched: ProcessRecord,
    save: impl std::future::Future<Output = Result<()>>,
) -> Result<Upstream> {
    let pid = launched.pid;
    let ready = async {
        tokio::select! {
            outcome = await_ready(cfg, plan, &launched, slot) => outcome,
            // Stopped, deleted or shutting down: stop what was started.
            () = cancel.cancelled() => Err(Error::Cancelled),
        }
    };
    let outcome = match alongside(save, ready).await {
        Ok(outcome) => outcome,
        Err(err) => {
            process::terminate(&launched, cfg.stop_grace).await;
            slot.lock().record.process = None;
            return Err(err);
        }
    };
    // However the start ended, a cancelled one ends as cancelled (a stop may have
    // killed the launcher before this start saw the cancel).
    let outcome = match outcome.and_then(|addr| commit(slot, cancel, launched, addr, plan)) {
        Err(_) if cancel.is_cancelled() => Err(Error::Cancelled),
        outcome => outcome,
    };
    match outcome {
        Ok(up) => {
            history_beside(cfg, plan, slot, pid);
            // Written behind the answer, not before it: a proxy that ends before it
            // is written finds the launcher recorded as starting, adopts it and sees
            // it ready (`super::adopt`).
            let (slot, dir) = (slot.clone(), dir.clone());
            tokio::spawn(async move {
                if let Err(err) = slot.persist(&dir).await {
                    warn!(%err, "cannot record the ready launcher");
                }
            });
            Ok(up)
        }
        Err(err) => {
            process::terminate(&launched, cfg.stop_grace).await;
            {
                let mut st = slot.lock();
                if st.record.process.is_some_and(|p| p.pid == pid) {
                    st.record.process = None;
                }
                if !cancel.is_cancelled() {
                    st.record.last_error = Some(err.to_string());
                }
            }
            // The user is told why the start failed, not that its record could not
            // be written (a full or read-only disk): that goes to the log, and the
            // slot still says why (`status`, the error page) until the proxy ends.
            if let Err(save) = slot.persist(dir).await {
                let key = slot.lock().record.key.clone();
                warn!(workspace = %key, start = %err, %save, "cannot record the failed start");
            }
            Err(err)
        }
    }
}

/// Starts the history step beside the ready launcher `pid` of `slot` (sandboxed, see
/// `super::checkout::spawn_history`), unless a stop or delete took that launcher
/// meanwhile; its token is the slot's, for them to cancel.
fn history_beside(cfg: &LocalConfig, plan: &Plan, slot: &Slot, pid: u32) {
    let cancel = CancellationToken::new();
    {
        let mut st = slot.lock();
        if st.deleted || st.record.process.is_none_or(|p| p.pid != pid) {
            return;
        }
        if let Some(earlier) = st.history.replace(cancel.clone()) {
            earlier.cancel();
        }
    }
    super::checkout::spawn_history(plan, cfg.stop_grace, cancel);
}

/// `work`'s outcome once `save` succeeded, or `save`'s error as soon as it fails:
/// both run at once, and a save is never dropped while it writes.
async fn alongside<T>(
    save: impl std::future::Future<Output = Result<()>>,
    work: impl std::future::Future<Output = T>,
) -> Result<T> {
    tokio::pin!(save, work);
    tokio::select! {
        saved = &mut save => {
            saved?;
            Ok(work.await)
        }
        outcome = &mut work => {
            save.await?;
            Ok(outcome)
        }
    }
}

/// The start time of the launcher just spawned as `pid`, its identity from now on. A
/// `/proc` that cannot be read (out of descriptors) is asked again for a while: a
/// wrong start time would make the live launcher read as gone, and be stopped.
async fn start_time_of(pid: u32) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match dcs_os::proc::read_stat(pid) {
            Ok(Some(stat)) => return Ok(stat.start_time),
            // Exited already: any start time reads as gone, which it is.
            Ok(None) => return Ok(0),
            Err(err) if Instant::now() < deadline => {
                warn!(pid, %err, "cannot read the new launcher's /proc entry yet");
                sleep(Duration::from_millis(50)).await;
            }
            Err(err) => {
                return Err(Error::Runtime(format!(
                    "the machine is out of resources (cannot read /proc: {err}); try again shortly"
                )))
            }
        }
    }
}

/// Records the ready launcher, unless the start was cancelled meanwhile.
fn commit(
    slot: &Slot,
    cancel: &CancellationToken,
    launched: ProcessRecord,
    addr: SocketAddr,
    plan: &Plan,
) -> Result<Upstream> {
    let mut st = slot.lock();
    if cancel.is_cancelled() || st.deleted {
        return Err(Error::Cancelled);
    }
    st.record.process = Some(ProcessRecord {
        addr: Some(addr),
        ..launched
    });
    st.record.last_error = None;
    Ok(plan.upstream(addr))
}

/// How long a launcher may hold its readiness answer until its start moves on: short
/// enough that a launcher that went away unseen is noticed soon.
const READY_WAIT: Duration = Duration::from_secs(1);

/// The pause between two looks at a start that began at `began`: short at first (a
/// workspace of a small repository is ready within a second, and every millisecond
/// of waiting is the user's), then `later`.
fn pause(began: Instant, first: Duration, later: Duration) -> Duration {
    if began.elapsed() < Duration::from_secs(3) {
        first
    } else {
        later
    }
}

/// Waits for the launcher to publish its address, then for `/_dcs/ready`, noting
/// the progress it reports in `slot`.
async fn await_ready(
    cfg: &LocalConfig,
    plan: &Plan,
    p: &ProcessRecord,
    slot: &Slot,
) -> Result<SocketAddr> {
    let began = Instant::now();
    let deadline = began + cfg.start_limit;
    let exited = || Error::StartFailed {
        kind: StartFailure::Other,
        message: format!(
            "the workspace launcher exited during start; its log is {}",
            plan.log_path.display()
        ),
    };
    let addr = loop {
        if let Some(addr) = plan.published_addr().await {
            break addr;
        }
        if process::is_gone(p) {
            return Err(exited());
        }
        if Instant::now() > deadline {
            return Err(Error::Runtime(
                "the launcher never started listening".into(),
            ));
        }
        sleep(pause(
            began,
            Duration::from_millis(2),
            Duration::from_millis(10),
        ))
        .await;
    };
    loop {
        let probe = ready::probe(&plan.upstream(addr), READY_WAIT, Duration::from_secs(2)).await;
        if probe.progress.is_some() {
            slot.lock().progress = probe.progress;
        }
        match probe.readiness {
            Readiness::Ready => return Ok(addr),
            Readiness::Failed { kind, message } => {
                return Err(Error::StartFailed { kind, message })
            }
            Readiness::NotYet if process::is_gone(p) => return Err(exited()),
            Readiness::NotYet if Instant::now() > deadline => {
                return Err(Error::Runtime(format!(
                    "the workspace was not ready after {}s",
                    cfg.start_limit.as_secs()
                )))
            }
            // Held until the start moved on: ask again at once.
            Readiness::NotYet if probe.held => {}
            Readiness::NotYet => {
                sleep(pause(
                    began,
                    Duration::from_millis(5),
                    Duration::from_millis(20),
                ))
                .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_failed_save_ends_the_wait_at_once() {
        let failed = async { Err(Error::Runtime("disk full".into())) };
        let never = std::future::pending::<()>();
        let ended = tokio::time::timeout(Duration::from_secs(60), alongside(failed, never)).await;
        let err = ended
            .expect("not waiting for the work")
            .expect_err("the save's error");
        assert!(err.to_string().contains("disk full"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn work_done_first_waits_for_its_save_to_finish() {
        let saved = AtomicBool::new(false);
        let save = async {
            sleep(Duration::from_secs(5)).await;
            saved.store(true, Ordering::SeqCst);
            Ok(())
        };
        let outcome = alongside(save, async { 7 }).await.expect("saved");
        assert_eq!(outcome, 7);
        assert!(saved.load(Ordering::SeqCst), "the save ran to its end");
    }

    #[tokio::test(start_paused = true)]
    async fn a_save_failing_after_the_work_still_fails_the_start() {
        let save = async {
            sleep(Duration::from_secs(5)).await;
            Err(Error::Runtime("disk full".into()))
        };
        assert!(alongside(save, async { 7 }).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn both_run_at_once() {
        let began = Instant::now();
        let save = async {
            sleep(Duration::from_secs(5)).await;
            Ok(())
        };
        let work = sleep(Duration::from_secs(5));
        alongside(save, work).await.expect("saved");
        assert_eq!(
            began.elapsed(),
            Duration::from_secs(5),
            "not one after the other"
        );
    }
}
