//! Building a launcher's command: the `DCS_*` contract and nothing else.
//!
//! The child gets the proxy's environment minus every `DCS_*` variable (so nothing
//! of the proxy's configuration leaks in by accident), plus the contract for this
//! workspace; a sandboxed one ([`super::sandbox`]) gets only a minimal environment
//! (`PATH`, `HOME` in its volume, the locale) plus the contract. Its secrets — the
//! workspace's hop credential and, unsandboxed, the operator's git token (read from
//! its file at each start, so a rotated token is used at the next start) — arrive
//! on its stdin as one JSON object ([`StdinSecrets`]); the contract names them `-`.
//! They are never in the child's argv, environment or any file it can read. stdout
//! and stderr go to `<data-dir>/logs/<name>.log`.
//!
//! Unsandboxed, the launcher listens on `127.0.0.1:0` and publishes its address in
//! `<data-dir>/run/<name>.addr`. Sandboxed, its run folder `<data-dir>/run/<name>/`
//! (bound into the sandbox) holds its unix socket `launcher.sock`, its address file
//! and the outcome of the checkout, which runs before it, outside the sandbox's
//! network ([`super::checkout`]); the launcher itself never gets the token.
//!
//! What runs comes from the workspace's *recorded* [`InstanceSpec`]: its repository
//! (an instance may have none: its folder is `_instances/<id>`), IDE kind (else the
//! configured one) and version, and its extra environment, set on the launcher
//! process below the contract (never `DCS_*`). Base image and CPU/memory/storage
//! figures do not apply to a local process.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use dcs_model::env::{Listen, StdinSecrets, STDIN};
use dcs_model::{InstanceSpec, LauncherEnv, WorkspaceKey, WorkspaceKind};

use super::sandbox;
use super::stdin::{hand_over, read_token};
use super::LocalConfig;
use crate::error::{Error, Result};
use crate::hop::Credential;
use crate::runtime::Upstream;

mod isolation;
pub use isolation::{Isolation, SandboxConfig};

/// The address recorded for a sandboxed launcher: it answers on its unix socket,
/// whose path follows from the workspace's name ([`upstream`]).
pub const ON_SOCKET: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// The socket's file name in a sandboxed launcher's run folder.
pub const SOCKET_NAME: &str = "launcher.sock";

/// `user`'s workspace volume: `<data-dir>/workspaces/<user>`.
pub fn user_volume(cfg: &LocalConfig, user: &dcs_model::UserId) -> PathBuf {
    cfg.data_dir.join("workspaces").join(user.as_str())
}

/// A sandboxed workspace's run folder: `<data-dir>/run/<name>/`.
pub fn run_dir(cfg: &LocalConfig, key: &WorkspaceKey) -> PathBuf {
    cfg.data_dir.join("run").join(key.name().as_str())
}

/// Where `key`'s launcher, recorded at `addr`, answers: its TCP address, or (for
/// [`ON_SOCKET`]) its unix socket; with its hop credential.
pub fn upstream(
    cfg: &LocalConfig,
    iso: &Isolation,
    key: &WorkspaceKey,
    addr: SocketAddr,
) -> Upstream {
    let hop = Some(iso.hop.credential(&key.name()));
    if addr == ON_SOCKET {
        return Upstream {
            authority: "localhost".into(),
            host: None,
            socket: Some(run_dir(cfg, key).join(SOCKET_NAME)),
            hop,
            multiplexed: true,
        };
    }
    Upstream {
        authority: addr.to_string(),
        host: None,
        socket: None,
        hop,
        multiplexed: true,
    }
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
    /// The workspace's hop credential.
    pub hop: Credential,
    /// The operator's git token file, read at each start.
    pub git_token_file: Option<PathBuf>,
    /// The sandbox, if launchers run in one.
    pub sandbox: Option<sandbox::Spec>,
    key: WorkspaceKey,
    cfg: LocalConfig,
    iso: Isolation,
}

