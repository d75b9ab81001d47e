//! One question to a launcher over the authenticated hop, on a fresh connection of
//! its own (TCP, or the unix socket of a sandboxed launcher): the runtimes' readiness
//! probes (local and through a Knative route) and the activator's idle clock and
//! keep-alive. The request names the workspace's host, asks for JSON and carries the
//! workspace's hop credential; at most [`MAX_ANSWER`] of the answer is read. Callers
//! bound the time it may take.

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};

use crate::runtime::Upstream;

/// The largest answer read.
pub const MAX_ANSWER: usize = 64 * 1024;

/// A launcher's answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body (at most [`MAX_ANSWER`]).
    pub body: Bytes,
}

/// `method path` (with a JSON `body`, if any) to the launcher behind `up`; `Err`
/// says in words why there is no answer.
pub async fn ask(
    up: &Upstream,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<Answer, String> {
    let host = up.host.as_deref().unwrap_or(&up.authority);
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, host)
        .header(http::header::ACCEPT, "application/json");
    if body.is_some() {
        builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    }
    let mut req = builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| e.to_string())?;
    // Without its hop credential a launcher answers nothing (its readiness: only a
    // bare status code).
    super::insert(req.headers_mut(), up.hop.as_ref());
    let resp = match &up.socket {
        Some(socket) => {
            let stream = super::unix::connect(socket)
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            over(stream, req).await?
        }
        None => {
            let stream = tokio::net::TcpStream::connect(&up.authority)
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            over(stream, req).await?
        }
    };
    let (parts, body) = resp.into_parts();
    let body = Limited::new(body, MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| format!("unreadable answer: {e}"))?
        .to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

async fn over<S>(
    stream: S,
    req: http::Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    sender
        .send_request(req)
        .await
        .map_err(|e| format!("no answer: {e}"))
}
