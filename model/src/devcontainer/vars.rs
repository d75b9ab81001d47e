//! `${...}` variables in `devcontainer.json` values ([`substitute`]) and the environment
//! a workspace applies ([`environment`]): `containerEnv`, then `remoteEnv` over it.
//!
//! Known variables: `${localEnv:NAME}`, `${localEnv:NAME:default}` (and `${env:...}`,
//! VS Code's alias), `${containerEnv:NAME}`, `${containerEnv:NAME:default}` (an unset
//! variable without a default is the empty string; the default is everything after the
//! second `:`), `${localWorkspaceFolder}`, `${containerWorkspaceFolder}` (both the
//! checkout folder), `${localWorkspaceFolderBasename}`,
//! `${containerWorkspaceFolderBasename}` (its last component) and `${devcontainerId}`.
//! Anything else in `${...}` stays as written, and a substituted value is not
//! substituted again.
//!
//! Substitution can amplify (a 100-byte variable named 1000 times in another, that one
//! named 2000 times in a command), so it spends a [`Budget`]: each string it makes is
//! at most [`MAX_STRING_BYTES`] and all of a file's together at most
//! [`MAX_TOTAL_BYTES`], checked while it writes; past either it stops ([`Limit`]) and
//! nothing of the file applies ([`TooLarge`]).

use std::collections::HashMap;
use std::fmt;

use super::parse::{shown_key, Config};

/// The longest string substitution makes, in bytes: the kernel's `MAX_ARG_STRLEN`
/// (128 KiB); a longer argument or variable could never be given to a program.
pub const MAX_STRING_BYTES: usize = 128 << 10;

/// The most all of a file's substituted strings (every variable, every command's
/// strings) come to, in bytes: 1 MiB, as much as the largest file read.
pub const MAX_TOTAL_BYTES: usize = 1 << 20;

/// What substitution may still write for one file: [`MAX_TOTAL_BYTES`] at first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    left: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            left: MAX_TOTAL_BYTES,
        }
    }
}

impl Budget {
    /// The bytes still allowed.
    pub fn left(&self) -> usize {
        self.left
    }
}

/// Which limit substitution reached (it stopped there, keeping nothing of the string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// One string would be longer than [`MAX_STRING_BYTES`].
    String,
    /// All of the file's strings would come to more than [`MAX_TOTAL_BYTES`].
    Total,
}

/// A file whose variables expand past a [`Limit`]: nothing of it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    /// Where: `containerEnv.NAME`, `remoteEnv.NAME` or a step's key.
    pub at: String,
    /// The limit reached.
    pub limit: Limit,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.limit {
            Limit::String => write!(
                f,
                "{}: its variables expand to more than 128 KiB, more than a program can be given",
                self.at
            ),
            Limit::Total => write!(
                f,
                "its variables expand to more than 1 MiB (reached at {})",
                self.at
            ),
        }
    }
}

impl std::error::Error for TooLarge {}

/// What variables are substituted with.
pub struct Context<'a> {
    /// The checkout folder (`${localWorkspaceFolder}`, `${containerWorkspaceFolder}`).
    pub workspace_folder: &'a str,
    /// `${devcontainerId}`.
    pub devcontainer_id: &'a str,
    /// The user's environment (`${localEnv:...}`, `${containerEnv:...}`); the launcher
    /// passes one without its own secrets.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// The environment a workspace applies: variables to set and to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// Variables to set, in order of first appearance.
    pub set: Vec<(String, String)>,
    /// Variables to remove (`remoteEnv` values of `null`), in order of appearance.
    pub unset: Vec<String>,
}

/// `value` with its variables substituted (`${containerEnv:...}` looks up `ctx.env`),
/// spending `budget`; past a [`Limit`] it stops.
pub fn substitute(value: &str, ctx: &Context, budget: &mut Budget) -> Result<String, Limit> {
    substitute_with(value, ctx, ctx.env, budget)
}

/// `value` with its variables substituted, `${containerEnv:...}` looked up in
/// `container_env`, spending `budget`.
fn substitute_with(
    value: &str,
    ctx: &Context,
    container_env: &dyn Fn(&str) -> Option<String>,
    budget: &mut Budget,
) -> Result<String, Limit> {
    let mut out = Out {
        text: String::with_capacity(value.len().min(MAX_STRING_BYTES)),
        budget,
    };
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push(&rest[..start])?;
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            rest = &rest[start..];
            break;
        };
        let inner = &after[..end];
        match resolve(inner, ctx, container_env) {
            Some(resolved) => out.push(&resolved)?,
            None => out.push(&rest[start..start + 2 + end + 1])?,
        }
        rest = &after[end + 1..];
    }
    out.push(rest)?;
    Ok(out.text)
}

