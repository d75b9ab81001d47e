//! The local multi-user sandbox: each launcher runs under bubblewrap (Debian's
//! `bubblewrap`) in namespaces of its own:
//!
//! - **mount**: the host's system folders read-only (`/usr`, `/etc`, the `/bin`
//!   family as links or binds, `/opt`), a fresh `/proc`, `/dev` and `/tmp`; writable
//!   only its owner's workspace volume (the instance's config folder is inside it)
//!   and its own run folder (its socket, its address file, the checkout outcome); the
//!   launcher and the IDE install read-only. Nothing else of the proxy's data, no
//!   other user's files, and no secret: the git token, the hop secret and the
//!   sign-in secrets are masked with an empty file should they lie under a bound
//!   folder. Every path is bound at its host path, so paths mean the same inside.
//! - **PID**: the workspace's processes see only each other; the launcher is the
//!   namespace's PID 1 (`--as-pid-1`: it reaps orphans), so when it exits, however
//!   it exits (a stop, a crash, SIGKILL), the namespace and everything in it ends:
//!   the workspace's kill domain.
//! - **network**: loopback only; the launcher answers the proxy on a unix socket in
//!   its run folder (`DCS_LISTEN=unix:…`), so `/ports/<n>/` reaches only this
//!   workspace's processes, and nothing inside reaches the proxy's port, another
//!   launcher or the outside directly. (The clone runs before, outside: see
//!   [`super::checkout`].) The one way out is the proxy's forward proxy on the run
//!   folder's `egress.sock` ([`super::egress_socket`]), which decides where.
//! - **user, IPC, UTS, cgroup**: private; no capabilities; no further user
//!   namespaces.
//!
//! [`argv`] is a pure function of a [`Spec`] (golden-tested); [`System::of_host`]
//! reads what the host has; [`probe`] runs a trivial sandbox at start-up, so a
//! machine without bubblewrap or user namespaces is refused with what to install.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The system folders bound read-only when the host has them.
pub const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
];

/// How a system folder appears inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemDir {
    /// A folder, bound read-only.
    Dir(PathBuf),
    /// A symbolic link (merged `/usr`: `/bin` → `usr/bin`), made again inside.
    Link {
        /// The link.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
}

/// What the host has of [`SYSTEM_DIRS`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct System(pub Vec<SystemDir>);

impl System {
    /// Reads the host's system folders.
    pub fn of_host() -> Self {
        let mut dirs = Vec::new();
        for dir in SYSTEM_DIRS {
            let path = Path::new(dir);
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(path) {
                        dirs.push(SystemDir::Link {
                            path: path.to_path_buf(),
                            target,
                        });
                    }
                }
                Ok(m) if m.is_dir() => dirs.push(SystemDir::Dir(path.to_path_buf())),
                _ => {}
            }
        }
        Self(dirs)
    }
}

/// One launcher's sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The host's system folders.
    pub system: System,
    /// The owner's workspace volume (writable).
    pub volume: PathBuf,
    /// The launcher's run folder: socket, address file, checkout outcome (writable).
    pub run_dir: PathBuf,
    /// The launcher binary (read-only).
    pub launcher: PathBuf,
    /// More read-only paths (the IDE install, extra CA certificates).
    pub read_only: Vec<PathBuf>,
    /// Secret files masked with an empty file if they are under a bound folder.
    pub hidden: Vec<PathBuf>,
    /// The working directory.
    pub cwd: PathBuf,
    /// Variables set for the launcher only (`--setenv`; the `DCS_*` contract, which
    /// holds no secret): bubblewrap's own environment passes through too.
    pub env: Vec<(String, String)>,
}

