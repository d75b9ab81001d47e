//! `dcs-bench-hyper`: the reference point of `dcs-bench`'s HTTP section, the least a
//! proxy built on the same libraries as dcs-proxy does: hyper's HTTP/1 server and
//! dcs-proxy's own upstream pool (`dcs_net::upstream`: hyper's connection-level
//! client, kept-alive connections, `TCP_NODELAY`), on the same tokio runtime,
//! forwarding every request as it is to one upstream. No routing, identity, header
//! rewriting, access log or limits: what dcs-proxy costs beyond it is its own work.
//!
//! `dcs-bench-hyper <upstream host:port>` listens on a free loopback port and prints
//! `listening on http://<addr>`.

use std::convert::Infallible;
use std::sync::Arc;

use anyhow::Context;
use dcs_net::upstream::{Pool, PoolConfig};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

type Body = http_body_util::combinators::BoxBody<bytes::Bytes, hyper::Error>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let upstream = std::env::args()
        .nth(1)
        .context("usage: dcs-bench-hyper <upstream host:port>")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    let client: Arc<Pool<Incoming>> = Arc::new(Pool::new(&PoolConfig::default()));
    let upstream = Arc::new(upstream);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (client, upstream) = (client.clone(), upstream.clone());
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                forward(client.clone(), upstream.clone(), req)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn forward(
    client: Arc<Pool<Incoming>>,
    upstream: Arc<String>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    Ok(match client.send(&upstream, req).await {
        Ok(resp) => resp.map(BodyExt::boxed),
        Err(_) => status(StatusCode::BAD_GATEWAY),
    })
}

fn status(code: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Empty::new().map_err(|never| match never {}).boxed());
    *resp.status_mut() = code;
    resp
}
