//! A real `dcs-launcher` of an instance without a repository (`none` IDE), started
//! the way a Knative pod starts it: its environment contract, its base path, a home
//! of its own and, when given, its hop credential in a file.
//! [`super::ingress::FakeIngress::forward`] routes a Service to it.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use dcs_model::{LauncherEnv, WorkspaceKey, WorkspaceKind};

use crate::hop::HopKey;

/// How long a launcher may take to publish its address.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running launcher, killed (its whole process group) when dropped.
#[derive(Debug)]
pub struct Launcher {
    child: std::process::Child,
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
}

impl Launcher {
    /// Runs `bin` for the instance `key`, its files under `dir` (which must outlive
    /// it), with the credential `hop` derives for it when `hop` is given; answers once
    /// it published its address.
    pub async fn start(
        bin: &Path,
        key: &WorkspaceKey,
        dir: &Path,
        hop: Option<&HopKey>,
    ) -> std::io::Result<Self> {
        use std::os::unix::process::CommandExt as _;
        let WorkspaceKind::Instance(id) = &key.kind else {
            return Err(std::io::Error::other("a launcher of an instance key"));
        };
        let addr_file = dir.join("addr");
        let mut env = LauncherEnv::for_instance(Some(id.clone()), None);
        env.workspaces_dir = dir.join("workspaces");
        env.config_dir = Some(dir.join("config"));
        env.listen = SocketAddr::from(([127, 0, 0, 1], 0)).into();
        env.addr_file = Some(addr_file.clone());
        env.ide = "none".into();
        env.base_path = crate::runtime::base_path(key);
        if let Some(hop) = hop {
            let secret = dir.join("hop");
            std::fs::write(&secret, hop.credential(&key.name()).expose())?;
            env.hop_secret_file = Some(secret);
        }
        std::fs::create_dir_all(&env.workspaces_dir)?;
        // A home of its own, as a pod's: the file manager's terminal starts a shell,
        // which must not read this machine's `~/.bashrc`.
        let home = dir.join("home");
        std::fs::create_dir_all(&home)?;
        let mut cmd = std::process::Command::new(bin);
        cmd.arg("run")
            .current_dir(dir)
            .env("HOME", &home)
            .stdin(std::process::Stdio::null())
            .process_group(0);
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(|k| k.starts_with("DCS_")) {
                cmd.env_remove(k);
            }
        }
        let mut launcher = Self {
            child: cmd.envs(env.to_vars()).spawn()?,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            let published = tokio::fs::read_to_string(&addr_file).await.ok();
            if let Some(addr) = published.and_then(|a| a.trim().parse().ok()) {
                launcher.addr = addr;
                return Ok(launcher);
            }
            if Instant::now() >= deadline {
                return Err(std::io::Error::other(format!(
                    "the launcher published no address in {} s",
                    PATIENCE.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        let _ = dcs_os::group::signal(self.child.id(), nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}
