//! Requests straight to a launcher, past the proxy: over TCP (an unsandboxed local
//! launcher, the Knative route stand-in) or a unix socket (a sandboxed one), with
//! or without a hop credential. Shared by the suites that include it with `#[path]`.

#![allow(dead_code)]

use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// The header carrying the hop credential.
pub const HOP: &str = "x-dcs-hop";

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body, as text.
    pub body: String,
}

/// `GET path` on `stream` with `Host: host`, plus `hop` if given and `extra`.
pub async fn get<S>(
    stream: S,
    host: &str,
    path: &str,
    hop: Option<&str>,
    extra: &[(&str, &str)],
) -> anyhow::Result<Answer>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn.with_upgrades());
    let mut req = http::Request::get(path).header(http::header::HOST, host);
    if let Some(hop) = hop {
        req = req.header(HOP, hop);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Empty::<Bytes>::new())?)
        .await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// `GET path` to the TCP address `addr`.
pub async fn tcp(addr: &str, path: &str, hop: Option<&str>) -> anyhow::Result<Answer> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    get(stream, addr, path, hop, &[]).await
}

/// `GET path` to the unix socket `socket`.
pub async fn unix(socket: &Path, path: &str, hop: Option<&str>) -> anyhow::Result<Answer> {
    let stream = tokio::net::UnixStream::connect(socket).await?;
    get(stream, "localhost", path, hop, &[]).await
}

/// A WebSocket upgrade of `path` (the terminal) to the TCP address `addr`: its status.
pub async fn upgrade(addr: &str, path: &str, hop: Option<&str>) -> anyhow::Result<u16> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let extra = [
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    Ok(get(stream, addr, path, hop, &extra).await?.status)
}

/// The same upgrade as [`upgrade`], as a stream of an HTTP/2 connection to `addr`
/// (the proxy's way to a local launcher): its status, as HTTP/1.1 would read it.
pub async fn stream(addr: &str, path: &str, hop: Option<&str>) -> anyhow::Result<u16> {
    use dcs_net::upstream::{Failure, Multiplexed};
    let mut req = http::Request::get(path)
        .header("host", addr)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    if let Some(hop) = hop {
        req = req.header(HOP, hop);
    }
    let req = req.body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let connect = || async {
        tokio::net::TcpStream::connect(addr)
            .await
            .map(hyper_util::rt::TokioIo::new)
            .map_err(|e| Failure::of(&e, true))
    };
    let websocket = http::HeaderValue::from_static("websocket");
    let answer = Multiplexed::default()
        .send_upgrade(addr, req, &websocket, addr, connect)
        .await?;
    Ok(answer.status().as_u16())
}
