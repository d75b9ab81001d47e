//! Building a launcher's command: the `DCS_*` contract and nothing else.
//!
//! The child gets the proxy's environment minus every `DCS_*` variable (so nothing
//! of the proxy's configuration leaks in by accident), plus the contract for this
//! workspace. The git token is passed as a file path; its value never appears in
//! the child's argv or environment. stdout and stderr go to
//! `<data-dir>/logs/<name>.log`.
//!
//! What runs comes from the workspace's *recorded* [`InstanceSpec`]: its repository
//! (an instance may have none: its folder is `_instances/<id>`), IDE kind (else the
//! configured one) and version, and its extra environment, set on the launcher
//! process below the contract (never `DCS_*`). Base image and CPU/memory/storage
//! figures do not apply to a local process.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::Stdio;

use dcs_model::{InstanceSpec, LauncherEnv, WorkspaceKey, WorkspaceKind};

use super::LocalConfig;
use crate::error::{Error, Result};

/// `user`'s workspace volume: `<data-dir>/workspaces/<user>`.
pub fn user_volume(cfg: &LocalConfig, user: &dcs_model::UserId) -> PathBuf {
    cfg.data_dir.join("workspaces").join(user.as_str())
}

/// Everything needed to start one launcher, and where it reports back.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The contract handed over.
    pub env: LauncherEnv,
    /// The workspace's extra environment (never `DCS_*`).
    pub extra_env: Vec<(String, String)>,
    /// The launcher binary.
    pub bin: PathBuf,
    /// Where the launcher's output goes.
    pub log_path: PathBuf,
    /// Where the launcher publishes its bound address.
    pub addr_file: PathBuf,
}

impl Plan {
    /// The plan for `key` served under `base_path`, running `spec`.
    pub fn new(
        cfg: &LocalConfig,
        key: &WorkspaceKey,
        base_path: &str,
        spec: &InstanceSpec,
    ) -> Self {
        let name = key.name();
        let addr_file = cfg.data_dir.join("run").join(format!("{name}.addr"));
        let mut env = match &key.kind {
            WorkspaceKind::Repo(_) => LauncherEnv::new_for(key),
            WorkspaceKind::Instance(id) => {
                LauncherEnv::for_instance(Some(id.clone()), spec.repo.clone())
            }
        };
        env.git_base = cfg.git_base.clone();
        env.workspaces_dir = user_volume(cfg, &key.user);
        env.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        env.addr_file = Some(addr_file.clone());
        env.ide = spec.ide.clone().unwrap_or_else(|| cfg.ide.clone());
        // The configured installed IDE serves only its own kind, and only when no
        // other version was asked for (the launcher would ignore the version).
        if env.ide == cfg.ide && spec.ide_version.is_none() {
            env.ide_bin = cfg.ide_bin.clone();
        }
        env.ide_version = spec.ide_version.clone();
        env.git_token_file = cfg.git_token_file.clone();
        env.base_path = base_path.to_owned();
        env.user = Some(key.user.clone());
        env.stop_grace_secs = cfg.stop_grace.as_secs().max(1);
        env.log = cfg.launcher_log.clone();
        cfg.git.apply(&mut env);
        let extra_env = spec
            .extra_env()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self {
            env,
            extra_env,
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
        // The workspace's own variables first, the contract last: it always wins.
        for (name, value) in &self.extra_env {
            if dcs_model::instance::is_extra_env_name(name) {
                cmd.env(name, value);
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

    use dcs_model::{env, InstanceId, RepoRef, UserId};

    use super::*;

    fn cfg() -> LocalConfig {
        LocalConfig {
            data_dir: "/data".into(),
            launcher_bin: "/bin/dcs-launcher".into(),
            git_base: "http://127.0.0.1:1".into(),
            git_token_file: Some("/secrets/token".into()),
            ide: "none".into(),
            ide_bin: None,
            stop_grace: Duration::from_secs(3),
            start_limit: Duration::from_secs(60),
            launcher_log: None,
            git: crate::config::GitLimits::default(),
        }
    }

    #[test]
    fn plan_places_the_repo_in_the_users_volume_and_passes_only_a_token_path() {
        let cfg = cfg();
        let key = WorkspaceKey::new(
            UserId::new("alice").expect("u"),
            RepoRef::parse("acme/hello").expect("r"),
        );
        let plan = Plan::new(&cfg, &key, "/github/acme/hello", &InstanceSpec::default());
        assert_eq!(
            plan.env.checkout_dir(),
            PathBuf::from("/data/workspaces/alice/acme/hello")
        );
        let vars = plan.env.to_vars();
        assert!(vars.contains(&(env::DCS_GIT_TOKEN_FILE, "/secrets/token".into())));
        assert!(vars.contains(&(env::DCS_BASE_PATH, "/github/acme/hello".into())));
        assert!(plan.log_path.starts_with("/data/logs"));
    }

    #[test]
    fn plan_of_an_instance_runs_its_recorded_spec() {
        let mut cfg = cfg();
        cfg.ide_bin = Some("/opt/code-server/bin/code-server".into());
        cfg.ide = "code-server".into();
        let id = InstanceId::parse("inst-0123456789abcdef").expect("id");
        let key = WorkspaceKey::instance(UserId::new("alice").expect("u"), id.clone());
        let spec = InstanceSpec {
            ide: Some("openvscode".into()),
            ide_version: Some("1.104.0".into()),
            env: [("FOO", "bar"), ("DCS_REPO", "evil/repo")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ..InstanceSpec::default()
        };
        let plan = Plan::new(&cfg, &key, "/instances/inst-0123456789abcdef", &spec);
        assert_eq!(
            plan.env.checkout_dir(),
            PathBuf::from("/data/workspaces/alice/_instances/inst-0123456789abcdef")
        );
        assert_eq!(plan.env.repo, None);
        assert_eq!(plan.env.instance, Some(id));
        assert_eq!(plan.env.ide, "openvscode");
        assert_eq!(plan.env.ide_version.as_deref(), Some("1.104.0"));
        assert_eq!(plan.env.ide_bin, None, "the installed IDE is another kind");
        assert_eq!(plan.extra_env, vec![("FOO".to_owned(), "bar".to_owned())]);

        // With a repository, the instance checks it out in the usual place.
        let with_repo = InstanceSpec {
            repo: Some(RepoRef::parse("acme/hello").expect("r")),
            ..InstanceSpec::default()
        };
        let plan = Plan::new(&cfg, &key, "/instances/inst-0123456789abcdef", &with_repo);
        assert_eq!(
            plan.env.checkout_dir(),
            PathBuf::from("/data/workspaces/alice/acme/hello")
        );
        assert_eq!(plan.env.ide, "code-server");
        assert!(
            plan.env.ide_bin.is_some(),
            "the configured kind uses the installed IDE"
        );
    }
}
