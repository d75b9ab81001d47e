//! [`LocalConfig`]: how the local runtime starts launchers, and the settings every
//! launcher is handed.

use std::path::PathBuf;
use std::time::Duration;

use dcs_model::LauncherEnv;

/// How the local runtime starts launchers.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Root of all local state: `workspaces/`, `state/`, `run/`, `logs/`.
    pub data_dir: PathBuf,
    /// The `dcs-launcher` binary.
    pub launcher_bin: PathBuf,
    /// Git base URL handed to launchers.
    pub git_base: String,
    /// File holding a git token for private repos (the path is passed, never the token).
    pub git_token_file: Option<PathBuf>,
    /// IDE kind.
    pub ide: String,
    /// An installed IDE binary the launcher runs as is (`DCS_IDE_BIN`).
    pub ide_bin: Option<PathBuf>,
    /// SIGTERM → SIGKILL grace when stopping a launcher.
    pub stop_grace: Duration,
    /// Upper bound on one start (clone included), independent of any request's wait.
    pub start_limit: Duration,
    /// Log filter for launchers.
    pub launcher_log: Option<String>,
    /// Limits of the launchers' clones and fetches.
    pub git: crate::config::GitLimits,
    /// Extra certificate authorities launchers trust (`DCS_EXTRA_CA_FILE`).
    pub extra_ca_file: Option<PathBuf>,
    /// The idle policy launchers apply (`DCS_IDLE_TIMEOUT`, …).
    pub idle: dcs_model::env::IdlePolicy,
    /// The command launchers run before a stop (`DCS_PRE_STOP`), if any.
    pub pre_stop: Option<String>,
    /// What launchers do with a checkout's `devcontainer.json` (`DCS_DEVCONTAINER`).
    pub devcontainer: dcs_model::devcontainer::Mode,
    /// The extension gallery for code-server (`DCS_EXTENSIONS_GALLERY`), if set.
    pub extensions_gallery: Option<dcs_model::gallery::Gallery>,
}

impl LocalConfig {
    /// Hands every launcher's settings of this configuration to `env` (what is the
    /// same for every workspace; [`super::spawn::Plan`] adds the workspace's own).
    pub fn apply(&self, env: &mut LauncherEnv) {
        env.git_base = self.git_base.clone();
        env.stop_grace_secs = self.stop_grace.as_secs().max(1);
        env.log = self.launcher_log.clone();
        self.git.apply(env);
        env.idle = self.idle;
        env.pre_stop = self.pre_stop.clone();
        env.devcontainer = self.devcontainer;
        env.extra_ca_file = self.extra_ca_file.clone();
        env.extensions_gallery = self.extensions_gallery.clone();
    }
}
