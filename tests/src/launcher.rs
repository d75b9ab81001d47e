//! A real `dcs-launcher` of an instance without a repository, started the way a
//! Knative pod starts it (its environment contract, its hop credential in a file),
//! for tests that put it behind the fake Knative ingress.

use std::net::SocketAddr;
use std::time::Duration;

use dcs_model::{LauncherEnv, WorkspaceKey};
use dcs_proxy::hop::HopKey;

/// A real launcher of an instance without a repository, its credential in a file.
pub struct Launcher {
    child: std::process::Child,
    /// Where it listens.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Launcher {
    /// Starts the launcher of the instance `key`, its hop credential from `hop`.
    pub async fn start(key: &WorkspaceKey, hop: &HopKey) -> anyhow::Result<Self> {
        use std::os::unix::process::CommandExt as _;
        let dir = tempfile::tempdir()?;
        let dcs_model::WorkspaceKind::Instance(id) = &key.kind else {
            anyhow::bail!("an instance key")
        };
        let secret = dir.path().join("hop");
        std::fs::write(&secret, hop.credential(&key.name()).expose())?;
        let addr_file = dir.path().join("addr");
        let mut env = LauncherEnv::for_instance(Some(id.clone()), None);
        env.workspaces_dir = dir.path().join("workspaces");
        env.config_dir = Some(dir.path().join("config"));
        env.listen = SocketAddr::from(([127, 0, 0, 1], 0)).into();
        env.addr_file = Some(addr_file.clone());
        env.hop_secret_file = Some(secret);
        env.base_path = dcs_proxy::runtime::base_path(key);
        std::fs::create_dir_all(&env.workspaces_dir)?;
        let mut cmd = std::process::Command::new(crate::bin_path("dcs-launcher")?);
        cmd.arg("run")
            .stdin(std::process::Stdio::null())
            .process_group(0);
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(|k| k.starts_with("DCS_")) {
                cmd.env_remove(k);
            }
        }
        let child = cmd.envs(env.to_vars()).spawn()?;
        let mut addr = None;
        crate::wait_until(Duration::from_secs(60), Duration::from_millis(20), || {
            addr = std::fs::read_to_string(&addr_file)
                .ok()
                .and_then(|a| a.trim().parse().ok());
            addr.is_some()
        })
        .await;
        let addr = addr.ok_or_else(|| anyhow::anyhow!("the launcher never listened"))?;
        Ok(Self {
            child,
            addr,
            _dir: dir,
        })
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        let _ = dcs_os::group::signal(self.child.id(), nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}
