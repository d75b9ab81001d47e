//! Configuration: command-line flags (each with an environment variable), then
//! validation as its own step that lists every problem at once.
//!
//! # Layout
//! - [`api`]: the management API's settings (admin groups, bounds, cookie security).
//! - [`auth`]: the sign-in flags ([`AuthArgs`]) and their validation.
//! - [`limits`]: slow clients, stalled workspaces, stuck git transfers.
//! - [`edge`]: own origins and hosts, per-user and total start limits.
//! - [`previews`]: preview isolation and the credentials that stop at the edge.
//! - [`hop`]: the hop secret and the local sandbox.
//! - [`idle`]: the idle policy handed to launchers.
//! - [`devcontainer`]: what launchers do with a checkout's `devcontainer.json`.
//! - [`egress`]: where sandboxed local workspaces may connect.
//! - [`ide`]: the IDE's kind and the gallery of its extensions.
//! - `git`: where repositories come from (`--git-base`, `--git-token-file`).

pub mod api;
pub mod auth;
mod defaults;
pub mod devcontainer;
pub mod edge;
pub mod egress;
mod git;
pub mod hop;
pub mod ide;
pub mod idle;
pub mod limits;
pub mod log;
pub mod previews;

pub use api::{ApiSettings, CookieSecurity};
use defaults::{
    absolute, absolute_unless_bare, default_data_dir, default_launcher_bin, is_executable,
};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::policy::Policy;
use crate::runtime::knative::{KnativeArgs, KnativeConfig, LauncherSettings};
use clap::{Args, ValueEnum};

pub use self::auth::{AuthArgs, AuthConfig, AuthMode};
pub use self::edge::{Edge, EdgeArgs};
pub use self::limits::{GitLimits, LimitArgs, Limits};
pub use self::previews::{PreviewArgs, Previews};

/// Where workspaces run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeKind {
    /// A `dcs-launcher` child process per workspace on this machine.
    Local,
    /// A Knative Service per workspace (in-cluster config or `KUBECONFIG`).
    Knative,
}

