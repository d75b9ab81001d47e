//! The checkout's `devcontainer.json` in a running workspace: read after the
//! checkout ([`prepare`], before the IDE starts), its variables given to the IDE
//! when the checkout is allowed at that time, its lifecycle commands run in the
//! background once allowed ([`lifecycle`]; first the extensions it names, into
//! code-server or openvscode-server: [`extensions`]), and what happens shown as notices and at
//! `/_dcs/devcontainer` ([`routes`]). What a file means is `dcs_model::devcontainer`'s
//! business (pure); reading, consent, processes and the log are this module's.
//!
//! The mode (`DCS_DEVCONTAINER`): `ask` applies nothing until the workspace's user
//! allows it for this checkout (a notice asks; the consent is kept with the checkout),
//! `run` applies it from the first start, `off` reads nothing.
//!
//! Kept ([`saved`]): consent and the once-per-checkout steps that finished with the
//! checkout (a git checkout's `.git/dcs/devcontainer/state.json`, shared by every
//! workspace on it; else `<config>/devcontainer/<key>/state.json`, [`env::key`]), the
//! extensions installed in the config volume (`<config>/devcontainer/<key>/state.json`).
//! Per workspace, `<config>/devcontainer/<workspace key>/lifecycle.log` (this start's
//! command output, [`log`]; the workspace key is the instance's folder name for an API
//! instance, so two workspaces on one checkout never share a log).
//!
//! # Layout
//! - [`read`]: finding and reading the file (no link followed, size-capped, UTF-8).
//! - [`env`]: the user's environment, what the file sets of it, keys and ids.
//! - [`saved`]: the persisted consent and finished steps, where they are kept, the locks.
//! - [`lifecycle`]: the steps in order, in the background.
//! - [`once`]: the once-per-checkout steps, one launcher on a checkout at a time.
//! - [`extensions`]: `customizations.vscode.extensions` installed by the IDE's binary.
//! - [`run`]: one command: spawned, logged, waited for.
//! - [`work`]: a running command as watched work for the idle clock.
//! - [`log`]: the bounded lifecycle log.
//! - [`notice`]: the notices' texts.
//! - [`status`]: the status report (`GET /_dcs/devcontainer`).
//! - [`routes`]: `/_dcs/devcontainer`, `…/allow`, `…/dismiss`, `…/log`, `…/file`.

pub mod env;
pub mod extensions;
pub mod lifecycle;
pub mod log;
pub mod notice;
pub mod once;
pub mod read;
pub mod routes;
pub mod run;
pub mod saved;
pub mod status;
pub mod work;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use dcs_model::devcontainer::{Command, Config, Mode, Step};
use dcs_model::LauncherEnv;
use tracing::{info, warn};

use crate::app::App;

pub use env::EnvChange;

/// The folder of the per-checkout state in the config volume.
pub const DIR: &str = "devcontainer";

/// One launcher's view of its checkout's `devcontainer.json`.
pub struct Devcontainer {
    mode: Mode,
    label: String,
    checkout_dir: PathBuf,
    config_dir: PathBuf,
    /// `devcontainer/<key>`, below the config volume.
    rel_dir: PathBuf,
    /// `${devcontainerId}`.
    id: String,
    /// The IDE kind installs extensions by id ([`crate::ide::program`]).
    installs_extensions: bool,
    inner: Mutex<Inner>,
    /// Serializes writes of `state.json`.
    saving: tokio::sync::Mutex<()>,
    log: Arc<log::Log>,
}

