//! Building a launcher's command: the `DCS_*` contract and nothing else.
//!
//! The child gets the proxy's environment minus every `DCS_*` variable (so nothing
//! of the proxy's configuration leaks in by accident), plus the contract for this
//! workspace. The git token is passed as a file path; its value never appears in
//! the child's argv or environment. stdout and stderr go to
//! `<data-dir>/logs/<name>.log`.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::Stdio;

use dcs_model::{LauncherEnv, WorkspaceKey};

use super::LocalConfig;
use crate::error::{Error, Result};

/// Everything needed to start one launcher, and where it reports back.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The contract handed over.
    pub env: LauncherEnv,
    /// The launcher binary.
    pub bin: PathBuf,
    /// Where the launcher's output goes.
    pub log_path: PathBuf,
    /// Where the launcher publishes its bound address.
    pub addr_file: PathBuf,
}

impl Plan {
    /// The plan for `key` served under `base_path`.
    pub fn new(cfg: &LocalConfig, key: &WorkspaceKey, base_path: &str) -> Self {
        let name = key.name();
        let addr_file = cfg.data_dir.join("run").join(format!("{name}.addr"));
        let mut env = LauncherEnv::new_for(key);
        env.git_base = cfg.git_base.clone();
        env.workspaces_dir = cfg.data_dir.join("workspaces").join(key.user.as_str());
        env.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        env.addr_file = Some(addr_file.clone());
        env.ide = cfg.ide.clone();
        env.ide_bin = cfg.ide_bin.clone();
        env.git_token_file = cfg.git_token_file.clone();
        env.base_path = base_path.to_owned();
        env.user = Some(key.user.clone());
        env.stop_grace_secs = cfg.stop_grace.as_secs().max(1);
        env.log = cfg.launcher_log.clone();
        Self {
            env,
            bin: cfg.launcher_bin.clone(),
            log_path: cfg.data_dir.join("logs").join(format!("{name}.log")),
            addr_file,
        }
    }

    /// Spawns the launcher in its own process group.
    pub fn spawn(&self) -> Result<tokio::process::Child> {
        let fail = |what: &str, e: std::io::Error| Error::Runtime(format!("{what}: {e}"));
        std::fs::create_dir_all(&self.env.workspaces_dir)
            .map_err(|e| fail("cannot create the workspace volume", e))?;
        match std::fs::remove_file(&self.addr_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(fail("cannot clear the address file", e))
            }
            _ => {}
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| fail("cannot open the launcher log", e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| fail("cannot open the launcher log", e))?;

        let mut cmd = std::process::Command::new(&self.bin);
        cmd.arg("run")
            .current_dir(&self.env.workspaces_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0);
        for (key, _) in std::env::vars_os() {
            if key.to_str().is_some_and(|k| k.starts_with("DCS_")) {
                cmd.env_remove(key);
            }
        }
        cmd.envs(self.env.to_vars());
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.kill_on_drop(false);
        cmd.spawn()
            .map_err(|e| fail(&format!("cannot start {}", self.bin.display()), e))
    }

    /// The address the launcher published, once it has.
    pub fn published_addr(&self) -> Option<SocketAddr> {
        std::fs::read_to_string(&self.addr_file)
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use dcs_model::{env, RepoRef, UserId};

    use super::*;

    #[test]
    fn plan_places_the_repo_in_the_users_volume_and_passes_only_a_token_path() {
        let cfg = LocalConfig {
            data_dir: "/data".into(),
            launcher_bin: "/bin/dcs-launcher".into(),
            git_base: "http://127.0.0.1:1".into(),
            git_token_file: Some("/secrets/token".into()),
            ide: "none".into(),
            ide_bin: None,
            stop_grace: Duration::from_secs(3),
            start_limit: Duration::from_secs(60),
            launcher_log: None,
        };
        let key = WorkspaceKey::new(
            UserId::new("alice").expect("u"),
            RepoRef::parse("acme/hello").expect("r"),
        );
        let plan = Plan::new(&cfg, &key, "/github/acme/hello");
        assert_eq!(
            plan.env.checkout_dir(),
            PathBuf::from("/data/workspaces/alice/acme/hello")
        );
        let vars = plan.env.to_vars();
        assert!(vars.contains(&(env::DCS_GIT_TOKEN_FILE, "/secrets/token".into())));
        assert!(vars.contains(&(env::DCS_BASE_PATH, "/github/acme/hello".into())));
        assert!(plan.log_path.starts_with("/data/logs"));
    }
}
