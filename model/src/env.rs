//! The launcher's contract with whoever starts it: a documented set of `DCS_*`
//! environment variables, nothing else.
//!
//! The local runtime sets them on a child process; the Knative runtime writes them
//! into the workspace container. [`LauncherEnv::to_vars`] and
//! [`LauncherEnv::from_lookup`] are inverse, so both sides agree by construction.
//! Secrets are never values here: the git token and the hop credential travel as
//! *file paths*, or as [`STDIN`] (`-`): then they arrive once on the launcher's stdin
//! ([`StdinSecrets`]).
//!
//! # Layout
//! - [`headers`]: what the proxy's requests and the launcher's answers carry.
//! - [`listen`]: [`Listen`], the TCP or unix-socket form of `DCS_LISTEN`.
//! - [`stdin`]: [`StdinSecrets`], what a launcher reads from its stdin at spawn.
//! - [`idle`]: [`IdlePolicy`]: idle timeout, warning, busy bound, an open tab's poll period.
//! - `read` and `vars`: [`LauncherEnv::from_lookup`] and [`LauncherEnv::to_vars`].
//!
//! `DCS_DEVCONTAINER` ([`DCS_DEVCONTAINER`], the [`Mode`] of a checkout's
//! `devcontainer.json`) is defined with its type in [`crate::devcontainer`].

use std::path::PathBuf;

use crate::{InstanceId, RepoRef, UserId};

pub use crate::devcontainer::{Mode, DCS_DEVCONTAINER};
pub use headers::{HOP_HEADER, READY_MAX_WAIT_MS, READY_WAIT_HEADER};
pub use idle::{IdlePolicy, DCS_BUSY_MAX, DCS_IDLE_TIMEOUT, DCS_IDLE_WARNING, DCS_TAB_POLL};
pub use listen::Listen;
pub use stdin::StdinSecrets;

