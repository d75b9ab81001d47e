//! `devcontainer.json` text → [`Config`]: JSONC (comments and trailing commas; keys in
//! file order, a repeated key's last value counts) read with `jsonc-parser`. Only text
//! that is not JSONC, or whose top level is not an object, fails ([`ParseError`]); a
//! property of the wrong shape is skipped and named in [`Config::problems`].
//!
//! Environment values that are numbers or booleans are taken as their JSON text
//! (`1.50` → `"1.50"`, `true` → `"true"`), as VS Code does; `null`, arrays and objects
//! are problems, except that a `remoteEnv` value of `null` removes the variable.

use std::collections::HashSet;
use std::fmt;

use jsonc_parser::{JsonObject, JsonValue, ParseOptions};

use super::command::{self, Command, Read, Step};
use super::customizations;
use super::valid_name;
use crate::text::one_line;

/// At most this many entries in [`Config::not_applied`] and in [`Config::problems`];
/// past it, one last entry says how many more there were.
const MAX_LISTED: usize = 64;

/// Property names quoted in `not_applied` and `problems` are cut to this many characters.
const NAME_CHARS: usize = 64;

/// What a workspace applies of a `devcontainer.json`, and what it does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `name`.
    pub name: Option<String>,
    /// `containerEnv`, in file order (values not yet substituted).
    pub container_env: Vec<(String, String)>,
    /// `remoteEnv`, in file order; `None` (JSON `null`) removes the variable.
    pub remote_env: Vec<(String, Option<String>)>,
    /// The lifecycle steps present with something to run, in [`Step::ALL`] order.
    pub steps: Vec<(Step, Command)>,
    /// `customizations.vscode.extensions`: the extension ids to install, validated
    /// (`publisher.name` or `publisher.name@version`), in file order, each once; ids
    /// prefixed with `-` ("do not install") left out.
    pub extensions: Vec<String>,
    /// Top-level properties present that a workspace does not apply, in file order
    /// (one line each; `$schema` is not listed).
    pub not_applied: Vec<String>,
    /// Parts of the wrong shape, skipped; each names its property, e.g.
    /// `containerEnv.A=B: not a valid variable name`.
    pub problems: Vec<String>,
}

impl Config {
    /// Whether the file asks for anything a workspace applies: a step, a variable or
    /// an extension.
    pub fn wants_anything(&self) -> bool {
        !self.steps.is_empty()
            || !self.container_env.is_empty()
            || !self.remote_env.is_empty()
            || !self.extensions.is_empty()
    }

    /// The variables set or removed, `containerEnv`'s then `remoteEnv`'s, each once.
    pub fn env_names(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        let container = self.container_env.iter().map(|(name, _)| name);
        container
            .chain(self.remote_env.iter().map(|(name, _)| name))
            .filter(|name| seen.insert(name.as_str()))
            .cloned()
            .collect()
    }
}

/// Text that is not JSONC, or whose top level is not an object; positions are 1-based
/// (the column counts characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line of the error.
    pub line: usize,
    /// The column of the error, in characters.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// JSONC as VS Code reads `devcontainer.json`: comments and trailing commas, nothing
/// of JSON5 beyond them.
fn options() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

/// Reads a `devcontainer.json`'s text (a leading byte order mark is skipped).
pub fn parse(text: &str) -> Result<Config, ParseError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let value = jsonc_parser::parse_to_value(text, &options()).map_err(|e| ParseError {
        line: e.line_display(),
        column: e.column_display(),
        message: one_line(&e.kind().to_string(), 200),
    })?;
    let top = match value {
        Some(JsonValue::Object(top)) => top,
        Some(_) => return Err(not_an_object(text, "the top level is not an object")),
        None => {
            return Err(not_an_object(
                text,
                "the file holds no value: expected an object",
            ))
        }
    };
    Ok(read(top))
}

/// The error for a top level that is not an object, at its first character.
fn not_an_object(text: &str, message: &str) -> ParseError {
    let (line, column) = first_value(text);
    ParseError {
        line,
        column,
        message: message.to_owned(),
    }
}

