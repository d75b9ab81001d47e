//! A preview opened before its app listens (or while it restarts) recovers by itself:
//! a browser's navigation gets a `502` page that reloads itself (the `Refresh` header,
//! which works under the preview's sandbox), and shows the app once it answers; a
//! script's request keeps the plain `502`.

use super::*;
use tokio::net::TcpListener;

/// A loopback port nothing listens on (for now).
async fn free_port() -> anyhow::Result<u16> {
    let closed = TcpListener::bind("127.0.0.1:0").await?;
    Ok(closed.local_addr()?.port())
}

/// Waits until the workspace runs, so a navigation reaches the launcher rather than
/// the proxy's progress page.
async fn ready(fx: &Fixture) -> anyhow::Result<()> {
    let url = fx.proxy.url("/github/acme/hello/_dcs/ready");
    fx.expect_ok(client().get(url)).await?;
    Ok(())
}

#[tokio::test]
async fn a_preview_of_an_app_not_up_yet_reloads_itself_for_a_browser_only() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    ready(&fx).await?;
    let port = free_port().await?;
    let url = fx.proxy.url(&format!("/github/acme/hello/ports/{port}/"));
    let http = client();
    let navigate = || {
        http.get(&url)
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .header("sec-fetch-mode", "navigate")
    };

    let resp = navigate().send().await?;
    assert_eq!(resp.status(), 502, "{}", fx.proxy.log());
    assert_eq!(resp.headers()["refresh"], "1", "the first wait is short");
    assert_eq!(all(&resp, CONTENT_SECURITY_POLICY), [SANDBOX]);
    let page = resp.text().await?;
    assert!(page.contains("reloads itself"), "{page}");

    let fetch = http
        .get(&url)
        .header("accept", "text/html")
        .header("sec-fetch-mode", "cors")
        .send()
        .await?;
    assert_eq!(fetch.status(), 502);
    assert!(
        !fetch.headers().contains_key("refresh"),
        "a script's request"
    );

    // The app starts: the next load (the page's own reload) gets it.
    app::serve_page_app(TcpListener::bind(("127.0.0.1", port)).await?)?;
    let resp = navigate().send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    assert!(resp.text().await?.contains("preview rendered"));
    Ok(())
}

#[tokio::test]
async fn a_waiting_preview_in_a_browser_shows_the_app_once_it_listens() -> anyhow::Result<()> {
    let tools = browser::tools();
    let fx = Fixture::new(|b| b)?;
    ready(&fx).await?;
    let port = free_port().await?;
    let mut script = Script::start(
        &tools,
        "preview_waiting.mjs",
        serde_json::json!({
            "url": fx.proxy.url(&format!("/github/acme/hello/ports/{port}/")),
        }),
    )?;
    let waiting = script.expect("waiting", Duration::from_secs(120)).await?;
    assert_eq!(waiting["status"], 502, "{waiting}");
    // Nobody reloads the page: it does so itself, in the sandbox, until the app answers.
    app::serve_page_app(TcpListener::bind(("127.0.0.1", port)).await?)?;
    let seen = script.expect("app", Duration::from_secs(60)).await?;
    script.finish(Duration::from_secs(30)).await?;
    assert_eq!(seen["title"], "preview rendered", "{seen}");
    assert!(seen["reloads"].as_u64() >= Some(1), "{seen}");
    Ok(())
}
