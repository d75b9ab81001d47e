//! The command line: global flags (server, token, output format) and one
//! subcommand per API operation, parsed with clap's derive API.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

/// Where `make run` serves the proxy.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// dcs: create, list, open and delete devcontainer-serverless instances.
#[derive(Debug, Parser)]
#[command(name = "dcs", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Base URL of the dcs proxy.
    #[arg(long, global = true, env = "DCS_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// API token, sent as `Authorization: Bearer <token>` (never printed). On the
    /// command line other users see it (`ps`) and shell history keeps it: prefer
    /// --token-file or DCS_TOKEN.
    #[arg(long, global = true, env = "DCS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Read the API token from this file (its content, trimmed) instead of --token.
    #[arg(long, global = true, env = "DCS_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the API token's flags came from: the command line, the environment or
/// nowhere (`None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenSources {
    /// `--token` / `DCS_TOKEN`.
    pub token: Option<ValueSource>,
    /// `--token-file` / `DCS_TOKEN_FILE`.
    pub token_file: Option<ValueSource>,
}

impl Cli {
    /// The command line of this process (clap exits on errors and `--help`), with
    /// where the token came from.
    pub fn parse_with_sources() -> (Self, TokenSources) {
        Self::try_parse_with_sources(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// `args` parsed, with where the token came from.
    pub fn try_parse_with_sources<I, T>(args: I) -> Result<(Self, TokenSources), clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Self::command().try_get_matches_from(args)?;
        let sources = TokenSources {
            token: matches.value_source("token"),
            token_file: matches.value_source("token_file"),
        };
        Ok((Self::from_arg_matches(&matches)?, sources))
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// The API's JSON, for scripts.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an instance; prints the URL to open it (with its access token, shown once).
    Create(Box<CreateArgs>),
    /// List instances (yours, or another user's with --user-id).
    List {
        /// Whose instances (default: yours).
        #[arg(long, conflicts_with = "all")]
        user_id: Option<String>,
        /// Every user's (admin groups only).
        #[arg(long)]
        all: bool,
    },
    /// Show one instance.
    Get(InstanceRef),
    /// Delete an instance and forget its stored token.
    Delete(InstanceRef),
    /// Start a stopped instance (as opening its link does); --wait until it is ready.
    Start {
        /// Which instance.
        #[command(flatten)]
        instance: InstanceRef,
        /// Waiting.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Stop an instance now (its files are kept; opening its link wakes it).
    Stop(InstanceRef),
    /// Share an instance: who besides you (and admins) may open its link. Replaces
    /// the current sharing; with neither flag, shares it with nobody.
    Share {
        /// Which instance.
        #[command(flatten)]
        instance: InstanceRef,
        /// A user id to share it with (repeatable).
        #[arg(long = "user", value_name = "USER_ID")]
        users: Vec<String>,
        /// A group whose members may open it (repeatable).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// Show an instance's status; --wait polls until it is ready.
    Status {
        /// Which instance.
        #[command(flatten)]
        instance: InstanceRef,
        /// Waiting.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Keep an instance running for a while whatever its use (declared work), at most
    /// the proxy's --busy-max; `--for 0` ends a keep-alive.
    Keepalive {
        /// Which instance.
        #[command(flatten)]
        instance: InstanceRef,
        /// How long: `2h`, `90m`, `30s`.
        #[arg(long = "for", value_name = "DURATION", value_parser = crate::idle::parse_for)]
        for_s: u64,
    },
    /// Show a user's persistent workspace volume (default: yours).
    Workspace {
        /// Whose volume (default: yours, from `GET /api/me`).
        #[arg(long)]
        user_id: Option<String>,
    },
    /// Open an instance in the browser with its stored access token.
    Open {
        /// Which instance.
        #[command(flatten)]
        instance: InstanceRef,
        /// Print the URL instead of launching a browser.
        #[arg(long)]
        print: bool,
    },
    /// Show who the server thinks you are.
    Whoami,
    /// Your own git credentials, offered to git in your workspaces (e.g. so `git
    /// push` works); tokens are never shown again once set.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
}

/// `dcs credentials …`.
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Store (or replace) the credential for a git host. The token is read from
    /// standard input (first line) or --git-token-file, never from the command line.
    Set {
        /// The git host, e.g. `github.com` or `git.example.com:8443`.
        host: String,
        /// The user name git sends with the token (`x-access-token` for GitHub
        /// tokens, `oauth2` for GitLab's).
        #[arg(long)]
        username: String,
        /// Read the git token from this file instead of standard input (the
        /// global --token-file is the API token's).
        #[arg(long, value_name = "PATH")]
        git_token_file: Option<PathBuf>,
    },
    /// List the hosts you stored credentials for (and their user names).
    List,
    /// Delete the credential for a git host.
    Delete {
        /// The git host.
        host: String,
    },
}

/// An instance id, as `--instance-id ID` or positionally.
#[derive(Debug, Clone, Args)]
#[group(id = "instance", required = true, multiple = false)]
pub struct InstanceRef {
    /// The instance id.
    #[arg(value_name = "INSTANCE_ID")]
    id: Option<String>,
    /// The instance id.
    #[arg(long = "instance-id", value_name = "ID")]
    instance_id: Option<String>,
}

impl InstanceRef {
    /// The id, however it was given.
    pub fn id(&self) -> &str {
        self.instance_id
            .as_deref()
            .or(self.id.as_deref())
            .unwrap_or_default()
    }
}

/// The longest `--timeout`: a week (a start takes minutes; the bound keeps the
/// deadline a time the clock can hold).
pub const MAX_WAIT_SECS: u64 = 7 * 24 * 3600;

/// `--wait` and `--timeout`.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Poll the status until the instance is ready (exit 0), failed (5) or the timeout passes (6).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, seconds (at most a week).
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(0..=MAX_WAIT_SECS))]
    pub timeout: u64,
}

/// `dcs create` flags; each maps to a `CreateInstance` field.
#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Whose instance (default: yours; others need an admin group).
    #[arg(long)]
    pub user_id: Option<String>,
    /// Repository to check out: `owner/repo` or a link to it on the server's git
    /// base (`https://<host>/owner/repo`, `…/tree/main`, `….git`), read by the server.
    #[arg(long)]
    pub repo: Option<String>,
    /// Container image the workspace runs in.
    #[arg(long)]
    pub base_image: Option<String>,
    /// IDE kind (e.g. code-server, none).
    #[arg(long)]
    pub ide: Option<String>,
    /// IDE version.
    #[arg(long, visible_alias = "ide-version", value_name = "VERSION")]
    pub vscode_version: Option<String>,
    /// Size of your workspace volume (e.g. 20Gi).
    #[arg(long, value_name = "QUANTITY")]
    pub storage: Option<String>,
    /// CPU request (e.g. 500m).
    #[arg(long, value_name = "QUANTITY")]
    pub cpu_request: Option<String>,
    /// CPU limit (e.g. 2).
    #[arg(long, value_name = "QUANTITY")]
    pub cpu_limit: Option<String>,
    /// Memory request (e.g. 1Gi).
    #[arg(long, value_name = "QUANTITY")]
    pub memory_request: Option<String>,
    /// Memory limit (e.g. 4Gi).
    #[arg(long, value_name = "QUANTITY")]
    pub memory_limit: Option<String>,
    /// Environment variable for the workspace (repeatable). On the command line
    /// other users see it (`ps`): put secrets in --env-file.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Environment variables for the workspace from a file (`-`: standard input):
    /// one KEY=VALUE a line, the value taken as is; blank lines and `#` lines skipped.
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// A user id who may open it besides you (repeatable).
    #[arg(long = "share-with-user", value_name = "USER_ID")]
    pub share_with_users: Vec<String>,
    /// A group whose members may open it (repeatable).
    #[arg(long = "share-with-group", value_name = "GROUP")]
    pub share_with_groups: Vec<String>,
    /// Waiting.
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// `KEY=VALUE` (the value may contain `=`); the error never repeats the value.
pub fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err("expected KEY=VALUE".to_owned()),
    }
}

#[cfg(test)]
mod tests;
