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
//! - [`front`]: routing between launcher endpoints and the IDE.
//! - [`app`]: [`App`](app::App), the state handlers share.
//! - [`ready`]: start-up phases and the `/_dcs/ready` report.
//! - [`startup`]: checkout, then IDE start.
//! - [`checkout`]: clone or fetch with git2 in a child process, within the git
//!   limits, one launcher per checkout folder at a time; never touches the user's
//!   files.
//! - [`notices`]: what the user should know (e.g. updates are not fetched), shown
//!   as a banner in every page, VS Code's included.
//! - [`files`]: the file API under `/_dcs/files/`.
//! - [`ws_echo`]: the `/_dcs/ws-echo` WebSocket diagnostic.
//! - [`ide`]: the [`Ide`](ide::Ide) seam and every IDE kind.
//! - [`supervise`]: the IDE process: own process group, restart with backoff, stop.
//! - [`forward`]: streaming HTTP and WebSocket forwarding to a loopback server.
//! - [`reap`]: reaping orphans when the launcher is PID 1.
//! - [`ports`]: port previews under `/ports/<n>/`.
//! - [`packages`]: the image's package manager and what the IDE needs from it.
//! - [`terminal`]: `/_dcs/terminal`, a shell on a PTY over a WebSocket.
//! - [`pages`]: HTML/JSON responses for people, and error rescue.
//! - [`body`]: the response body type.
//! - [`error`]: the crate's [`Error`] and [`FailureKind`].

pub mod app;
pub mod body;
pub mod checkout;
pub mod error;
pub mod files;
pub mod forward;
pub mod front;
pub mod ide;
pub mod launch;
pub mod notices;
pub mod packages;
pub mod pages;
pub mod ports;
pub mod ready;
pub mod reap;
pub mod serve;
pub mod startup;
pub mod supervise;
pub mod terminal;
pub mod ws_echo;

#[cfg(test)]
mod fixtures;

pub use error::{Error, FailureKind, Result};
pub use launch::{run, Stopped};
pub use ready::{Phase, ReadyReport};
