//! The activator: wakes workspaces single-flight, makes requests wait for them
//! (bounded by the start timeout), and scales idle ones to zero.
//!
//! A start runs in its own task, so a request that gives up waiting (504) does not
//! cancel it: the next request finds it ready. Concurrent first requests share one
//! start. A start that fails is remembered for a while ([`Backoff`]: 5 s, doubling
//! with each failure in a row, at most a minute), so the requests that follow get
//! its failure page at once instead of starting another clone each. The reaper
//! ([`reaper`]) stops workspaces their launchers say nobody uses.
//!
//! Starts begin here, so their limits are decided here ([`crate::quota::start`]:
//! workspaces starting at once per user and in total; a start beyond is a 429),
//! and a repository workspace the runtime does not know yet is started only once
//! the git base says its repository exists ([`RepoProbe`]); a miss makes nothing.
//!
//! # Layout
//! - [`reaper`]: the idle reaper, asking each running workspace's launcher.
//! - [`ask`]: the questions to a launcher's idle clock over the hop.
//! - `backoff`: how long a failed start is remembered.
//! - [`phases`]: when a start reached each phase, for the start metric.

pub mod ask;
mod backoff;
pub mod phases;
pub mod reaper;

pub use backoff::Backoff;
use backoff::Failed;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dcs_model::env::IdlePolicy;
use dcs_model::{RepoRef, UserId, WorkspaceKey, WorkspaceKind};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use tracing::{debug, info, warn};

use crate::activity::Activity;
use crate::config::edge::Quotas;
use crate::error::{Error, Result};
use crate::key_map::KeyMap;
use crate::metrics::Metrics;
use crate::repo_probe::RepoProbe;
use crate::runtime::{Runtime, Status, Upstream, WorkspaceSpec};
use dcs_os::mutex::lock;

type Start = Shared<BoxFuture<'static, Result<Arc<Upstream>>>>;

/// Wakes and scales workspaces.
pub struct Activator {
    runtime: Arc<dyn Runtime>,
    start_timeout: Duration,
    idle_timeout: Duration,
    /// Client activity per workspace.
    pub activity: Activity,
    metrics: Arc<Metrics>,
    ready: Mutex<KeyMap<Arc<Upstream>>>,
    starting: Mutex<KeyMap<Start>>,
    failed: Mutex<KeyMap<Failed>>,
    backoff: Backoff,
    /// Limits on starts at once (per user, in total).
    quotas: Quotas,
    /// Asks the git base before a new repository workspace is made.
    repos: Option<Arc<RepoProbe>>,
    /// The idle policy launchers apply (the busy limit bounds keep-alives).
    idle_policy: IdlePolicy,
    /// This replica's stops not yet followed by a wake (see [`crate::resume`]).
    pub idle_stops: crate::resume::IdleStops,
    /// The starts progress pages follow (see [`crate::progress`]).
    pub board: crate::progress::board::Board,
    /// When a launcher's unreadable idle clock was last a warning ([`reaper`]).
    clock_warnings: crate::log_pace::LogPace,
}

