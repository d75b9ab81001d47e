//! What workspaces do with a checkout's `devcontainer.json` (`--devcontainer`):
//! the [`Mode`] handed to every launcher as `DCS_DEVCONTAINER`, local or Knative,
//! for repositories and API instances alike.

use clap::Args;

use dcs_model::devcontainer::Mode;

/// The `--devcontainer` flag.
#[derive(Debug, Clone, Args)]
pub struct DevcontainerArgs {
    /// What a workspace does with its checkout's `devcontainer.json` (its
    /// variables and lifecycle commands): `ask` (a notice in the IDE asks the
    /// workspace's user before anything of it applies), `run` (applied from the
    /// first start: every repository opened is trusted) or `off` (not read).
    #[arg(long, env = "DCS_PROXY_DEVCONTAINER", default_value = "ask")]
    pub devcontainer: String,
}

impl DevcontainerArgs {
    /// The mode, or a problem naming the flag and every mode (then the default).
    pub fn validate(&self, problems: &mut Vec<String>) -> Mode {
        self.devcontainer.parse().unwrap_or_else(|_| {
            problems.push(format!(
                "--devcontainer {:?} is not known; choose one of: {}",
                self.devcontainer,
                Mode::NAMES.join(", ")
            ));
            Mode::default()
        })
    }
}