/// `dcs-proxy serve` flags.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "DCS_PROXY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve `/metrics` on this address only (the main listener then answers it
    /// with 404), so the scrape port is not public through the route. Without it,
    /// the main listener serves `/metrics`.
    #[arg(long, env = "DCS_PROXY_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Where workspaces run.
    #[arg(long, env = "DCS_PROXY_RUNTIME", value_enum, default_value = "local")]
    pub runtime: RuntimeKind,
    /// Sign-in: `--auth` and the flags each mode needs.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// The user every request belongs to with `--auth none` [default: $USER, else "dev"].
    #[arg(long, env = "DCS_PROXY_USER")]
    pub user: Option<String>,
    /// Root of local state and workspaces [default: $XDG_DATA_HOME/dcs or ~/.local/share/dcs].
    #[arg(long, env = "DCS_PROXY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Git base URL: repositories are cloned from `<git-base>/<owner>/<repo>.git`.
    #[arg(long, env = "DCS_PROXY_GIT_BASE", default_value = "https://github.com")]
    pub git_base: String,
    /// File holding a git token for private repositories (used via git's credential
    /// callback; never put in a URL, argument or log).
    #[arg(long, env = "DCS_PROXY_GIT_TOKEN_FILE")]
    pub git_token_file: Option<PathBuf>,
    /// A PEM file of certificate authorities trusted besides Mozilla's and the
    /// system's (a private git server's, a mirror's): by the proxy's repository
    /// check in every mode, and by local launchers. Knative mode mounts one into
    /// workspaces with `--knative-extra-ca-secret`/`-configmap`.
    #[arg(long, env = "DCS_PROXY_EXTRA_CA_FILE")]
    pub extra_ca_file: Option<PathBuf>,
    /// The `dcs-launcher` binary [default: next to dcs-proxy, else on PATH].
    #[arg(long, env = "DCS_PROXY_LAUNCHER_BIN")]
    pub launcher_bin: Option<PathBuf>,
    /// IDE to run in workspaces.
    #[arg(long, env = "DCS_PROXY_IDE", default_value = "none")]
    pub ide: String,
    /// An IDE already installed (a path, or a name on PATH) for local workspaces to
    /// run as is, e.g. code-server from the npm registry.
    #[arg(long, env = "DCS_PROXY_IDE_BIN")]
    pub ide_bin: Option<PathBuf>,
    /// The gallery of the IDE's extensions.
    #[command(flatten)]
    pub gallery: ide::GalleryArgs,
    /// The idle policy: timeout, warning, busy limit, an open tab's poll.
    #[command(flatten)]
    pub idle: idle::IdleArgs,
    /// What workspaces do with a checkout's `devcontainer.json`.
    #[command(flatten)]
    pub devcontainer: devcontainer::DevcontainerArgs,
    /// Where sandboxed local workspaces may connect.
    #[command(flatten)]
    pub egress: egress::EgressArgs,
    /// How long a request waits for a cold workspace before a 504 page.
    #[arg(long, env = "DCS_PROXY_START_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub start_timeout: Duration,
    /// Between SIGTERM and SIGKILL when stopping a workspace.
    #[arg(long, env = "DCS_PROXY_STOP_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub stop_grace: Duration,
    /// A command every workspace runs when it is stopped, before its IDE stops
    /// (`/bin/sh -c`, in the checkout, as the workspace's user, within the stop
    /// grace): commit work in progress, flush a cache. Handed to launchers as
    /// `DCS_PRE_STOP`.
    #[arg(long, env = "DCS_PROXY_PRE_STOP")]
    pub pre_stop: Option<String>,
    /// Log filter (tracing env-filter syntax).
    #[arg(long, env = "DCS_PROXY_LOG", default_value = "info")]
    pub log: String,
    /// The log's format (`--log-format text|json`).
    #[command(flatten)]
    pub logging: log::LogArgs,
    /// Log filter handed to launchers.
    #[arg(long, env = "DCS_PROXY_LAUNCHER_LOG")]
    pub launcher_log: Option<String>,
    /// Repository access policy (YAML, see docs/policy.md) [default: every signed-in
    /// user may open every repository].
    #[arg(long, env = "DCS_PROXY_POLICY")]
    pub policy: Option<PathBuf>,
    /// Members of this group may act for other users in the management API
    /// (comma-separated or repeated). With `--auth none` the local user is an admin.
    #[arg(
        long = "admin-group",
        env = "DCS_PROXY_ADMIN_GROUP",
        value_delimiter = ','
    )]
    pub admin_groups: Vec<String>,
    /// Let people other than an instance's owner (those it is shared with, admin
    /// groups) open it. Its content is served on this proxy's own origin, so the
    /// owner's code then runs in their browser with their sign-in: it can act as
    /// them in their own workspaces and the API. Off: only the owner opens it.
    #[arg(long, env = "DCS_PROXY_DANGEROUS_ALLOW_SHARED_INSTANCES")]
    pub dangerous_allow_shared_instances: bool,
    /// Largest CPU request or limit an API instance may ask for (a quantity: `8`, `500m`).
    #[arg(long, env = "DCS_PROXY_MAX_CPU", default_value = "8")]
    pub max_cpu: String,
    /// Largest memory request or limit an API instance may ask for (`32Gi`).
    #[arg(long, env = "DCS_PROXY_MAX_MEMORY", default_value = "32Gi")]
    pub max_memory: String,
    /// Largest workspace volume an API instance may ask for (`200Gi`).
    #[arg(long, env = "DCS_PROXY_MAX_STORAGE", default_value = "200Gi")]
    pub max_storage: String,
    /// Slow clients, stalled workspaces and stuck git transfers.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Own origins and hosts; start limits.
    #[command(flatten)]
    pub edge: EdgeArgs,
    /// Preview isolation; credentials stripped at the edge.
    #[command(flatten)]
    pub previews: PreviewArgs,
    /// Knative runtime settings (`--runtime knative`).
    #[command(flatten)]
    pub knative: KnativeArgs,
    /// The hop secret and the local sandbox.
    #[command(flatten)]
    pub hop: hop::HopArgs,
    /// Validate the configuration, print the result and exit.
    #[arg(long)]
    pub check_config: bool,
}

