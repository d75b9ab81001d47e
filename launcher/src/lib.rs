//! `dcs-launcher`: PID 1 of a workspace container (or a local child process of the
//! proxy). It checks the repository out, starts and supervises the IDE, and serves
//! the workspace's front: `/_dcs/ready`, `/_dcs/ws-echo`, `/_dcs/terminal`,
//! `/_dcs/files/…`, port previews under `/ports/<n>/` and, for every other path,
//! the IDE (see `docs/ides.md`).
//!
//! [`run`] is the seam: give it the decoded [`LauncherEnv`](dcs_model::LauncherEnv), a
//! bound listener and a shutdown future.
//!
//! # Layout
//! - [`launch`]: [`run`], the launcher's life: serve, start up, shut down.
//! - [`serve`]: the accept loop and per-connection HTTP/1.1 with upgrades.
//! - [`unix_front`]: the unix-socket form of the front (a sandboxed launcher).
//! - [`hop`]: the hop check: only the proxy (with this workspace's credential) is
//!   answered.
//! - [`secrets`]: the hop credential and the git token, from files or stdin.
//! - [`front`]: routing between launcher endpoints and the IDE.
//! - [`app`]: [`App`](app::App), the state handlers share.
//! - [`activity`]: the idle clock: whether anybody uses the workspace, `/_dcs/idle`.
//! - [`ready`]: start-up phases and the `/_dcs/ready` report.
//! - [`startup`]: checkout, then IDE start.
//! - [`background`]: work nobody waits for (the rest of a shallow clone's history,
//!   the certificate folder for the next start) at a lower CPU priority.
//! - [`checkout`]: clone or fetch with git2 in a child process, within the git
//!   limits, one launcher per checkout folder at a time; never touches the user's
//!   files.
//! - [`checkout_container`]: `dcs-launcher checkout`, the checkout done before the
//!   launcher starts (Knative's init container; a sandbox's step), with the token.
//! - [`devcontainer`]: the checkout's `devcontainer.json`: consent, its variables,
//!   its lifecycle commands, `/_dcs/devcontainer`.
//! - [`egress`]: a sandbox's way out: a loopback port carried to the proxy's egress
//!   socket, named in the user's `HTTP_PROXY`/`HTTPS_PROXY`.
//! - [`checkout_history`]: `dcs-launcher checkout --history`, the rest of a shallow
//!   checkout's history, fetched with the token beside the running workspace.
//! - [`credential_helper`]: the git credential helper offering the user's own
//!   credentials.
//! - [`notices`]: what the user should know (e.g. updates are not fetched), shown
//!   as a banner in every page, VS Code's included.
//! - [`files`]: the file API under `/_dcs/files/`.
//! - [`ws_echo`]: the `/_dcs/ws-echo` WebSocket diagnostic.
//! - [`ide`]: the [`Ide`](ide::Ide) seam and every IDE kind.
//! - [`supervise`]: the IDE process: own process group, restart with backoff, stop.
//! - [`pre_stop`]: `DCS_PRE_STOP`, the command run on a stop request before the IDE
//!   stops, bounded by the grace period.
//! - [`forward`]: streaming HTTP and WebSocket forwarding to a loopback server.
//! - [`reap`]: reaping orphans (PID 1 or child subreaper) and ending the kill
//!   domain at stop.
//! - [`ports`]: port previews under `/ports/<n>/`.
//! - [`packages`]: the image's package manager and what the IDE needs from it.
//! - [`trust`]: the roots every TLS connection verifies against (Mozilla's, the
//!   image's, `DCS_EXTRA_CA_FILE`), for libgit2 and for downloads alike.
//! - [`user_env`]: what the user's processes get of the launcher's environment.
//! - [`terminal`]: `/_dcs/terminal`, a shell on a PTY over a WebSocket.
//! - [`session`]: a terminal session's parent and kill domain.
//! - [`spelling`]: the repository spelled as its folder on the volume already is.
//! - [`pages`]: HTML/JSON responses for people, and error rescue.
//! - [`body`]: the response body type.
//! - [`error`]: the crate's [`Error`] and [`FailureKind`].
//! - [`failed_start`]: under Knative, a failed start ends the launcher with its reason.

pub mod activity;
pub mod app;
pub mod background;
pub mod body;
pub mod checkout;
pub mod checkout_container;
pub mod checkout_history;
pub mod credential_helper;
pub mod devcontainer;
pub mod egress;
pub mod error;
pub mod failed_start;
pub mod files;
pub mod forward;
pub mod front;
pub mod hop;
pub mod ide;
pub mod launch;
pub mod notices;
pub mod packages;
pub mod pages;
pub mod ports;
pub mod pre_stop;
pub mod progress_push;
pub mod ready;
pub mod reap;
pub mod secrets;
pub mod serve;
pub mod session;
pub mod spelling;
pub mod startup;
pub mod supervise;
pub mod terminal;
pub mod trust;
pub mod unix_front;
pub mod user_env;
pub mod ws_echo;

#[cfg(test)]
mod fixtures;

pub use error::{Error, FailureKind, Result};
pub use launch::{run, Stopped};
pub use ready::{Phase, ReadyReport};
