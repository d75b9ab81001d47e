//! Supervision of one external process, the IDE: started on a fresh loopback port as
//! the leader of its own process group; restarted with exponential backoff when it
//! exits; stopped by signalling the whole group (SIGTERM, a grace period, SIGKILL),
//! so no pty or file-watcher child outlives it. Both a stop and a crash wait until
//! the whole group is gone (bounded) before going on, so a restarted IDE finds its
//! ports and files free and `stop` returns with nothing left running.
//!
//! The workspace is never touched here: a crash only restarts the process. After
//! [`Policy::max_crashes`] crashes in a row it gives up ([`Supervisor::gave_up`]);
//! the launcher then ends (see `crate::launch`).

pub mod group;

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::process::Command;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::reap;

/// How to start the process, given the loopback address it must listen on.
pub type MakeLaunch = Arc<dyn Fn(SocketAddr) -> Launch + Send + Sync>;

/// One start of the process.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables set on top of the launcher's environment (minus what
    /// [`crate::user_env`] withholds).
    pub env: Vec<(OsString, OsString)>,
    /// Variables removed from the user's environment (before `env` is set).
    pub unset: Vec<OsString>,
    /// Working directory.
    pub cwd: PathBuf,
}

/// Restart policy.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Delay before the first restart; doubled after each crash.
    pub backoff_min: Duration,
    /// The longest delay between restarts.
    pub backoff_max: Duration,
    /// A process that ran this long resets the crash count.
    pub stable_after: Duration,
    /// Crashes in a row after which the supervisor gives up.
    pub max_crashes: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
            max_crashes: 10,
        }
    }
}

