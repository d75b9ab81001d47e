//! An IDE that crashes again and again once it has served, through the real proxy
//! in local mode: when the launcher's supervisor gives up, the launcher ends (rather
//! than answer every path with an error while its workspace reads as running for
//! ever), an open tab's polls are told the workspace stopped without waking it, and
//! the next open starts it afresh, whose failure page says how the IDE exited.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use dcs_e2e::{api, client, ide_support, wait_until, Fixture};

/// Generous: the machine is shared.
const STEP: Duration = Duration::from_secs(120);

/// How long the launcher's supervisor tries before it gives up: ten restarts after
/// backoffs of 0.5 s doubling to 30 s (about 150 s), with room for a busy machine.
const GIVING_UP: Duration = Duration::from_secs(300);

/// A stand-in for code-server (`--ide-bin`): its first run serves `/healthz`; every
/// later run exits at once, with status 7.
const FAKE_IDE: &str = r#"#!/bin/sh
here=$(dirname "$0")
if [ -e "$here/served" ]; then
    echo "fake IDE: cannot start" >&2
    exit 7
fi
touch "$here/served"
while [ $# -gt 0 ]; do
    if [ "$1" = "--port" ]; then port=$2; fi
    shift
done
exec /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$here/www" "$port"
"#;

/// Writes [`FAKE_IDE`] into `dir`; its path.
fn fake_ide(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir.join("www"))?;
    std::fs::write(dir.join("www/healthz"), "ok\n")?;
    let bin = dir.join("fake-code-server");
    std::fs::write(&bin, FAKE_IDE)?;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
    Ok(bin)
}

#[tokio::test]
async fn an_ide_that_keeps_crashing_ends_its_launcher_and_the_next_open_says_why(
) -> anyhow::Result<()> {
    let ide_dir = tempfile::tempdir()?;
    let bin = fake_ide(ide_dir.path())?;
    let fx = Fixture::new(|b| b.code_server(&bin))?;
    fx.readme_is_served().await?;
    let launcher = fx.proxy.launcher_pids()[0];
    let ide = ide_support::ide_pid_of(launcher).expect("the launcher supervises an IDE");

    // The IDE dies; every restart exits at once.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(ide)?),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    assert!(
        fx.wait_for_no_launcher(GIVING_UP).await,
        "the launcher outlived its IDE's crash loop: {}",
        fx.proxy.log()
    );
    let exited = wait_until(STEP, Duration::from_millis(100), || {
        fx.proxy.log().lines().any(|l| {
            l.contains("launcher exited")
                && l.contains(&launcher.to_string())
                && l.contains("exit status: 3")
        })
    });
    assert!(exited.await, "it ended failed (3): {}", fx.proxy.log());

    // A tab left open polls: told the workspace stopped, nothing started.
    let http = client();
    let resp = http
        .get(fx.proxy.url("/github/acme/hello/_dcs/idle"))
        .header("x-dcs-background", "1")
        .send()
        .await?;
    let (status, body) = api::status_json(resp).await?;
    assert_eq!(status, 503, "{body}\n{}", fx.proxy.log());
    assert_eq!(body["stopped"], true, "{body}");
    assert!(fx.proxy.launcher_pids().is_empty(), "{}", fx.proxy.log());

    // Opened again: started afresh, and the page says how the IDE exited.
    let open = dcs_e2e::navigation(http.get(fx.proxy.url("/github/acme/hello/")));
    let resp = open.send().await?;
    let page = resp.text().await?;
    let deadline = Instant::now() + STEP;
    let failed = loop {
        let resp = http
            .get(fx.proxy.url("/github/acme/hello/_dcs/progress"))
            .header("accept", "application/json")
            .send()
            .await?;
        let (code, body) = api::status_json(resp).await?;
        assert_eq!(code, 200, "{body}");
        if body["phase"] == "failed" {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "never failed: {body}\n{page}\n{}",
            fx.proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("exited") && reason.contains("exit status: 7"),
        "{failed}"
    );
    assert!(
        failed["hint"]
            .as_str()
            .is_some_and(|h| h.contains("Reload the page to try again")),
        "{failed}"
    );
    assert!(fx.wait_for_no_launcher(STEP).await, "{}", fx.proxy.log());
    Ok(())
}
