//! PID 1 duty: when the launcher is a container's init, orphaned processes (an IDE's
//! pty shells after its pty host died, say) are re-parented to it and must be reaped,
//! or they linger as zombies forever.
//!
//! Children the launcher spawned itself are waited for by tokio; [`spawn`] records
//! them so the reaper never steals their exit status. Everything else that becomes a
//! zombie under us is reaped by [`run_if_init`].

use std::collections::HashSet;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{debug, info};

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

/// If this process is PID 1, reaps orphaned zombies on every SIGCHLD (and every few
/// seconds, in case signals coalesced) until the runtime shuts down.
pub fn run_if_init() {
    if std::process::id() != 1 {
        return;
    }
    info!("running as PID 1: reaping orphaned processes");
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

/// Reaps every zombie whose parent is this process and that is not one of ours.
/// Returns how many were reaped.
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
    let mut reaped = 0;
    for pid in orphan_zombies(me, procs, guard.as_ref().unwrap_or(&empty)) {
        if let Ok(raw) = i32::try_from(pid) {
            if waitpid(Pid::from_raw(raw), Some(WaitPidFlag::WNOHANG)).is_ok() {
                debug!(pid, "reaped an orphaned process");
                reaped += 1;
            }
        }
    }
    reaped
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
