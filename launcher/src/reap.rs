//! PID 1 and subreaper duty: when the launcher is a container's init, or a child
//! subreaper ([`become_subreaper`]: a workspace's processes are one kill domain, and
//! what double-forks or `setsid`s away is re-parented to the launcher, not to the
//! machine's init), orphaned processes (an IDE's pty shells after its pty host died,
//! a server started with `setsid nohup …`) are re-parented to it and must be reaped,
//! or they linger as zombies forever.
//!
//! Children the launcher spawned itself are waited for by tokio; [`spawn`] records
//! them so the reaper never steals their exit status. Everything else that becomes a
//! zombie under us is reaped by [`run_if_init`].
//!
//! [`sweep`] ends the kill domain at stop: every descendant left (SIGTERM, a grace
//! period, SIGKILL), found by walking `/proc` ([`dcs_os::proc::descendants`]).

use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{debug, info, warn};

use dcs_os::proc::{self, Stat};

/// Pids of children spawned through [`spawn`] and not yet waited for.
static OURS: Mutex<Option<HashSet<u32>>> = Mutex::new(None);

fn ours() -> MutexGuard<'static, Option<HashSet<u32>>> {
    OURS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Spawns `cmd` and records the child as the launcher's own (under the same lock the
/// reaper scans with, so a child dying at once is never reaped by mistake).
pub fn spawn(cmd: &mut Command) -> io::Result<Child> {
    let mut guard = ours();
    let child = cmd.spawn()?;
    if let Some(pid) = child.id() {
        guard.get_or_insert_with(HashSet::new).insert(pid);
    }
    Ok(child)
}

/// Records `pid`, a child spawned by other means (a PTY session), as ours.
pub fn adopt(pid: u32) {
    ours().get_or_insert_with(HashSet::new).insert(pid);
}

/// Forgets `pid` once tokio has waited for it.
pub fn forget(pid: u32) {
    if let Some(set) = ours().as_mut() {
        set.remove(&pid);
    }
}

/// Set once this process is a child subreaper.
static SUBREAPER: AtomicBool = AtomicBool::new(false);

/// Makes this process the child subreaper of everything it starts: orphans of its
/// descendants are re-parented to it (and reaped by [`run_if_init`]), so they stay
/// in its kill domain. Returns whether that worked.
pub fn become_subreaper() -> bool {
    match nix::sys::prctl::set_child_subreaper(true) {
        Ok(()) => {
            SUBREAPER.store(true, Ordering::SeqCst);
            true
        }
        Err(error) => {
            warn!(%error, "cannot become a child subreaper; orphans escape to init");
            false
        }
    }
}

/// If this process is PID 1 or a child subreaper, reaps orphaned zombies on every
/// SIGCHLD (and every few seconds, in case signals coalesced) until the runtime
/// shuts down.
pub fn run_if_init() {
    if std::process::id() != 1 && !SUBREAPER.load(Ordering::SeqCst) {
        return;
    }
    info!("reaping orphaned processes (PID 1 or child subreaper)");
    tokio::spawn(async {
        let mut chld = signal(SignalKind::child()).ok();
        loop {
            match chld.as_mut() {
                Some(s) => {
                    let _ = tokio::time::timeout(Duration::from_secs(5), s.recv()).await;
                }
                None => tokio::time::sleep(Duration::from_secs(1)).await,
            }
            reap_orphans();
        }
    });
}

/// How long a zombie child must have been one before it counts as an orphan: a
/// child some part of the launcher spawned with plain `Command` (a transfer child, a
/// package install) is waited for at once by whoever spawned it, and its exit
/// status must not be taken from it.
const ORPHAN_AFTER: Duration = Duration::from_secs(1);

/// Zombie children seen, and when first.
static SEEN: Mutex<Option<std::collections::HashMap<u32, Instant>>> = Mutex::new(None);

/// Reaps every zombie whose parent is this process, that is not one of ours, and
/// that was a zombie at an earlier scan at least [`ORPHAN_AFTER`] ago. Returns how
/// many were reaped.
pub fn reap_orphans() -> usize {
    let me = std::process::id();
    let guard = ours();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let procs = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, proc::stat(pid)?)));
    let empty = HashSet::new();
    let zombies = orphan_zombies(me, procs, guard.as_ref().unwrap_or(&empty));
    let now = Instant::now();
    let due: Vec<u32> = {
        let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = seen.get_or_insert_with(Default::default);
        seen.retain(|pid, _| zombies.contains(pid));
        zombies
            .iter()
            .filter(|pid| now.duration_since(*seen.entry(**pid).or_insert(now)) >= ORPHAN_AFTER)
            .copied()
            .collect()
    };
    let mut reaped = 0;
    for pid in due {
        if let Ok(raw) = i32::try_from(pid) {
            if waitpid(Pid::from_raw(raw), Some(WaitPidFlag::WNOHANG)).is_ok() {
                debug!(pid, "reaped an orphaned process");
                reaped += 1;
            }
        }
    }
    reaped
}