/// `owner/repo` to check out. Required unless `DCS_INSTANCE` is set.
pub const DCS_REPO: &str = "DCS_REPO";
/// The instance id of a workspace made through the management API. Without
/// `DCS_REPO`, the workspace folder is `<DCS_WORKSPACES_DIR>/_instances/<id>`, made
/// empty on first start and never touched after.
pub const DCS_INSTANCE: &str = "DCS_INSTANCE";
/// Git base URL; the clone URL is `<base>/<owner>/<repo>.git`. Default `https://github.com`.
pub const DCS_GIT_BASE: &str = "DCS_GIT_BASE";
/// Root of the user's workspace volume; the repo lives at `<dir>/<owner>/<repo>`.
/// Default `/workspaces`.
pub const DCS_WORKSPACES_DIR: &str = "DCS_WORKSPACES_DIR";
/// Address the launcher's front listens on. Default `0.0.0.0:8080`; port 0 picks one.
/// `unix:<absolute path>` listens on a unix socket instead (a sandboxed launcher).
pub const DCS_LISTEN: &str = "DCS_LISTEN";
/// Optional file the launcher writes its bound address to once it listens
/// (atomically), so a starter using port 0 learns the port without a race.
pub const DCS_ADDR_FILE: &str = "DCS_ADDR_FILE";
/// IDE kind. Default `none` (the headless file manager).
pub const DCS_IDE: &str = "DCS_IDE";
/// Optional path of a file holding the operator's git token for private
/// repositories, or [`STDIN`]. Used only by the clone/fetch step, never offered to
/// the user's processes.
pub const DCS_GIT_TOKEN_FILE: &str = "DCS_GIT_TOKEN_FILE";
/// Path of a file holding this workspace's hop credential, or [`STDIN`]. Every
/// request the proxy sends carries it in [`HOP_HEADER`]; the launcher answers
/// nothing else (401) but the bare status of `/_dcs/ready`. Unset: the launcher
/// checks nothing (tests and tools only; runtimes always set it).
pub const DCS_HOP_SECRET_FILE: &str = "DCS_HOP_SECRET_FILE";
/// Optional path of the user's own git credentials (a JSON
/// [`CredentialFile`](crate::credentials::CredentialFile)), offered to git in the
/// workspace through `dcs-launcher credential-helper`. Read on every use, so a
/// change reaches running workspaces.
pub const DCS_CREDENTIALS_FILE: &str = "DCS_CREDENTIALS_FILE";
/// Set when a checkout container (Knative's init container `checkout`, running
/// `dcs-launcher checkout`) clones or fetches before the launcher starts: it writes
/// its outcome to this file, and the launcher takes the outcome from it instead of
/// checking out itself, so the workspace container never holds the git token.
pub const DCS_CHECKOUT_OUTCOME_FILE: &str = "DCS_CHECKOUT_OUTCOME_FILE";
/// The path prefix the proxy serves this workspace under, e.g. `/github/acme/hello`.
pub const DCS_BASE_PATH: &str = "DCS_BASE_PATH";
/// The user the workspace belongs to (informational: logs, git author defaults).
pub const DCS_USER: &str = "DCS_USER";
/// Seconds the launcher gives its IDE between SIGTERM and SIGKILL. Default 10.
pub const DCS_STOP_GRACE: &str = "DCS_STOP_GRACE";
/// Log filter (`tracing` env-filter syntax). Default `info`.
pub const DCS_LOG: &str = "DCS_LOG";
/// Seconds one clone or fetch may take in total before it is given up. Default 1800.
pub const DCS_GIT_TIMEOUT: &str = "DCS_GIT_TIMEOUT";
/// Bytes per second below which a clone or fetch counts as stalled (git's
/// `http.lowSpeedLimit`); sideband progress messages count. Default 1000; 0 disables
/// the low-speed check.
pub const DCS_GIT_LOW_SPEED_LIMIT: &str = "DCS_GIT_LOW_SPEED_LIMIT";
/// Seconds a clone or fetch may stay below `DCS_GIT_LOW_SPEED_LIMIT` before it is
/// given up (git's `http.lowSpeedTime`). Default 60.
pub const DCS_GIT_LOW_SPEED_TIME: &str = "DCS_GIT_LOW_SPEED_TIME";
/// An IDE already installed, used as is instead of downloading one: an absolute path
/// or a name looked up on `PATH` (e.g. `code-server`).
pub const DCS_IDE_BIN: &str = "DCS_IDE_BIN";
/// The IDE version to download (the original product's `--vscode-version`); each kind
/// has a pinned default. Ignored when `DCS_IDE_BIN` is set.
pub const DCS_IDE_VERSION: &str = "DCS_IDE_VERSION";
/// Base URL IDE downloads are fetched from instead of each kind's upstream (a mirror,
/// or a test server). `http://` or `https://`.
pub const DCS_IDE_DOWNLOAD_BASE: &str = "DCS_IDE_DOWNLOAD_BASE";
/// The per-instance config volume: IDE installs (per kind and version), user data,
/// settings and extensions. Default `<DCS_WORKSPACES_DIR>/.dcs`.
pub const DCS_CONFIG_DIR: &str = "DCS_CONFIG_DIR";
/// Optional PEM file of CA certificates to trust besides the ones the launcher carries
/// (Mozilla's) and the image's own store: a private git server's or IDE mirror's CA.
/// In Knative it is a Secret or ConfigMap mounted read-only.
pub const DCS_EXTRA_CA_FILE: &str = "DCS_EXTRA_CA_FILE";
/// Optional command the launcher runs (with `/bin/sh -c`, as the workspace's user, in
/// the workspace folder) when it is asked to stop, before it stops the IDE: e.g. to
/// flush a cache or commit work in progress. Bounded by the stop grace period
/// (`DCS_STOP_GRACE`): a command still running then is killed and the stop goes on.
/// Its output goes to the launcher's log.
pub const DCS_PRE_STOP: &str = "DCS_PRE_STOP";
/// Where the launcher reports its start-up progress while its pod is not routable
/// (Knative only): an `http://` URL of the proxy's `/_dcs/hop/progress/<name>`. Each
/// phase or progress change is POSTed there (at most about once a second, best
/// effort) with the hop credential in [`HOP_HEADER`]. Unset: nothing is pushed.
pub const DCS_PROGRESS_URL: &str = "DCS_PROGRESS_URL";
/// A sandboxed launcher's way out: the absolute path of a unix socket on which the
/// proxy serves an HTTP forward proxy for this workspace (its policy decides which
/// addresses it reaches). The launcher listens on a loopback port of its own network
/// namespace, carries each connection to the socket, and names that port in the
/// user's `HTTP_PROXY`/`HTTPS_PROXY`. Unset: the user's processes use the network
/// they have (none in a sandbox).
pub const DCS_EGRESS_SOCKET: &str = "DCS_EGRESS_SOCKET";
/// The extension gallery of code-server (its `EXTENSIONS_GALLERY`, JSON: see
/// [`crate::gallery`]) for the IDE and the extension installs of
/// `devcontainer.json`, if not the IDE's own default (Open VSX). Unset: whatever the
/// launcher's environment says.
pub const DCS_EXTENSIONS_GALLERY: &str = "DCS_EXTENSIONS_GALLERY";

