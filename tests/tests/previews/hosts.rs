//! Reaching preview hosts in subdomain mode: opening a preview path for its ticket,
//! redeeming it, and a client that resolves a preview host to the proxy.

use std::net::SocketAddr;
use std::time::Duration;

pub use dcs_e2e::location;
use dcs_e2e::{client, Fixture};
use reqwest::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use reqwest::{Response, Url};

/// The preview domain the tests use (Chromium resolves `*.localhost` to loopback).
pub const DOMAIN: &str = "preview.localhost";

/// A client that reaches `host` (a preview host) at the proxy's address.
pub fn reaching(host: &str, proxy: SocketAddr) -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(host, proxy)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// The `name=value` of a response's first `Set-Cookie`, and the whole header.
pub fn set_cookie(resp: &Response) -> (String, String) {
    let whole = resp
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        whole.split(';').next().unwrap_or_default().to_owned(),
        whole,
    )
}

/// Opens `path` (a preview path) on the main origin with `cookie`: the `303`'s
/// ticket URL and its host.
pub async fn ticket(
    fx: &Fixture,
    path: &str,
    cookie: Option<&str>,
) -> anyhow::Result<(Url, String)> {
    let mut req = client().get(fx.proxy.url(path));
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    let resp = req.send().await?;
    assert_eq!(resp.status(), 303, "{path}: {}", fx.proxy.log());
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let url = Url::parse(&location(&resp))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    Ok((url, host))
}

/// Redeems the ticket URL `url`: the preview cookie's `name=value`.
pub async fn redeem(http: &reqwest::Client, url: &Url) -> anyhow::Result<String> {
    let resp = http.get(url.clone()).send().await?;
    assert_eq!(resp.status(), 303, "{url}");
    let (cookie, whole) = set_cookie(&resp);
    assert!(cookie.starts_with("dcs_preview="), "{whole}");
    for attr in ["Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(whole.contains(attr), "{attr}: {whole}");
    }
    assert!(
        !whole.to_ascii_lowercase().contains("domain="),
        "host-only: {whole}"
    );
    Ok(cookie)
}
