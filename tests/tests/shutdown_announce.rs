//! Shutdown of a real `dcs-proxy` whose readiness is watched (as a kubelet does):
//! on SIGTERM `/readyz` turns 503 at once, and new connections are still accepted
//! and answered (with `Connection: close`) for the announce period, so a client
//! that arrives before the balancers notice is served, never left waiting; a
//! request in flight finishes; then the listening socket closes (a new connection
//! is refused at once), and the proxy exits within announce + drain.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use dcs_e2e::{raw_request, ProxyBuilder};

/// How long any answer may take: a connection left in the accept queue never gets one.
const WITHIN: Duration = Duration::from_secs(1);

/// `GET path` on a new keep-alive connection, answered within [`WITHIN`]: status
/// and whether the answer closes the connection; `None` if the connection was refused.
async fn fresh_get(addr: SocketAddr, path: &str) -> anyhow::Result<Option<(u16, bool)>> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    match tokio::time::timeout(WITHIN, raw_request(addr, request.as_bytes())).await {
        Err(_) => anyhow::bail!("GET {path} on a new connection: no answer within {WITHIN:?}"),
        Ok(Ok(answer)) => {
            let close = answer
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close"));
            Ok(Some((answer.status, close)))
        }
        Ok(Err(e)) => {
            let refused = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
            });
            anyhow::ensure!(refused, "GET {path}: {e:#}");
            Ok(None)
        }
    }
}

/// A management API request whose body is held back: the head and one of its two
/// bytes are sent; [`Held::finish`] sends the other and reads the answer.
struct Held(TcpStream);

impl Held {
    async fn begin(addr: SocketAddr) -> anyhow::Result<Self> {
        let mut stream = TcpStream::connect(addr).await?;
        let head = format!(
            "POST /api/instances HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).await?;
        Ok(Self(stream))
    }

    /// The rest of the body; the answer's status line.
    async fn finish(mut self) -> anyhow::Result<String> {
        self.0.write_all(b"}").await?;
        let mut answer = Vec::new();
        // The answer closes the connection (the proxy is shutting down).
        tokio::time::timeout(Duration::from_secs(10), self.0.read_to_end(&mut answer))
            .await
            .context("the held request was never answered")??;
        let text = String::from_utf8_lossy(&answer);
        Ok(text.lines().next().unwrap_or_default().to_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigterm_readyz_is_503_at_once_new_clients_are_served_then_refused(
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut proxy = ProxyBuilder::new(dir.path(), "http://127.0.0.1:1")
        // The request held over the whole shutdown is not cut short as too slow.
        .arg("--body-timeout")
        .arg("60s")
        .start()?;
    let addr = proxy.addr;
    // Something watches readiness, as the kubelet does.
    assert_eq!(fresh_get(addr, "/readyz").await?, Some((200, false)));

    // One request in flight that finishes during the shutdown, one that never does.
    let finishing = Held::begin(addr).await?;
    let _stalled = Held::begin(addr).await?;
    let pid = Pid::from_raw(i32::try_from(proxy.pid().context("pid")?)?);
    let sigterm = Instant::now();
    kill(pid, Signal::SIGTERM)?;

    // A new connection: answered, and /readyz says 503 within a second.
    loop {
        let readyz = fresh_get(addr, "/readyz").await?;
        if let Some((503, _)) = readyz {
            break;
        }
        assert_eq!(readyz, Some((200, false)), "before the signal is handled");
        assert!(
            sigterm.elapsed() < WITHIN,
            "/readyz still {readyz:?} {:?} after SIGTERM:\n{}",
            sigterm.elapsed(),
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Other requests are served meanwhile, each closing its connection.
    assert_eq!(fresh_get(addr, "/healthz").await?, Some((200, true)));
    // The request in flight is answered.
    let status = finishing.finish().await?;
    assert!(
        status.starts_with("HTTP/1.1 2"),
        "{status}\n{}",
        proxy.log()
    );

    // Once the announce is over, new connections are refused at once (the one
    // still in flight keeps the drain going), never left waiting.
    loop {
        match fresh_get(addr, "/healthz").await? {
            None => break,
            Some(answer) => assert_eq!(answer, (200, true)),
        }
        assert!(
            sigterm.elapsed() < Duration::from_secs(20),
            "still accepting {:?} after SIGTERM:\n{}",
            sigterm.elapsed(),
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        sigterm.elapsed() >= Duration::from_secs(5),
        "stopped accepting after only {:?}",
        sigterm.elapsed()
    );

    // It exits within announce + drain (and a margin for a busy machine).
    assert!(proxy.terminate(), "not a clean exit:\n{}", proxy.log());
    let took = sigterm.elapsed();
    assert!(
        took < Duration::from_secs(25),
        "exited {took:?} after SIGTERM:\n{}",
        proxy.log()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_whose_readiness_nobody_watched_stops_accepting_at_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut proxy = ProxyBuilder::new(dir.path(), "http://127.0.0.1:1").start()?;
    assert_eq!(fresh_get(proxy.addr, "/healthz").await?, Some((200, false)));
    let sigterm = Instant::now();
    assert!(proxy.terminate(), "not a clean exit:\n{}", proxy.log());
    let took = sigterm.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "exited {took:?} after SIGTERM"
    );
    Ok(())
}