/// A string being substituted and the budget it spends.
struct Out<'a> {
    text: String,
    budget: &'a mut Budget,
}

impl Out<'_> {
    /// Appends `piece` if both limits allow it.
    fn push(&mut self, piece: &str) -> Result<(), Limit> {
        if self.text.len() + piece.len() > MAX_STRING_BYTES {
            return Err(Limit::String);
        }
        if piece.len() > self.budget.left {
            return Err(Limit::Total);
        }
        self.budget.left -= piece.len();
        self.text.push_str(piece);
        Ok(())
    }
}

/// The value of the variable written `${inner}`, or `None` for an unknown one.
fn resolve(
    inner: &str,
    ctx: &Context,
    container_env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let (kind, args) = match inner.split_once(':') {
        Some((kind, args)) => (kind, Some(args)),
        None => (inner, None),
    };
    match (kind, args) {
        ("localEnv" | "env", Some(args)) => Some(lookup(args, ctx.env)),
        ("containerEnv", Some(args)) => Some(lookup(args, container_env)),
        ("localWorkspaceFolder" | "containerWorkspaceFolder", None) => {
            Some(ctx.workspace_folder.to_owned())
        }
        ("localWorkspaceFolderBasename" | "containerWorkspaceFolderBasename", None) => {
            Some(basename(ctx.workspace_folder).to_owned())
        }
        ("devcontainerId", None) => Some(ctx.devcontainer_id.to_owned()),
        _ => None,
    }
}

/// `NAME` or `NAME:default` looked up in `env`.
fn lookup(args: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let (name, default) = match args.split_once(':') {
        Some((name, default)) => (name, default),
        None => (args, ""),
    };
    if name.is_empty() {
        return default.to_owned();
    }
    env(name).unwrap_or_else(|| default.to_owned())
}

/// The last component of `path` (`/workspaces/acme/web/` → `web`).
fn basename(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(slash) => &trimmed[slash + 1..],
        None => trimmed,
    }
}

/// The environment `config` asks for: `containerEnv` (values substituted; its
/// `${containerEnv:X}` sees `ctx.env`), then `remoteEnv` (its `${containerEnv:X}` sees
/// `ctx.env` with the `containerEnv` results over it; a `null` removes the variable).
/// A later entry for a name replaces an earlier one; the order is that of first
/// appearance. Spends `budget`; past a [`Limit`] the error names the variable.
pub fn environment(
    config: &Config,
    ctx: &Context,
    budget: &mut Budget,
) -> Result<Environment, TooLarge> {
    let too_large = |key: &str, name: &str, limit| TooLarge {
        at: format!("{key}.{}", shown_key(name)),
        limit,
    };
    let mut entries = Entries::default();
    for (name, value) in &config.container_env {
        let value = substitute(value, ctx, budget)
            .map_err(|limit| too_large("containerEnv", name, limit))?;
        entries.put(name, Some(value));
    }
    let container = entries.clone();
    let overlay = |name: &str| match container.get(name) {
        Some(Some(value)) => Some(value.to_owned()),
        _ => (ctx.env)(name),
    };
    for (name, value) in &config.remote_env {
        let value = match value {
            Some(value) => Some(
                substitute_with(value, ctx, &overlay, budget)
                    .map_err(|limit| too_large("remoteEnv", name, limit))?,
            ),
            None => None,
        };
        entries.put(name, value);
    }
    let mut out = Environment::default();
    for (name, value) in entries.list {
        match value {
            Some(value) => out.set.push((name, value)),
            None => out.unset.push(name),
        }
    }
    Ok(out)
}

/// Variables in order of first appearance, each set (`Some`) or removed (`None`).
#[derive(Clone, Default)]
struct Entries {
    list: Vec<(String, Option<String>)>,
    index: HashMap<String, usize>,
}

impl Entries {
    /// Sets `name`: in place if present, else at the end.
    fn put(&mut self, name: &str, value: Option<String>) {
        match self.index.get(name) {
            Some(&i) => self.list[i].1 = value,
            None => {
                self.index.insert(name.to_owned(), self.list.len());
                self.list.push((name.to_owned(), value));
            }
        }
    }

    fn get(&self, name: &str) -> Option<Option<&str>> {
        let &i = self.index.get(name)?;
        Some(self.list[i].1.as_deref())
    }
}
