//! A GitHub page's address with our host pasted in (`/github/acme/hello/tree/main`,
//! `/blob/main/README.md`, `/pull/12`, …), through the real proxy: a person who
//! opens it is sent to the workspace itself (`303`, not stored) before anything
//! starts, and a request that is no person's navigation is passed on unchanged.

use dcs_e2e::{client, location, Fixture};

const PAGES: [&str; 10] = [
    "/tree/main",
    "/blob/main/README.md",
    "/pull/12",
    "/pulls",
    "/issues?q=is%3Aopen",
    "/commit/0123456789abcdef",
    "/commits/main",
    "/actions",
    "/releases/tag/v1",
    "/wiki",
];

#[tokio::test]
async fn a_pasted_github_page_address_opens_the_workspace() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    for page in PAGES {
        let url = fx.proxy.url(&format!("/github/acme/hello{page}"));
        let resp = dcs_e2e::navigation(http.get(url)).send().await?;
        assert_eq!(resp.status(), 303, "{page}: {}", fx.proxy.log());
        assert_eq!(location(&resp), "/github/acme/hello/", "{page}");
        assert_eq!(resp.headers()["cache-control"], "no-store", "{page}");
    }
    // A browser without fetch metadata navigates too.
    let resp = http
        .get(fx.proxy.url("/github/acme/hello/tree/main"))
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(resp.status(), 303);
    assert!(
        fx.proxy.launcher_pids().is_empty(),
        "a redirect starts nothing: {}",
        fx.proxy.log()
    );

    // Not a navigation (a script's fetch, a frame, a POST, a client that wants no
    // page): passed on to the workspace as it is (which a client that is no browser
    // starts), whose IDE answers it.
    let plain = http
        .get(fx.proxy.url("/github/acme/hello/pull/12"))
        .send()
        .await?;
    assert_ne!(plain.status(), 303, "{}", fx.proxy.log());
    let fetch = http
        .get(fx.proxy.url("/github/acme/hello/tree/main"))
        .header("accept", "text/html")
        .header("sec-fetch-mode", "cors")
        .header("sec-fetch-dest", "empty")
        .send()
        .await?;
    assert_ne!(fetch.status(), 303, "{}", fx.proxy.log());
    let frame = http
        .get(fx.proxy.url("/github/acme/hello/blob/main/README.md"))
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "iframe")
        .send()
        .await?;
    assert_ne!(frame.status(), 303, "{}", fx.proxy.log());
    assert_eq!(
        fx.proxy.launcher_pids().len(),
        1,
        "passed on to the workspace: {}",
        fx.proxy.log()
    );
    Ok(())
}
