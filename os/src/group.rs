//! Process groups: signal a whole group, tell whether any process of it is left, and
//! list its live members by scanning `/proc` (zombies do not count: they are dead,
//! only not yet reaped).
//!
//! Every process tree this project starts (a launcher, an IDE) leads its own group,
//! so its pty and file-watcher children share the group id and are stopped with it.

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::proc;

/// Sends `signal` to every process of group `pgid`. A group with no process left is
/// not an error; groups 0 and 1 (the caller's own, init's) are never signalled.
pub fn signal(pgid: u32, signal: Signal) -> Result<(), Errno> {
    let Some(pgid) = target(pgid) else {
        return Ok(());
    };
    match killpg(pgid, signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether any process (zombies included) is left in group `pgid`.
pub fn exists(pgid: u32) -> bool {
    target(pgid).is_some_and(|pgid| killpg(pgid, None) != Err(Errno::ESRCH))
}

fn target(pgid: u32) -> Option<Pid> {
    let raw = i32::try_from(pgid).ok()?;
    // Never signal "every process" or init's group by accident.
    (raw > 1).then(|| Pid::from_raw(raw))
}

/// Pids of the live (not zombie) processes whose process group is `pgid`; an error
/// when `/proc` cannot be listed (out of descriptors, say), which says nothing about
/// the group.
pub fn members(pgid: u32) -> std::io::Result<Vec<u32>> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| proc::stat(*pid).is_some_and(|s| s.pgrp == pgid && !s.dead()))
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// Whether group `pgid` certainly has no live member left (a failed `/proc` scan
/// never says so).
pub fn is_empty(pgid: u32) -> bool {
    members(pgid).is_ok_and(|m| m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_a_live_member_of_its_own_group() {
        let me = std::process::id();
        let pgrp = proc::stat(me).expect("own stat").pgrp;
        assert!(members(pgrp).expect("scan").contains(&me));
        assert!(!is_empty(pgrp));
        assert!(exists(pgrp));
    }

    #[test]
    fn init_and_the_all_processes_group_are_never_signalled() {
        // Would stop everything if it went through; returns quietly instead.
        assert_eq!(signal(0, Signal::SIGSTOP), Ok(()));
        assert_eq!(signal(1, Signal::SIGSTOP), Ok(()));
        assert!(!exists(0) && !exists(1));
    }
}
