//! Connections to upstreams are kept alive and reused: 100 sequential requests to one
//! workspace open at most a handful of connections to its launcher (counted in the
//! launcher's own log of accepted connections), and 100 requests to a port preview
//! at most a handful to the app (counted by the app). Before, every request opened
//! a connection of its own on both hops.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dcs_e2e::{client, Fixture};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const REQUESTS: usize = 100;
/// "A handful": a connection may be replaced now and then, never one per request.
const HANDFUL: usize = 5;

/// Connections the fixture's launchers logged as accepted so far.
fn launcher_accepts(fx: &Fixture) -> usize {
    let Ok(logs) = std::fs::read_dir(fx.proxy.data_dir.join("logs")) else {
        return 0;
    };
    logs.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .map(|log| log.matches("connection accepted").count())
        .sum()
}

#[tokio::test]
async fn a_hundred_requests_to_a_workspace_reuse_a_handful_of_connections() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    let url = fx.proxy.url("/github/acme/hello/_dcs/files/README.md");
    let resp = http.get(&url).send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    resp.bytes().await?;
    let before = launcher_accepts(&fx);
    assert!(before > 0, "the launcher logs accepted connections");
    for _ in 0..REQUESTS {
        let resp = http.get(&url).send().await?;
        assert_eq!(resp.status(), 200);
        resp.bytes().await?;
    }
    let opened = launcher_accepts(&fx) - before;
    println!("{REQUESTS} requests opened {opened} connections to the launcher");
    assert!(
        opened <= HANDFUL,
        "{REQUESTS} sequential requests opened {opened} connections to the launcher"
    );
    Ok(())
}

/// A keep-alive HTTP/1.1 app answering `ok` to every request, counting connections.
async fn counting_app() -> anyhow::Result<(u16, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let accepts = Arc::new(AtomicUsize::new(0));
    let count = accepts.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                loop {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    // One answer per complete request head (GETs, no bodies).
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let resp = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(resp).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    Ok((port, accepts))
}

#[tokio::test]
async fn a_hundred_requests_to_a_preview_reuse_a_handful_of_connections() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let (port, accepts) = counting_app().await?;
    let http = client();
    let url = fx
        .proxy
        .url(&format!("/github/acme/hello/ports/{port}/page"));
    for _ in 0..REQUESTS {
        let resp = http.get(&url).send().await?;
        assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
        assert_eq!(resp.text().await?, "ok");
    }
    let opened = accepts.load(Ordering::SeqCst);
    println!("{REQUESTS} preview requests opened {opened} connections to the app");
    assert!(
        opened <= HANDFUL,
        "{REQUESTS} sequential preview requests opened {opened} connections to the app"
    );
    Ok(())
}