/// Every variable of the contract, for documentation and for scrubbing.
pub const ALL: &[&str] = &[
    DCS_REPO,
    DCS_INSTANCE,
    DCS_GIT_BASE,
    DCS_WORKSPACES_DIR,
    DCS_LISTEN,
    DCS_ADDR_FILE,
    DCS_IDE,
    DCS_GIT_TOKEN_FILE,
    DCS_HOP_SECRET_FILE,
    DCS_CREDENTIALS_FILE,
    DCS_CHECKOUT_OUTCOME_FILE,
    DCS_BASE_PATH,
    DCS_USER,
    DCS_STOP_GRACE,
    DCS_LOG,
    DCS_GIT_TIMEOUT,
    DCS_GIT_LOW_SPEED_LIMIT,
    DCS_GIT_LOW_SPEED_TIME,
    DCS_IDE_BIN,
    DCS_IDE_VERSION,
    DCS_IDE_DOWNLOAD_BASE,
    DCS_CONFIG_DIR,
    DCS_EXTRA_CA_FILE,
    DCS_PRE_STOP,
    DCS_PROGRESS_URL,
    DCS_IDLE_TIMEOUT,
    DCS_IDLE_WARNING,
    DCS_BUSY_MAX,
    DCS_TAB_POLL,
    DCS_DEVCONTAINER,
    DCS_EGRESS_SOCKET,
    DCS_EXTENSIONS_GALLERY,
];

/// The value of a secret variable (`DCS_GIT_TOKEN_FILE`, `DCS_HOP_SECRET_FILE`) that
/// means "on the launcher's stdin" ([`StdinSecrets`]).
pub const STDIN: &str = "-";

/// Default git base.
pub const DEFAULT_GIT_BASE: &str = "https://github.com";
/// Default workspaces directory inside a container.
pub const DEFAULT_WORKSPACES_DIR: &str = "/workspaces";
/// Default listen address inside a container.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
/// Default IDE kind.
pub const DEFAULT_IDE: &str = "none";
/// IDE kinds a launcher of this version can run: `none` (file manager and web
/// terminal), `code-server`, `openvscode` (openvscode-server) and `vscode`
/// (Microsoft's VS Code Server for the web, through the `code` CLI's `serve-web`).
pub const IDE_KINDS: &[&str] = &["none", "code-server", "openvscode", "vscode"];
/// Name of the config directory inside the workspaces volume when `DCS_CONFIG_DIR`
/// is unset. Owners never start with `.`, so it never clashes with a checkout.
pub const DEFAULT_CONFIG_SUBDIR: &str = ".dcs";
/// Folder (inside the workspaces directory) of instances without a repository.
/// GitHub owners never contain `_`, so it never clashes with a checkout.
pub const INSTANCES_SUBDIR: &str = "_instances";
/// Default stop grace, seconds.
pub const DEFAULT_STOP_GRACE_SECS: u64 = 10;
/// Default total limit of one clone or fetch, seconds.
pub const DEFAULT_GIT_TIMEOUT_SECS: u64 = 1800;
/// Default low-speed limit of a clone or fetch, bytes per second.
pub const DEFAULT_GIT_LOW_SPEED_LIMIT: u64 = 1000;
/// Default time a clone or fetch may stay below the low-speed limit, seconds.
pub const DEFAULT_GIT_LOW_SPEED_SECS: u64 = 60;

