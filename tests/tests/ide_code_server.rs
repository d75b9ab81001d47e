//! VS Code in the browser, for real: code-server (from `make ide-deps`) started by
//! the launcher behind the proxy in local mode (`--ide code-server --ide-bin …`),
//! driven by headless Chromium. The workbench loads and lists the README, an edit
//! saved in the IDE is on disk, and after the IDE process is killed the launcher
//! restarts it and the page works again.

use std::time::Duration;

use dcs_e2e::browser::{self, Script};
use dcs_e2e::ide_support::{self, DirectLauncher};
use dcs_e2e::{Fixture, README};

const STEP: Duration = Duration::from_secs(240);

#[tokio::test]
async fn code_server_in_chromium_edits_and_survives_an_ide_crash() -> anyhow::Result<()> {
    let (tools, code_server) = (browser::tools(), ide_support::code_server());
    let shots = ide_support::screenshot_dir("code_server")?;
    let bin = code_server.display().to_string();

    // Through the proxy when it can pass the IDE binary on; else (until the proxy has
    // `--ide-bin`) straight to a launcher, so the IDE path is still covered.
    let (fx, direct, url, checkout, launcher_pid);
    if ide_support::proxy_has_ide_bin() {
        let f = Fixture::new(|b| b.code_server(&code_server))?;
        url = f.proxy.url("/github/acme/hello/");
        checkout = f.checkout();
        fx = Some(f);
        direct = None;
        launcher_pid = None;
    } else {
        eprintln!("NOTICE: dcs-proxy has no --ide-bin yet; testing code-server through the launcher directly");
        let f = Fixture::new(|b| b)?;
        let l = DirectLauncher::start(
            f.tmp.path(),
            &f.git.base_url(),
            &[("DCS_IDE", "code-server"), ("DCS_IDE_BIN", &bin)],
        )?;
        url = l.url("/");
        checkout = l.workspaces.join("acme/hello");
        launcher_pid = Some(l.pid());
        direct = Some(l);
        fx = Some(f);
    }
    let fx = fx.expect("a fixture");
    let launcher = || launcher_pid.or_else(|| fx.proxy.launcher_pids().first().copied());

    let mut script = Script::start(
        &tools,
        "ide.mjs",
        serde_json::json!({
            "url": url,
            "screenshots": shots.display().to_string(),
            "file": "README.md",
            "text": "edited in the browser",
            "text2": "edited after the IDE restarted",
        }),
    )?;
    let explorer = script.expect("explorer", STEP).await?;
    assert!(
        explorer["rows"].to_string().contains("README.md"),
        "{explorer}"
    );
    assert!(
        shots.join("workbench.png").is_file(),
        "a screenshot was written"
    );

    script.expect("saved", STEP).await?;
    let on_disk = std::fs::read_to_string(checkout.join("README.md"))?;
    assert!(
        on_disk.starts_with(README) && on_disk.contains("edited in the browser"),
        "{on_disk}"
    );

    script.expect("ready-for-kill", STEP).await?;
    let launcher = launcher().expect("a launcher runs");
    let ide = ide_support::ide_pid_of(launcher).expect("the launcher supervises an IDE");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(ide)?),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    script.send("killed").await?;

    script.expect("saved-again", STEP).await?;
    let on_disk = std::fs::read_to_string(checkout.join("README.md"))?;
    assert!(
        on_disk.contains("edited after the IDE restarted"),
        "{on_disk}"
    );
    let restarted = ide_support::ide_pid_of(launcher).expect("a new IDE process");
    assert_ne!(restarted, ide);
    script.finish(STEP).await?;

    if let Some(mut l) = direct {
        assert_eq!(l.terminate(), Some(0), "a clean stop exits 0");
        assert!(ide_support::ide_pid_of(launcher).is_none());
    }
    Ok(())
}
