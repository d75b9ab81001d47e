//! What the launcher and its transfer child say to each other. The launcher starts
//! [`Program`] (its own executable with the hidden `git-transfer` subcommand), writes
//! one [`Request`] as a JSON line to its stdin and keeps stdin open (the child exits
//! when it closes, so a killed launcher takes its child along); the child answers
//! with [`Line`]s on stdout, one JSON object a line, ending with `done`, `failed` or
//! `needs_roots` (see [`ROOTS_LATER_ENV`]).
//!
//! The token travels here only when the launcher holds it in memory (it came on
//! the launcher's stdin, `DCS_GIT_TOKEN_FILE=-`): then the request line on the
//! child's stdin carries it ([`Wire`]); otherwise the request names the token *file*.
//!
//! How much history a transfer fetches travels in the child's environment
//! ([`HISTORY_ENV`], see [`History`]): the first open clones shallow, and the rest of
//! the history is fetched afterwards by a second transfer asking for
//! [`History::Complete`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, Serializer};

use super::credentials::{self, Secret};
use super::progress::{Counts, Op};
use super::Outcome;
use crate::error::FailureKind;

/// The hidden subcommand of `dcs-launcher` that runs one transfer.
pub const SUBCOMMAND: &str = "git-transfer";

/// The child's environment variable naming the [`History`] wanted (unset: the
/// default, [`History::FirstOpen`]).
pub const HISTORY_ENV: &str = "DCS_TRANSFER_HISTORY";

/// Set in the environment of a child started without TLS roots (see
/// [`Program::roots_later`]): it refuses any TLS connection and says
/// [`Line::NeedsRoots`] instead of its outcome.
pub const ROOTS_LATER_ENV: &str = "DCS_TRANSFER_ROOTS_LATER";

/// How much history a transfer fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum History {
    /// As the workspace opens: a missing checkout is cloned shallow (the last
    /// commit, as `git clone --depth 1`) where the transport can; an existing one is
    /// fetched as it is (a shallow one stays shallow, a complete one complete).
    #[default]
    FirstOpen,
    /// After the workspace opened: a shallow checkout gets the rest of its history
    /// (refs and objects only; the working tree, index and `HEAD` are untouched).
    Complete,
}

impl History {
    /// The value of [`HISTORY_ENV`] for this.
    pub fn env_value(self) -> &'static str {
        match self {
            History::FirstOpen => "first-open",
            History::Complete => "complete",
        }
    }

    /// The history `value` (of [`HISTORY_ENV`]) names; anything else is the default.
    pub fn from_env_value(value: Option<&str>) -> Self {
        match value {
            Some("complete") => History::Complete,
            _ => History::FirstOpen,
        }
    }

    /// The history this process's environment names (the transfer child's).
    pub fn from_process_env() -> Self {
        Self::from_env_value(std::env::var(HISTORY_ENV).ok().as_deref())
    }
}

/// The job, on the child's stdin (serialized as a [`Wire`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Request {
    /// `owner/repo`.
    pub repo: String,
    /// Git base URL.
    pub git_base: String,
    /// Where the checkout goes.
    pub target: PathBuf,
    /// File holding the git token, if any (`-`: the token held in memory, which
    /// then travels in the request itself).
    pub token_file: Option<PathBuf>,
    /// The folder below which no link is followed ([`super::Job::confined`]).
    pub confined: Option<PathBuf>,
}

/// A [`Request`] as it travels: with the token itself when `token_file` is `-`.
/// No `Debug`: it may hold the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wire {
    /// `owner/repo`.
    pub repo: String,
    /// Git base URL.
    pub git_base: String,
    /// Where the checkout goes.
    pub target: PathBuf,
    /// File holding the git token, if any.
    pub token_file: Option<PathBuf>,
    /// The token, when the launcher holds it in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The folder below which no link is followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confined: Option<PathBuf>,
}

impl Wire {
    /// The request, and the token it carried.
    pub fn into_parts(self) -> (Request, Option<Secret>) {
        let request = Request {
            repo: self.repo,
            git_base: self.git_base,
            target: self.target,
            token_file: self.token_file,
            confined: self.confined,
        };
        (request, self.token.map(Secret::new))
    }
}

impl Serialize for Request {
    /// As a [`Wire`]: a `-` token file brings the held token along.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let in_memory = self
            .token_file
            .as_deref()
            .is_some_and(|f| f.as_os_str() == dcs_model::env::STDIN);
        Wire {
            repo: self.repo.clone(),
            git_base: self.git_base.clone(),
            target: self.target.clone(),
            token_file: self.token_file.clone(),
            token: in_memory
                .then(credentials::held)
                .flatten()
                .map(|t| t.expose().to_owned()),
            confined: self.confined.clone(),
        }
        .serialize(s)
    }
}

