//! The generated Knative workspace container in Debian bookworm and trixie (minbase
//! root filesystems without CA certificates, `make rootfs`), run under bubblewrap as
//! uid 1000 with no capabilities (see `dcs_e2e::rootfs`). For each root:
//!
//! 1. first start with the `none` IDE: the static launcher clones `acme/hello` over
//!    HTTPS from `https://localhost:<port>` — a name resolved through the root's
//!    `/etc/nsswitch.conf` and the `/etc/hosts` the kubelet provides — whose
//!    certificate a private CA signed; that CA reaches the launcher only through the
//!    pod's extra CA Secret (`DCS_EXTRA_CA_FILE`); `/_dcs/ready` answers 200; SIGTERM
//!    stops it cleanly (exit 0);
//! 2. code-server: downloaded from an HTTPS mirror signed by the same CA, checksum
//!    verified, installed into the home volume, run as uid 1000 — nothing installed
//!    with apt (the root lacks git: a warning, not an attempt) — and answering through
//!    the launcher; SIGTERM stops it cleanly;
//! 3. code-server again: a wake, ready without downloading anything.
//!
//! What this proves about code-server, and what not: the archive on the mirror is a
//! stand-in whose `bin/code-server` runs the code-server of `make ide-deps` (the npm
//! build and its Node.js, bound read-only into the container). It runs inside the
//! root, so with the root's glibc and libstdc++ — the test checks that its Node.js
//! process mapped the root's `libc.so.6` and `libstdc++.so.6`, not the host's. It
//! does not prove that the GitHub release archive itself unpacks and runs here (that
//! archive bundles the same official Node.js build the npm package does).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use dcs_e2e::rootfs::running::Running;
use dcs_e2e::rootfs::scene::{Scene, README};

/// Generous: a loaded two-core machine runs several of these at once.
const START: Duration = Duration::from_secs(240);

/// The host pids below `pid` (its children, theirs, …).
fn descendants(pid: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| Some((p, dcs_os::proc::stat(p)?.ppid)))
        .collect();
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(all.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    out.remove(0);
    out
}

/// The inode of the library `lib` (e.g. `libc.so.6`; maps name the file a symbolic
/// link leads to, `libstdc++.so.6.0.30`) that `pid` has mapped.
fn mapped_inode(pid: u32, lib: &str) -> Option<u64> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    maps.lines()
        .find(|l| l.rsplit('/').next().is_some_and(|f| f.starts_with(lib)))
        .and_then(|l| l.split_whitespace().nth(4)?.parse().ok())
}

/// The effective capabilities of `pid` (hex mask from `/proc/<pid>/status`).
fn cap_eff(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| v.trim().to_owned())
}

/// The checks every start shares: ready, the checkout, the trust bundle, a static
/// PID 1 without capabilities.
async fn ready_and_checked(scene: &Scene, running: &Running) -> anyhow::Result<()> {
    running.ready(START).await?;
    let readme = scene.volume("workspaces").join("acme/hello/README.md");
    let text = std::fs::read_to_string(&readme).with_context(|| readme.display().to_string())?;
    assert_eq!(text, README);
    let bundle = scene.volume("home").join(".dcs/trust/ca-bundle.pem");
    let bundle = std::fs::read_to_string(&bundle).with_context(|| bundle.display().to_string())?;
    assert!(
        bundle.matches("BEGIN CERTIFICATE").count() > 100,
        "Mozilla's roots"
    );
    let pid = running.container.pid();
    assert_eq!(
        mapped_inode(pid, "libc.so.6"),
        None,
        "the launcher is static"
    );
    assert_eq!(
        cap_eff(pid).as_deref(),
        Some("0000000000000000"),
        "no capabilities"
    );
    Ok(())
}

