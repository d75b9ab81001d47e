//! A navigation to a preview host whose workspace is not running is sent to the
//! workspace's preview path on the main origin, where the live progress page follows
//! the start (its script polls the workspace's own paths, which on the preview host
//! are the app's), instead of a blank tab until the start ends.

use std::time::Duration;

use dcs_e2e::api::head_echo;
use dcs_e2e::{client, location, navigation, Fixture};
use reqwest::header::COOKIE;

use super::hosts::{reaching, redeem, ticket, DOMAIN};

#[tokio::test]
async fn a_preview_host_opened_while_its_workspace_is_not_running_shows_the_progress_page(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--preview-domain").arg(DOMAIN))?;
    let echo = head_echo().await?;
    let path = format!("/github/acme/hello/ports/{echo}/page?q=1");
    // Entering the preview host starts nothing.
    let minted = ticket(&fx, &path, None).await?;
    let at = reaching(&minted.host, fx.proxy.addr)?;
    let cookie = redeem(&at, &minted).await?;
    assert!(fx.proxy.launcher_pids().is_empty(), "{}", fx.proxy.log());

    let page = format!("http://{}:{}/page?q=1", minted.host, fx.proxy.addr.port());
    let resp = navigation(at.get(&page))
        .header(COOKIE, &cookie)
        .send()
        .await?;
    assert_eq!(resp.status(), 303, "{}", fx.proxy.log());
    assert_eq!(location(&resp), fx.proxy.url(&path));
    // There the progress page follows the start (or, had it ended already, the way
    // back to the preview host begins).
    let resp = navigation(client().get(fx.proxy.url(&path))).send().await?;
    match resp.status().as_u16() {
        200 => assert!(resp.text().await?.contains("Starting your workspace")),
        303 => assert!(location(&resp).contains(&minted.host)),
        other => anyhow::bail!("{other}: {}", fx.proxy.log()),
    }

    // Once it runs, the preview host serves the app on the cookie it has.
    let ready = fx.proxy.url("/github/acme/hello/_dcs/ready");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while client().get(&ready).send().await?.status() != 200 {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "{}", fx.proxy.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let resp = navigation(at.get(&page))
        .header(COOKIE, &cookie)
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    assert!(resp.text().await?.starts_with("GET /page?q=1 "));
    Ok(())
}