/// The decoded contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LauncherEnv {
    /// Repository to check out, if any (at least one of `repo` and `instance` is set).
    pub repo: Option<RepoRef>,
    /// The management API's instance id, if the workspace is an instance.
    pub instance: Option<InstanceId>,
    /// Git base URL (no trailing slash).
    pub git_base: String,
    /// Root of the user's workspace volume.
    pub workspaces_dir: PathBuf,
    /// Where to listen.
    pub listen: Listen,
    /// Where to publish the bound address, if anywhere.
    pub addr_file: Option<PathBuf>,
    /// IDE kind name.
    pub ide: String,
    /// File holding the git token, if the repo needs one ([`STDIN`]: on stdin).
    pub git_token_file: Option<PathBuf>,
    /// File holding the hop credential ([`STDIN`]: on stdin); unset: no check.
    pub hop_secret_file: Option<PathBuf>,
    /// The user's own git credentials, if offered.
    pub credentials_file: Option<PathBuf>,
    /// Where a checkout container left its outcome, if one checked out.
    pub checkout_outcome_file: Option<PathBuf>,
    /// Path prefix the workspace is served under (`""` when served at the root).
    pub base_path: String,
    /// Owner of the workspace, if known.
    pub user: Option<UserId>,
    /// Grace period for stopping the IDE, seconds.
    pub stop_grace_secs: u64,
    /// Log filter, if set.
    pub log: Option<String>,
    /// Total limit of one clone or fetch, seconds (`DCS_GIT_TIMEOUT`).
    pub git_timeout_secs: u64,
    /// Bytes per second below which a transfer counts as stalled; 0 disables the
    /// check (`DCS_GIT_LOW_SPEED_LIMIT`).
    pub git_low_speed_limit: u64,
    /// How long a transfer may stay below `git_low_speed_limit`, seconds
    /// (`DCS_GIT_LOW_SPEED_TIME`).
    pub git_low_speed_secs: u64,
    /// An installed IDE binary to use as is, if any.
    pub ide_bin: Option<PathBuf>,
    /// The IDE version to install, if not the kind's pinned default.
    pub ide_version: Option<String>,
    /// Where IDE downloads come from, if not upstream (no trailing slash).
    pub ide_download_base: Option<String>,
    /// The config volume, if not the default under the workspaces directory.
    pub config_dir: Option<PathBuf>,
    /// CA certificates to trust besides the carried and the image's (`DCS_EXTRA_CA_FILE`).
    pub extra_ca_file: Option<PathBuf>,
    /// The command run before a stop (`DCS_PRE_STOP`), if any.
    pub pre_stop: Option<String>,
    /// Where start-up progress is pushed (`DCS_PROGRESS_URL`), if anywhere.
    pub progress_url: Option<String>,
    /// The idle policy (the `DCS_*` variables of [`IdlePolicy`]).
    pub idle: IdlePolicy,
    /// What the launcher does with the checkout's `devcontainer.json`
    /// (`DCS_DEVCONTAINER`).
    pub devcontainer: Mode,
    /// The proxy's forward proxy for this workspace (`DCS_EGRESS_SOCKET`), if any.
    pub egress_socket: Option<PathBuf>,
    /// The extension gallery (`DCS_EXTENSIONS_GALLERY`), if the operator set one.
    pub extensions_gallery: Option<crate::gallery::Gallery>,
}

