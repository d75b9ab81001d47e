//! The IDE's own terminals as watched work. VS Code's integrated terminal runs its
//! shells under the IDE's pty host, not through this launcher's `/_dcs/terminal`,
//! so nothing of theirs reached the clock: a build or a training run the user
//! watched there was stopped at the idle timeout. Every [`SAMPLE`] the IDE's
//! process tree is looked at for its terminal shells (session leaders on a terminal
//! of their own, [`shells`]), and the job in each one's foreground is sampled as for
//! the launcher's own terminals ([`work::foreground`]): a job using CPU holds the
//! workspace, within the busy limit. Their output is not seen (it travels inside
//! the IDE's own protocol); a shell waiting at its prompt holds nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::work::{self, Foreground, Terminal, Terminals};
use super::{now_ms, Activity};
use crate::app::App;

/// How often the IDE's process tree is looked at: each look reads every process's
/// `stat` (in local mode, the host's), so less often than this launcher samples
/// its own terminals, yet within the clock's active window.
const SAMPLE: Duration = Duration::from_secs(4);

/// The terminal shells below process `root`: its descendants that lead a session
/// on a controlling terminal (node-pty's shells), in pid order. Blocking: `/proc`.
pub fn shells(root: u32) -> Vec<u32> {
    let Ok(below) = dcs_os::proc::descendants(root) else {
        return Vec::new();
    };
    below
        .into_iter()
        .filter(|pid| dcs_os::proc::cpu(*pid).is_some_and(|s| s.session == *pid && s.tty_nr != 0))
        .collect()
}

/// Samples the running IDE's terminals until the launcher drains.
pub async fn watch(app: Arc<App>) {
    let mut drain = app.drain_watch();
    let mut open: HashMap<u32, Terminal> = HashMap::new();
    let mut tick = tokio::time::interval(SAMPLE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = crate::app::draining(&mut drain) => return,
        }
        let Some(ide) = app.ide().and_then(|ide| ide.pid()) else {
            open.clear();
            continue;
        };
        let sampled = tokio::task::spawn_blocking(move || sample(ide))
            .await
            .unwrap_or_default();
        record(&mut open, app.activity(), sampled, now_ms());
    }
}

/// Each terminal shell below `ide` and its foreground job. Blocking: `/proc`.
fn sample(ide: u32) -> Vec<(u32, Option<Foreground>)> {
    let shells = shells(ide);
    shells
        .into_iter()
        .map(|pid| (pid, work::foreground(pid)))
        .collect()
}

/// Records a [`sample`] taken at `now` in `open` (the shells seen so far, each
/// registered with `activity` while it lives): shells gone are forgotten, new ones
/// registered, and each one's foreground job sampled.
fn record(
    open: &mut HashMap<u32, Terminal>,
    activity: &Arc<Activity>,
    sampled: Vec<(u32, Option<Foreground>)>,
    now: u64,
) {
    open.retain(|pid, _| sampled.iter().any(|(p, _)| p == pid));
    for (pid, fg) in sampled {
        open.entry(pid)
            .or_insert_with(|| Terminals::watch(activity, pid))
            .cpu(fg, now);
    }
}

#[cfg(test)]
mod tests;