/// What is known and what happened, this start.
#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) found: Found,
    pub(crate) saved: saved::Saved,
    /// This start's steps (a step not in it has not run in this start).
    pub(crate) runs: HashMap<Step, Run>,
    /// The lifecycle runs now.
    pub(crate) running: bool,
    /// Where the state is kept (known once the checkout was read).
    pub(crate) places: Option<saved::Places>,
    /// This launcher holds the checkout's steps lock ([`once::hold`]).
    pub(crate) steps_locked: bool,
    /// The consent notice was dismissed (asked again next start).
    pub(crate) dismissed: bool,
    /// The IDE has started (the lifecycle may begin).
    pub(crate) ide_started: bool,
    /// The variables the IDE (and the `none` IDE's terminals) got at its start.
    pub(crate) ide_env: Option<Arc<EnvChange>>,
    /// The IDE's executable and folders, once it starts (kinds with their own server).
    pub(crate) ide_program: Option<crate::ide::program::IdeProgram>,
    /// This start's install of the extensions (`None`: not run in this start).
    pub(crate) extensions: Option<Run>,
}

/// The file, as read.
#[derive(Default)]
pub enum Found {
    /// Not read yet (or mode `off`).
    #[default]
    NotRead,
    /// No file.
    Missing,
    /// A file that cannot be used: a link, too large, not UTF-8, not JSONC, variables
    /// that expand past the budget.
    Unusable {
        /// Which of `FILES`.
        file: &'static str,
        /// Why (a parse error: `line L, column C: …`).
        error: String,
        /// Its bytes, when it could be read (`GET /_dcs/devcontainer/file`).
        text: Option<bytes::Bytes>,
    },
    /// A file read.
    Usable(Arc<Loaded>),
}

/// A file read and what applies of it.
#[derive(Debug)]
pub struct Loaded {
    /// Which of `FILES`.
    pub file: &'static str,
    /// Its bytes as read (`GET /_dcs/devcontainer/file`).
    pub text: bytes::Bytes,
    /// What it says.
    pub config: Config,
    /// The variables applied (refused names left out).
    pub env: Arc<EnvChange>,
    /// Names it sets that the platform sets ([`crate::user_env::is_withheld`]).
    pub refused: Vec<String>,
    /// The steps with their variables substituted, as they run.
    pub commands: Vec<(Step, Command)>,
    /// The extensions to install here: the file's, when the IDE kind installs them
    /// (else they are listed in `config.not_applied`).
    pub extensions: Vec<String>,
}

/// A step's run in this start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Run {
    Running,
    Done,
    Failed(run::Ended),
    Skipped,
}