/// SIGTERM to every orphan this process adopted (a live child it did not spawn
/// itself: something that double-forked or `setsid`ed away under a subreaper) and
/// everything under it: the start of a stop, so they end alongside the IDE rather
/// than after it. Returns how many were signalled.
pub fn term_orphans() -> usize {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let table: Vec<(u32, Stat)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, proc::stat(pid)?)))
        .collect();
    let ours = ours().clone().unwrap_or_default();
    let mut targets: Vec<u32> = table
        .iter()
        .filter(|(pid, s)| s.ppid == me && !s.dead() && !ours.contains(pid))
        .map(|(pid, _)| *pid)
        .collect();
    let under: Vec<u32> = targets
        .iter()
        .flat_map(|pid| proc::descendants_in(*pid, &table))
        .collect();
    targets.extend(under);
    for pid in &targets {
        if let Ok(raw) = i32::try_from(*pid) {
            let _ = kill(Pid::from_raw(raw), Signal::SIGTERM);
        }
    }
    targets.len()
}

/// How long a sweep waits for what survived SIGKILL to be gone.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Ends every descendant of this process (blocking): SIGTERM, up to `grace` for them
/// to exit, then SIGKILL and up to 10 s more, reaping the zombies that are ours.
/// Looks again after each signal, so what started meanwhile is ended too. Returns
/// the pids still alive at the end (none, normally).
pub fn sweep(grace: Duration) -> Vec<u32> {
    let me = std::process::id();
    let found = descendants(me);
    if found.is_empty() {
        return found;
    }
    info!(
        count = found.len(),
        "ending the workspace's remaining processes"
    );
    for signal in [Signal::SIGTERM, Signal::SIGKILL] {
        let limit = if signal == Signal::SIGTERM {
            grace
        } else {
            KILL_WAIT
        };
        let deadline = Instant::now() + limit;
        let mut signalled: HashSet<u32> = HashSet::new();
        loop {
            reap_children();
            let left = descendants(me);
            if left.is_empty() {
                return left;
            }
            for pid in left.iter().filter(|p| signalled.insert(**p)) {
                if let Ok(raw) = i32::try_from(*pid) {
                    let _ = kill(Pid::from_raw(raw), signal);
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    reap_children();
    let left = descendants(me);
    if !left.is_empty() {
        warn!(?left, "processes survived SIGKILL");
    }
    left
}

/// Live descendants of `pid`; an unreadable `/proc` reads as none found yet.
fn descendants(pid: u32) -> Vec<u32> {
    proc::descendants(pid).unwrap_or_default()
}

/// Reaps every exited child of this process without blocking.
fn reap_children() {
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

/// The zombies among `procs` whose parent is `me` and that are not in `ours`.
fn orphan_zombies(
    me: u32,
    procs: impl Iterator<Item = (u32, Stat)>,
    ours: &HashSet<u32>,
) -> Vec<u32> {
    procs
        .filter(|(pid, s)| s.ppid == me && s.dead() && !ours.contains(pid))
        .map(|(pid, _)| pid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_zombies_of_ours_that_we_did_not_spawn_are_reaped() {
        let st = |state, ppid| Stat {
            state,
            ppid,
            pgrp: 7,
            nice: 0,
            start_time: 0,
        };
        let procs = [
            (10, st('Z', 1)), // orphan zombie: reaped
            (11, st('Z', 1)), // our own child, tokio waits for it
            (12, st('S', 1)), // alive
            (13, st('Z', 5)), // someone else's child
        ];
        let ours = HashSet::from([11]);
        assert_eq!(orphan_zombies(1, procs.into_iter(), &ours), vec![10]);
    }

    #[tokio::test]
    async fn spawned_children_are_recorded_until_forgotten() {
        let mut child = spawn(Command::new("true").kill_on_drop(true)).expect("spawn true");
        let pid = child.id().expect("pid");
        assert!(ours().as_ref().is_some_and(|s| s.contains(&pid)));
        assert!(child.wait().await.expect("status").success());
        forget(pid);
        assert!(!ours().as_ref().is_some_and(|s| s.contains(&pid)));
    }
}
