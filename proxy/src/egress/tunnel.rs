//! `CONNECT host:port`: a place in the proxy's descriptor gate and the destination
//! reached ([`super::connect::open`]), `200`, then the workspace's bytes carried both ways ([`dcs_net::tunnel`]) until
//! both sides end or the workspace's proxy stops.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpStream, UnixStream};
use tracing::debug;

use super::connect::{open, Target};
use super::serve::{text, Slot};
use super::Ctx;
use crate::body::{empty, Body};

/// Answers `CONNECT`: a tunnel to the destination, or why not.
pub(super) async fn connect(
    ctx: Arc<Ctx>,
    slot: Slot,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let target = match req.uri().authority().map(|a| Target::of(a, None)) {
        Some(Ok(target)) => target,
        Some(Err(problem)) => {
            return text(StatusCode::BAD_REQUEST, format!("CONNECT {problem}\n"));
        }
        None => {
            return text(
                StatusCode::BAD_REQUEST,
                "CONNECT needs host:port as its target\n".to_owned(),
            );
        }
    };
    let (gated, upstream) = match open(&ctx, &target).await {
        Ok(opened) => opened,
        Err(failure) => return failure.answer(&ctx, &target),
    };
    let upgrade = hyper::upgrade::on(&mut req);
    let stop = ctx.stop.clone();
    let workspace = ctx.workspace.clone();
    ctx.spawn(async move {
        // The connection's places (the workspace's, the proxy's) are held until the
        // tunnel ends.
        let _slots = (slot, gated);
        match upgrade.await {
            Ok(client) => {
                let (up, down) = carry(client, upstream, stop.cancelled_owned()).await;
                debug!(%workspace, destination = %target, up, down, "egress tunnel ended");
            }
            Err(err) => debug!(%workspace, %err, "egress: CONNECT not upgraded"),
        }
    });
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::OK;
    resp
}

/// Carries bytes between the workspace's connection and the destination: between
/// the two sockets when the upgraded connection is the unix socket (it always is),
/// else through buffers. Returns the bytes carried up and down.
async fn carry(
    client: hyper::upgrade::Upgraded,
    upstream: TcpStream,
    stop: impl std::future::Future<Output = ()>,
) -> (u64, u64) {
    match client.downcast::<TokioIo<UnixStream>>() {
        Ok(parts) => {
            dcs_net::tunnel::tunnel_sockets(
                (parts.io.into_inner(), parts.read_buf),
                (upstream, Bytes::new()),
                |_| {},
                stop,
            )
            .await
        }
        Err(client) => dcs_net::tunnel::tunnel(TokioIo::new(client), upstream, |_| {}, stop).await,
    }
}
