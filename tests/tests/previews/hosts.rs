//! Reaching preview hosts in subdomain mode: following a preview path to its ticket
//! (through the preview host's nonce), redeeming it, and a client that resolves a
//! preview host to the proxy.

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

/// Every `Set-Cookie` of a response.
pub fn set_cookies(resp: &Response) -> Vec<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

/// A ticket to a preview host and the browser it was made for.
#[derive(Debug, Clone)]
pub struct Minted {
    /// The ticket's URL on the preview host.
    pub url: Url,
    /// The preview host.
    pub host: String,
    /// The browser's nonce cookie on that host (`name=value`), which the ticket
    /// opens with.
    pub nonce: String,
}

/// Opens `path` (a preview path) on the main origin with `cookie`, and follows the
/// way in as a browser does up to the ticket ([`enter`]).
pub async fn ticket(fx: &Fixture, path: &str, cookie: Option<&str>) -> anyhow::Result<Minted> {
    let main = |url: &str| {
        let req = client().get(url);
        match cookie {
            Some(c) => req.header(COOKIE, c),
            None => req,
        }
    };
    enter(fx, &fx.proxy.url(path), main).await
}

/// The way into a preview host up to its ticket, from `url` (a preview path on the
/// main origin, asked with `main`, which signs in as the caller): the main origin
/// sends the browser to the preview host with a lead; the host gives the browser a
/// nonce and sends it back with the nonce's hash; the main origin makes a ticket
/// bound to it.
pub async fn enter(
    fx: &Fixture,
    url: &str,
    main: impl Fn(&str) -> reqwest::RequestBuilder,
) -> anyhow::Result<Minted> {
    let resp = main(url).send().await?;
    assert_eq!(resp.status(), 303, "{url}: {}", fx.proxy.log());
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let lead = Url::parse(&location(&resp))?;
    let host = lead.host_str().unwrap_or_default().to_owned();
    let resp = reaching(&host, fx.proxy.addr)?
        .get(lead.clone())
        .send()
        .await?;
    assert_eq!(resp.status(), 303, "{lead}: {}", fx.proxy.log());
    let (nonce, whole) = set_cookie(&resp);
    assert_eq!(set_cookies(&resp).len(), 1, "the nonce alone: {whole}");
    assert!(nonce.starts_with("dcs_preview_nonce="), "{whole}");
    for attr in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age="] {
        assert!(whole.contains(attr), "{attr}: {whole}");
    }
    assert!(
        !whole.to_ascii_lowercase().contains("domain="),
        "host-only: {whole}"
    );
    let back = location(&resp);
    let state = Url::parse(&back)?
        .query_pairs()
        .find(|(k, _)| k == "dcs_preview_state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    assert_eq!(state.len(), 64, "{back}");
    assert!(
        !back.contains(nonce.split('=').nth(1).unwrap_or("?")),
        "a hash only: {back}"
    );
    let resp = main(&back).send().await?;
    assert_eq!(resp.status(), 303, "{back}: {}", fx.proxy.log());
    let url = Url::parse(&location(&resp))?;
    assert_eq!(url.host_str(), Some(host.as_str()), "{url}");
    Ok(Minted { url, host, nonce })
}

/// Redeems `minted` in its browser: the preview cookie's `name=value`.
pub async fn redeem(http: &reqwest::Client, minted: &Minted) -> anyhow::Result<String> {
    let url = &minted.url;
    let resp = http
        .get(url.clone())
        .header(COOKIE, &minted.nonce)
        .send()
        .await?;
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
    let spent = set_cookies(&resp);
    assert!(
        spent
            .iter()
            .any(|c| c.starts_with("dcs_preview_nonce=;") && c.contains("Max-Age=0")),
        "the nonce is spent: {spent:?}"
    );
    Ok(cookie)
}
