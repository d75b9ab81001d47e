//! A workspace's processes end with it. A server started in the `none` IDE's
//! terminal with `setsid nohup` ends with the terminal session when the page is
//! reloaded or the shell exits; one whose session crashed is adopted by the
//! launcher and ends with the workspace at its idle stop; the next start finds the
//! port free. In a sandbox, a launcher that crashes takes everything in its PID
//! namespace along.

use std::time::Duration;

use dcs_e2e::{client, Fixture};

#[path = "common/terminal.rs"]
mod terminal;
use terminal::Terminal;

const TERMINAL: &str = "/github/acme/hello/_dcs/terminal";
const PATIENCE: Duration = Duration::from_secs(60);

/// A free loopback port (the kernel's pick, released again).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Live processes running `python3 -m http.server <port>`.
fn servers_on(port: u16) -> Vec<u32> {
    let want = port.to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            dcs_e2e::cmdline(*pid)
                .is_some_and(|args| args.iter().any(|a| a == "http.server") && args.contains(&want))
        })
        .filter(|pid| dcs_e2e::is_alive(*pid))
        .collect()
}

/// The parent of `pid`, if it lives.
fn parent_of(pid: u32) -> Option<u32> {
    dcs_os::proc::stat(pid)
        .filter(|s| !s.dead())
        .map(|s| s.ppid)
}

fn serve(port: u16) -> String {
    format!("setsid nohup python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1 &")
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) -> anyhow::Result<()> {
    if dcs_e2e::wait_until(PATIENCE, Duration::from_millis(50), &mut condition).await {
        Ok(())
    } else {
        anyhow::bail!("timed out waiting until {what}")
    }
}

async fn open_page(fx: &Fixture) -> anyhow::Result<()> {
    let url = fx.proxy.url("/github/acme/hello/");
    let req = client().get(url).header("accept", "text/html");
    fx.expect_ok(req).await.map(drop)
}

#[tokio::test]
async fn a_server_started_in_the_terminal_ends_with_its_session_and_its_workspace(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--idle-timeout").arg("20s"))?;
    open_page(&fx).await?;
    let launcher = fx.proxy.launcher_pids();
    assert_eq!(launcher.len(), 1, "{launcher:?}");
    let port = free_port()?;

    // Started in a session, gone when the page reloads (the socket closes).
    let mut first = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    first.run(&serve(port)).await?;
    wait_for("the server listens", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await?;
    let server = servers_on(port);
    assert_eq!(server.len(), 1, "{server:?}");
    first.close().await;
    let mut second = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    wait_for("the session's server is gone", || {
        servers_on(port).is_empty()
    })
    .await?;
    assert!(!dcs_e2e::is_alive(server[0]));
    assert_eq!(
        fx.proxy.launcher_pids(),
        launcher,
        "the workspace still runs"
    );

    // A shell that exits takes what it left behind along.
    second.run(&serve(port)).await?;
    wait_for("the server listens again", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await?;
    second.exit().await?;
    wait_for("the exited session's server is gone", || {
        servers_on(port).is_empty()
    })
    .await?;

    // A session whose parent crashed: what it ran is adopted by the launcher (its
    // child subreaper), still in the workspace's kill domain.
    let mut third = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    third.run(&serve(port)).await?;
    wait_for("the server listens a third time", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await?;
    let orphan = servers_on(port);
    assert_eq!(orphan.len(), 1, "{orphan:?}");
    let session = parent_of(orphan[0]).ok_or_else(|| anyhow::anyhow!("no parent"))?;
    let session_cmd = dcs_e2e::cmdline(session).unwrap_or_default();
    assert!(
        session_cmd.iter().any(|a| a == "terminal-session"),
        "the session's parent adopted it: {session_cmd:?}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(session)?),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    wait_for("the launcher adopts the server", || {
        parent_of(orphan[0]) == Some(launcher[0])
    })
    .await?;
    third.close().await;

    // The idle stop ends it with the workspace.
    assert!(
        fx.wait_for_no_launcher(Duration::from_secs(120)).await,
        "the idle stop did not happen: {}",
        fx.proxy.log()
    );
    wait_for("the orphaned server is gone", || {
        servers_on(port).is_empty()
    })
    .await?;
    std::net::TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| anyhow::anyhow!("port {port} still taken after the workspace stopped: {e}"))?;

    // The next start succeeds, and the port is free for the same server.
    open_page(&fx).await?;
    let mut fourth = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    fourth.run(&serve(port)).await?;
    wait_for("the server listens after the restart", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await?;
    fourth.close().await;
    wait_for("the last server is gone", || servers_on(port).is_empty()).await?;
    Ok(())
}

#[tokio::test]
async fn a_crashed_sandboxed_launcher_takes_everything_in_its_sandbox_along() -> anyhow::Result<()>
{
    let fx = Fixture::new(|b| b.arg("--sandbox"))?;
    open_page(&fx).await?;
    let port = free_port()?;
    let mut term = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    term.run(&serve(port)).await?;
    let check = format!(
        "python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 2)\" && echo UP"
    );
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !term.run(&check).await?.contains("UP") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never listened"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server = servers_on(port);
    assert_eq!(server.len(), 1, "{server:?}");
    // The launcher itself (bubblewrap's processes carry its environment too).
    let launcher: Vec<u32> = fx
        .proxy
        .launcher_pids()
        .into_iter()
        .filter(|pid| {
            dcs_e2e::cmdline(*pid)
                .and_then(|args| args.first().cloned())
                .is_some_and(|exe| exe.ends_with("dcs-launcher"))
        })
        .collect();
    assert_eq!(launcher.len(), 1, "{launcher:?}");
    // A crash: SIGKILL, nothing of the launcher's own stop runs.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(launcher[0])?),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    wait_for("the sandbox's server is gone", || {
        servers_on(port).is_empty()
    })
    .await?;
    term.close().await;
    // And the workspace starts again.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match open_page(&fx).await {
            Ok(()) => break,
            Err(e) if tokio::time::Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    Ok(())
}