/// A validated configuration with every default resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// The separate `/metrics` address, if any.
    pub metrics_listen: Option<SocketAddr>,
    /// Runtime kind.
    pub runtime: RuntimeKind,
    /// The sign-in mode and what it needs.
    pub auth: AuthConfig,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Git base URL, no trailing slash.
    pub git_base: String,
    /// Git token file.
    pub git_token_file: Option<PathBuf>,
    /// Extra certificate authorities for local launchers.
    pub extra_ca_file: Option<PathBuf>,
    /// Launcher binary.
    pub launcher_bin: PathBuf,
    /// IDE kind.
    pub ide: String,
    /// Installed IDE binary, if given.
    pub ide_bin: Option<PathBuf>,
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// The idle policy handed to launchers: timeout, warning, busy limit.
    pub idle_policy: dcs_model::env::IdlePolicy,
    /// Start timeout.
    pub start_timeout: Duration,
    /// Stop grace.
    pub stop_grace: Duration,
    /// The command launchers run before a stop (`--pre-stop`).
    pub pre_stop: Option<String>,
    /// What launchers do with a checkout's `devcontainer.json` (`--devcontainer`).
    pub devcontainer: dcs_model::devcontainer::Mode,
    /// Where sandboxed local workspaces may connect (`--sandbox-egress*`).
    pub egress: crate::egress::Policy,
    /// The gallery of code-server's extensions (`--extensions-gallery`), if set.
    pub extensions_gallery: Option<dcs_model::gallery::Gallery>,
    /// Launcher log filter.
    pub launcher_log: Option<String>,
    /// Who may open which repositories.
    pub policy: Policy,
    /// Knative settings, with `--runtime knative`.
    pub knative: Option<KnativeConfig>,
    /// Management API settings.
    pub api: ApiSettings,
    /// The origin users open (`--public-url`), in every sign-in mode.
    pub public_url: Option<crate::auth::authentik::PublicUrl>,
    /// Limits on slow peers.
    pub limits: Limits,
    /// The edge's own rules.
    pub edge: Edge,
    /// Preview isolation and stripped credentials.
    pub previews: Previews,
    /// The hop secret, and the sandbox of local workspaces.
    pub hop: hop::Hop,
}

impl ServeArgs {
    /// Resolves defaults and checks everything, returning every problem found.
    pub fn validate(&self) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();
        let auth = self
            .auth
            .validate(self.listen, self.user.as_deref(), &mut problems);

