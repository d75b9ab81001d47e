//! WebSockets: the echo round trip at a message size (to the launcher's
//! `/_dcs/ws-echo`, through a target), and many idle WebSockets held open at once:
//! the target's RSS while they are open and after they closed, and how many were
//! dropped, also through a sandboxed workspace. Connections are raw sockets with
//! hand-made frames, so the bench itself holds little per connection.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use super::scene::{self, rss_kib};

/// Round trips of `size`-byte binary messages on one WebSocket to `path` at `addr`
/// (after a few to warm up), sending `headers` with the handshake.
pub async fn echo(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, String)],
    size: usize,
    rounds: usize,
) -> anyhow::Result<Vec<Duration>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut request = format!("ws://{addr}{path}").into_client_request()?;
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse()?);
    }
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .with_context(|| format!("WebSocket to {addr}{path}"))?;
    let message = bytes::Bytes::from(vec![0x42_u8; size]);
    let mut times = Vec::with_capacity(rounds);
    for round in 0..rounds + 5 {
        let began = Instant::now();
        ws.send(Message::binary(message.clone())).await?;
        loop {
            match tokio::time::timeout(Duration::from_secs(30), ws.next()).await? {
                Some(Ok(Message::Binary(back))) if back.len() == size => break,
                Some(Ok(Message::Binary(_) | Message::Text(_))) => bail!("a wrong echo"),
                Some(Ok(_)) => {}
                other => bail!("the echo ended: {other:?}"),
            }
        }
        if round >= 5 {
            times.push(began.elapsed());
        }
    }
    let _ = ws.close(None).await;
    Ok(times)
}

/// Opens a WebSocket to `path` at `addr` by hand; the connection, past the `101`.
async fn open_one(addr: SocketAddr, path: &str) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            bail!("closed during the handshake");
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        bail!(
            "{}",
            String::from_utf8_lossy(&head).lines().next().unwrap_or("")
        );
    }
    Ok(stream)
}

/// Whether a small text message still echoes on `stream`.
async fn alive(stream: &mut TcpStream) -> bool {
    let payload = b"ping";
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    let exchange = async {
        stream.write_all(&frame).await?;
        let mut back = [0u8; 6];
        stream.read_exact(&mut back).await?;
        Ok::<_, std::io::Error>(back == [0x81, 4, b'p', b'i', b'n', b'g'])
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(30), exchange).await,
        Ok(Ok(true))
    )
}

/// How long after the close the RSS is read again: allocators return freed memory
/// over seconds (jemalloc's decay is 10 s), not at once.
pub const AFTER_CLOSE: Duration = Duration::from_secs(20);

/// What holding many idle WebSockets cost a target.
#[derive(Debug, Clone, Copy, Default)]
pub struct Idle {
    /// Connections asked for.
    pub asked: usize,
    /// Connections opened (`101`).
    pub opened: usize,
    /// Opened ones that no longer echoed after all were open.
    pub dropped: usize,
    /// The target's RSS before (KiB).
    pub before_kib: u64,
    /// ... with all open.
    pub open_kib: u64,
    /// ... [`AFTER_CLOSE`] after all closed.
    pub closed_kib: u64,
    /// The workspace launcher's RSS with all open (KiB).
    pub launcher_open_kib: u64,
}

impl Idle {
    /// RSS per open connection (KiB).
    pub fn per_tunnel_kib(&self) -> f64 {
        self.open_kib.saturating_sub(self.before_kib) as f64 / self.opened.max(1) as f64
    }

    /// The share of the memory the connections took that is still held after they
    /// closed (0 = all returned).
    pub fn kept_after_close(&self) -> f64 {
        let took = self.open_kib.saturating_sub(self.before_kib) as f64;
        if took <= 0.0 {
            return 0.0;
        }
        self.closed_kib.saturating_sub(self.before_kib) as f64 / took
    }
}

/// Opens `count` WebSockets to `path` through `addr` (64 handshakes at a time),
/// checks they all still echo, measures `pids` and `launcher`, closes them all.
pub async fn idle(
    addr: SocketAddr,
    path: &str,
    count: usize,
    pids: &[u32],
    launcher: u32,
) -> anyhow::Result<Idle> {
    let settle = Duration::from_secs(3);
    tokio::time::sleep(settle).await;
    let mut result = Idle {
        asked: count,
        before_kib: rss_kib(pids),
        ..Idle::default()
    };
    let mut open = Vec::with_capacity(count);
    let mut failures = Vec::new();
    let mut remaining = count;
    while remaining > 0 {
        let batch = remaining.min(64);
        let tries = (0..batch).map(|_| open_one(addr, path));
        for outcome in futures_util::future::join_all(tries).await {
            match outcome {
                Ok(stream) => open.push(stream),
                Err(err) => failures.push(err.to_string()),
            }
        }
        remaining -= batch;
    }
    result.opened = open.len();
    if !failures.is_empty() {
        eprintln!(
            "{} of {count} WebSockets failed to open, e.g. {}",
            failures.len(),
            failures[0]
        );
    }
    tokio::time::sleep(settle).await;
    result.open_kib = rss_kib(pids);
    result.launcher_open_kib = rss_kib(&[launcher]);
    let mut dropped = 0;
    for chunk in open.chunks_mut(256) {
        let checks = chunk.iter_mut().map(alive);
        dropped += futures_util::future::join_all(checks)
            .await
            .into_iter()
            .filter(|ok| !ok)
            .count();
    }
    result.dropped = dropped;
    drop(open);
    tokio::time::sleep(AFTER_CLOSE).await;
    result.closed_kib = rss_kib(pids);
    Ok(result)
}

/// [`idle`] through a sandboxed workspace (`--sandbox`, as every workspace is when
/// several people sign in): the proxy reaches the launcher over a unix socket and
/// the launcher relays each connection into its sandbox. The proxy runs over
/// `data`, its own, against the git server at `git_base`.
pub async fn idle_sandboxed(git_base: &str, data: &Path, count: usize) -> anyhow::Result<Idle> {
    let proxy = scene::proxy(data, git_base, &["--idle-timeout", "1h", "--sandbox"])?;
    let base = "/github/acme/bench";
    let readme = format!("http://{}{base}/_dcs/files/README.md", proxy.addr);
    scene::open(&dcs_e2e::client(), &readme).await?;
    let launcher = scene::family(proxy.pid())
        .into_iter()
        .find(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            comm.trim() == "dcs-launcher"
        })
        .context("the sandboxed workspace's launcher is not running")?;
    let path = format!("{base}/_dcs/ws-echo");
    idle(proxy.addr, &path, count, &[proxy.pid()], launcher).await
}
