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

/// `text` as one line of at most `max` characters for a notice or a log: a run of
/// white space (of any kind, and characters that show as blank) becomes one space, or
/// `⏎` if it holds a line break; other control characters and bidirectional-text
/// controls (which could make the text read differently than it runs) `�`; a longer
/// text is cut with `…` (counted in `max`).
pub fn one_line(text: &str, max: usize) -> String {
    one_line_cut(text, max).0
}

/// [`one_line`], and whether the text was cut.
pub fn one_line_cut(text: &str, max: usize) -> (String, bool) {
    let mut line = Line::new(max);
    line.push(text);
    line.finish()
}

/// A line being written for [`one_line`], from pieces; it stops taking text once
/// cut, so a long text costs no more than its shown part (and its blanks).
pub(crate) struct Line {
    out: String,
    chars: usize,
    max: usize,
    /// White space seen since the last character written: none, a space, a break.
    gap: Option<char>,
    cut: bool,
}

impl Line {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            out: String::new(),
            chars: 0,
            max,
            gap: None,
            cut: false,
        }
    }

    /// Appends `text` (nothing once cut).
    pub(crate) fn push(&mut self, text: &str) {
        for c in text.chars() {
            if self.cut {
                return;
            }
            if c == '\n' || c == '\r' {
                self.gap = Some('⏎');
            } else if is_blank(c) {
                self.gap.get_or_insert(' ');
            } else {
                self.flush_gap();
                self.put(if crate::text::is_deceptive(c) {
                    '\u{FFFD}'
                } else {
                    c
                });
            }
        }
    }

    /// Whether the line is cut (more text is not taken).
    pub(crate) fn is_cut(&self) -> bool {
        self.cut
    }

    /// The line and whether it was cut (trailing white space that does not fit is
    /// left out, not cut).
    pub(crate) fn finish(mut self) -> (String, bool) {
        if self.chars < self.max {
            self.flush_gap();
        }
        (self.out, self.cut)
    }

    fn flush_gap(&mut self) {
        if let Some(gap) = self.gap.take() {
            self.put(gap);
        }
    }

    fn put(&mut self, c: char) {
        if self.cut {
            return;
        }
        if self.chars < self.max {
            self.out.push(c);
            self.chars += 1;
        } else {
            self.cut = true;
            self.out.pop();
            self.out.push('…');
        }
    }
}

/// Whether `c` shows as blank: Unicode white space, or a character drawn empty
/// (zero width space, word joiner, Braille blank, Hangul fillers, ...).
fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{180E}'
                | '\u{200B}'
                | '\u{2060}'
                | '\u{FEFF}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{FFA0}'
        )
}

#[cfg(test)]
mod tests;