impl Activator {
    /// An activator over `runtime`.
    pub fn new(
        runtime: Arc<dyn Runtime>,
        start_timeout: Duration,
        idle_timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            runtime,
            start_timeout,
            idle_timeout,
            activity: Activity::default(),
            metrics,
            ready: Mutex::default(),
            starting: Mutex::default(),
            failed: Mutex::default(),
            backoff: Backoff::default(),
            quotas: Quotas::default(),
            repos: None,
            idle_policy: IdlePolicy {
                idle_timeout_secs: idle_timeout.as_secs().max(1),
                ..IdlePolicy::default()
            },
            idle_stops: Default::default(),
            board: Default::default(),
            clock_warnings: Default::default(),
        }
    }

    /// The same activator with `policy` as the idle policy of its launchers.
    pub fn with_idle_policy(mut self, policy: IdlePolicy) -> Self {
        self.idle_policy = policy;
        self
    }

    /// The idle policy of the launchers.
    pub fn idle_policy(&self) -> IdlePolicy {
        self.idle_policy
    }

    /// Where this proxy sends `key`'s requests now, if it routes to it (never
    /// starts anything).
    pub fn ready_upstream(&self, key: &WorkspaceKey) -> Option<Arc<Upstream>> {
        lock(&self.ready).get(key).cloned()
    }

    /// The same activator limiting starts at once as `quotas` say.
    pub fn with_quotas(mut self, quotas: Quotas) -> Self {
        self.quotas = quotas;
        self
    }

    /// The same activator asking `probe` before it makes a new repository workspace.
    pub fn with_repo_probe(mut self, probe: Arc<RepoProbe>) -> Self {
        self.repos = Some(probe);
        self
    }

    /// `Ok` when `repo` exists at the git base (or nothing checks): the API's
    /// create asks before it registers an instance of a repository.
    pub async fn require_repo(&self, repo: &RepoRef) -> Result<()> {
        match &self.repos {
            Some(probe) => probe.require(repo).await,
            None => Ok(()),
        }
    }

    /// Whether `user` may begin one more start now (a 429 if not); nothing is
    /// reserved.
    pub fn admit_start(&self, user: &UserId) -> Result<()> {
        self.admit(&lock(&self.starting), user)
    }

    /// The start limits for `user`, given the starts under way.
    fn admit(&self, starting: &KeyMap<Start>, user: &UserId) -> Result<()> {
        let theirs = starting.keys().filter(|k| &k.user == user).count();
        crate::quota::start(&self.quotas, user, theirs, starting.len())
    }

    /// The same activator remembering failed starts for `backoff`.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The runtime underneath.
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    /// Where to send `spec`'s requests, starting it if needed.
    pub async fn upstream(self: &Arc<Self>, spec: &WorkspaceSpec) -> Result<Arc<Upstream>> {
        if let Some(up) = lock(&self.ready).get(&spec.key) {
            return Ok(Arc::clone(up));
        }
        if let Some(err) = self.remembered_failure(&spec.key) {
            return Err(err);
        }
        let start = self.start(spec, true)?;
        tokio::time::timeout(self.start_timeout, start)
            .await
            .unwrap_or(Err(Error::StartTimeout {
                after: self.start_timeout,
            }))
    }

    /// The workspace's state as the runtime reports it, except that a start this
    /// activator has under way reads `Starting` even before the runtime has seen it.
    pub async fn status(&self, key: &WorkspaceKey) -> Result<Status> {
        let status = self.runtime.status(key).await?;
        Ok(match status {
            Status::Stopped if lock(&self.starting).contains_key(key) => Status::Starting,
            status => status,
        })
    }

    /// Begins starting `spec` (or joins the start in progress) without waiting for
    /// it, as someone asked (the management API's create and start): a remembered
    /// failure and a noted stop are forgotten, and the ask counts as use (this
    /// replica's record of a stop with it). The outcome shows in the runtime's
    /// status. `limited`: within the start limits, whose refusal is returned (a
    /// create was admitted already, [`Activator::admit_start`]).
    pub fn wake(self: &Arc<Self>, spec: &WorkspaceSpec, limited: bool) -> Result<()> {
        lock(&self.failed).remove(&spec.key);
        self.idle_stops.forget(&spec.key);
        self.activity.tracker(&spec.key).touch();
        if lock(&self.ready).contains_key(&spec.key) {
            return Ok(());
        }
        self.start(spec, limited).map(drop)
    }

    /// The failure of the last start, while it is remembered, saying when the next
    /// attempt may be made.
    fn remembered_failure(&self, key: &WorkspaceKey) -> Option<Error> {
        let failed = lock(&self.failed);
        let f = failed.get(key)?;
        let left = f.until.checked_duration_since(Instant::now())?;
        let next = format!("(the next attempt starts in {} s)", left.as_secs() + 1);
        Some(match &f.error {
            Error::StartFailed { kind, message } => Error::StartFailed {
                kind: *kind,
                message: format!("{message} {next}"),
            },
            Error::Runtime(message) => Error::Runtime(format!("{message} {next}")),
            other => other.clone(),
        })
    }

    /// Remembers (or, after a success, forgets) the outcome of a start.
    fn note_outcome(&self, key: &WorkspaceKey, result: &Result<Arc<Upstream>>) {
        let mut failed = lock(&self.failed);
        match result {
            // A cancelled start or a missing instance is no failure to back off from.
            Ok(_) | Err(Error::Cancelled | Error::NotFound(_)) => {
                failed.remove(key);
            }
            Err(error) => {
                let in_a_row = failed.get(key).map_or(1, |f| f.in_a_row + 1);
                let until = Instant::now() + self.backoff.after(in_a_row);
                failed.insert(
                    key.clone(),
                    Failed {
                        error: error.clone(),
                        until,
                        in_a_row,
                    },
                );
            }
        }
    }

    /// Joins the start of `spec` in progress, or begins one if the start limits
    /// allow (always, unless `limited`).
    fn start(self: &Arc<Self>, spec: &WorkspaceSpec, limited: bool) -> Result<Start> {
        let mut starting = lock(&self.starting);
        if let Some(start) = starting.get(&spec.key) {
            return Ok(start.clone());
        }
        if limited {
            self.admit(&starting, &spec.key.user)?;
        }
        let this = self.clone();
        let spec = spec.clone();
        let key = spec.key.clone();
        // The task cannot remove its entry before we insert it: it needs this lock.
        let task = tokio::spawn(async move {
            let began = Instant::now();
            // A start the repository check refused made nothing: no workspace failed
            // to start (anyone can name a repository that does not exist), so it is
            // neither counted nor backed off from (a miss is the probe's to remember).
            // A runtime that cannot say whether it knows the workspace is a failure,
            // not remembered either.
            let (mut made, mut refused) = (true, false);
            let result = match this.check_repo(&spec).await {
                Ok(None) => {
                    let ensure = this.runtime.ensure(&spec);
                    let (result, times) = phases::timed(&*this.runtime, &spec.key, ensure).await;
                    if result.is_ok() {
                        this.metrics.observe_start(&times);
                    }
                    // Shared from here on: each request's lookup is a reference count.
                    result.map(Arc::new)
                }
                Ok(Some(refusal)) => {
                    (made, refused) = (false, true);
                    Err(refusal)
                }
                Err(err) => {
                    made = false;
                    Err(err)
                }
            };
            match &result {
                Ok(up) => {
                    this.activity.tracker(&spec.key).touch();
                    if lock(&this.ready)
                        .insert(spec.key.clone(), Arc::clone(up))
                        .is_none()
                    {
                        this.metrics.running.inc();
                    }
                    this.metrics.starts.inc();
                    info!(workspace = %spec.key, secs = began.elapsed().as_secs_f32(), "workspace ready");
                }
                Err(err) if refused => log_refusal(&spec.key, err),
                Err(err) => {
                    this.metrics.start_failures.inc();
                    warn!(workspace = %spec.key, %err, "workspace failed to start");
                }
            }
            if made {
                this.note_outcome(&spec.key, &result);
            }
            lock(&this.starting).remove(&spec.key);
            result
        });
        let start = async move {
            task.await
                .unwrap_or_else(|e| Err(Error::Runtime(format!("the start task failed: {e}"))))
        }
        .boxed()
        .shared();
        starting.insert(key, start.clone());
        Ok(start)
    }

    /// Before a repository workspace the runtime does not know yet is made: its
    /// repository must exist at the git base. `Some` refusal of the check; `Err` if
    /// the runtime cannot say whether it knows the workspace.
    async fn check_repo(&self, spec: &WorkspaceSpec) -> Result<Option<Error>> {
        let (Some(probe), WorkspaceKind::Repo(repo)) = (&self.repos, &spec.key.kind) else {
            return Ok(None);
        };
        if self.runtime.status(&spec.key).await? != Status::NotFound {
            return Ok(None);
        }
        Ok(probe.require(repo).await.err())
    }

    /// Forgets a cached upstream (e.g. after a refused connection), so the next
    /// request asks the runtime again.
    pub fn invalidate(&self, key: &WorkspaceKey) {
        if lock(&self.ready).remove(key).is_some() {
            self.metrics.running.dec();
        }
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// Forgets everything about a workspace that is being deleted: its cached
    /// upstream, its open tunnels (closed now), its activity, its idle stop and the
    /// outcome a page followed (a page reads "deleted", not an earlier failure).
    pub fn forget(&self, key: &WorkspaceKey) {
        self.invalidate(key);
        lock(&self.failed).remove(key);
        if let Some(tracker) = self.activity.peek(key) {
            tracker.close_tunnels();
        }
        self.activity.remove(key);
        self.idle_stops.forget(key);
        self.board.forget(key);
    }

    /// Runs the reaper forever (the caller aborts it at shutdown).
    pub async fn run_reaper(self: Arc<Self>) {
        let tick =
            (self.idle_timeout / 10).clamp(Duration::from_millis(100), Duration::from_secs(15));
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.reap_idle().await;
        }
    }
}

/// Logs a start the repository check refused: a repository that does not exist (or
/// that the token does not open) is the asker's mistake, no news to the operator (the
/// probe logs a fresh miss at info); a check that could not be made is.
fn log_refusal(key: &WorkspaceKey, err: &Error) {
    use crate::error::StartFailure;
    match err {
        Error::StartFailed {
            kind: StartFailure::NotFound,
            ..
        } => debug!(workspace = %key, %err, "nothing started: no such repository"),
        Error::StartFailed {
            kind: StartFailure::Auth,
            ..
        } => {
            info!(workspace = %key, %err, "nothing started: the repository is not open to the token")
        }
        _ => warn!(workspace = %key, %err, "nothing started: the repository could not be checked"),
    }
}

#[cfg(test)]
mod tests;