/// One line of the child's stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Line {
    /// The transfer's counters (the first line of a transfer has them all 0).
    Progress {
        /// Clone or fetch.
        op: Op,
        /// The counters.
        #[serde(flatten)]
        counts: Counts,
    },
    /// The checkout is done.
    Done {
        /// What it did.
        #[serde(flatten)]
        outcome: Outcome,
    },
    /// The checkout failed.
    Failed {
        /// Classification.
        kind: FailureKind,
        /// The message for the user.
        message: String,
    },
    /// A child started without TLS roots ([`ROOTS_LATER_ENV`]) met a TLS server (a
    /// redirect to `https`): start it again with them ([`Program::with_roots`]).
    NeedsRoots,
}

/// How to start the transfer child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The executable.
    pub path: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Extra environment variables.
    pub env: Vec<(OsString, OsString)>,
    /// For a child started without TLS roots: the variables that give it the roots,
    /// should it need them after all ([`Line::NeedsRoots`]).
    pub roots_later: Option<Vec<(OsString, OsString)>>,
}

impl Program {
    /// This executable (`/proc/self/exe`, or `argv[0]` where there is no `/proc`)
    /// with the hidden subcommand.
    #[cfg(not(test))]
    pub fn this_executable() -> Self {
        Self {
            path: this_executable_path(),
            args: vec![SUBCOMMAND.into()],
            env: Vec::new(),
            roots_later: None,
        }
    }

    /// In unit tests this executable is the test harness: it runs the one test that
    /// acts as the transfer child when [`TEST_CHILD_ENV`] is set.
    #[cfg(test)]
    pub fn this_executable() -> Self {
        Self {
            path: this_executable_path(),
            args: [
                super::child::TEST_CHILD_NAME,
                "--exact",
                "--nocapture",
                "--quiet",
                "--test-threads=1",
            ]
            .map(OsString::from)
            .to_vec(),
            env: vec![(TEST_CHILD_ENV.into(), "1".into())],
            roots_later: None,
        }
    }

    /// This program with the TLS roots it was started without
    /// ([`roots_later`](Self::roots_later)), or `None` if it had them.
    pub fn with_roots(&self) -> Option<Self> {
        let roots = self.roots_later.clone()?;
        let mut env = self.env.clone();
        env.retain(|(name, _)| name != ROOTS_LATER_ENV && !roots.iter().any(|(r, _)| r == name));
        env.extend(roots);
        Some(Self {
            path: self.path.clone(),
            args: self.args.clone(),
            env,
            roots_later: None,
        })
    }
}

/// Set (by unit tests) on the test harness started as a transfer child.
#[cfg(test)]
pub const TEST_CHILD_ENV: &str = "DCS_TEST_TRANSFER_CHILD";

/// `/proc/self/exe` where there is a `/proc`: it runs this very binary even if the
/// file was replaced or deleted since (an upgrade), so launcher and child always
/// speak the same protocol. Else the path this process was started as.
fn this_executable_path() -> PathBuf {
    let proc_exe = Path::new("/proc/self/exe");
    if proc_exe.exists() {
        return proc_exe.to_path_buf();
    }
    std::env::current_exe()
        .ok()
        .or_else(|| std::env::args_os().next().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("dcs-launcher"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_travels_in_one_variable_and_defaults_to_first_open() {
        for history in [History::FirstOpen, History::Complete] {
            assert_eq!(History::from_env_value(Some(history.env_value())), history);
        }
        assert_eq!(History::from_env_value(None), History::FirstOpen);
        assert_eq!(History::from_env_value(Some("bogus")), History::FirstOpen);
    }

    #[test]
    fn lines_are_flat_json_objects_tagged_by_event() {
        let progress = Line::Progress {
            op: Op::Clone,
            counts: Counts {
                received_bytes: 10,
                sideband_bytes: 2,
                ..Counts::default()
            },
        };
        let json = serde_json::to_value(&progress).expect("json");
        assert_eq!(json["event"], "progress");
        assert_eq!(json["op"], "clone");
        assert_eq!(json["received_bytes"], 10);
        assert_eq!(json["sideband_bytes"], 2);
        let done = Line::Done {
            outcome: Outcome::UsedAsIs {
                warning: "w".into(),
            },
        };
        let text = serde_json::to_string(&done).expect("json");
        assert_eq!(
            text,
            r#"{"event":"done","outcome":"used_as_is","warning":"w"}"#
        );
        let needs = serde_json::to_string(&Line::NeedsRoots).expect("json");
        assert_eq!(needs, r#"{"event":"needs_roots"}"#);
        for line in [progress, done, Line::NeedsRoots] {
            let text = serde_json::to_string(&line).expect("json");
            assert_eq!(serde_json::from_str::<Line>(&text).expect("back"), line);
        }
    }
}