impl Plan {
    /// The plan for `key` served under `base_path`, running `spec`.
    pub fn new(
        cfg: &LocalConfig,
        iso: &Isolation,
        key: &WorkspaceKey,
        base_path: &str,
        spec: &InstanceSpec,
    ) -> Self {
        let name = key.name();
        let mut env = match &key.kind {
            WorkspaceKind::Repo(_) => LauncherEnv::new_for(key),
            WorkspaceKind::Instance(id) => {
                LauncherEnv::for_instance(Some(id.clone()), spec.repo.clone())
            }
        };
        cfg.apply(&mut env);
        env.workspaces_dir = user_volume(cfg, &key.user);
        env.ide = spec.ide.clone().unwrap_or_else(|| cfg.ide.clone());
        // The configured installed IDE serves only its own kind, and only when no
        // other version was asked for (the launcher would ignore the version).
        if env.ide == cfg.ide && spec.ide_version.is_none() {
            env.ide_bin = cfg.ide_bin.clone();
        }
        env.ide_version = spec.ide_version.clone();
        env.hop_secret_file = Some(STDIN.into());
        env.credentials_file = Some(credentials_file(&env.workspaces_dir));
        env.base_path = base_path.to_owned();
        env.user = Some(key.user.clone());
        let (addr_file, sandbox) = match &iso.sandbox {
            None => {
                env.listen = SocketAddr::from(([127, 0, 0, 1], 0)).into();
                env.git_token_file = cfg.git_token_file.as_ref().map(|_| STDIN.into());
                (cfg.data_dir.join("run").join(format!("{name}.addr")), None)
            }
            Some(sb) => {
                let run = run_dir(cfg, key);
                env.listen = Listen::Unix(run.join(SOCKET_NAME));
                env.checkout_outcome_file = Some(run.join("checkout.json"));
                if iso.egress.is_some() {
                    env.egress_socket = Some(super::egress_socket::path(&run));
                }
                let ide = sandbox::ide_folder(cfg.ide_bin.as_deref());
                let read_only = [ide, cfg.extra_ca_file.clone()]
                    .into_iter()
                    .flatten()
                    .collect();
                let spec = sandbox::Spec {
                    system: sb.system.clone(),
                    volume: env.workspaces_dir.clone(),
                    run_dir: run.clone(),
                    launcher: cfg.launcher_bin.clone(),
                    read_only,
                    hidden: sb.hidden.clone(),
                    cwd: env.workspaces_dir.clone(),
                    env: Vec::new(),
                };
                (run.join("addr"), Some(spec))
            }
        };
        env.addr_file = Some(addr_file.clone());
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
            hop: iso.hop.credential(&name),
            git_token_file: cfg.git_token_file.clone(),
            sandbox,
            key: key.clone(),
            cfg: cfg.clone(),
            iso: iso.clone(),
        }
    }

    /// Where this launcher answers once it published `addr`.
    pub fn upstream(&self, addr: SocketAddr) -> Upstream {
        upstream(&self.cfg, &self.iso, &self.key, addr)
    }

    /// Sandboxed with a way out: its socket, served until the value returned is
    /// dropped (when the launcher is reaped). One that cannot be made is logged and
    /// the workspace runs without a way out.
    pub fn serve_egress(&self) -> Option<crate::egress::Serving> {
        let egress = self.iso.egress.as_ref()?;
        self.sandbox.as_ref()?;
        let (run, name) = (run_dir(&self.cfg, &self.key), self.key.name());
        let served = make_private_dir(&run)
            .and_then(|()| super::egress_socket::listen(egress, &run, name.as_str()));
        served
            .map_err(
                |err| tracing::warn!(workspace = %self.key, %err, "no way out for the workspace"),
            )
            .ok()
    }

    /// Sandboxed: clones or fetches first, outside the sandbox (see
    /// [`super::checkout`]); unsandboxed the launcher does it itself.
    pub async fn check_out_first(
        &self,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<()> {
        match &self.sandbox {
            Some(_) => super::checkout::run(self, &self.cfg, cancel).await,
            None => Ok(()),
        }
    }

    /// Spawns the launcher in its own process group, its secrets on its stdin.
    pub fn spawn(&self) -> Result<tokio::process::Child> {
        let fail = |what: &str, e: std::io::Error| Error::Runtime(format!("{what}: {e}"));
        std::fs::create_dir_all(&self.env.workspaces_dir)
            .map_err(|e| fail("cannot create the workspace volume", e))?;
        super::data_dir::make_parent(&self.addr_file)
            .map_err(|e| fail("cannot make the run folder", e))?;
        match std::fs::remove_file(&self.addr_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(fail("cannot clear the address file", e))
            }
            _ => {}
        }
        let log = self.open_log()?;
        let log2 = log
            .try_clone()
            .map_err(|e| fail("cannot open the launcher log", e))?;
        let sandboxed = self.sandbox.is_some() && self.iso.sandbox.is_some();
        let mut cmd = match (&self.sandbox, &self.iso.sandbox) {
            (Some(spec), Some(sb)) => self.sandboxed(spec, sb)?,
            _ => {
                let mut cmd = std::process::Command::new(&self.bin);
                for (key, _) in std::env::vars_os() {
                    if key.to_str().is_some_and(|k| k.starts_with("DCS_")) {
                        cmd.env_remove(key);
                    }
                }
                cmd
            }
        };
        cmd.arg("run")
            .current_dir(&self.env.workspaces_dir)
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log2);
        // A group of its own (stopped as one); a sandbox's is a session of its own
        // too (`setsid`, which leaves the pid as it is): no terminal of the proxy's
        // is its controlling terminal, so its code cannot type into it (TIOCSTI).
        if !sandboxed {
            cmd.process_group(0);
        }
        // The workspace's own variables first, the contract last: it always wins.
        for (name, value) in &self.extra_env {
            if dcs_model::instance::is_extra_env_name(name) {
                cmd.env(name, value);
            }
        }
        if !sandboxed {
            cmd.envs(self.env.to_vars());
        }
        let secrets = self.stdin_secrets()?;
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.kill_on_drop(false);
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(&format!("cannot start {}", self.bin.display()), e))?;
        hand_over(&mut child, &secrets);
        Ok(child)
    }

    /// The launcher's log, for appending.
    pub fn open_log(&self) -> Result<std::fs::File> {
        super::data_dir::append_to(&self.log_path)
            .map_err(|e| Error::Runtime(format!("cannot open the launcher log: {e}")))
    }

    /// `setsid bwrap … -- <launcher>` with a minimal environment and the run folder
    /// made.
    fn sandboxed(&self, spec: &sandbox::Spec, sb: &SandboxConfig) -> Result<std::process::Command> {
        let fail = |what: &str, e: std::io::Error| Error::Runtime(format!("{what}: {e}"));
        let socket_len = spec.run_dir.join(SOCKET_NAME).as_os_str().len();
        if socket_len > dcs_model::env::listen::MAX_UNIX_PATH {
            return Err(Error::Runtime(format!(
                "the data dir's path is too long for a unix socket ({socket_len} bytes, at most {}); use a shorter --data-dir",
                dcs_model::env::listen::MAX_UNIX_PATH
            )));
        }
        make_private_dir(&spec.run_dir).map_err(|e| fail("cannot make the run folder", e))?;
        // Not through a link the user planted in their volume.
        let (volume, home) = (&self.env.workspaces_dir, sandbox_home(Path::new("")));
        std::fs::create_dir_all(volume)
            .and_then(|()| dcs_os::confined::make_folders(volume, &home))
            .map_err(|e| fail("cannot make the home folder", e))?;
        let home = volume.join(home);
        // The contract goes to the launcher alone (bubblewrap's `--setenv`), not to
        // bubblewrap's own environment.
        let mut spec = spec.clone();
        spec.env = self
            .env
            .to_vars()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let mut cmd = std::process::Command::new(&sb.setsid);
        cmd.arg(&sb.bwrap)
            .args(sandbox::argv(&spec))
            .arg(&self.bin)
            .env_clear()
            .env("HOME", &home)
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
            );
        for name in ["LANG", "LC_ALL", "TZ"] {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        Ok(cmd)
    }

    /// What the launcher reads from its stdin.
    fn stdin_secrets(&self) -> Result<StdinSecrets> {
        let git_token = match (&self.env.git_token_file, &self.git_token_file) {
            (Some(marker), Some(file)) if marker.as_os_str() == STDIN => Some(read_token(file)?),
            _ => None,
        };
        Ok(StdinSecrets {
            hop: Some(self.hop.expose().to_owned()),
            git_token,
        })
    }

    /// The address the launcher published, once it has ([`ON_SOCKET`] for a unix
    /// socket). A sandbox can write its run folder: the file is read as a regular
    /// file only, never through a link, and at most [`ADDR_MAX`] bytes of it.
    pub async fn published_addr(&self) -> Option<SocketAddr> {
        let (dir, name) = (self.addr_file.parent()?, self.addr_file.file_name()?);
        let (dir, name) = (dir.to_path_buf(), PathBuf::from(name));
        let read = move || dcs_os::confined::read_file(&dir, &name, ADDR_MAX);
        let text = String::from_utf8(tokio::task::spawn_blocking(read).await.ok()?.ok()?).ok()?;
        match text.trim().parse::<Listen>().ok()? {
            Listen::Tcp(addr) => Some(addr),
            Listen::Unix(_) => Some(ON_SOCKET),
        }
    }
}

/// The longest published address read (a unix socket's path is at most 108 bytes).
const ADDR_MAX: usize = 4096;

/// `PATH` when the proxy has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// The user's own git credentials in their volume (`0600`, written by the API,
/// read by the launcher's credential helper): `<volume>/.dcs/git-credentials.json`.
pub fn credentials_file(volume: &Path) -> PathBuf {
    volume
        .join(dcs_model::env::DEFAULT_CONFIG_SUBDIR)
        .join("git-credentials.json")
}

/// `HOME` inside a sandbox: a folder of the user's volume.
pub fn sandbox_home(volume: &Path) -> PathBuf {
    volume
        .join(dcs_model::env::DEFAULT_CONFIG_SUBDIR)
        .join("home")
}

/// Makes `dir` (and its parents), owner-only.
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests;
