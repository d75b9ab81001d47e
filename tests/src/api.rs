//! Helpers for the management API suites (`tests/tests/api*.rs`): JSON calls,
//! waiting for an instance to run, opening an instance's link as someone, and an app that echoes the request head it
//! received (to see exactly what reached a workspace).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use reqwest::{RequestBuilder, Response};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Status and JSON body of a response (`Value::Null` when the body is not JSON),
/// after checking that every `/api` answer with a body is `application/json`.
pub async fn status_json(resp: Response) -> anyhow::Result<(u16, Value)> {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = resp.text().await?;
    if text.is_empty() {
        return Ok((status, Value::Null));
    }
    if !content_type.starts_with("application/json") {
        bail!("{status} answered with {content_type:?}, not JSON: {text}");
    }
    let value = serde_json::from_str(&text).with_context(|| format!("{status}: {text}"))?;
    Ok((status, value))
}

/// Sends `req` and returns its status and JSON body.
pub async fn call(req: RequestBuilder) -> anyhow::Result<(u16, Value)> {
    status_json(req.send().await?).await
}

/// A workspace's idle report (`url`: its `/_dcs/idle`), asked as an open tab's
/// background poll, which never counts as use: status and JSON (a stopped
/// workspace's `503` says why).
pub async fn idle_report(url: &str) -> anyhow::Result<(u16, Value)> {
    let req = crate::client()
        .get(url)
        .header("x-dcs-background", "1")
        .header("accept", "application/json");
    call(req).await
}

/// Deletes the proxy's only workspace of its (`--auth none`) user through the API
/// (`204` expected; its files stay); returns its id.
pub async fn delete_the_only_workspace(fx: &crate::Fixture) -> anyhow::Result<String> {
    let http = crate::client();
    let (_, list) = call(http.get(fx.proxy.url("/api/instances"))).await?;
    let id = list["instances"][0]["instance_id"]
        .as_str()
        .with_context(|| format!("no workspace in {list}"))?
        .to_owned();
    let resp = http
        .delete(fx.proxy.url(&format!("/api/instances/{id}")))
        .send()
        .await?;
    anyhow::ensure!(
        resp.status() == 204,
        "delete: {}: {}",
        resp.status(),
        fx.proxy.log()
    );
    Ok(id)
}

/// The fields named in an `ApiError`'s `fields`.
pub fn error_fields(body: &Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `GET /api/status?instance_id=<id>` (built by `status`) until the
/// instance is ready; returns the last status body.
pub async fn wait_running(
    status: impl Fn() -> RequestBuilder,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let (code, body) = call(status()).await?;
        if code != 200 {
            bail!("status answered {code}: {body}");
        }
        if body["ready"] == Value::Bool(true) {
            return Ok(body);
        }
        if body["phase"] == "failed" || Instant::now() > deadline {
            bail!("the instance did not become ready: {body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A loopback app that answers every request with the request head it got
/// (request line and headers, as received). Returns its port.
pub async fn head_echo() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    head.len()
                );
                let _ = stream.write_all(resp.as_bytes()).await;
                let _ = stream.write_all(&head).await;
            });
        }
    });
    Ok(port)
}

/// Opens `/instances/<id>/` as `who` holding the link: the `?tkn=` exchange, then
/// the page with the cookie it set. Returns the page's status.
pub async fn open_link(
    fx: &crate::Fixture,
    issuer: &crate::JwtIssuer,
    who: &crate::FakeUser,
    id: &str,
    token: &str,
) -> anyhow::Result<reqwest::StatusCode> {
    let http = crate::client();
    let exchange = issuer
        .signed(
            http.get(fx.proxy.url(&format!("/instances/{id}/?tkn={token}"))),
            who,
        )
        .send()
        .await?;
    assert_eq!(exchange.status(), 303, "the link is exchanged for a cookie");
    let cookie = exchange.headers()["set-cookie"]
        .to_str()?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let page = issuer
        .signed(http.get(fx.proxy.url(&format!("/instances/{id}/"))), who)
        .header("cookie", cookie)
        .send()
        .await?;
    Ok(page.status())
}