impl Devcontainer {
    /// The state for the workspace `env` describes (nothing read yet).
    pub fn new(env: &LauncherEnv) -> Self {
        let checkout_dir = env.checkout_dir();
        let rel = checkout_dir
            .strip_prefix(&env.workspaces_dir)
            .unwrap_or(&checkout_dir)
            .to_path_buf();
        let config_dir = env.config_dir();
        let rel_dir = Path::new(DIR).join(env::key(&rel));
        // Its own log: an API instance of a repository shares the checkout, not the log.
        let workspace = match &env.instance {
            Some(id) => Path::new(dcs_model::env::INSTANCES_SUBDIR).join(id.as_str()),
            None => rel.clone(),
        };
        let log_rel = Path::new(DIR).join(env::key(&workspace)).join(log::FILE);
        let log = Arc::new(log::Log::new(config_dir.clone(), log_rel));
        Self {
            mode: env.devcontainer,
            label: env.label(),
            id: env::devcontainer_id(&rel),
            installs_extensions: crate::ide::program::installs_extensions(&env.ide),
            checkout_dir,
            config_dir,
            rel_dir,
            inner: Mutex::new(Inner::default()),
            saving: tokio::sync::Mutex::new(()),
            log,
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// What the IDE's terminals get on top of the user's environment: the file's
    /// variables if the IDE got them at its start.
    pub fn ide_env(&self) -> Option<Arc<EnvChange>> {
        self.lock().ide_env.clone()
    }

    /// The lifecycle log.
    pub fn log(&self) -> &Arc<log::Log> {
        &self.log
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the file applies now: mode `run`, or `ask` with the user's consent.
    pub(crate) fn allowed(&self, inner: &Inner) -> bool {
        match self.mode {
            Mode::Run => true,
            Mode::Ask => inner.saved.allowed,
            Mode::Off => false,
        }
    }

    /// The checkout's file, read off the runtime.
    async fn read(&self) -> Found {
        let (checkout, id) = (self.checkout_dir.clone(), self.id.clone());
        let extensions = self.installs_extensions;
        tokio::task::spawn_blocking(move || read::load_for(&checkout, &id, extensions))
            .await
            .unwrap_or_else(|e| Found::Unusable {
                file: dcs_model::devcontainer::FILES[0],
                error: format!("reading it failed: {e}"),
                text: None,
            })
    }

    /// Keeps the consent and finished steps known now (added to what another launcher
    /// on the checkout kept; the extensions too while holding the steps lock), and
    /// takes in what is kept.
    pub(crate) async fn save(&self) {
        let _one_at_a_time = self.saving.lock().await;
        let (mine, places, extensions) = {
            let inner = self.lock();
            (
                inner.saved.clone(),
                inner.places.clone(),
                inner.steps_locked,
            )
        };
        let Some(places) = places else {
            warn!("the devcontainer.json state is kept once the checkout was read");
            return;
        };
        let update = move || saved::update(&places, &mine, extensions);
        match tokio::task::spawn_blocking(update).await {
            Ok(Ok(kept)) => self.lock().saved.absorb(&kept),
            Ok(Err(error)) => warn!(%error, "cannot keep the devcontainer.json state"),
            Err(error) => warn!(%error, "keeping the devcontainer.json state failed"),
        }
    }
}

/// Reads the checkout's file (unless the mode is `off`) and what this checkout
/// allowed before; sets the notices. Returns the variables the IDE gets at its start:
/// the file's, when the checkout is allowed now.
pub async fn prepare(app: &App) -> Option<Arc<EnvChange>> {
    let dc = app.devcontainer();
    if dc.mode == Mode::Off {
        return None;
    }
    let found = dc.read().await;
    let (checkout, config, rel) = (
        dc.checkout_dir.clone(),
        dc.config_dir.clone(),
        dc.rel_dir.clone(),
    );
    let read = move || {
        let places = saved::places(&checkout, &config, &rel);
        let saved = saved::load(&places);
        (places, saved)
    };
    let (places, saved) = match tokio::task::spawn_blocking(read).await {
        Ok((places, Ok(saved))) => (Some(places), saved),
        Ok((places, Err(error))) => {
            warn!(%error, "cannot read the devcontainer.json state; asking again");
            (Some(places), saved::Saved::default())
        }
        Err(error) => {
            warn!(%error, "reading the devcontainer.json state failed");
            (None, saved::Saved::default())
        }
    };
    let ide_env = {
        let mut inner = dc.lock();
        inner.found = found;
        inner.saved = saved;
        inner.places = places;
        let allowed = dc.allowed(&inner);
        inner.ide_env = match &inner.found {
            Found::Usable(loaded) if allowed && !loaded.env.is_empty() => Some(loaded.env.clone()),
            _ => None,
        };
        match &inner.found {
            Found::Usable(loaded) => info!(file = loaded.file, allowed, "devcontainer.json read"),
            Found::Unusable { file, error, .. } => {
                warn!(file, %error, "devcontainer.json unusable")
            }
            _ => {}
        }
        inner.ide_env.clone()
    };
    notice::refresh(app);
    ide_env
}

/// Reads the file again, keeping consent, the steps run and the IDE's variables:
/// an allowed checkout's "Run again" runs the file as it is now (the user fixed it).
pub async fn reread(app: &App) {
    let dc = app.devcontainer();
    let found = dc.read().await;
    dc.lock().found = found;
    notice::refresh(app);
}

/// The IDE's executable and folders, before it starts: the extensions are
/// installed with them.
pub fn ide_program(app: &App, program: crate::ide::program::IdeProgram) {
    app.devcontainer().lock().ide_program = Some(program);
}

/// The IDE has started: the lifecycle begins if the checkout is allowed.
pub fn ide_started(app: &Arc<App>) {
    app.devcontainer().lock().ide_started = true;
    lifecycle::start(app);
}

#[cfg(test)]
mod tests;
