//! Terminals as watched work: a terminal the user started holds the workspace while
//! it produces output or while the job in its foreground uses CPU (a build or a test
//! run being watched: at least [`MIN_CPU_PERCENT`] of a core), within the busy
//! limit. Each terminal session registers here
//! ([`Terminals::open`]) and reports its output and CPU samples through its
//! [`Terminal`] handle; the CPU figures come from `/proc` ([`dcs_os::proc::cpu`],
//! summed over a process group: [`group`]). A running `devcontainer.json` lifecycle
//! command is watched the same way, under its own name ([`Terminals::command`]).
//! A job's command name is the workspace code's choice (`prctl(PR_SET_NAME)`, the
//! program's file name): it is reported with its control characters replaced by
//! `?` ([`printable`]), so no escape sequence reaches whoever reads the idle report.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dcs_model::api::ActiveWork;

use super::{Activity, ACTIVE_WINDOW_MS};

/// The share of one core, in percent, a job must use between two CPU samples to count
/// as work. A build or a test run being watched burns far more (most of a core); a
/// dev server's file-polling reloader (Django's or Flask's `stat()` of every source
/// file each second) or an idle language server a few percent, and must not hold the
/// workspace up until the busy limit. Averaged over the samples' interval (2 s: at
/// least 0.2 s of CPU).
pub const MIN_CPU_PERCENT: u64 = 10;

/// Clock ticks per second of `/proc`'s CPU times (`USER_HZ`, `sysconf(_SC_CLK_TCK)`:
/// 100 on the architectures Linux runs this on).
const TICKS_PER_S: u64 = 100;

/// Every open terminal.
#[derive(Debug, Default)]
pub struct Terminals {
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Seen>>,
}

/// What was last seen of one terminal.
#[derive(Debug, Clone, Default)]
struct Seen {
    /// The shell's pid.
    pid: u32,
    /// When it last printed something.
    output_ms: Option<u64>,
    /// When its foreground job was last seen using CPU, and what that job is.
    cpu: Option<(u64, String)>,
    /// The last CPU sample: the foreground group, its ticks and when (ms).
    sample: Option<(u32, u64, u64)>,
    /// What it is, when it is no terminal: the report's `what` and `detail`.
    label: Option<(String, String)>,
}

/// One CPU sample of a terminal's foreground job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreground {
    /// The foreground process group (not the shell's own: a job runs).
    pub pgrp: u32,
    /// Its command name.
    pub comm: String,
    /// CPU ticks used by its members so far.
    pub ticks: u64,
}

impl Terminals {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Seen>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers the terminal of shell `pid` until the handle drops.
    pub fn open(activity: &Arc<Activity>, pid: u32) -> Terminal {
        Self::register(activity, pid, Some(activity.connection()), None)
    }

    /// Registers the IDE's own terminal of shell `pid` (its connection is the
    /// IDE's: none of this launcher's).
    pub fn watch(activity: &Arc<Activity>, pid: u32) -> Terminal {
        Self::register(activity, pid, None, None)
    }

    /// Registers a command running as process group `pgid` (reported as `what`,
    /// with `detail`, its control characters replaced) until the handle drops.
    pub fn command(activity: &Arc<Activity>, pgid: u32, what: &str, detail: &str) -> Terminal {
        let label = Some((what.to_owned(), printable(detail)));
        Self::register(activity, pgid, None, label)
    }

    fn register(
        activity: &Arc<Activity>,
        pid: u32,
        connection: Option<super::Connection>,
        label: Option<(String, String)>,
    ) -> Terminal {
        let id = activity.terminals.next.fetch_add(1, Ordering::Relaxed);
        activity.terminals.lock().insert(
            id,
            Seen {
                pid,
                label,
                ..Seen::default()
            },
        );
        Terminal {
            activity: activity.clone(),
            id,
            _connection: connection,
        }
    }

    /// The terminals (and commands) active at `now` (output or CPU within
    /// [`ACTIVE_WINDOW_MS`]).
    pub fn active(&self, now: u64) -> Vec<ActiveWork> {
        let recent = |t: u64| now.saturating_sub(t) <= ACTIVE_WINDOW_MS;
        self.lock()
            .values()
            .filter_map(|s| {
                if let Some((what, detail)) = &s.label {
                    let cpu = s.cpu.as_ref().is_some_and(|(t, _)| recent(*t));
                    return (cpu || s.output_ms.is_some_and(recent)).then(|| ActiveWork {
                        what: what.clone(),
                        detail: detail.clone(),
                    });
                }
                let detail = match (&s.cpu, s.output_ms) {
                    (Some((t, comm)), _) if recent(*t) => {
                        format!("shell pid {}: {comm} is using CPU", s.pid)
                    }
                    (_, Some(t)) if recent(t) => format!("shell pid {}: printing output", s.pid),
                    _ => return None,
                };
                Some(ActiveWork {
                    what: "terminal".into(),
                    detail,
                })
            })
            .collect()
    }
}

/// A registered terminal; unregisters when dropped.
#[derive(Debug)]
pub struct Terminal {
    activity: Arc<Activity>,
    id: u64,
    /// The connection it came on (none for the IDE's own terminals).
    _connection: Option<super::Connection>,
}

