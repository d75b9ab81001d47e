//! The lifecycle steps a workspace runs ([`Step`]) and their commands ([`Command`]):
//! a shell line, an argv, or named commands run in parallel; read from their JSONC
//! values, summarised in one line for a notice, and substituted.

use jsonc_parser::JsonValue;

use super::parse::shown_key;
use super::vars::{substitute, Budget, Context, Limit};
use crate::text::Line;

/// The longest [`Command::summary`], in characters.
const SUMMARY_CHARS: usize = 120;

/// A lifecycle step a workspace runs. `initializeCommand` (the host's) and
/// `postAttachCommand` are not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// `onCreateCommand`: once per checkout, first.
    OnCreate,
    /// `updateContentCommand`: once per checkout, after `onCreateCommand`.
    UpdateContent,
    /// `postCreateCommand`: once per checkout, after `updateContentCommand`.
    PostCreate,
    /// `postStartCommand`: on every start of the launcher, after the others.
    PostStart,
}

impl Step {
    /// Every step, in the order they run.
    pub const ALL: [Step; 4] = [
        Step::OnCreate,
        Step::UpdateContent,
        Step::PostCreate,
        Step::PostStart,
    ];

    /// The step's property in `devcontainer.json`.
    pub fn key(self) -> &'static str {
        match self {
            Step::OnCreate => "onCreateCommand",
            Step::UpdateContent => "updateContentCommand",
            Step::PostCreate => "postCreateCommand",
            Step::PostStart => "postStartCommand",
        }
    }

    /// Whether the step runs once per checkout (all but `postStartCommand`, which runs
    /// on every start).
    pub fn once_per_checkout(self) -> bool {
        self != Step::PostStart
    }

    /// The step whose property is `key`.
    pub fn from_key(key: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|step| step.key() == key)
    }
}

/// One lifecycle step's command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run with `/bin/sh -c`.
    Shell(String),
    /// An argv, run without a shell; never empty.
    Exec(Vec<String>),
    /// Named commands run in parallel, in file order; each a `Shell` or an `Exec`.
    Parallel(Vec<(String, Command)>),
}

impl Command {
    /// One line for a notice: the shell text, the argv joined with spaces, or
    /// `name: ...; name: ...`; runs of white space shown as one space (or `⏎` for a
    /// line break), control characters replaced, at most 120 characters (a longer one
    /// ends with `…`).
    pub fn summary(&self) -> String {
        self.summary_cut().0
    }

    /// [`Command::summary`], and whether it was cut (the command says more).
    pub fn summary_cut(&self) -> (String, bool) {
        let mut line = Line::new(SUMMARY_CHARS);
        self.describe(&mut line);
        line.finish()
    }

    fn describe(&self, line: &mut Line) {
        match self {
            Command::Shell(text) => line.push(text),
            Command::Exec(argv) => {
                for (i, arg) in argv.iter().enumerate() {
                    if i > 0 {
                        line.push(" ");
                    }
                    line.push(arg);
                    if line.is_cut() {
                        return;
                    }
                }
            }
            Command::Parallel(members) => {
                for (i, (name, member)) in members.iter().enumerate() {
                    if i > 0 {
                        line.push("; ");
                    }
                    line.push(name);
                    line.push(": ");
                    member.describe(line);
                    if line.is_cut() {
                        return;
                    }
                }
            }
        }
    }

    /// The command with the variables of every string substituted (see
    /// [`substitute`]), spending `budget`; member names stay as written.
    pub fn substituted(&self, ctx: &Context, budget: &mut Budget) -> Result<Command, Limit> {
        Ok(match self {
            Command::Shell(line) => Command::Shell(substitute(line, ctx, budget)?),
            Command::Exec(argv) => Command::Exec(
                argv.iter()
                    .map(|arg| substitute(arg, ctx, budget))
                    .collect::<Result<_, _>>()?,
            ),
            Command::Parallel(members) => Command::Parallel(
                members
                    .iter()
                    .map(|(name, member)| Ok((name.clone(), member.substituted(ctx, budget)?)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

/// What a step's value holds.
pub(crate) enum Read {
    /// A command to run.
    Command(Command),
    /// Nothing to run: an empty (or blank) string, an empty array or object, `null`.
    Nothing,
    /// A value of the wrong shape; the problem says what (without the property name).
    Wrong(&'static str),
}

const SHAPE: &str = "expected a string, an array of strings or an object of them";
const MEMBER_SHAPE: &str = "expected a string or an array of strings";

/// Reads a step's value. Members of an object that are of the wrong shape are skipped,
/// each with a problem in `problems` naming `key.member`.
pub(crate) fn read(key: &str, value: JsonValue, problems: &mut Vec<String>) -> Read {
    match value {
        JsonValue::Null => Read::Nothing,
        JsonValue::Object(members) => {
            let mut parallel = Vec::new();
            for (name, member) in members {
                match read_single(member) {
                    Read::Command(command) => parallel.push((name.into_owned(), command)),
                    Read::Nothing => {}
                    Read::Wrong(why) => {
                        problems.push(format!("{key}.{}: {why}", shown_key(&name)));
                    }
                }
            }
            if parallel.is_empty() {
                Read::Nothing
            } else {
                Read::Command(Command::Parallel(parallel))
            }
        }
        other => match read_single(other) {
            Read::Wrong(MEMBER_SHAPE) => Read::Wrong(SHAPE),
            read => read,
        },
    }
}

/// A string or an array of strings.
fn read_single(value: JsonValue) -> Read {
    match value {
        JsonValue::String(line) if line.trim().is_empty() => Read::Nothing,
        JsonValue::String(line) if line.contains('\0') => Read::Wrong(NUL),
        JsonValue::String(line) => Read::Command(Command::Shell(line.into_owned())),
        JsonValue::Array(items) if items.is_empty() => Read::Nothing,
        JsonValue::Array(items) => {
            let mut argv = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    JsonValue::String(arg) if arg.contains('\0') => return Read::Wrong(NUL),
                    JsonValue::String(arg) => argv.push(arg.into_owned()),
                    _ => return Read::Wrong(MEMBER_SHAPE),
                }
            }
            if argv.first().is_none_or(String::is_empty) {
                return Read::Wrong("the program (the array's first string) is empty");
            }
            Read::Command(Command::Exec(argv))
        }
        _ => Read::Wrong(MEMBER_SHAPE),
    }
}

const NUL: &str = "contains a NUL character";
