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

use std::collections::HashMap;

use super::parse::Config;

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

/// `value` with its variables substituted (`${containerEnv:...}` looks up `ctx.env`).
pub fn substitute(value: &str, ctx: &Context) -> String {
    substitute_with(value, ctx, ctx.env)
}

/// `value` with its variables substituted, `${containerEnv:...}` looked up in
/// `container_env`.
fn substitute_with(
    value: &str,
    ctx: &Context,
    container_env: &dyn Fn(&str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            rest = &rest[start..];
            break;
        };
        let inner = &after[..end];
        match resolve(inner, ctx, container_env) {
            Some(resolved) => out.push_str(&resolved),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
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
/// appearance.
pub fn environment(config: &Config, ctx: &Context) -> Environment {
    let mut entries = Entries::default();
    for (name, value) in &config.container_env {
        entries.put(name, Some(substitute(value, ctx)));
    }
    let container = entries.clone();
    let overlay = |name: &str| match container.get(name) {
        Some(Some(value)) => Some(value.to_owned()),
        _ => (ctx.env)(name),
    };
    for (name, value) in &config.remote_env {
        let value = value
            .as_ref()
            .map(|value| substitute_with(value, ctx, &overlay));
        entries.put(name, value);
    }
    let mut out = Environment::default();
    for (name, value) in entries.list {
        match value {
            Some(value) => out.set.push((name, value)),
            None => out.unset.push(name),
        }
    }
    out
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