async fn scenario(root_name: &str) -> anyhow::Result<()> {
    let mut scene = Scene::new(root_name)?;
    let root = scene.root().to_path_buf();
    assert!(
        !root.join("etc/ssl/certs/ca-certificates.crt").exists(),
        "{root_name}: the root must have no CA certificates"
    );
    let git_base = scene.git().base_url_for("localhost");

    // 1. First start, `none`: a clone over HTTPS trusted through the extra CA only.
    let first = scene.start("none", &git_base).await?;
    ready_and_checked(&scene, &first).await?;
    let log = first.container.log();
    assert_eq!(first.stop().await?, Some(0), "a clean stop:\n{log}");

    // 2. code-server, downloaded from the mirror and run with the root's libraries.
    scene.with_code_server()?;
    let ide = scene.start("code-server", &git_base).await?;
    ready_and_checked(&scene, &ide).await?;
    let (status, body) = ide.get("/healthz").await?;
    assert_eq!(
        status, 200,
        "code-server answers through the launcher: {body}"
    );
    // code-server's own health report ("alive", or "expired" before a first heartbeat).
    assert!(body.contains("lastHeartbeat"), "{body}");
    let node = descendants(ide.container.pid())
        .into_iter()
        .find(|p| {
            std::fs::read_link(format!("/proc/{p}/exe"))
                .is_ok_and(|exe| exe.file_name().is_some_and(|n| n == "node"))
        })
        .context("code-server's node process")?;
    for (lib, dir) in [
        ("libc.so.6", "usr/lib/x86_64-linux-gnu"),
        ("libstdc++.so.6", "usr/lib/x86_64-linux-gnu"),
    ] {
        let in_root = std::fs::metadata(root.join(dir).join(lib))?.ino();
        let on_host = std::fs::metadata(Path::new("/").join(dir).join(lib)).map(|m| m.ino());
        assert_eq!(
            mapped_inode(node, lib),
            Some(in_root),
            "{lib} is the root's"
        );
        assert_ne!(
            on_host.ok(),
            Some(in_root),
            "{lib}: the root's file is not the host's"
        );
    }
    assert_eq!(scene.release_downloads(), 1, "downloaded once");
    let log = ide.container.log();
    assert!(!log.contains("installing missing packages"), "{log}");
    assert_eq!(ide.stop().await?, Some(0), "a clean stop:\n{log}");

    // 3. A wake: the install in the home volume is used, nothing is downloaded.
    let requests = scene.release_requests();
    let wake = scene.start("code-server", &git_base).await?;
    ready_and_checked(&scene, &wake).await?;
    assert_eq!(
        scene.release_requests(),
        requests,
        "the wake downloads nothing"
    );
    let log = wake.container.log();
    assert!(log.contains("IDE already installed"), "{log}");
    assert_eq!(wake.stop().await?, Some(0), "a clean stop:\n{log}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookworm_without_ca_certificates_clones_over_https_and_runs_none_and_code_server(
) -> anyhow::Result<()> {
    scenario("bookworm").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trixie_without_ca_certificates_clones_over_https_and_runs_none_and_code_server(
) -> anyhow::Result<()> {
    scenario("trixie").await
}

/// The sandbox runs the generated container, changed only where the test must: the
/// listen address and its file (the host's network namespace is shared) and, with a
/// release mirror, the download base. Everything else a runtime adds is the runtime's
/// own (`PATH`, `HOSTNAME`, Knative's `PORT` and `K_*`).
#[test]
fn the_sandbox_runs_the_generated_container_as_uid_1000_without_capabilities() -> anyhow::Result<()>
{
    let scene = Scene::new("bookworm")?;
    let ksvc = scene.ksvc("none", &scene.git().base_url())?;
    let sandbox = scene.sandbox(&ksvc)?;
    let spec = sandbox.spec();
    assert_eq!(
        (spec.uid, spec.gid, spec.drops_all_capabilities),
        (1000, 1000, true)
    );
    assert_eq!(spec.launcher, "/opt/dcs/bin/dcs-launcher");
    assert_eq!(spec.argv, ["/opt/dcs/bin/dcs-launcher", "run"]);
    assert_eq!(
        spec.env("DCS_EXTRA_CA_FILE"),
        Some("/var/run/secrets/dcs/ca/ca.crt")
    );
    let env = sandbox.environment();
    for (name, value) in &env {
        match spec.env(name) {
            Some(v) if v == value => {}
            Some(_) => assert!(
                ["DCS_LISTEN", "DCS_ADDR_FILE"].contains(&name.as_str()),
                "{name} differs from the generated container"
            ),
            None => assert!(
                [
                    "PATH",
                    "HOSTNAME",
                    "PORT",
                    "K_SERVICE",
                    "K_CONFIGURATION",
                    "K_REVISION"
                ]
                .contains(&name.as_str())
                    || ["DCS_ADDR_FILE"].contains(&name.as_str()),
                "{name} is not in the generated container"
            ),
        }
    }
    assert!(spec
        .env
        .iter()
        .all(|(k, _)| env.iter().any(|(n, _)| n == k)));
    let args: Vec<String> = sandbox
        .args()?
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let joined = args.join(" ");
    for want in [
        "--unshare-user --uid 1000 --gid 1000 --unshare-pid --unshare-ipc --unshare-uts",
        "--as-pid-1",
        "--cap-drop ALL",
        "--remount-ro /",
        "--chdir /workspaces -- /opt/dcs/bin/dcs-launcher run",
    ] {
        assert!(joined.contains(want), "{want} in {joined}");
    }
    assert!(
        !joined.contains("--unshare-net"),
        "loopback servers stay reachable"
    );
    Ok(())
}

/// An init container may end before its PID 1 is ever seen (the checkout
/// container's fetch into an existing checkout takes ~10 ms): it is run to its end,
/// and how it ended is what counts. Before, the harness looked for PID 1 first and
/// called a container that had already ended successfully "ended at once".
#[tokio::test]
async fn a_container_that_ends_at_once_is_run_to_its_end() -> anyhow::Result<()> {
    let scene = Scene::new("bookworm")?;
    let ksvc = scene.ksvc("none", &scene.git().base_url())?;
    let logs = tempfile::tempdir()?;
    for (argv, code) in [("/bin/true", 0), ("/bin/false", 1)] {
        let sandbox = scene.sandbox(&ksvc)?.command(&[argv]);
        for i in 0..10 {
            let log = logs.path().join(format!("{code}-{i}.log"));
            let (status, output) = sandbox.run(&log, Duration::from_secs(60)).await?;
            assert_eq!(status.code(), Some(code), "{argv}, run {i}:\n{output}");
        }
    }
    Ok(())
}
