//! One request id from the proxy's edge to the launcher's answer, through the real
//! proxy in local mode: the launcher's error pages (HTML and JSON) and its 5xx log
//! lines name the id the proxy answered with in `X-Request-Id` (and logs), never an
//! id a client planted; a `--trusted-proxies` peer's own id is the one that travels.

use std::path::Path;
use std::time::Duration;

use dcs_e2e::{client, wait_until, FakeUser, Fixture, JwtIssuer};
use reqwest::Response;

const MISSING: &str = "/github/acme/hello/_dcs/files/nope";

/// The `X-Request-Id` the proxy answered with.
fn answered_id(resp: &Response) -> String {
    resp.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Every launcher log this proxy's runtime wrote (`<data-dir>/logs/*.log`).
fn launcher_logs(data_dir: &Path) -> String {
    let Ok(dir) = std::fs::read_dir(data_dir.join("logs")) else {
        return String::new();
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect()
}

#[tokio::test]
async fn a_launcher_404_names_the_proxys_request_id_not_the_clients() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    fx.readme_is_served().await?;
    let url = fx.proxy.url(MISSING);

    let resp = client()
        .get(&url)
        .header("x-request-id", "evil")
        .send()
        .await?;
    assert_eq!(resp.status(), 404, "{}", fx.proxy.log());
    let id = answered_id(&resp);
    assert!(!id.is_empty() && id != "evil", "{id:?}");
    let page = resp.text().await?;
    assert!(
        page.contains(&format!("request id <code>{id}</code>")),
        "{page}"
    );
    assert!(!page.contains("evil"), "{page}");
    // The proxy's own access line carries the same id.
    let logged = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        fx.proxy
            .log()
            .lines()
            .any(|l| l.contains(&id) && l.contains(MISSING))
    })
    .await;
    assert!(logged, "no proxy line with {id}:\n{}", fx.proxy.log());

    // A JSON client gets it in the error object.
    let resp = client()
        .get(&url)
        .header("accept", "application/json")
        .header("x-request-id", "evil")
        .send()
        .await?;
    assert_eq!(resp.status(), 404);
    let id = answered_id(&resp);
    let body: serde_json::Value = serde_json::from_str(&resp.text().await?)?;
    assert_eq!(body["request_id"], id.as_str(), "{body}");
    assert_ne!(id, "evil");
    Ok(())
}

#[tokio::test]
async fn a_launcher_5xx_is_logged_with_the_proxys_request_id() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    fx.readme_is_served().await?;
    // The launcher writes uploads first in its own folder under `.dcs-tmp`; a file
    // put in that folder's place makes the next upload fail with an I/O error (500).
    let temps = fx.proxy.volume().join(".dcs-tmp");
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(&temps)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            folders.push(entry.path());
        }
    }
    assert_eq!(folders.len(), 1, "{folders:?}");
    std::fs::remove_dir_all(&folders[0])?;
    std::fs::write(&folders[0], "in the way")?;

    let resp = client()
        .put(fx.proxy.url("/github/acme/hello/_dcs/files/new.txt"))
        .header("x-request-id", "evil")
        .body("hello")
        .send()
        .await?;
    assert_eq!(resp.status(), 500, "{}", fx.proxy.log());
    let id = answered_id(&resp);
    assert!(!id.is_empty() && id != "evil", "{id:?}");
    let page = resp.text().await?;
    assert!(page.contains(&id) && !page.contains("evil"), "{page}");

    let data_dir = fx.proxy.data_dir.clone();
    let line = |id: &str| {
        launcher_logs(&data_dir)
            .lines()
            .any(|l| l.contains("request failed") && l.contains(&format!("request_id={id}")))
    };
    let logged = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        line(&id)
    })
    .await;
    assert!(
        logged,
        "no launcher line with {id}:\n{}",
        launcher_logs(&data_dir)
    );
    assert!(
        !launcher_logs(&data_dir).contains("evil"),
        "a client's id was logged"
    );
    Ok(())
}

#[tokio::test]
async fn a_trusted_proxys_request_id_is_the_one_the_launcher_names() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let alice = FakeUser::new("alice");
    let extra = ["--trusted-proxies", "127.0.0.0/8"].map(String::from);
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &extra)?;
    let resp = issuer
        .signed(client().get(fx.proxy.url(MISSING)), &alice)
        .header("x-request-id", "edge-4711")
        .send()
        .await?;
    assert_eq!(resp.status(), 404, "{}", fx.proxy.log());
    assert_eq!(answered_id(&resp), "edge-4711");
    let page = resp.text().await?;
    assert!(page.contains("request id <code>edge-4711</code>"), "{page}");
    Ok(())
}
