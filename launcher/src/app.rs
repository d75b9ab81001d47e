//! [`App`]: the state every request handler shares: which repository, where it is
//! checked out, the start-up [`Readiness`], the user's [`Notices`], the checkout's
//! [`Devcontainer`], the running IDE once there is one, and the drain signal that tells connections and WebSockets to
//! wind down.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use dcs_model::LauncherEnv;
use tokio::sync::watch;

use crate::activity::Activity;
use crate::devcontainer::Devcontainer;
use crate::files::temp::TempArea;
use crate::ide::RunningIde;
use crate::notices::Notices;
use crate::ready::Readiness;

/// Shared state of one launcher.
pub struct App {
    label: String,
    checkout_dir: PathBuf,
    readiness: Readiness,
    notices: Notices,
    /// This launcher's folder for upload temporaries, once made.
    uploads: OnceLock<TempArea>,
    /// Set once, when the IDE has started.
    ide: OnceLock<Box<dyn RunningIde>>,
    /// `true` once shutdown began; receivers are connections and WebSockets, and the
    /// server waits until all of them are gone.
    draining: Arc<watch::Sender<bool>>,
    /// The idle clock ([`crate::activity`]).
    activity: Arc<Activity>,
    /// The checkout's `devcontainer.json` ([`crate::devcontainer`]).
    devcontainer: Devcontainer,
}

/// A handle that hands out drain receivers without being one itself, for parts that
/// live as long as the app (the IDE's forwarder) but must not delay the drain.
#[derive(Debug, Clone)]
pub struct Drain(Arc<watch::Sender<bool>>);

impl Drain {
    /// A receiver like [`App::drain_watch`]'s.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.0.subscribe()
    }

    /// A handle whose drain never starts (tests, tools).
    pub fn never() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }
}

impl App {
    /// State for the workspace `env` describes, in the checkout phase.
    pub fn new(env: &LauncherEnv) -> Self {
        let (draining, _) = watch::channel(false);
        Self {
            label: env.label(),
            checkout_dir: env.checkout_dir(),
            readiness: Readiness::new(),
            notices: Notices::default(),
            uploads: OnceLock::new(),
            ide: OnceLock::new(),
            draining: Arc::new(draining),
            activity: Activity::new(env.idle, crate::activity::now_ms()),
            devcontainer: Devcontainer::new(env),
        }
    }

    /// The idle clock.
    pub fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    /// The checkout's `devcontainer.json`.
    pub fn devcontainer(&self) -> &Devcontainer {
        &self.devcontainer
    }

    /// What this workspace holds, for titles: `owner/repo` or the instance id.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Where the repository is (or will be) checked out.
    pub fn checkout_dir(&self) -> &Path {
        &self.checkout_dir
    }

    /// Start-up state.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// What the user should be told, in every page.
    pub fn notices(&self) -> &Notices {
        &self.notices
    }

    /// Where uploads are written before they are published, if this launcher has
    /// its own temporary folder (else beside their target).
    pub fn upload_dir(&self) -> Option<&Path> {
        self.uploads.get().map(TempArea::dir)
    }

    /// Records the launcher's temporary folder (once).
    pub fn set_upload_area(&self, area: TempArea) {
        let _ = self.uploads.set(area);
    }

    /// The running IDE, once started.
    pub fn ide(&self) -> Option<&dyn RunningIde> {
        self.ide.get().map(Box::as_ref)
    }

    /// Records the started IDE. Returns it back if one was already set.
    pub fn set_ide(&self, ide: Box<dyn RunningIde>) -> Result<(), Box<dyn RunningIde>> {
        self.ide.set(ide)
    }

    /// A receiver that turns `true` when shutdown begins. Holding it delays the end of
    /// the drain, so drop it when the connection or stream it guards is done.
    pub fn drain_watch(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }

    /// Records a failure of the running IDE (it gave up restarting) in the
    /// readiness, once; returns whether the workspace is failed now.
    pub fn note_ide_failure(&self) -> bool {
        if let Some(why) = self.ide().and_then(|ide| ide.failure()) {
            if self.readiness.phase() != crate::ready::Phase::Failed {
                self.readiness.fail(&crate::error::Error::IdeFailed(why));
            }
        }
        self.readiness.phase() == crate::ready::Phase::Failed
    }

    /// A [`Drain`] handle for long-lived parts.
    pub fn drain(&self) -> Drain {
        Drain(self.draining.clone())
    }

    /// Tells every watcher to wind down.
    pub fn start_drain(&self) {
        self.draining.send_replace(true);
    }

    /// Resolves when every watcher is gone.
    pub async fn drained(&self) {
        self.draining.closed().await;
    }
}

/// Resolves once `watch` (from [`App::drain_watch`]) says shutdown began, or its
/// sender is gone.
pub async fn draining(watch: &mut watch::Receiver<bool>) {
    // The returned guard is dropped here, so callers' futures stay `Send`.
    let _ = watch.wait_for(|d| *d).await;
}
