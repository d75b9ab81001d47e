//! A descriptor shortage is an overload, not a death. The proxy's `RLIMIT_NOFILE` is
//! lowered from outside (`prlimit`, soft and hard, so raising the soft limit at start
//! cannot undo it; the workspace's launcher, started afterwards, inherits it), then
//! its descriptors are filled: WebSockets up to the tunnel cap, then idle
//! connections. Every refusal is a `503` with `Retry-After` (at the cap, and at
//! accept once descriptors are gone), never a `502`, and the workspace's launcher is
//! never stopped: once the sockets close, the same launcher serves again.
//!
//! Before, the proxy connected once per request, took `EMFILE` for a dead workspace
//! (502, and with `/proc` unreadable too, a kill of the healthy launcher), and left
//! clients waiting unanswered in the listen queue.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use dcs_e2e::{client, is_alive, Fixture};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The limit the proxy (and so its launcher) runs with.
const LIMIT: u32 = 256;

/// How long an answer may take (the machine is busy; a missing answer is a failure).
const ANSWER: Duration = Duration::from_secs(20);

/// The head of one response on `stream`: its status and header lines.
async fn response_head(stream: &mut TcpStream) -> anyhow::Result<(u16, String)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(ANSWER, stream.read(&mut byte))
            .await
            .context("no answer in time")??;
        anyhow::ensure!(n == 1, "closed before an answer ({} bytes)", head.len());
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status")?;
    Ok((status, head))
}

fn has_retry_after(head: &str) -> bool {
    head.lines()
        .any(|l| l.to_ascii_lowercase().starts_with("retry-after:"))
}

/// Opens a WebSocket to the launcher's echo; returns the status and the connection.
async fn websocket(addr: SocketAddr) -> anyhow::Result<(u16, String, TcpStream)> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET /github/acme/hello/_dcs/ws-echo HTTP/1.1\r\nHost: {addr}\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let (status, head) = response_head(&mut stream).await?;
    Ok((status, head, stream))
}

/// A kept-alive `GET` of a file; returns the status and the connection.
async fn download(addr: SocketAddr) -> anyhow::Result<(u16, String, TcpStream)> {
    let mut stream = TcpStream::connect(addr).await?;
    let request =
        format!("GET /github/acme/hello/_dcs/files/README.md HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let (status, head) = response_head(&mut stream).await?;
    Ok((status, head, stream))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_descriptor_limit_answers_are_503_and_the_workspace_lives_on() -> anyhow::Result<()>
{
    let mut fx = Fixture::new(|b| b)?;
    let proxy_pid = fx.proxy.pid().context("proxy pid")?;
    let lowered = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(proxy_pid.to_string())
        .arg(format!("--nofile={LIMIT}:{LIMIT}"))
        .status()
        .context("prlimit (util-linux) is missing: run `make deps`")?;
    anyhow::ensure!(lowered.success(), "prlimit failed: {lowered}");

    let http = client();
    let readme = fx.proxy.url("/github/acme/hello/_dcs/files/README.md");
    let resp = http.get(&readme).send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let launchers = fx.proxy.launcher_pids();
    assert_eq!(launchers.len(), 1, "one launcher: {launchers:?}");
    let launcher = launchers[0];

    // WebSockets until the proxy refuses one: at the cap, below the limit.
    let mut held = Vec::new();
    let mut refused_tunnel = None;
    for _ in 0..LIMIT {
        let (status, head, stream) = websocket(fx.proxy.addr).await?;
        match status {
            101 => held.push(stream),
            _ => {
                refused_tunnel = Some((status, head));
                break;
            }
        }
    }
    let (status, head) = refused_tunnel.context("no WebSocket was ever refused")?;
    assert_eq!(status, 503, "{head}\n{}", fx.proxy.log());
    assert!(has_retry_after(&head), "{head}");
    let tunnels = held.len();
    assert!(tunnels > 16, "only {tunnels} WebSockets before the cap");

    // Then plain connections until descriptors run out: answered 503 at accept.
    let mut refused_accept = None;
    for _ in 0..LIMIT {
        let (status, head, stream) = download(fx.proxy.addr).await?;
        match status {
            200 => held.push(stream),
            _ => {
                refused_accept = Some((status, head));
                break;
            }
        }
    }
    let (status, head) = refused_accept.context("descriptors never ran out")?;
    assert_eq!(status, 503, "{head}\n{}", fx.proxy.log());
    assert!(has_retry_after(&head), "{head}");
    assert!(is_alive(launcher), "the launcher was stopped at the limit");

    // Sockets close: the same launcher serves again.
    drop(held);
    let mut last = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let served = loop {
        match http.get(&readme).send().await {
            Ok(resp) if resp.status() == 200 => break true,
            Ok(resp) => last = resp.status().to_string(),
            Err(err) => last = err.to_string(),
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        served,
        "never served again (last: {last})\n{}",
        fx.proxy.log()
    );
    assert_eq!(
        fx.proxy.launcher_pids(),
        [launcher],
        "the same launcher serves: it was never stopped"
    );
    let log = fx.proxy.whole_log();
    assert!(
        !log.contains(" 502 ") && !log.contains("status=502"),
        "a shortage was answered 502:\n{log}"
    );
    Ok(())
}
