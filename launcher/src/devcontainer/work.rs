//! A running lifecycle command as watched work for the idle clock
//! ([`crate::activity`]), by the rule a terminal's job follows: it holds the
//! workspace (within the busy limit) while it prints (its output reaching the log:
//! [`Output::seen`]) or while its process group uses CPU, at least
//! [`work::MIN_CPU_PERCENT`] of a core (sampled every [`CPU_SAMPLE`] as a terminal's
//! foreground job is: [`work::group`]), and is listed
//! in `GET /_dcs/idle`'s `active_work` meanwhile as `{"what": "devcontainer",
//! "detail": "<step>: <command>"}` (the log's header). A command that only exists
//! (a dev server waiting for requests, a `sleep`) holds nothing, like a shell
//! waiting at its prompt, nor does a reloader polling files at a few percent of a core; neither does what a command left running once it ended.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::JoinHandle;

use crate::activity::work::{self, Terminal, Terminals};
use crate::activity::{now_ms, Activity};
use crate::terminal::CPU_SAMPLE;

/// The `what` of a command in the idle report's `active_work`.
pub const WHAT: &str = "devcontainer";

/// A command watched until dropped.
pub struct Watched {
    shared: Arc<Shared>,
    sampler: Option<JoinHandle<()>>,
}

struct Shared {
    pgid: u32,
    /// Registered with the clock while the command runs.
    terminal: Mutex<Option<Terminal>>,
}

impl Shared {
    fn terminal(&self) -> MutexGuard<'_, Option<Terminal>> {
        self.terminal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Samples the group's CPU at `now`.
    async fn sample(&self, now: u64) {
        let pgid = self.pgid;
        let fg = tokio::task::spawn_blocking(move || work::group(pgid))
            .await
            .ok()
            .flatten();
        if let Some(terminal) = self.terminal().as_ref() {
            terminal.cpu(fg, now);
        }
    }
}

/// Tells the clock a command printed something; inert once the command ended.
#[derive(Clone)]
pub struct Output(Arc<Shared>);

impl Output {
    /// The command printed something now.
    pub fn seen(&self) {
        if let Some(terminal) = self.0.terminal().as_ref() {
            terminal.output(now_ms());
        }
    }
}

impl Watched {
    /// Watches the command running as process group `pgid` (`detail`: what the
    /// report calls it), sampling its CPU in the background, until dropped.
    pub fn start(activity: &Arc<Activity>, pgid: u32, detail: &str) -> Self {
        let mut watched = Self::new(activity, pgid, detail);
        let shared = watched.shared.clone();
        watched.sampler = Some(tokio::spawn(async move {
            let mut every = tokio::time::interval(CPU_SAMPLE);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                shared.sample(now_ms()).await;
            }
        }));
        watched
    }

    /// [`Watched::start`] without the sampling (the caller samples).
    fn new(activity: &Arc<Activity>, pgid: u32, detail: &str) -> Self {
        let terminal = Terminals::command(activity, pgid, WHAT, detail);
        Self {
            shared: Arc::new(Shared {
                pgid,
                terminal: Mutex::new(Some(terminal)),
            }),
            sampler: None,
        }
    }

    /// The hook the command's output readers call.
    pub fn output(&self) -> Output {
        Output(self.shared.clone())
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(sampler) = self.sampler.take() {
            sampler.abort();
        }
        // Unregistered: what it left running is no longer watched.
        self.shared.terminal().take();
    }
}

#[cfg(test)]
mod tests;
