//! A real `dcs-proxy` process for end-to-end tests (local runtime, or Knative mode
//! on a fake API server): started on `127.0.0.1:0` with a data dir of the test's, its address read from the line it prints, stopped with
//! SIGTERM (or killed with SIGKILL to simulate a crash). Dropping it stops the proxy
//! and any launcher it left behind, so a failing test leaks nothing.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::bins::bin_path;
use crate::procs::{cmdline, is_alive, processes_with_env};

/// How to start a proxy.
#[derive(Debug, Clone)]
pub struct ProxyBuilder {
    data_dir: PathBuf,
    git_base: String,
    user: String,
    listen: String,
    args: Vec<String>,
    env: Vec<(String, PathBuf)>,
}

/// A running `dcs-proxy serve --runtime local` (`--auth none` unless flags say otherwise).
#[derive(Debug)]
pub struct Proxy {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where it takes launchers' progress pushes (`--hop-listen`), if apart.
    pub hop_addr: Option<SocketAddr>,
    /// Its data dir.
    pub data_dir: PathBuf,
    /// The local user.
    pub user: String,
    log_path: PathBuf,
    /// Whether dropping this handle kills leftover launchers (off after a simulated
    /// crash: those launchers belong to the next proxy on the same data dir).
    reap_on_drop: bool,
}