impl Policy {
    /// The delay before restart number `crashes` (1-based).
    pub fn backoff(&self, crashes: u32) -> Duration {
        let factor = 2u32.saturating_pow(crashes.saturating_sub(1).min(16));
        self.backoff_min
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// What the supervised process is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Being spawned.
    Starting,
    /// Spawned and not exited; `addr` is where it was told to listen.
    Running {
        /// Its pid, also its process group id.
        pid: u32,
        /// Its loopback address.
        addr: SocketAddr,
    },
    /// It exited by itself (a crash): what is left of its group is being taken down.
    /// Published at once, so nothing is sent to its address meanwhile.
    Exited {
        /// The pid it had.
        pid: u32,
    },
    /// It exited and its group is gone; waiting out the backoff before the next start.
    Restarting {
        /// Crashes in a row so far.
        crashes: u32,
        /// How the last run ended.
        last_exit: String,
    },
    /// Given up: the message says why.
    Failed(String),
    /// Stopped on request.
    Stopped,
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ending {
    /// The group did not stop within the grace period and was killed.
    pub forced: bool,
}

/// A supervised process.
pub struct Supervisor {
    name: &'static str,
    state: watch::Receiver<State>,
    stop: watch::Sender<Option<Duration>>,
    task: Mutex<Option<JoinHandle<Ending>>>,
    starts: Arc<AtomicU32>,
}

impl Supervisor {
    /// Starts supervising: spawns at once, on a background task.
    pub fn spawn(name: &'static str, make: MakeLaunch, policy: Policy) -> Self {
        let (state_tx, state) = watch::channel(State::Starting);
        let (stop, stop_rx) = watch::channel(None);
        let starts = Arc::new(AtomicU32::new(0));
        let task = tokio::spawn(supervise(
            name,
            make,
            policy,
            state_tx,
            stop_rx,
            Arc::clone(&starts),
        ));
        Self {
            name,
            state,
            stop,
            task: Mutex::new(Some(task)),
            starts,
        }
    }

    /// How many times the process was started so far (1 until it crashed and was
    /// started again). Counted before [`State::Running`] is published.
    pub fn starts(&self) -> u32 {
        self.starts.load(Ordering::Acquire)
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    /// A receiver of state changes.
    pub fn watch(&self) -> watch::Receiver<State> {
        self.state.clone()
    }

    /// Resolves, saying why, once the supervisor gave up on the process (it kept
    /// crashing: [`Policy::max_crashes`]); never if it is stopped first.
    pub async fn gave_up(&self) -> String {
        let mut state = self.state.clone();
        let ended = state
            .wait_for(|s| matches!(s, State::Failed(_) | State::Stopped))
            .await
            .map(|s| s.clone());
        match ended {
            Ok(State::Failed(why)) => why,
            _ => std::future::pending().await,
        }
    }

    /// Stops the process group: SIGTERM, then SIGKILL after `grace`. Waits until it
    /// is gone. Later calls return at once.
    pub async fn stop(&self, grace: Duration) -> Ending {
        self.stop.send_replace(Some(grace));
        let Some(task) = self.task.lock().await.take() else {
            return Ending::default();
        };
        match task.await {
            Ok(ending) => ending,
            Err(e) => {
                error!(name = self.name, error = %e, "supervisor task failed");
                Ending::default()
            }
        }
    }
}

/// A free loopback address (the kernel's pick, released again for the child).
pub fn free_loopback_addr() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()
}

async fn supervise(
    name: &'static str,
    make: MakeLaunch,
    policy: Policy,
    state: watch::Sender<State>,
    mut stop: watch::Receiver<Option<Duration>>,
    starts: Arc<AtomicU32>,
) -> Ending {
    let mut crashes = 0u32;
    loop {
        state.send_replace(State::Starting);
        let spawned = free_loopback_addr().and_then(|addr| {
            let launch = make(addr);
            spawn(&launch).map(|child| (child, addr, launch))
        });
        let (mut child, addr, launch) = match spawned {
            Ok(s) => s,
            Err(e) => {
                let why = format!("cannot start {name}: {e}");
                error!(name, error = %e, "spawn failed; giving up");
                return park(State::Failed(why), &state, &mut stop).await;
            }
        };
        let Some(pid) = child.id() else { continue };
        starts.fetch_add(1, Ordering::AcqRel);
        let started = Instant::now();
        info!(name, pid, %addr, program = %launch.program.display(), "started");
        state.send_replace(State::Running { pid, addr });
        let event = tokio::select! {
            // The process exited by itself: a crash, whatever its status.
            status = child.wait() => Err(status.map_or_else(|e| e.to_string(), |s| s.to_string())),
            // Stop requested: take the whole group down.
            grace = stop.wait_for(Option::is_some) => Ok(grace.ok().and_then(|g| *g).unwrap_or_default()),
        };
        let last_exit = match event {
            Ok(grace) => {
                let ending = terminate(name, &mut child, pid, grace).await;
                reap::forget(pid);
                state.send_replace(State::Stopped);
                return ending;
            }
            Err(last_exit) => last_exit,
        };
        state.send_replace(State::Exited { pid });
        reap::forget(pid);
        // Its children must not outlive it (they would hold ports and files): kill
        // them and wait until they are gone, so the next start finds its ports free.
        group::signal(pid, Signal::SIGKILL);
        if !wait_gone(&mut child, pid, KILL_WAIT).await {
            let left = members(pid).await;
            error!(name, pid, ?left, "the crashed group survived SIGKILL");
        }
        if started.elapsed() >= policy.stable_after {
            crashes = 0;
        }
        crashes += 1;
        if crashes > policy.max_crashes {
            let why = format!("{name} exited {crashes} times in a row ({last_exit}); giving up");
            error!(name, crashes, %last_exit, "giving up");
            return park(State::Failed(why), &state, &mut stop).await;
        }
        let delay = policy.backoff(crashes);
        warn!(name, pid, %last_exit, crashes, delay_ms = delay.as_millis() as u64, "exited; restarting");
        state.send_replace(State::Restarting { crashes, last_exit });
        tokio::select! {
            // Backoff over: start again.
            () = tokio::time::sleep(delay) => {}
            // Stop requested while waiting: nothing runs.
            _ = stop.wait_for(Option::is_some) => {
                state.send_replace(State::Stopped);
                return Ending::default();
            }
        }
    }
}

/// Publishes `parked` (nothing runs) until a stop is requested.
async fn park(
    parked: State,
    state: &watch::Sender<State>,
    stop: &mut watch::Receiver<Option<Duration>>,
) -> Ending {
    state.send_replace(parked);
    let _ = stop.wait_for(Option::is_some).await;
    state.send_replace(State::Stopped);
    Ending::default()
}

fn spawn(launch: &Launch) -> std::io::Result<tokio::process::Child> {
    let mut cmd = Command::new(&launch.program);
    cmd.args(&launch.args);
    crate::user_env::prepare(&mut cmd, &launch.cwd);
    for key in &launch.unset {
        cmd.env_remove(key);
    }
    cmd.envs(launch.env.iter().map(|(k, v)| (k, v)));
    reap::spawn(&mut cmd)
}

/// How long a group may take to be gone after SIGKILL. The signal cannot be caught,
/// but on a busy machine the dying processes still have to be scheduled to exit.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// How often a stopping group is looked at.
const POLL: Duration = Duration::from_millis(25);

/// SIGTERM to the group; wait up to `grace` for the leader to be reaped and every
/// member to be gone; else SIGKILL the group and wait (up to [`KILL_WAIT`]) for the
/// same. Returns once the group is gone, so nothing of it holds ports or files.
async fn terminate(
    name: &'static str,
    child: &mut tokio::process::Child,
    pgid: u32,
    grace: Duration,
) -> Ending {
    group::signal(pgid, Signal::SIGTERM);
    if wait_gone(child, pgid, grace).await {
        info!(name, pgid, "stopped");
        return Ending { forced: false };
    }
    warn!(
        name,
        pgid,
        grace_ms = grace.as_millis() as u64,
        "still running after the grace period; killing the group"
    );
    group::signal(pgid, Signal::SIGKILL);
    if wait_gone(child, pgid, KILL_WAIT).await {
        info!(name, pgid, "killed");
    } else {
        let left = members(pgid).await;
        error!(name, pgid, ?left, "the group survived SIGKILL");
    }
    Ending { forced: true }
}

/// Waits up to `limit` until `child` (the leader of group `pgid`) has been reaped and
/// no live process is left in the group. True if that happened.
async fn wait_gone(child: &mut tokio::process::Child, pgid: u32, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut leader_gone = false;
    loop {
        if !leader_gone {
            leader_gone = matches!(child.try_wait(), Ok(Some(_)) | Err(_));
        }
        if leader_gone && members(pgid).await.is_some_and(|m| m.is_empty()) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The live members of group `pgid` (a `/proc` scan, off the runtime); `None` when
/// the scan failed, so a death is never concluded from it.
async fn members(pgid: u32) -> Option<Vec<u32>> {
    tokio::task::spawn_blocking(move || group::members(pgid).ok())
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests;
