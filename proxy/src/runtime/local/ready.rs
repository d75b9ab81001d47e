//! Asking a launcher whether it is ready: `GET /_dcs/ready` over a fresh connection.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use serde::Deserialize;

use crate::error::StartFailure;

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

/// One readiness probe, bounded by `timeout`.
pub async fn probe(addr: SocketAddr, timeout: Duration) -> Readiness {
    match tokio::time::timeout(timeout, fetch(addr)).await {
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

async fn fetch(addr: SocketAddr) -> Option<Report> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .ok()?;
    tokio::spawn(conn);
    let req = http::Request::get("/_dcs/ready")
        .header(http::header::HOST, addr.to_string())
        .header(http::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .ok()?;
    let resp = sender.send_request(req).await.ok()?;
    let body = Limited::new(resp.into_body(), 64 * 1024)
        .collect()
        .await
        .ok()?
        .to_bytes();
    serde_json::from_slice(&body).ok()
}