impl ProxyBuilder {
    /// A proxy over `data_dir` cloning from `git_base`, as user `alice`.
    pub fn new(data_dir: &Path, git_base: &str) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            git_base: git_base.to_owned(),
            user: "alice".into(),
            listen: "127.0.0.1:0".into(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Sets an environment variable of the proxy (e.g. `KUBECONFIG`).
    pub fn env(mut self, name: &str, value: impl Into<PathBuf>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// Serves the code-server installed at `bin` (`--ide code-server --ide-bin`).
    pub fn code_server(self, bin: &Path) -> Self {
        self.arg("--ide")
            .arg("code-server")
            .arg("--ide-bin")
            .arg(bin.display().to_string())
    }

    /// Runs it in Knative mode against the API server `kubeconfig` names, deriving
    /// hop credentials from `hop_secret_file`.
    pub fn knative(self, kubeconfig: &Path, hop_secret_file: &Path) -> Self {
        self.arg("--runtime")
            .arg("knative")
            .arg("--hop-secret-file")
            .arg(hop_secret_file.display().to_string())
            .env("KUBECONFIG", kubeconfig)
    }

    /// Adds a flag (and its value, if any).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets `--user` (`--auth none`), and whose volume [`Proxy::volume`] names: with
    /// other auth modes, pass the uid the test signs in as.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// Sets `--listen`.
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = addr.into();
        self
    }

    /// Starts it and waits until it prints its address.
    pub fn start(&self) -> anyhow::Result<Proxy> {
        std::fs::create_dir_all(&self.data_dir)?;
        let log_path = self.data_dir.join(format!(
            "proxy-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_nanos()
        ));
        let log = std::fs::File::create(&log_path)?;
        // A home of its own: the workspaces' shells (local mode keeps the proxy's
        // environment) read no start-up files of this machine's user, which may be
        // slow or broken (a pyenv rehash lock left by a shell killed mid-way made
        // every later shell wait a minute).
        let home = self.data_dir.join("home");
        std::fs::create_dir_all(&home)?;
        let mut child = Command::new(bin_path("dcs-proxy")?)
            .arg("serve")
            .args([
                "--listen",
                &self.listen,
                "--user",
                &self.user,
                "--git-base",
                &self.git_base,
            ])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--launcher-bin"])
            .arg(bin_path("dcs-launcher")?)
            .args(["--log", "debug", "--launcher-log", "debug"])
            .args(&self.args)
            .env("HOME", &home)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("spawn dcs-proxy")?;
        let announced = listening_addr(&mut child)?;
        let Announced { addr, hop } = match announced.recv_timeout(Duration::from_secs(30)) {
            Ok(announced) => announced,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "dcs-proxy did not start; its log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        };
        Ok(Proxy {
            child: Some(child),
            addr,
            hop_addr: hop,
            data_dir: self.data_dir.clone(),
            user: self.user.clone(),
            log_path,
            reap_on_drop: true,
        })
    }
}

impl Proxy {
    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The proxy's `/metrics` text (on its main listener).
    pub async fn metrics(&self) -> anyhow::Result<String> {
        Ok(crate::client()
            .get(self.url("/metrics"))
            .send()
            .await?
            .text()
            .await?)
    }

    /// The proxy's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The proxy's log so far. Lines a busy worker still holds reach it once that
    /// worker runs out of work (`telemetry::batch`): wait for a line you look for,
    /// and look for what must never be logged in [`Self::whole_log`].
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Stops the proxy (SIGTERM, as [`Self::terminate`]) and returns its whole log:
    /// every line it made, those its workers held included.
    pub fn whole_log(&mut self) -> String {
        let clean = self.terminate();
        let log = self.log();
        assert!(clean, "the proxy did not stop cleanly:\n{log}");
        log
    }

    /// The user's workspace volume.
    pub fn volume(&self) -> PathBuf {
        self.volume_of(&self.user)
    }

    /// The workspace volume of user id `user`.
    pub fn volume_of(&self, user: &str) -> PathBuf {
        self.data_dir.join("workspaces").join(user)
    }

    /// User ids that have a workspace volume (someone's workspace was started).
    pub fn volumes(&self) -> Vec<String> {
        let mut users: Vec<String> = std::fs::read_dir(self.data_dir.join("workspaces"))
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        users.sort();
        users
    }

    /// Live launcher processes serving this proxy's user.
    pub fn launcher_pids(&self) -> Vec<u32> {
        self.launcher_pids_of(&self.user)
    }

    /// Live launcher processes serving user id `user`: the processes with the
    /// launcher's environment, less those a launcher started (its transfer children,
    /// such as the history fetch after a first open, inherit that environment) and a
    /// sandbox's checkout steps (`dcs-launcher checkout [--history]`, the proxy's).
    pub fn launcher_pids_of(&self, user: &str) -> Vec<u32> {
        let step = |p: u32| cmdline(p).is_some_and(|c| c.get(1).is_some_and(|a| a == "checkout"));
        let mut pids = self.workspace_pids_of(user);
        pids.retain(|&p| !step(p));
        pids
    }

    /// [`Self::launcher_pids_of`] with the checkout steps.
    fn workspace_pids_of(&self, user: &str) -> Vec<u32> {
        let marker = format!("DCS_WORKSPACES_DIR={}", self.volume_of(user).display());
        let with_env = processes_with_env(&marker);
        with_env
            .iter()
            .copied()
            .filter(|p| is_alive(*p))
            .filter(|p| dcs_os::proc::stat(*p).is_none_or(|stat| !with_env.contains(&stat.ppid)))
            .collect()
    }

    /// Kills the proxy with SIGKILL (a crash): its launchers keep running.
    pub fn sigkill(&mut self) {
        self.reap_on_drop = false;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the proxy with SIGTERM and waits for it to exit; returns whether it
    /// exited cleanly in time.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = i32::try_from(child.id()).map(|pid| kill(Pid::from_raw(pid), Signal::SIGTERM));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.terminate();
        if !self.reap_on_drop {
            return;
        }
        let users = self.volumes();
        for pid in users.iter().flat_map(|u| self.workspace_pids_of(u)) {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// What a started `dcs-proxy` announces on its stdout: its address ("dcs-proxy
/// listening on http://…") and, printed before it, its hop listener's
/// (`--hop-listen`).
#[derive(Debug, Clone, Copy)]
pub struct Announced {
    /// The main listener.
    pub addr: SocketAddr,
    /// The hop listener, if it has one.
    pub hop: Option<SocketAddr>,
}

/// What a started `dcs-proxy` announces ([`Announced`]), delivered once it prints
/// its main address; its stdout is read on a thread of its own.
pub fn listening_addr(child: &mut Child) -> anyhow::Result<std::sync::mpsc::Receiver<Announced>> {
    let stdout = child.stdout.take().context("stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut hop = None;
        let announced = |line: &str, what: &str| {
            line.strip_prefix(what)
                .and_then(|rest| rest.trim().parse::<SocketAddr>().ok())
        };
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = announced(&line, "dcs-proxy hop listener on http://") {
                hop = Some(addr);
            }
            if let Some(addr) = announced(&line, "dcs-proxy listening on http://") {
                let _ = tx.send(Announced { addr, hop });
            }
        }
    });
    Ok(rx)
}

/// The value of counter (or gauge) `name` in a Prometheus text exposition (0 if
/// absent).
pub fn metric(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}