/// The 1-based line and column of the first character that is neither white space nor
/// in a comment (the end of the text if there is none); `text` is valid JSONC.
fn first_value(text: &str) -> (usize, usize) {
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start();
        if let Some(after) = trimmed.strip_prefix("//") {
            rest = after.find('\n').map_or("", |end| &after[end..]);
        } else if let Some(after) = trimmed.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
        } else {
            rest = trimmed;
            break;
        }
    }
    let before = &text[..text.len() - rest.len()];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Maps the top-level object to a [`Config`].
fn read(top: JsonObject) -> Config {
    let mut config = Config::default();
    let mut steps: Vec<(Step, Command)> = Vec::new();
    for (key, value) in top {
        match key.as_ref() {
            "$schema" => {}
            "name" => match value {
                JsonValue::String(name) => config.name = Some(name.into_owned()),
                JsonValue::Null => {}
                _ => config.problems.push("name: expected a string".to_owned()),
            },
            "containerEnv" => {
                config.container_env = env("containerEnv", value, false, &mut config.problems)
                    .into_iter()
                    .filter_map(|(name, value)| Some((name, value?)))
                    .collect();
            }
            "remoteEnv" => {
                config.remote_env = env("remoteEnv", value, true, &mut config.problems);
            }
            "customizations" => {
                let read = customizations::read(value, &mut config.problems);
                config.extensions = read.extensions;
                config.not_applied.extend(read.not_applied);
            }
            key => match Step::from_key(key) {
                Some(step) => match command::read(key, value, &mut config.problems) {
                    Read::Command(command) => steps.push((step, command)),
                    Read::Nothing => {}
                    Read::Wrong(why) => config.problems.push(format!("{key}: {why}")),
                },
                None => config.not_applied.push(shown_key(key)),
            },
        }
    }
    steps.sort_by_key(|(step, _)| Step::ALL.iter().position(|s| s == step));
    config.steps = steps;
    cap(&mut config.not_applied, "more properties");
    cap(&mut config.problems, "more problems");
    config
}

/// An environment object: name → string (numbers and booleans as their JSON text);
/// `null` → `None` where `null_removes`, else a problem.
fn env(
    key: &str,
    value: JsonValue,
    null_removes: bool,
    problems: &mut Vec<String>,
) -> Vec<(String, Option<String>)> {
    let members = match value {
        JsonValue::Object(members) => members,
        JsonValue::Null => return Vec::new(),
        _ => {
            problems.push(format!("{key}: expected an object of strings"));
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(members.len());
    for (name, value) in members {
        let shown = shown_key(&name);
        if !valid_name(&name) {
            problems.push(format!("{key}.{shown}: not a valid variable name"));
            continue;
        }
        let value = match value {
            JsonValue::String(text) if text.contains('\0') => {
                problems.push(format!("{key}.{shown}: contains a NUL character"));
                continue;
            }
            JsonValue::String(text) => Some(text.into_owned()),
            JsonValue::Number(text) => Some(text.to_owned()),
            JsonValue::Boolean(b) => Some(b.to_string()),
            JsonValue::Null if null_removes => None,
            _ => {
                let expected = if null_removes {
                    "expected a string, or null to remove the variable"
                } else {
                    "expected a string"
                };
                problems.push(format!("{key}.{shown}: {expected}"));
                continue;
            }
        };
        out.push((name.into_owned(), value));
    }
    out
}

/// A property's name as listed: one line, `""` for the empty name.
pub(crate) fn shown_key(key: &str) -> String {
    if key.is_empty() {
        "\"\"".to_owned()
    } else {
        one_line(key, NAME_CHARS)
    }
}

/// Keeps at most [`MAX_LISTED`] entries of `list`, the last saying how many were cut.
fn cap(list: &mut Vec<String>, what: &str) {
    if list.len() > MAX_LISTED {
        let more = list.len() - (MAX_LISTED - 1);
        list.truncate(MAX_LISTED - 1);
        list.push(format!("… {more} {what}"));
    }
}
