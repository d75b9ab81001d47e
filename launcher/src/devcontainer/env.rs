//! Environments: the user's (what substitutions see: the launcher's own minus what
//! [`crate::user_env`] withholds, plus what it adds), what the file sets and removes
//! of it ([`EnvChange`], names the platform sets refused), and the checkout's key
//! and `${devcontainerId}`.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::Path;

use dcs_model::devcontainer::{environment, Budget, Config, Context, TooLarge};
use sha2::{Digest, Sha256};

use crate::supervise::Launch;

/// Variables to set and to remove, on top of the user's environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvChange {
    /// Set, in order.
    pub set: Vec<(String, String)>,
    /// Removed.
    pub unset: Vec<String>,
}

impl EnvChange {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.unset.is_empty()
    }

    /// The names it sets or removes, in order.
    pub fn names(&self) -> Vec<String> {
        let set = self.set.iter().map(|(k, _)| k.clone());
        set.chain(self.unset.iter().cloned()).collect()
    }

    /// Applies it to `cmd`, which already has the user's environment.
    pub fn apply(&self, cmd: &mut tokio::process::Command) {
        for name in &self.unset {
            cmd.env_remove(name);
        }
        cmd.envs(self.set.iter().map(|(k, v)| (k, v)));
    }

    /// Applies it to a terminal's `cmd` (a PTY session's).
    pub fn apply_pty(&self, mut cmd: pty_process::Command) -> pty_process::Command {
        for name in &self.unset {
            cmd = cmd.env_remove(name);
        }
        cmd.envs(self.set.iter().map(|(k, v)| (k, v)))
    }

    /// Applies it under what `launch` sets itself (an IDE's own variables win).
    pub fn apply_under(&self, launch: &mut Launch) {
        let set = self
            .set
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        launch.env.splice(0..0, set);
        launch.unset.extend(self.unset.iter().map(OsString::from));
    }
}

/// The user's environment: this process's (UTF-8 variables only) minus what
/// [`crate::user_env`] withholds, plus what it adds.
pub fn user_env() -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = std::env::vars_os()
        .filter(|(k, _)| !crate::user_env::is_withheld(k))
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    for (k, v) in crate::user_env::added() {
        if let (Ok(k), Ok(v)) = (k.into_string(), v.into_string()) {
            vars.insert(k, v);
        }
    }
    vars
}

/// What `config` sets and removes under `ctx`, and the names it sets that the
/// platform sets (refused, in file order); its values spend `budget`.
pub fn applied(
    config: &Config,
    ctx: &Context,
    budget: &mut Budget,
) -> Result<(EnvChange, Vec<String>), TooLarge> {
    let refused_name = |name: &str| crate::user_env::is_withheld(OsStr::new(name));
    let refused = config
        .env_names()
        .into_iter()
        .filter(|n| refused_name(n))
        .collect();
    // Left out before substitution too: `${containerEnv:PORT}` never sees the file's.
    let mut kept = config.clone();
    kept.container_env.retain(|(k, _)| !refused_name(k));
    kept.remote_env.retain(|(k, _)| !refused_name(k));
    let env = environment(&kept, ctx, budget)?;
    let change = EnvChange {
        set: env.set,
        unset: env.unset,
    };
    Ok((change, refused))
}

/// The folder name of the checkout `rel` (its folder below the workspaces
/// folder) in the config volume: its names, made safe, and a hash that tells
/// apart what they make alike.
pub fn key(rel: &Path) -> String {
    let text = rel.to_string_lossy();
    let slug: String = text
        .split('/')
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join("__")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let slug = slug.trim_start_matches('.');
    let hash = hex(&Sha256::digest(text.as_bytes())[..4]);
    if slug.is_empty() {
        hash
    } else {
        format!("{slug}-{hash}")
    }
}

/// `${devcontainerId}`: stable for the checkout `rel` (its folder below the
/// workspaces folder), whichever machine or volume path it is on.
pub fn devcontainer_id(rel: &Path) -> String {
    let digest = Sha256::digest(format!("dcs-devcontainer\n{}", rel.to_string_lossy()));
    hex(&digest[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_safe_name_and_tell_lookalikes_apart() {
        let a = key(Path::new("acme/hello"));
        assert!(a.starts_with("acme__hello-"), "{a}");
        assert_eq!(a, key(Path::new("acme/hello")), "stable");
        let b = key(Path::new("acme__hello"));
        assert_ne!(a, b);
        let odd = key(Path::new("_instances/../x y"));
        assert!(!odd.contains('/') && !odd.starts_with('.'), "{odd}");
        assert!(odd
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
        let id = devcontainer_id(Path::new("acme/hello"));
        assert_eq!(id.len(), 32);
        assert_eq!(id, devcontainer_id(Path::new("acme/hello")));
        assert_ne!(id, devcontainer_id(Path::new("acme/other")));
    }

    #[test]
    fn names_the_platform_sets_are_refused_and_the_rest_applies() {
        let config = dcs_model::devcontainer::parse(
            r#"{"containerEnv": {"A": "1", "PORT": "80", "DCS_REPO": "x"},
                "remoteEnv": {"B": "${containerEnv:A}2${containerEnv:PORT}", "GONE": null,
                              "K_SERVICE": null}}"#,
        )
        .expect("parses");
        let lookup = |_: &str| None;
        let ctx = Context {
            workspace_folder: "/w/acme/hello",
            devcontainer_id: "id",
            env: &lookup,
        };
        let (change, refused) = applied(&config, &ctx, &mut Budget::default()).expect("small");
        assert_eq!(refused, ["PORT", "DCS_REPO", "K_SERVICE"]);
        assert_eq!(
            change.set,
            [("A".into(), "1".into()), ("B".into(), "12".into())]
        );
        assert_eq!(change.unset, ["GONE"]);
        assert_eq!(change.names(), ["A", "B", "GONE"]);
    }
}
