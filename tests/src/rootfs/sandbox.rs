//! [`Sandbox`]: a [`ContainerSpec`] run in a root filesystem under bubblewrap, as a
//! container runtime would run it, and the running [`Container`].
//!
//! - **Root**: read-only. bubblewrap (0.8) has no overlay, so the root's entries are
//!   bound read-only one by one onto bubblewrap's own root, and the folders that hold
//!   a mount point (`/home` for `/home/dcs`, `/etc` for `/etc/hosts`) are recreated
//!   and mirrored level by level, so every mount point can be made without writing
//!   to the cached root filesystem. Symbolic links stay links; mount paths are
//!   resolved through them inside the root (`/var/run` → `/run`), as runc does.
//! - **Process**: the spec's command as PID 1 of new PID, IPC and UTS namespaces
//!   (bubblewrap's `--as-pid-1`: no reaper in front of it, like a container's entry
//!   point), in a user namespace as the spec's uid and gid, with every capability
//!   dropped, the spec's environment only (plus what a runtime adds: `PATH`,
//!   `HOSTNAME`, Knative's `PORT`/`K_*`), in the spec's working directory. The
//!   network namespace is the host's, so loopback servers of the test are reachable.
//! - **Mounts**: the spec's volumes as binds of host folders the caller provides
//!   (read-only where the spec says so), `/proc`, a fresh `/dev`, a `tmpfs` `/tmp`,
//!   and the static launcher bound read-only where the init container copies it.
//!
//! Caveat, by construction: the user namespace maps only the spec's uid, to the
//! uid running the test; files of the root filesystem owned by that host uid (root,
//! when the tests run as root) show as owned by the spec's uid. That is why the root
//! is read-only here: in a real container those files are root's and equally
//! unwritable for uid 1000.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::mirror::{mirror, resolve};
use super::spec::ContainerSpec;

/// `PATH` of Debian's images (the image config's `ENV PATH`).
pub const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An extra bind: test plumbing, not part of the pod.
#[derive(Debug, Clone)]
struct Bind {
    host: PathBuf,
    path: String,
    read_only: bool,
}

/// How to run a [`ContainerSpec`] in a root filesystem.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    root: PathBuf,
    spec: ContainerSpec,
    launcher: PathBuf,
    volumes: BTreeMap<String, PathBuf>,
    binds: Vec<Bind>,
    env: Vec<(String, String)>,
    hostname: String,
}

impl Sandbox {
    /// `spec` in the root filesystem `root`, run by `bwrap`, with the static
    /// launcher `launcher` where the init container would have copied it.
    pub fn new(bwrap: &Path, root: &Path, spec: ContainerSpec, launcher: &Path) -> Self {
        Self {
            bwrap: bwrap.to_path_buf(),
            root: root.to_path_buf(),
            spec,
            launcher: launcher.to_path_buf(),
            volumes: BTreeMap::new(),
            binds: Vec::new(),
            env: Vec::new(),
            hostname: "workspace".into(),
        }
    }

    /// The host folder backing the pod's volume `name`.
    pub fn volume(mut self, name: &str, host: &Path) -> Self {
        self.volumes.insert(name.to_owned(), host.to_path_buf());
        self
    }

    /// Binds `host` at `path` (test plumbing, not part of the pod).
    pub fn bind(mut self, host: &Path, path: &str, read_only: bool) -> Self {
        self.binds.push(Bind {
            host: host.to_path_buf(),
            path: path.to_owned(),
            read_only,
        });
        self
    }

    /// Sets `name` in the environment, replacing the spec's value if it has one.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs `argv` instead of the spec's command (test plumbing).
    pub fn command(mut self, argv: &[&str]) -> Self {
        self.spec.argv = argv.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// The pod's hostname (also `HOSTNAME`).
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = name.to_owned();
        self
    }

    /// The spec it runs.
    pub fn spec(&self) -> &ContainerSpec {
        &self.spec
    }

