//! Asking a launcher whether it is ready: `GET /_dcs/ready` over a fresh connection
//! (TCP, or the unix socket of a sandboxed launcher), with the workspace's hop
//! credential (without it a launcher answers only a bare status code).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use serde::Deserialize;

use crate::error::StartFailure;
use crate::runtime::Upstream;

/// The launcher's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Serving.
    Ready,
    /// Still working (checkout, IDE start), or not answering yet.
    NotYet,
    /// It cannot serve this workspace.
    Failed {
        /// Failure class.
        kind: StartFailure,
        /// Readable message.
        message: String,
    },
}

#[derive(Deserialize)]
struct Report {
    ready: bool,
    error: Option<ReportError>,
}

#[derive(Deserialize)]
struct ReportError {
    kind: StartFailure,
    message: String,
}

/// One readiness probe of `up`, bounded by `timeout`.
pub async fn probe(up: &Upstream, timeout: Duration) -> Readiness {
    match tokio::time::timeout(timeout, fetch(up)).await {
        Ok(Some(report)) => match (report.ready, report.error) {
            (true, _) => Readiness::Ready,
            (false, Some(e)) => Readiness::Failed {
                kind: e.kind,
                message: e.message,
            },
            (false, None) => Readiness::NotYet,
        },
        _ => Readiness::NotYet,
    }
}

async fn fetch(up: &Upstream) -> Option<Report> {
    let mut req = http::Request::get("/_dcs/ready")
        .header(http::header::HOST, &up.authority)
        .header(http::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .ok()?;
    crate::hop::insert(req.headers_mut(), up.hop.as_ref());
    let resp = match &up.socket {
        Some(socket) => send(tokio::net::UnixStream::connect(socket).await.ok()?, req).await?,
        None => {
            send(
                tokio::net::TcpStream::connect(&up.authority).await.ok()?,
                req,
            )
            .await?
        }
    };
    let body = Limited::new(resp.into_body(), 64 * 1024)
        .collect()
        .await
        .ok()?
        .to_bytes();
    serde_json::from_slice(&body).ok()
}

async fn send<S>(
    stream: S,
    req: http::Request<Empty<Bytes>>,
) -> Option<http::Response<hyper::body::Incoming>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .ok()?;
    tokio::spawn(conn);
    sender.send_request(req).await.ok()
}