/// `bwrap`'s arguments for `spec`, up to and including `--` (the launcher's command
/// follows). The environment is the process's own (set by the caller).
pub fn argv(spec: &Spec) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |items: &[&dyn AsRef<std::ffi::OsStr>]| {
        a.extend(items.iter().map(|i| i.as_ref().to_owned()));
    };
    push(&[
        &"--unshare-user",
        &"--unshare-pid",
        &"--unshare-net",
        &"--unshare-ipc",
        &"--unshare-uts",
        &"--unshare-cgroup-try",
        &"--as-pid-1",
        &"--disable-userns",
        &"--cap-drop",
        &"ALL",
        &"--hostname",
        &"workspace",
    ]);
    for dir in &spec.system.0 {
        match dir {
            SystemDir::Dir(path) => push(&[&"--ro-bind", path, path]),
            SystemDir::Link { path, target } => push(&[&"--symlink", target, path]),
        }
    }
    push(&[&"--proc", &"/proc", &"--dev", &"/dev", &"--tmpfs", &"/tmp"]);
    push(&[
        &"--tmpfs",
        &"/run",
        &"--tmpfs",
        &"/var",
        &"--dir",
        &"/var/tmp",
    ]);
    push(&[&"--bind", &spec.volume, &spec.volume]);
    push(&[&"--bind", &spec.run_dir, &spec.run_dir]);
    push(&[&"--ro-bind", &spec.launcher, &spec.launcher]);
    for path in &spec.read_only {
        push(&[&"--ro-bind", path, path]);
    }
    let bound = |p: &Path| {
        spec.system.0.iter().any(|d| match d {
            SystemDir::Dir(dir) => p.starts_with(dir),
            SystemDir::Link { .. } => false,
        }) || [&spec.volume, &spec.run_dir]
            .into_iter()
            .chain(&spec.read_only)
            .any(|dir| p.starts_with(dir))
    };
    for secret in spec.hidden.iter().filter(|p| bound(p)) {
        push(&[&"--ro-bind", &"/dev/null", secret]);
    }
    for (name, value) in &spec.env {
        push(&[&"--setenv", name, value]);
    }
    push(&[&"--chdir", &spec.cwd, &"--"]);
    a
}

/// The folder an installed IDE lives in (bound read-only into every sandbox): two
/// levels above an absolute `--ide-bin` (`…/code-server/bin/code-server`).
pub fn ide_folder(ide_bin: Option<&Path>) -> Option<PathBuf> {
    let bin = ide_bin.filter(|b| b.is_absolute())?;
    let bin = std::fs::canonicalize(bin).unwrap_or_else(|_| bin.to_path_buf());
    bin.parent()?.parent().map(Path::to_path_buf)
}

/// Why `data_dir` (every user's volume and run folder) would be readable in every
/// sandbox, if it would: it lies in a folder each binds read-only (the host's
/// system folders, the IDE's folder).
pub fn data_dir_exposed(data_dir: &Path, system: &System, ide: Option<&Path>) -> Option<String> {
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let data = real(data_dir);
    let system = system.0.iter().filter_map(|d| match d {
        SystemDir::Dir(dir) => Some(dir.as_path()),
        SystemDir::Link { .. } => None,
    });
    let (folder, what) = system
        .map(|d| (real(d), "a system folder"))
        .chain(ide.map(|d| (real(d), "the IDE's folder (two levels above --ide-bin)")))
        .find(|(folder, _)| data.starts_with(folder))?;
    Some(format!(
        "--data-dir {} lies in {} ({what}), which every workspace's sandbox can read: each \
         user could read every other user's files there; use a data dir outside it",
        data_dir.display(),
        folder.display()
    ))
}

/// The `bwrap` executable on `PATH`, if any.
pub fn find_bwrap() -> Option<PathBuf> {
    find_on_path("bwrap")
}

/// util-linux's `setsid` on `PATH`, if any: each sandbox starts in a session of
/// its own, away from any terminal of the proxy's.
pub fn find_setsid() -> Option<PathBuf> {
    find_on_path("setsid")
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// What to tell an operator whose machine cannot sandbox.
pub const INSTALL_HINT: &str =
    "install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; \
     `make run` does it) and allow unprivileged user namespaces \
     (`sysctl kernel.unprivileged_userns_clone=1`, or on Ubuntu 24.04 \
     `kernel.apparmor_restrict_unprivileged_userns=0`)";

/// Runs `true` in a sandbox like a workspace's (same namespaces, system folders
/// only): `Ok` if this machine can sandbox, else why and what to install.
pub fn probe(bwrap: Option<&Path>) -> Result<PathBuf, String> {
    let Some(bwrap) = bwrap else {
        return Err(format!(
            "several users share this machine (local runtime, sign-in other than `none`, \
             or --sandbox), so each workspace runs in a bubblewrap sandbox, and `bwrap` is \
             not on PATH: {INSTALL_HINT}"
        ));
    };
    let spec = Spec {
        system: System::of_host(),
        volume: std::env::temp_dir(),
        run_dir: std::env::temp_dir(),
        launcher: PathBuf::from("/dev/null"),
        read_only: Vec::new(),
        hidden: Vec::new(),
        cwd: PathBuf::from("/"),
        env: Vec::new(),
    };
    let output = Command::new(bwrap)
        .args(argv(&spec))
        .arg("true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match output {
        Ok(out) if out.status.success() => Ok(bwrap.to_path_buf()),
        Ok(out) => Err(format!(
            "several users share this machine, so each workspace runs in a bubblewrap \
             sandbox, and a test sandbox failed ({}: {}): {INSTALL_HINT}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!(
            "cannot run {} ({e}): {INSTALL_HINT}",
            bwrap.display()
        )),
    }
}

#[cfg(test)]
mod tests;
