//! [`LauncherSettings`]: the settings shared with local mode that every workspace's
//! launcher is handed (the common configuration fills them, not `--knative-*` flags).

use std::path::PathBuf;

/// Settings shared with local mode, handed to every launcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LauncherSettings {
    /// Git base URL (no trailing slash).
    pub git_base: String,
    /// IDE kind.
    pub ide: String,
    /// A file on the proxy holding the git token; copied into a per-user Secret.
    pub git_token_file: Option<PathBuf>,
    /// The launcher's grace for its IDE, seconds.
    pub stop_grace_secs: u64,
    /// The launcher's log filter.
    pub log: Option<String>,
    /// Limits of the launcher's clones and fetches.
    pub git: crate::config::GitLimits,
    /// The idle policy the launcher applies.
    pub idle: dcs_model::env::IdlePolicy,
    /// The command the launcher runs before a stop (`DCS_PRE_STOP`), if any.
    pub pre_stop: Option<String>,
    /// What the launcher does with the checkout's `devcontainer.json`
    /// (`DCS_DEVCONTAINER`).
    pub devcontainer: dcs_model::devcontainer::Mode,
    /// The extension gallery for code-server (`DCS_EXTENSIONS_GALLERY`), if set.
    pub extensions_gallery: Option<dcs_model::gallery::Gallery>,
}

impl Default for LauncherSettings {
    fn default() -> Self {
        Self {
            git_base: dcs_model::env::DEFAULT_GIT_BASE.to_owned(),
            ide: dcs_model::env::DEFAULT_IDE.to_owned(),
            git_token_file: None,
            stop_grace_secs: dcs_model::env::DEFAULT_STOP_GRACE_SECS,
            log: None,
            git: crate::config::GitLimits::default(),
            idle: dcs_model::env::IdlePolicy::default(),
            pre_stop: None,
            devcontainer: dcs_model::devcontainer::Mode::default(),
            extensions_gallery: None,
        }
    }
}
