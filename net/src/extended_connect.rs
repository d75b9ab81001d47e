//! An HTTP/1.1 upgrade carried as an HTTP/2 extended CONNECT stream (RFC 8441) over
//! the hop between the proxy and a launcher it reaches directly, so that a
//! workspace's WebSockets share one connection (one descriptor per WebSocket in the
//! proxy instead of two). Both directions of the translation live here: the proxy
//! turns the browser's upgrade into a stream ([`to_stream`]) and the stream's
//! answer back into a `101` ([`to_switching`]); the launcher turns the stream into
//! the upgrade its front and the IDE understand ([`from_stream`]) and their `101`
//! into the stream's `200` ([`to_accepted`]).
//!
//! What the stream carries beyond RFC 8441 is ours on both ends: the browser's
//! `Sec-WebSocket-Key`/`-Version` go along, so the IDE answers the handshake itself
//! and its `Sec-WebSocket-Accept` (with any negotiated protocol or extension)
//! comes back unchanged; the browser's `Host` travels as the `:authority`, so the
//! IDE compares `Origin` with the host the browser used.

use std::time::Duration;

use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use hyper::ext::Protocol;
use tokio::net::TcpStream;

use crate::hop;

/// Turns `req`, an HTTP/1.1 `GET` asking to upgrade to `upgrade`, into an extended
/// CONNECT for a stream: `:protocol` is the upgrade, `:authority` the `Host` (or
/// `fallback_host` when there is none), hop-by-hop headers dropped. `false`, and
/// `req` unchanged, when it cannot be one (another method, a `Host` that is no
/// authority): it goes over a connection of its own as before.
pub fn to_stream<B>(req: &mut Request<B>, upgrade: &HeaderValue, fallback_host: &str) -> bool {
    if req.method() != Method::GET {
        return false;
    }
    let Ok(protocol) = upgrade.to_str() else {
        return false;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .map_or(Some(fallback_host), |h| h.to_str().ok());
    let Some(authority) = host.and_then(|h| h.parse::<Authority>().ok()) else {
        return false;
    };
    let path = req
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let Ok(uri) = Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(authority)
        .path_and_query(path)
        .build()
    else {
        return false;
    };
    let protocol = Protocol::from(protocol.to_ascii_lowercase().as_str());
    hop::strip(req.headers_mut(), None);
    req.headers_mut().remove(header::HOST);
    *req.method_mut() = Method::CONNECT;
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_2;
    req.extensions_mut().insert(protocol);
    true
}

/// Whether `req` is an extended CONNECT stream ([`to_stream`]'s).
pub fn is_stream<B>(req: &Request<B>) -> bool {
    req.method() == Method::CONNECT && req.extensions().get::<Protocol>().is_some()
}

/// Turns an extended CONNECT stream ([`is_stream`]) back into the HTTP/1.1 upgrade
/// it carries: `GET`, `Connection: upgrade`, `Upgrade: <:protocol>`, `Host` from the
/// `:authority`, the path alone. Its extensions stay, so `hyper::upgrade::on` on it
/// is the stream. `false`, and `req` unchanged, when it is not one.
pub fn from_stream<B>(req: &mut Request<B>) -> bool {
    if !is_stream(req) {
        return false;
    }
    let Some(protocol) = req.extensions_mut().remove::<Protocol>() else {
        return false;
    };
    let Ok(upgrade) = HeaderValue::from_str(protocol.as_str()) else {
        return false;
    };
    let uri = req.uri().clone();
    let headers = req.headers_mut();
    hop::strip(headers, Some(&upgrade));
    if let Some(host) = uri
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        headers.insert(header::HOST, host);
    }
    *req.method_mut() = Method::GET;
    *req.uri_mut() = uri
        .path_and_query()
        .map_or_else(|| Uri::from_static("/"), |p| Uri::from(p.clone()));
    *req.version_mut() = Version::HTTP_11;
    true
}

/// The answer to a stream that [`from_stream`] turned into an upgrade: a `101` is
/// the stream's `200` (the tunnel follows; its handshake headers stay); any other
/// success would read as an open tunnel with nothing behind it, so it is a `502`;
/// everything else passes as it is.
pub fn to_accepted<B: Default>(resp: Response<B>) -> Response<B> {
    let mut resp = resp;
    match resp.status() {
        StatusCode::SWITCHING_PROTOCOLS => {
            hop::strip(resp.headers_mut(), None);
            resp.headers_mut().remove(header::CONTENT_LENGTH);
            *resp.status_mut() = StatusCode::OK;
            resp
        }
        status if status.is_success() => {
            let mut refused = Response::new(B::default());
            *refused.status_mut() = StatusCode::BAD_GATEWAY;
            refused
        }
        _ => resp,
    }
}

/// The browser's answer to a stream's answer (`resp`, to an upgrade to `upgrade`):
/// a success is a `101` switching to it; anything else passes as it is.
pub fn to_switching<B>(resp: &mut Response<B>, upgrade: &HeaderValue) {
    if !resp.status().is_success() {
        return;
    }
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *resp.version_mut() = Version::HTTP_11;
    hop::strip(resp.headers_mut(), Some(upgrade));
}

/// What one stream may have on its way unread, each way: a 64 KiB WebSocket
/// message goes in one go, with room to spare; and it is what the proxy holds in
/// its memory for a browser that stopped reading while its workspace kept sending
/// (a closed laptop, or a user after the proxy's memory with many WebSockets: the
/// tunnel cap bounds how many), where a connection of its own would leave it to
/// the kernel's socket buffers (a quarter of the 1 MiB it was: 2.5 GB rather than
/// 10 with 10,000 such streams).
pub const STREAM_WINDOW: u32 = 256 * 1024;

/// What all streams of a connection may have on their way unread: as much as the
/// protocol allows, so that streams whose readers stopped never stall the others
/// (each is bounded by [`STREAM_WINDOW`] instead).
pub const CONNECTION_WINDOW: u32 = (1 << 31) - 1;

/// Streams one connection may carry at once: every WebSocket of a workspace.
pub const MAX_STREAMS: u32 = 1 << 20;

/// The launcher's side of the hop's HTTP/2: extended CONNECT on, the windows
/// above, [`MAX_STREAMS`].
pub fn server() -> hyper::server::conn::http2::Builder<hyper_util::rt::TokioExecutor> {
    let mut builder =
        hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder
        .enable_connect_protocol()
        .max_concurrent_streams(MAX_STREAMS)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW);
    builder
}

/// What a client speaking HTTP/2 without negotiation sends first (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How long a connection that began like the preface may take to finish it.
const PREFACE_WAIT: Duration = Duration::from_secs(5);

/// Whether the client on `stream` speaks HTTP/2 without negotiation (the proxy's
/// hop to a launcher it reaches directly): it opens with the preface. Looked at
/// without reading, so either protocol's server then reads the connection whole.
/// Anything else, or nothing, is HTTP/1.1.
pub async fn opens_with_preface(stream: &TcpStream) -> bool {
    let mut head = [0u8; PREFACE.len()];
    let deadline = tokio::time::Instant::now() + PREFACE_WAIT;
    loop {
        let n = match stream.peek(&mut head).await {
            Ok(n) => n,
            Err(_) => return false,
        };
        if n == 0 || head[..n] != PREFACE[..n] {
            return false;
        }
        if n == PREFACE.len() {
            return true;
        }
        // Part of the preface so far (it is written at once; this is rare): the
        // socket stays readable, so look again shortly.
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[cfg(test)]
mod tests;
