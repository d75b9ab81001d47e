//! `/readyz` of a real `dcs-proxy` in Knative mode: 503 until its watch cache has
//! loaded the workspaces from the API server (here a fake one behind a gate that
//! refuses connections until opened), 200 from then on, and still 200 when the API
//! server goes away again (a 503 on every replica at once would be an outage; the
//! cache keeps its last state and the log warns).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use dcs_e2e::{raw_request, Proxy, ProxyBuilder};
use dcs_proxy::runtime::knative::fake::FakeApiServer;

/// The line the proxy logs when a watch fails.
const WATCH_FAILED: &str = "watching the workspaces failed";

/// A TCP gate in front of the API server: while closed, every connection is
/// dropped as it comes (and those it carried are cut); while open, it relays.
struct Gate {
    addr: SocketAddr,
    open: watch::Sender<bool>,
}

impl Gate {
    async fn start(to: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (open, rx) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut rx = rx.clone();
                if !*rx.borrow() {
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(to).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = rx.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Ok(Self { addr, open })
    }

    fn set(&self, open: bool) {
        self.open.send_replace(open);
    }
}

/// `GET /readyz`: status and body.
async fn readyz(proxy: &Proxy) -> anyhow::Result<(u16, String)> {
    let addr = proxy.addr;
    let req = format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let answer = raw_request(addr, req.as_bytes()).await?;
    Ok((answer.status, answer.text()))
}

/// Waits until `proxy`'s log holds `line` more than `times` times.
async fn logged_more_than(proxy: &Proxy, line: &str, times: usize) -> bool {
    dcs_e2e::wait_until(Duration::from_secs(60), Duration::from_millis(50), || {
        proxy.log().matches(line).count() > times
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_waits_for_the_first_load_of_the_workspaces_and_then_holds() -> anyhow::Result<()> {
    dcs_proxy::runtime::knative::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let server = FakeApiServer::new();
    let api: SocketAddr = server
        .url()
        .strip_prefix("http://")
        .context("the fake's URL")?
        .parse()?;
    let gate = Gate::start(api).await?;
    // The fake's kubeconfig, naming the gate instead.
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        server
            .kubeconfig()
            .replace(&server.url(), &format!("http://{}", gate.addr)),
    )?;
    let hop = dir.path().join("hop.key");
    std::fs::write(&hop, [b'k'; 32])?;
    let proxy = ProxyBuilder::new(&dir.path().join("data"), "http://127.0.0.1:1")
        .knative(&kubeconfig, &hop)
        .start()?;

    // The API server cannot be reached: not ready, before and after the watch failed.
    let (code, body) = readyz(&proxy).await?;
    assert_eq!(code, 503, "{body}\n{}", proxy.log());
    assert!(body.starts_with("not ready"), "{body}");
    let log = proxy.log();
    assert!(
        !log.contains("connected to Kubernetes"),
        "nothing was: {log}"
    );
    assert!(
        logged_more_than(&proxy, WATCH_FAILED, 0).await,
        "{}",
        proxy.log()
    );
    let (code, body) = readyz(&proxy).await?;
    assert_eq!(code, 503, "{body}\n{}", proxy.log());
    assert!(!body.contains("127.0.0.1"), "no internals: {body}");

    // Reachable: ready once the watches have listed.
    gate.set(true);
    let ready = dcs_e2e::wait_until(Duration::from_secs(60), Duration::from_millis(100), || {
        proxy
            .log()
            .contains("workspaces loaded from the Kubernetes API")
    })
    .await;
    assert!(ready, "never loaded:\n{}", proxy.log());
    let (code, body) = readyz(&proxy).await?;
    assert_eq!((code, body.as_str()), (200, "ready\n"), "{}", proxy.log());

    // Gone again (the watches are cut): still ready, and the log says it.
    let failures = proxy.log().matches(WATCH_FAILED).count();
    gate.set(false);
    assert!(
        logged_more_than(&proxy, WATCH_FAILED, failures).await,
        "{}",
        proxy.log()
    );
    let (code, body) = readyz(&proxy).await?;
    assert_eq!((code, body.as_str()), (200, "ready\n"), "{}", proxy.log());
    Ok(())
}