        let git_base = git::check(&self.git_base, self.git_token_file.as_ref(), &mut problems);
        if let Some(f) = &self.extra_ca_file {
            if let Err(e) = std::fs::read(f) {
                problems.push(format!("--extra-ca-file {}: {e}", f.display()));
            }
        }
        ide::check_kind(&self.ide, &mut problems);
        let extensions_gallery = self.gallery.validate(&mut problems);
        for (flag, d, min) in [
            (
                "--start-timeout",
                self.start_timeout,
                Duration::from_secs(1),
            ),
            ("--stop-grace", self.stop_grace, Duration::from_millis(100)),
        ] {
            if d < min {
                problems.push(format!(
                    "{flag} must be at least {}",
                    humantime::format_duration(min)
                ));
            }
        }
        // The origin users open, whatever the sign-in mode (authentik parses its own).
        let public_url = match &auth {
            Some(AuthConfig::Authentik(a)) => Some(a.public_url.clone()),
            _ => self.auth.public_url.as_deref().and_then(|u| {
                crate::auth::authentik::PublicUrl::parse(u)
                    .map_err(|why| problems.push(format!("--public-url: {why}")))
                    .ok()
            }),
        };
        let limits = self.limits.validate(&mut problems);
        let idle = self.idle.validate(&mut problems);
        let devcontainer = self.devcontainer.validate(&mut problems);
        let edge = self.edge.validate(&mut problems);
        let previews = self.previews.validate(&mut problems);
        log::check(self, &mut problems);
        let launcher_bin = absolute(
            self.launcher_bin
                .clone()
                .unwrap_or_else(default_launcher_bin),
        );
        let local = self.runtime == RuntimeKind::Local;
        if local && !is_executable(&launcher_bin) {
            problems.push(format!(
                "launcher binary {} is not an executable file; build it (cargo build --bins) or pass --launcher-bin",
                launcher_bin.display()
            ));
        }
        let data_dir = absolute(self.data_dir.clone().unwrap_or_else(default_data_dir));
        if let (true, Err(e)) = (local, std::fs::create_dir_all(&data_dir)) {
            problems.push(format!("--data-dir {}: {e}", data_dir.display()));
        }
        let ide_bin = self.ide_bin.clone().map(absolute_unless_bare);
        let hop = self.hop.validate(
            &hop::Context {
                local,
                multi_user: !matches!(auth, Some(AuthConfig::None { .. })),
                data_dir: &data_dir,
                secrets: [
                    &self.git_token_file,
                    &self.auth.jwt_secret_file,
                    &self.previews.preview_secret_file,
                ]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
                ide_bin: ide_bin.as_deref(),
            },
            &mut problems,
        );
        let sandboxed = hop.as_ref().is_some_and(|h| h.sandbox.is_some());
        let egress = self.egress.validate(sandboxed, &mut problems);
        let knative = match self.runtime {
            RuntimeKind::Local => None,
            RuntimeKind::Knative => match self.knative.validate() {
                Ok(mut k) => {
                    k.hop = hop.as_ref().map(|h| h.key.clone());
                    k.launcher = LauncherSettings {
                        git_base: git_base.clone(),
                        ide: self.ide.clone(),
                        git_token_file: self.git_token_file.clone(),
                        stop_grace_secs: self.stop_grace.as_secs().max(1),
                        log: self.launcher_log.clone(),
                        git: limits.git,
                        idle,
                        pre_stop: self.pre_stop.clone(),
                        devcontainer,
                        extensions_gallery: extensions_gallery.clone(),
                    };
                    Some(k)
                }
                Err(errs) => {
                    problems.extend(errs);
                    None
                }
            },
        };
        let api = self.api(auth.as_ref(), &mut problems);
        let policy = match &self.policy {
            None => Some(Policy::allow_all()),
            Some(path) => Policy::load(path)
                .map_err(|errs| problems.extend(errs))
                .ok(),
        };
        match (problems.is_empty(), auth, policy, hop) {
            (true, Some(auth), Some(policy), Some(hop)) => Ok(Config {
                listen: self.listen,
                metrics_listen: self.metrics_listen,
                runtime: self.runtime,
                auth,
                data_dir,
                git_base,
                git_token_file: self.git_token_file.clone().map(absolute),
                extra_ca_file: self.extra_ca_file.clone().map(absolute),
                launcher_bin,
                ide: self.ide.clone(),
                ide_bin,
                idle_timeout: self.idle.idle_timeout,
                idle_policy: idle,
                start_timeout: self.start_timeout,
                stop_grace: self.stop_grace,
                pre_stop: self.pre_stop.clone().filter(|c| !c.trim().is_empty()),
                devcontainer,
                egress,
                extensions_gallery,
                launcher_log: self.launcher_log.clone(),
                policy,
                knative,
                api,
                public_url,
                limits,
                edge,
                previews,
                hop,
            }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests;
