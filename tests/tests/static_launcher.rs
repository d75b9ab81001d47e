//! The static `dcs-launcher` (`make static-launcher`): it has no ELF interpreter,
//! `ldd` calls it static, and it serves a workspace from an empty root (a user
//! namespace + chroot into a folder holding only the binary and a bare repo).
//!
//! Nothing here skips: without the static binary, `unshare`/`chroot` or user
//! namespaces the tests fail, saying what is missing and what installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use dcs_e2e::browser::{repo_root, required};
use dcs_e2e::{client, UpstreamRepo, README};

/// ELF program header type of the interpreter (`/lib64/ld-linux-x86-64.so.2`).
const PT_INTERP: u32 = 3;

/// How long the launcher in the empty root may take to listen, and then to be ready.
const PATIENCE: Duration = Duration::from_secs(60);

fn static_launcher() -> PathBuf {
    let default = repo_root().join("target/x86_64-unknown-linux-gnu/release/dcs-launcher");
    required(
        "DCS_TEST_STATIC_LAUNCHER",
        default,
        "the static launcher",
        "static-launcher",
    )
}

/// The program header types of a little-endian ELF64 file.
fn program_header_types(elf: &[u8]) -> anyhow::Result<Vec<u32>> {
    anyhow::ensure!(
        elf.get(..4) == Some(b"\x7fELF".as_slice()),
        "not an ELF file"
    );
    anyhow::ensure!(
        elf.get(4) == Some(&2) && elf.get(5) == Some(&1),
        "not ELF64 little-endian"
    );
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let phoff = usize::try_from(u64_at(0x20).unwrap_or(0))?;
    let size = usize::from(u16_at(0x36).unwrap_or(0));
    let count = usize::from(u16_at(0x38).unwrap_or(0));
    (0..count)
        .map(|i| {
            let at = phoff + i * size;
            elf.get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| anyhow::anyhow!("truncated program headers"))
        })
        .collect()
}

#[test]
fn the_static_launcher_has_no_interpreter_and_ldd_calls_it_static() -> anyhow::Result<()> {
    let bin = static_launcher();
    let types = program_header_types(&std::fs::read(&bin)?)?;
    assert!(!types.is_empty(), "program headers were read");
    assert!(
        !types.contains(&PT_INTERP),
        "{} has an ELF interpreter",
        bin.display()
    );
    // The dynamic launcher of the normal build does have one: the check can fail.
    let dynamic = dcs_e2e::bin_path("dcs-launcher")?;
    assert!(program_header_types(&std::fs::read(dynamic)?)?.contains(&PT_INTERP));
    let out = Command::new("ldd")
        .arg(&bin)
        .output()
        .context("running `ldd` (Debian's libc-bin)")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("not a dynamic executable") || text.contains("statically linked"),
        "ldd says: {text}"
    );
    let version = Command::new(&bin).arg("--version").output()?;
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("dcs-launcher "));
    Ok(())
}

/// Checks that `unshare -r chroot <root> /dcs-launcher --version` works here; else
/// fails saying what is missing (the tool, or the permission for user namespaces).
fn check_chroot(root: &Path) -> anyhow::Result<()> {
    for (tool, package) in [("unshare", "util-linux"), ("chroot", "coreutils")] {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .chain(["/usr/sbin".into(), "/sbin".into()])
            .any(|dir| dir.join(tool).is_file());
        anyhow::ensure!(
            found,
            "`{tool}` is missing: the empty-root run needs it (Debian's {package}; \
             `make deps` installs it)"
        );
    }
    let out = Command::new("unshare")
        .args(["-r", "chroot"])
        .arg(root)
        .arg("/dcs-launcher")
        .arg("--version")
        .env("PATH", PATH)
        .stdin(Stdio::null())
        .output()
        .context("running `unshare -r chroot`")?;
    anyhow::ensure!(
        out.status.success(),
        "`unshare -r chroot {} /dcs-launcher --version` failed ({}): {}\n\
         the empty-root run needs unprivileged user namespaces (as root: \
         `sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=15000`; \
         in a container: a seccomp profile that allows `unshare`)",
        root.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// The `PATH` the empty-root run is started with: where `unshare` finds `chroot`.
const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

#[tokio::test]
async fn the_static_launcher_serves_a_workspace_from_an_empty_root() -> anyhow::Result<()> {
    let bin = static_launcher();
    let root = tempfile::tempdir()?;
    std::fs::copy(&bin, root.path().join("dcs-launcher"))?;
    check_chroot(root.path())?;
    let git = root.path().join("git");
    UpstreamRepo::create(&git, "acme/hello", &[("README.md", README)])?;
    let mut child = Command::new("unshare")
        .args(["-r", "chroot"])
        .arg(root.path())
        .args(["/dcs-launcher", "run"])
        .env_clear()
        // For `unshare` to find `chroot`; the empty root has nothing on it anyway.
        .env("PATH", PATH)
        .env("DCS_REPO", "acme/hello")
        .env("DCS_GIT_BASE", "file:///git")
        .env("DCS_WORKSPACES_DIR", "/workspaces")
        .env("DCS_LISTEN", "127.0.0.1:0")
        .env("DCS_ADDR_FILE", "/addr")
        .env("DCS_STOP_GRACE", "2")
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(root.path().join("launcher.log"))?)
        .spawn()?;
    let log = || std::fs::read_to_string(root.path().join("launcher.log")).unwrap_or_default();
    let deadline = Instant::now() + PATIENCE;
    let addr = loop {
        if let Ok(addr) = std::fs::read_to_string(root.path().join("addr")) {
            break addr.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "never listened: {}", log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let http = client();
    let deadline = Instant::now() + PATIENCE;
    let ready = loop {
        let resp = http.get(format!("http://{addr}/_dcs/ready")).send().await?;
        if resp.status() == 200 || Instant::now() > deadline {
            break resp.status();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ready, 200, "{}", log());
    let readme = http
        .get(format!("http://{addr}/_dcs/files/README.md"))
        .send()
        .await?;
    assert_eq!(readme.text().await?, README);

    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id())?);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
    let status = child.wait()?;
    assert_eq!(status.code(), Some(0), "a clean stop: {}", log());
    Ok(())
}
