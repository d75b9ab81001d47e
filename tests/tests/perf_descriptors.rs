//! A descriptor shortage is an overload, not a death. The proxy's `RLIMIT_NOFILE` is
//! lowered from outside (`prlimit`, soft and hard, so raising the soft limit at start
//! cannot undo it; the workspace's launcher, started afterwards, inherits it), then
//! its descriptors are filled: WebSockets up to the tunnel cap, then idle
//! connections. Every refusal is a `503` with `Retry-After` (at the cap, and at
//! accept once descriptors are gone), never a `502`, and the workspace's launcher is
//! never stopped: once the sockets close, the same launcher serves again. An upgrade
//! for another workspace refused at the cap starts nothing for it.
//!
//! Before, the proxy connected once per request, took `EMFILE` for a dead workspace
//! (502, and with `/proc` unreadable too, a kill of the healthy launcher), and left
//! clients waiting unanswered in the listen queue.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use dcs_e2e::{client, is_alive, Fixture, UpstreamRepo};
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

/// Opens a WebSocket to the echo of `repo`'s launcher; returns the status and the
/// connection.
async fn websocket(addr: SocketAddr, repo: &str) -> anyhow::Result<(u16, String, TcpStream)> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET /github/{repo}/_dcs/ws-echo HTTP/1.1\r\nHost: {addr}\r\n\
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

/// Lowers `pid`'s descriptor limit to [`LIMIT`], soft and hard (so raising the soft
/// limit cannot undo it; processes it starts afterwards inherit it).
fn lower_the_limit(pid: u32) -> anyhow::Result<()> {
    let lowered = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(pid.to_string())
        .arg(format!("--nofile={LIMIT}:{LIMIT}"))
        .status()
        .context("prlimit (util-linux) is missing: run `make deps`")?;
    anyhow::ensure!(lowered.success(), "prlimit failed: {lowered}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_descriptor_limit_answers_are_503_and_the_workspace_lives_on() -> anyhow::Result<()>
{
    let mut fx = Fixture::new(|b| b)?;
    let _other = UpstreamRepo::create(
        &fx.tmp.path().join("git"),
        "acme/other",
        &[("README.md", "other\n")],
    )?;
    lower_the_limit(fx.proxy.pid().context("proxy pid")?)?;

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
        let (status, head, stream) = websocket(fx.proxy.addr, "acme/hello").await?;
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
    // Another workspace's WebSocket at the cap: refused before anything starts it.
    let (status, head, _refused) = websocket(fx.proxy.addr, "acme/other").await?;
    assert_eq!(status, 503, "{head}\n{}", fx.proxy.log());
    assert_eq!(
        fx.proxy.launcher_pids(),
        [launcher],
        "a refused upgrade started a workspace\n{}",
        fx.proxy.log()
    );

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

/// The descriptors `pid` holds now.
fn descriptors(pid: u32) -> anyhow::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// Sends `text` as one masked WebSocket frame on `stream` and reads its echo.
async fn echo(stream: &mut TcpStream, text: &str) -> anyhow::Result<String> {
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    anyhow::ensure!(text.len() < 126, "a short frame");
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).await?;
    let mut head = [0u8; 2];
    tokio::time::timeout(ANSWER, stream.read_exact(&mut head))
        .await
        .context("no echo in time")??;
    let mut payload = vec![0u8; usize::from(head[1] & 0x7f)];
    stream.read_exact(&mut payload).await?;
    Ok(String::from_utf8(payload)?)
}

/// Once WebSockets hold half of the descriptors tunnels may, a local workspace's
/// next ones are streams of one HTTP/2 connection between the proxy and its
/// launcher: one descriptor each in the proxy (the browser's), none in the
/// launcher, so more fit under the same limit (before: two each, and the 113th was
/// refused under a limit of 256). When the launcher dies under them, the next
/// WebSocket reaches its successor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_beyond_half_the_descriptors_share_one_connection_to_the_launcher(
) -> anyhow::Result<()> {
    // Under LIMIT tunnels may hold 224 descriptors: 56 connections of their own
    // (112), then streams.
    const SOCKETS: usize = 150;
    const LAST: usize = 40;
    let mut fx = Fixture::new(|b| b)?;
    let proxy = fx.proxy.pid().context("proxy pid")?;
    lower_the_limit(proxy)?;
    let (status, head, mut first) = websocket(fx.proxy.addr, "acme/hello").await?;
    assert_eq!(status, 101, "{head}\n{}", fx.proxy.log());
    assert_eq!(echo(&mut first, "first").await?, "first");
    let launcher = fx.proxy.launcher_pids()[0];

    let mut open = Vec::new();
    let mut before_last = (0, 0);
    for i in 0..SOCKETS {
        if i == SOCKETS - LAST {
            before_last = (descriptors(proxy)?, descriptors(launcher)?);
        }
        let (status, head, mut ws) = websocket(fx.proxy.addr, "acme/hello").await?;
        assert_eq!(status, 101, "WebSocket {i}: {head}\n{}", fx.proxy.log());
        assert!(
            head.to_ascii_lowercase().contains("upgrade: websocket"),
            "{head}"
        );
        assert_eq!(
            echo(&mut ws, &format!("hello {i}")).await?,
            format!("hello {i}")
        );
        open.push(ws);
    }
    let proxy_grew = descriptors(proxy)? - before_last.0;
    let launcher_grew = descriptors(launcher)?.saturating_sub(before_last.1);
    assert!(
        (LAST..LAST + 3).contains(&proxy_grew),
        "the proxy holds {proxy_grew} more descriptors for the last {LAST} WebSockets"
    );
    assert!(
        launcher_grew < 3,
        "the launcher holds {launcher_grew} more descriptors for the last {LAST} WebSockets"
    );
    // Every one still echoes, in any order.
    for (i, ws) in open.iter_mut().enumerate().rev() {
        assert_eq!(echo(ws, &format!("again {i}")).await?, format!("again {i}"));
    }
    // The first ones had connections of their own.
    let metrics = fx.proxy.metrics().await?;
    let streams = dcs_e2e::metric(&metrics, "dcs_upgrade_streams_total");
    assert!(
        (LAST as u64..SOCKETS as u64).contains(&streams),
        "{streams} of {} WebSockets were streams",
        SOCKETS + 1
    );

    // The launcher dies under them: they end, and a new WebSocket reaches the next.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(launcher)?),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    let mut end = [0u8; 1];
    let ended = tokio::time::timeout(ANSWER, first.read(&mut end)).await;
    assert!(matches!(ended, Ok(Ok(0)) | Ok(Err(_))), "{ended:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let last = match websocket(fx.proxy.addr, "acme/hello").await {
            Ok((101, _, mut ws)) => {
                assert_eq!(echo(&mut ws, "back").await?, "back");
                break;
            }
            Ok((status, head, _)) => format!("{status}: {head}"),
            Err(err) => err.to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "no WebSocket after the launcher died (last: {last})\n{}",
            fx.proxy.whole_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(fx.proxy.launcher_pids(), [launcher], "a new launcher");
    Ok(())
}
