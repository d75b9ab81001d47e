//! Port previews through the proxy: an app the test starts on a loopback port is
//! reachable at `/github/acme/hello/ports/<n>/`, HTTP and WebSocket, prefix
//! stripped; bad ports are a 400.

use std::time::Duration;

use dcs_e2e::{client, raw_get, Fixture};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// A tiny app: `GET /ws` is a WebSocket echo; anything else answers with the
/// request line it received.
async fn preview_app() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut peek = [0u8; 8];
                let n = stream.peek(&mut peek).await.unwrap_or(0);
                if peek[..n].starts_with(b"GET /ws") {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    while let Some(Ok(m)) = ws.next().await {
                        if m.is_text() && ws.send(m).await.is_err() {
                            break;
                        }
                    }
                    return;
                }
                let mut buf = vec![0u8; 4096];
                let n = stream.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let line = head.lines().next().unwrap_or("").to_owned();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{line}",
                    line.len()
                );
                let _ = stream.write_all(resp.as_bytes()).await;
            });
        }
    });
    Ok(port)
}

#[tokio::test]
async fn a_preview_answers_http_and_websocket_through_the_proxy() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let port = preview_app().await?;
    let http = client();

    let resp = http
        .get(
            fx.proxy
                .url(&format!("/github/acme/hello/ports/{port}/hello?x=1")),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    assert_eq!(resp.text().await?, "GET /hello?x=1 HTTP/1.1");

    let stream = tokio::net::TcpStream::connect(fx.proxy.addr).await?;
    let url = format!("ws://{}/github/acme/hello/ports/{port}/ws", fx.proxy.addr);
    let (mut ws, resp) = tokio_tungstenite::client_async(url, stream).await?;
    assert_eq!(resp.status(), 101);
    ws.send(Message::text("hello preview")).await?;
    let echoed = tokio::time::timeout(Duration::from_secs(60), ws.next()).await?;
    assert!(matches!(echoed, Some(Ok(m)) if m == Message::text("hello preview")));
    ws.close(None).await?;

    for bad in ["0", "65536", "http"] {
        let resp = raw_get(fx.proxy.addr, &format!("/github/acme/hello/ports/{bad}/")).await?;
        assert_eq!(resp.status, 400, "{bad}: {}", resp.text());
    }
    Ok(())
}
