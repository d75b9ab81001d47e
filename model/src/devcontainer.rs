//! A checkout's dev container configuration (`devcontainer.json`, the Development
//! Containers specification): which file counts, what a workspace applies of it, and
//! how the launcher runs it ([`Mode`]). Pure: parsing and variable substitution, no
//! I/O; the launcher reads the file and runs what it says.
//!
//! # Layout
//! - [`mode`]: [`Mode`], the contract's `DCS_DEVCONTAINER` (ask, run, off).
//! - [`parse`](mod@parse): JSONC text → [`Config`]: the environment, the lifecycle steps,
//!   what is not applied, and the parts of the wrong shape ([`Config::problems`]).
//! - [`command`]: [`Step`] and [`Command`] (a shell line, an argv, or named commands
//!   run in parallel), and their one-line [`Command::summary`].
//! - [`customizations`]: `customizations.vscode.extensions` ([`Config::extensions`]).
//! - [`vars`]: `${...}` variables ([`substitute`], [`Context`]) and the environment a
//!   workspace applies ([`environment`]), within a [`Budget`] ([`TooLarge`]).
//!
//! What applies: `name`, `containerEnv`, `remoteEnv`, the four lifecycle steps
//! `onCreateCommand`, `updateContentCommand`, `postCreateCommand`, `postStartCommand`,
//! and `customizations.vscode.extensions`. Every other top-level property (`image`,
//! `build`, `features`, `initializeCommand`, `postAttachCommand`, ...) and every other
//! part of `customizations` (`customizations.vscode.settings`, ...) is listed in
//! [`Config::not_applied`]; `$schema` is ignored.

pub mod command;
pub mod customizations;
pub mod mode;
pub mod parse;
pub mod vars;

pub use command::{Command, Step};
pub use mode::{Mode, DCS_DEVCONTAINER};
pub use parse::{parse, Config, ParseError};
pub use vars::{
    environment, substitute, Budget, Context, Environment, Limit, TooLarge, MAX_STRING_BYTES,
    MAX_TOTAL_BYTES,
};

/// The files a checkout's configuration is read from, relative to the checkout; the
/// first that exists counts.
pub const FILES: [&str; 2] = [".devcontainer/devcontainer.json", ".devcontainer.json"];

/// The largest file read; a larger one is refused by the reader.
pub const MAX_BYTES: usize = 1 << 20;

/// The longest variable name accepted, in bytes.
const MAX_NAME_BYTES: usize = 256;

/// Whether `name` can be an environment variable's name: non-empty, at most 256 bytes,
/// no `=`, no NUL, no control and no bidirectional formatting character (a name is
/// shown in the consent question, which must read as what applies).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && !name.contains('=')
        && !name.chars().any(crate::text::is_deceptive)
}

#[cfg(test)]
mod tests;