impl LauncherEnv {
    /// A contract with defaults for everything but the repository.
    pub fn new(repo: RepoRef) -> Self {
        Self::for_instance(None, Some(repo))
    }

    /// A contract for the workspace `key` (its repository, or its instance id).
    pub fn new_for(key: &crate::WorkspaceKey) -> Self {
        match &key.kind {
            crate::WorkspaceKind::Repo(repo) => Self::new(repo.clone()),
            crate::WorkspaceKind::Instance(id) => Self::for_instance(Some(id.clone()), None),
        }
    }

    /// A contract for an instance; without a repository its folder starts empty.
    pub fn for_instance(instance: Option<InstanceId>, repo: Option<RepoRef>) -> Self {
        Self {
            repo,
            instance,
            git_base: DEFAULT_GIT_BASE.to_owned(),
            workspaces_dir: PathBuf::from(DEFAULT_WORKSPACES_DIR),
            listen: Listen::Tcp(
                DEFAULT_LISTEN
                    .parse()
                    .unwrap_or_else(|_| unreachable!("constant parses")),
            ),
            addr_file: None,
            ide: DEFAULT_IDE.to_owned(),
            git_token_file: None,
            hop_secret_file: None,
            credentials_file: None,
            checkout_outcome_file: None,
            base_path: String::new(),
            user: None,
            stop_grace_secs: DEFAULT_STOP_GRACE_SECS,
            log: None,
            git_timeout_secs: DEFAULT_GIT_TIMEOUT_SECS,
            git_low_speed_limit: DEFAULT_GIT_LOW_SPEED_LIMIT,
            git_low_speed_secs: DEFAULT_GIT_LOW_SPEED_SECS,
            ide_bin: None,
            ide_version: None,
            ide_download_base: None,
            config_dir: None,
            extra_ca_file: None,
            pre_stop: None,
            progress_url: None,
            idle: IdlePolicy::default(),
            devcontainer: Mode::Ask,
            egress_socket: None,
            extensions_gallery: None,
        }
    }

    /// The config volume: `DCS_CONFIG_DIR`, or `<workspaces_dir>/.dcs`.
    pub fn config_dir(&self) -> PathBuf {
        self.config_dir
            .clone()
            .unwrap_or_else(|| self.workspaces_dir.join(DEFAULT_CONFIG_SUBDIR))
    }

    /// The workspace folder: `<dir>/<owner>/<repo>` for a repository, else
    /// `<dir>/_instances/<id>`.
    pub fn checkout_dir(&self) -> PathBuf {
        match (&self.repo, &self.instance) {
            (Some(repo), _) => self.workspaces_dir.join(repo.owner()).join(repo.repo()),
            (None, Some(id)) => self.workspaces_dir.join(INSTANCES_SUBDIR).join(id.as_str()),
            // `from_lookup` refuses this; a hand-built contract gets a fixed folder.
            (None, None) => self.workspaces_dir.join(INSTANCES_SUBDIR).join("default"),
        }
    }

    /// What the workspace holds, for titles and logs: `owner/repo` or the instance id.
    pub fn label(&self) -> String {
        match (&self.repo, &self.instance) {
            (Some(repo), _) => repo.to_string(),
            (None, Some(id)) => id.to_string(),
            (None, None) => "workspace".to_owned(),
        }
    }

    /// Whether any secret arrives on stdin ([`StdinSecrets`]).
    pub fn reads_stdin(&self) -> bool {
        [&self.git_token_file, &self.hop_secret_file]
            .into_iter()
            .flatten()
            .any(|f| f.as_os_str() == STDIN)
    }
}

pub mod headers;
pub mod idle;
pub mod listen;
mod read;
pub mod stdin;
mod vars;

#[cfg(test)]
mod tests;