    /// The environment the process gets: the runtime's, the spec's, then the
    /// caller's (later entries replace earlier ones of the same name).
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), IMAGE_PATH.into()),
            ("HOSTNAME".into(), self.hostname.clone()),
        ];
        let port = self.spec.port.to_string();
        for (k, v) in [
            ("PORT", port.as_str()),
            ("K_SERVICE", self.hostname.as_str()),
            ("K_CONFIGURATION", self.hostname.as_str()),
            ("K_REVISION", self.hostname.as_str()),
        ] {
            env.push((k.into(), v.into()));
        }
        for (k, v) in self.spec.env.iter().chain(&self.env) {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }

    /// The `bwrap` arguments (reads the root filesystem's folders that hold mount
    /// points).
    pub fn args(&self) -> anyhow::Result<Vec<OsString>> {
        let mut mounts: Vec<(PathBuf, PathBuf, bool)> = Vec::new();
        for m in &self.spec.mounts {
            let host = self
                .volumes
                .get(&m.volume)
                .with_context(|| format!("no host folder for the volume {}", m.volume))?;
            mounts.push((resolve(&self.root, &m.path), host.clone(), m.read_only));
        }
        mounts.push((
            resolve(&self.root, &self.spec.launcher),
            self.launcher.clone(),
            true,
        ));
        for b in &self.binds {
            mounts.push((resolve(&self.root, &b.path), b.host.clone(), b.read_only));
        }
        // Parents before children (a volume holding the launcher before the launcher).
        mounts.sort_by_key(|(path, _, _)| path.components().count());
        let mut points: Vec<PathBuf> = mounts.iter().map(|(p, _, _)| p.clone()).collect();
        points.extend(["/proc", "/dev", "/tmp"].map(PathBuf::from));
        let mut args: Vec<OsString> = Vec::new();
        mirror(&self.root, Path::new("/"), &points, &mut args)?;
        for a in ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"] {
            args.push(a.into());
        }
        for (path, host, read_only) in &mounts {
            args.push(if *read_only { "--ro-bind" } else { "--bind" }.into());
            args.push(host.into());
            args.push(path.into());
        }
        args.extend(["--remount-ro", "/"].map(OsString::from));
        let (uid, gid) = (self.spec.uid.to_string(), self.spec.gid.to_string());
        for a in [
            "--unshare-user",
            "--uid",
            &uid,
            "--gid",
            &gid,
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--hostname",
            &self.hostname,
            "--as-pid-1",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
        ] {
            args.push(a.into());
        }
        if self.spec.drops_all_capabilities {
            args.extend(["--cap-drop", "ALL"].map(OsString::from));
        }
        for (k, v) in self.environment() {
            args.extend([OsString::from("--setenv"), k.into(), v.into()]);
        }
        if let Some(dir) = &self.spec.working_dir {
            args.extend([OsString::from("--chdir"), dir.into()]);
        }
        args.push("--".into());
        args.extend(self.spec.argv.iter().map(OsString::from));
        Ok(args)
    }

    /// Runs the container to its end (an init container, as the kubelet runs it), its
    /// output going to `log`; gives up after `within`. A container may end before its
    /// PID 1 is ever seen, so no PID is looked for. Returns how it ended and its log.
    pub async fn run(&self, log: &Path, within: Duration) -> anyhow::Result<(ExitStatus, String)> {
        let mut container = self.spawn(log)?;
        let status = container.wait(within).await?;
        Ok((status, container.log()))
    }

    /// Starts the container, its output (the launcher's log) going to `log`; returns
    /// once its PID 1 runs. For a long-lived container: one that ends before its PID 1
    /// is seen is an error (use [`Sandbox::run`] for one that ends on its own).
    pub async fn start(&self, log: &Path) -> anyhow::Result<Container> {
        let mut container = self.spawn(log)?;
        let bwrap = container.child.id();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(pid) = child_of(bwrap) {
                container.pid = pid;
                return Ok(container);
            }
            if let Some(status) = container.child.try_wait()? {
                bail!("bwrap ended at once ({status}): {}", container.log());
            }
            if Instant::now() >= deadline {
                bail!("bwrap started no process in 30 s: {}", container.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn spawn(&self, log: &Path) -> anyhow::Result<Container> {
        self.place_launcher()?;
        let out =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(&self.bwrap)
            .args(self.args()?)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", self.bwrap.display()))?;
        Ok(Container {
            child,
            pid: 0,
            log: log.to_path_buf(),
        })
    }

    /// The launcher is bound over a file in its (read-only) volume: make sure the
    /// volume's host folder has one to bind over, as the init container's copy would.
    fn place_launcher(&self) -> anyhow::Result<()> {
        let target = Path::new(&self.spec.launcher);
        let holder = self
            .spec
            .mounts
            .iter()
            .filter(|m| target.starts_with(&m.path))
            .max_by_key(|m| m.path.len())
            .context("no volume holds the launcher's path")?;
        let host = self
            .volumes
            .get(&holder.volume)
            .with_context(|| format!("no host folder for the volume {}", holder.volume))?;
        let file = host.join(target.strip_prefix(&holder.path)?);
        if !file.exists() {
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&file, b"")?;
        }
        Ok(())
    }
}

/// A running container: bwrap and, inside, the spec's process as PID 1.
#[derive(Debug)]
pub struct Container {
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl Container {
    /// The host pid of the container's PID 1 (the launcher).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What it printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM to PID 1 (what the kubelet does) and waits up to `within` for the
    /// container to end; returns its exit code (`None` if a signal ended it).
    pub async fn terminate(&mut self, within: Duration) -> anyhow::Result<Option<i32>> {
        let pid = i32::try_from(self.pid)?;
        if self.child.try_wait()?.is_none() {
            kill(Pid::from_raw(pid), Signal::SIGTERM).context("SIGTERM")?;
        }
        let status = self.wait(within).await?;
        Ok(status.code())
    }

    /// Waits up to `within` for the container to end.
    pub async fn wait(&mut self, within: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!(
                    "the container did not end within {} s; its log:\n{}",
                    within.as_secs(),
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // bwrap's --die-with-parent takes PID 1 (and with it the namespace) along.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The first live child of `parent`.
fn child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|&pid| dcs_os::proc::stat(pid).is_some_and(|s| !s.dead() && s.ppid == parent))
}
