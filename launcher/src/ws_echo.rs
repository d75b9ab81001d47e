//! `/_dcs/ws-echo`: a WebSocket endpoint that echoes every text and binary message.
//! Operators use it to check that upgrades survive every hop (ingress, proxy) before
//! blaming the IDE. The upgrade is done with hyper directly; the stream is
//! `tokio-tungstenite` in server role.

use futures_util::{SinkExt, StreamExt};
use http::header::{
    HeaderMap, HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tracing::debug;

use crate::app::App;
use crate::body::{self, Body};
use crate::pages;

/// Accepts the upgrade (101) and echoes on a background task, or answers 400.
pub fn handle(app: &App, req: Request<Incoming>) -> Response<Body> {
    let drain = app.drain_watch();
    accept(req, "e.g. websocat ws://…/_dcs/ws-echo", move |io| {
        echo(io, drain)
    })
}

/// Accepts a WebSocket handshake with `101` and runs `serve` on the upgraded
/// connection in a background task; a request that is no handshake gets a 400
/// naming what is wrong, and `usage`.
pub fn accept<F, Fut>(req: Request<Incoming>, usage: &str, serve: F) -> Response<Body>
where
    F: FnOnce(TokioIo<hyper::upgrade::Upgraded>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let key = match upgrade_key(&req) {
        Ok(key) => key,
        Err(why) => {
            let text = format!(
                "this endpoint speaks WebSocket only: {why} (connect with a WebSocket client, {usage})"
            );
            let as_json = pages::wants_json(req.headers());
            return pages::message(StatusCode::BAD_REQUEST, "error", &text, as_json);
        }
    };
    let accept = derive_accept_key(key.as_bytes());
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => serve(TokioIo::new(upgraded)).await,
            Err(error) => debug!(%error, "WebSocket upgrade failed"),
        }
    });
    let mut res = Response::new(body::empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = res.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    res
}

/// The server side of a WebSocket on `io` (after the `101`), reading at most
/// [`READ_BUFFER`] at once: tungstenite's default (128 KiB) stayed with every
/// open socket, ~118 KiB resident per idle WebSocket (the terminal's too). A
/// larger message still arrives whole (its buffer is sized from its header).
pub async fn server<S>(io: S) -> WebSocketStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await
}

/// The most a WebSocket endpoint of the launcher reads at once.
pub const READ_BUFFER: usize = 8 * 1024;

fn upgrade_key(req: &Request<Incoming>) -> Result<String, &'static str> {
    let headers = req.headers();
    if req.method() != Method::GET {
        return Err("the handshake must be a GET");
    }
    if !has_token(headers, UPGRADE, "websocket") {
        return Err("missing 'Upgrade: websocket'");
    }
    if !has_token(headers, CONNECTION, "upgrade") {
        return Err("missing 'Connection: Upgrade'");
    }
    if headers
        .get(SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v != "13")
    {
        return Err("only WebSocket version 13 is supported");
    }
    headers
        .get(SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or("missing Sec-WebSocket-Key")
}

fn has_token(headers: &HeaderMap, name: http::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Echoes messages on `io` until the peer closes or `drain` turns true (then closes
/// with 1001 "going away"). Pings are answered by tungstenite itself.
pub async fn echo<S>(io: S, mut drain: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut ws = server(io).await;
    loop {
        tokio::select! {
            // The peer sent something (or went away).
            msg = ws.next() => match msg {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                    if ws.send(m).await.is_err() {
                        break;
                    }
                }
                // Close replies, pongs and pings are handled inside tungstenite; keep
                // reading until it reports the end.
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    debug!(%error, "ws-echo stream ended");
                    break;
                }
                None => break,
            },
            // The launcher is shutting down.
            () = crate::app::draining(&mut drain) => {
                let frame = CloseFrame { code: CloseCode::Away, reason: "launcher stopping".into() };
                let _ = ws.close(Some(frame)).await;
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn echo_returns_text_and_binary_over_an_in_memory_pipe() {
        let (client_io, server_io) = tokio::io::duplex(4096);
        let (_tx, drain) = watch::channel(false);
        let server = tokio::spawn(echo(server_io, drain));
        let mut client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        client.send(Message::text("hi")).await.expect("send text");
        assert_eq!(
            client.next().await.expect("reply").expect("ok"),
            Message::text("hi")
        );
        client
            .send(Message::binary(vec![0u8, 1, 2]))
            .await
            .expect("send binary");
        assert_eq!(
            client.next().await.expect("reply").expect("ok"),
            Message::binary(vec![0u8, 1, 2])
        );
        // A message larger than the read buffer arrives, and goes back, whole.
        let big: Vec<u8> = (0..5 * READ_BUFFER + 3).map(|i| i as u8).collect();
        client
            .send(Message::binary(big.clone()))
            .await
            .expect("send a large message");
        assert_eq!(
            client.next().await.expect("reply").expect("ok"),
            Message::binary(big)
        );
        client.close(None).await.expect("close");
        server.await.expect("echo task ends after close");
    }

    #[tokio::test]
    async fn drain_closes_the_socket_with_going_away() {
        let (client_io, server_io) = tokio::io::duplex(4096);
        let (tx, drain) = watch::channel(false);
        let server = tokio::spawn(echo(server_io, drain));
        let mut client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        tx.send_replace(true);
        match client.next().await.expect("a close frame").expect("ok") {
            Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Away),
            other => panic!("expected close, got {other:?}"),
        }
        server.await.expect("echo task ends");
    }
}
