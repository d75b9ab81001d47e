//! Interactive traffic is never held back by Nagle's algorithm: every socket on the
//! way (the proxy's client and workspace sockets, the launcher's) has `TCP_NODELAY`.
//! Without it, a WebSocket message written in pieces, or a response head and its
//! body written apart, waits for the peer's delayed ACK: ~40 ms (44 ms at 8 KiB,
//! 88 ms at 16–64 KiB through the proxy before), against well under a millisecond.
//!
//! No timing luck: each figure is the 10th percentile of many round trips on one
//! connection (the fastest tenth), held to 20 ms. A missing `TCP_NODELAY` on any hop
//! adds its ~40 ms delayed-ACK wait to every round trip, the fast ones too, so it
//! fails every time; a busy machine only adds time to some of them, and the fastest
//! tenth of 41 stays well under the bound. The figures (and the medians) are printed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dcs_e2e::{client, Fixture};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Round trips measured per figure (after a few to warm up).
const ROUNDS: usize = 41;
const WARM_UP: usize = 5;
/// The bound on the fastest tenth: half the delayed-ACK wait.
const BOUND: Duration = Duration::from_millis(20);

/// The 10th percentile and the median of `times`.
fn figures(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 10], times[times.len() / 2])
}

/// Opens the fixture's workspace (waits until it is ready).
async fn open(fx: &Fixture) -> anyhow::Result<()> {
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 200, "{}", fx.proxy.log());
    Ok(())
}

#[tokio::test]
async fn websocket_messages_of_8_and_64_kib_round_trip_well_under_a_delayed_ack(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    open(&fx).await?;
    let stream = TcpStream::connect(fx.proxy.addr).await?;
    stream.set_nodelay(true)?;
    let url = format!("ws://{}/github/acme/hello/_dcs/ws-echo", fx.proxy.addr);
    let (mut ws, resp) = tokio_tungstenite::client_async(url, stream).await?;
    assert_eq!(resp.status(), 101, "{}", fx.proxy.log());
    for size in [8 * 1024, 64 * 1024] {
        let message = Bytes::from(vec![0x5a_u8; size]);
        let mut times = Vec::with_capacity(ROUNDS);
        for round in 0..WARM_UP + ROUNDS {
            let began = Instant::now();
            ws.send(Message::binary(message.clone())).await?;
            let echoed = tokio::time::timeout(Duration::from_secs(30), ws.next()).await?;
            match echoed {
                Some(Ok(Message::Binary(back))) => assert_eq!(back.len(), size),
                other => anyhow::bail!("no echo of {size} bytes: {other:?}"),
            }
            if round >= WARM_UP {
                times.push(began.elapsed());
            }
        }
        let (fast, median) = figures(times.clone());
        println!(
            "{size} B WebSocket echo through the proxy: 10th percentile {fast:?}, median {median:?}"
        );
        assert!(
            fast < BOUND,
            "{size} B round trips: even the fastest tenth took {fast:?} (a delayed ACK \
             waited on nearly every one: some socket lacks TCP_NODELAY): {times:?}"
        );
    }
    ws.close(None).await?;
    Ok(())
}

/// The address the fixture's launcher published (its own listener).
fn launcher_addr(fx: &Fixture) -> anyhow::Result<SocketAddr> {
    let run = fx.proxy.data_dir.join("run");
    for entry in std::fs::read_dir(&run)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "addr") {
            return Ok(std::fs::read_to_string(&path)?.trim().parse()?);
        }
    }
    anyhow::bail!("no launcher address in {}", run.display())
}

/// The hop credential of the fixture's workspace (only the proxy reaches a launcher;
/// the test stands in for it).
fn hop_credential(fx: &Fixture) -> anyhow::Result<String> {
    let path = dcs_proxy::runtime::local::default_hop_key(&fx.proxy.data_dir);
    let key = dcs_proxy::hop::HopKey::load(&path).map_err(anyhow::Error::msg)?;
    let workspace = dcs_model::WorkspaceKey::new(
        dcs_model::UserId::new(&fx.proxy.user)?,
        dcs_model::RepoRef::parse("acme/hello")?,
    );
    Ok(key.credential(&workspace.name()).expose().to_owned())
}

/// The 10th percentile and the median time of small downloads on one kept-alive
/// connection to `addr` (with the hop credential `hop`, if given).
async fn kept_alive_downloads(
    addr: SocketAddr,
    path: &str,
    hop: Option<&str>,
) -> anyhow::Result<(Duration, Duration)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut times = Vec::with_capacity(ROUNDS);
    for round in 0..WARM_UP + ROUNDS {
        let mut req = http::Request::get(path).header("host", addr.to_string());
        if let Some(hop) = hop {
            req = req.header(dcs_model::env::HOP_HEADER, hop);
        }
        let req = req.body(Empty::<Bytes>::new())?;
        let began = Instant::now();
        let resp =
            tokio::time::timeout(Duration::from_secs(30), sender.send_request(req)).await??;
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await?.to_bytes();
        assert_eq!(body, dcs_e2e::README);
        if round >= WARM_UP {
            times.push(began.elapsed());
        }
    }
    let (fast, median) = figures(times.clone());
    assert!(
        fast < BOUND,
        "downloads from {addr}: even the fastest tenth took {fast:?} (a delayed ACK \
         waited on nearly every one: some socket lacks TCP_NODELAY): {times:?}"
    );
    Ok((fast, median))
}

#[tokio::test]
async fn small_downloads_on_a_kept_alive_connection_are_not_held_back() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    open(&fx).await?;
    let launcher = launcher_addr(&fx)?;
    let hop = hop_credential(&fx)?;
    let direct = kept_alive_downloads(launcher, "/_dcs/files/README.md", Some(&hop)).await?;
    println!("small download from the launcher, kept alive (10th percentile, median): {direct:?}");
    let proxied = kept_alive_downloads(
        fx.proxy.addr,
        "/github/acme/hello/_dcs/files/README.md",
        None,
    )
    .await?;
    println!("small download through the proxy, kept alive (10th percentile, median): {proxied:?}");
    Ok(())
}