impl Terminal {
    fn update(&self, f: impl FnOnce(&mut Seen)) {
        if let Some(seen) = self.activity.terminals.lock().get_mut(&self.id) {
            f(seen);
        }
    }

    /// The shell's pid.
    pub fn pid(&self) -> u32 {
        self.activity
            .terminals
            .lock()
            .get(&self.id)
            .map_or(0, |s| s.pid)
    }

    /// The terminal printed something at `now`.
    pub fn output(&self, now: u64) {
        self.update(|s| s.output_ms = Some(now));
        self.activity.work_seen(now);
    }

    /// The user typed into it at `now`.
    pub fn input(&self, now: u64) {
        self.activity.input("terminal", now);
    }

    /// A CPU sample of the foreground job taken at `now` (`None`: the shell itself is
    /// in the foreground, or nothing could be read): work if the same job used at least
    /// [`MIN_CPU_PERCENT`] of a core since the last sample.
    pub fn cpu(&self, sample: Option<Foreground>, now: u64) {
        let mut busy = false;
        self.update(|s| {
            let Some(fg) = sample else {
                s.sample = None;
                return;
            };
            busy = s.sample.is_some_and(|(pgrp, ticks, at)| {
                pgrp == fg.pgrp
                    && busy_enough(fg.ticks.saturating_sub(ticks), now.saturating_sub(at))
            });
            if busy {
                s.cpu = Some((now, printable(&fg.comm)));
            }
            s.sample = Some((fg.pgrp, fg.ticks, now));
        });
        if busy {
            self.activity.work_seen(now);
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.activity.terminals.lock().remove(&self.id);
    }
}

/// Whether `ticks` of CPU used in `elapsed_ms` are at least [`MIN_CPU_PERCENT`] of a
/// core (any tick when no time passed between the samples).
fn busy_enough(ticks: u64, elapsed_ms: u64) -> bool {
    let cpu_ms = ticks.saturating_mul(1000 / TICKS_PER_S);
    ticks > 0 && cpu_ms.saturating_mul(100) >= elapsed_ms.saturating_mul(MIN_CPU_PERCENT)
}

/// `comm` with each control character (C0, DEL, C1) replaced by `?`.
fn printable(comm: &str) -> String {
    comm.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The job in the foreground of shell `pid`'s terminal, with the CPU its group used
/// so far; `None` when the shell itself is in the foreground (nothing runs) or
/// `/proc` cannot tell. Blocking: reads `/proc`.
pub fn foreground(pid: u32) -> Option<Foreground> {
    let shell = dcs_os::proc::cpu(pid)?;
    let fg = u32::try_from(shell.tpgid).ok()?;
    if fg == 0 || fg == shell.pgrp {
        return None;
    }
    group(fg)
}

/// Process group `pgrp` with the CPU its live members used so far (its command
/// name: its leader's, else its first member's); `None` when `/proc` cannot be
/// listed. Blocking: reads `/proc`.
pub fn group(pgrp: u32) -> Option<Foreground> {
    let members = dcs_os::group::members(pgrp).ok()?;
    let mut ticks = 0u64;
    let mut comm = None;
    for member in members {
        if let Some(stat) = dcs_os::proc::cpu(member) {
            ticks = ticks.saturating_add(stat.ticks);
            if member == pgrp || comm.is_none() {
                comm = Some(stat.comm);
            }
        }
    }
    Some(Foreground {
        pgrp,
        comm: comm.unwrap_or_default(),
        ticks,
    })
}

#[cfg(test)]
mod tests {
    use dcs_model::env::IdlePolicy;

    use super::*;

    /// The foreground job of process group 70, named `comm`, at `ticks` of CPU.
    fn job(comm: &str, ticks: u64) -> Option<Foreground> {
        Some(Foreground {
            pgrp: 70,
            comm: comm.into(),
            ticks,
        })
    }

    #[test]
    fn a_job_named_with_escape_sequences_is_reported_without_them() {
        let t0 = 1_800_000_000_000;
        let clock = Activity::new(IdlePolicy::default(), t0);
        let term = Terminals::open(&clock, 7);
        let fg = |ticks| job("\u{1b}]0;x\u{7}\u{9b}2J\u{7f}é", ticks);
        term.cpu(fg(1), t0 + 1000);
        term.cpu(fg(50), t0 + 2000);
        let work = clock.report(t0 + 2000, None).active_work;
        let detail = &work.first().expect("the job is work").detail;
        assert_eq!(detail, "shell pid 7: ?]0;x??2J?é is using CPU");
    }

    #[test]
    fn a_few_percent_of_a_core_is_no_work() {
        let t0 = 1_800_000_000_000;
        let clock = Activity::new(IdlePolicy::default(), t0);
        let term = Terminals::open(&clock, 7);
        let fg = |ticks| job("python3", ticks);
        term.cpu(fg(100), t0);
        // 0.05 s of CPU in 2 s: a reloader polling files.
        term.cpu(fg(105), t0 + 2000);
        term.cpu(fg(119), t0 + 4000);
        assert!(clock.report(t0 + 4000, None).active_work.is_empty());
        // 0.2 s in 2 s: the least that is work.
        term.cpu(fg(139), t0 + 6000);
        assert_eq!(clock.report(t0 + 6000, None).active_work.len(), 1);
    }
}
