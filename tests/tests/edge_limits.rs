//! One user cannot make the platform grow without bound: the instance beyond
//! `--max-instances-per-user` and the start beyond `--max-starts-per-user` (a page's, a create's, the API's start) are a
//! 429 with `Retry-After`; a repository that does not exist at the git base
//! creates nothing (no record, no launcher, no volume) and its miss is answered
//! from memory; a git server that does not answer blocks no start forever and
//! creates nothing either; a failed workspace can be deleted through the API.

use std::time::Duration;

use anyhow::Context;
use dcs_e2e::api::call;
use dcs_e2e::git_server::Mode;
use dcs_e2e::{client, wait_until, Fixture, GitServer, UpstreamRepo};
use serde_json::{json, Value};

/// `GET /api/instances`.
async fn instances(fx: &Fixture) -> anyhow::Result<Vec<Value>> {
    let (code, list) = call(client().get(fx.proxy.url("/api/instances"))).await?;
    anyhow::ensure!(code == 200, "{list}");
    Ok(list["instances"].as_array().cloned().unwrap_or_default())
}

/// `POST /api/instances` with `body`.
async fn create(fx: &Fixture, body: Value) -> anyhow::Result<reqwest::Response> {
    Ok(client()
        .post(fx.proxy.url("/api/instances"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?)
}

/// Requests the git server saw for `owner/repo`.
fn asked(git: &GitServer, repo: &str) -> usize {
    git.requests()
        .iter()
        .filter(|r| r.path_and_query.starts_with(&format!("/{repo}.git/")))
        .count()
}

#[tokio::test]
async fn the_instance_beyond_the_per_user_limit_is_429_with_retry_after() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--max-instances-per-user").arg("2"))?;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let resp = create(&fx, json!({})).await?;
        assert_eq!(resp.status(), 201, "{}", fx.proxy.log());
        let body: Value = serde_json::from_str(&resp.text().await?)?;
        ids.push(body["instance_id"].as_str().context("id")?.to_owned());
    }
    let resp = create(&fx, json!({"repo": "acme/hello"})).await?;
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .context("a Retry-After in seconds")?;
    assert!(retry >= 1);
    let body: Value = serde_json::from_str(&resp.text().await?)?;
    assert_eq!(body["error"], "too_many_requests", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("delete one"),
        "{body}"
    );
    assert_eq!(instances(&fx).await?.len(), 2, "nothing more was made");

    let gone = client()
        .delete(fx.proxy.url(&format!("/api/instances/{}", ids[0])))
        .send()
        .await?;
    assert_eq!(gone.status(), 204);
    let resp = create(&fx, json!({})).await?;
    assert_eq!(resp.status(), 201, "room again after a delete");
    Ok(())
}

#[tokio::test]
async fn creates_at_once_cannot_pass_the_per_user_limit_together() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--max-instances-per-user").arg("1"))?;
    // A script creating in parallel: each create checks the repository at the
    // git base before it registers, a window the others must not slip through.
    let creates = (0..6).map(|_| create(&fx, json!({"repo": "acme/hello"})));
    let answers = futures_util::future::join_all(creates).await;
    let mut codes = Vec::new();
    for answer in answers {
        codes.push(answer?.status().as_u16());
    }
    codes.sort_unstable();
    assert_eq!(codes, [201, 429, 429, 429, 429, 429], "{}", fx.proxy.log());
    assert_eq!(instances(&fx).await?.len(), 1, "one instance was made");
    Ok(())
}

#[tokio::test]
async fn a_start_beyond_the_per_user_limit_is_429_with_retry_after() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| {
        b.arg("--max-starts-per-user")
            .arg("1")
            .arg("--git-low-speed-time")
            .arg("10m")
    })?;
    let _other = UpstreamRepo::create(
        &fx.tmp.path().join("git"),
        "acme/other",
        &[("README.md", "other\n")],
    )?;
    // acme/other opened once and stopped: its next start is one more.
    let opened = client()
        .get(fx.proxy.url("/github/acme/other/_dcs/ready"))
        .send()
        .await?;
    assert_eq!(opened.status(), 200, "{}", fx.proxy.log());
    let other = instances(&fx).await?[0]["instance_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let stop = client()
        .post(fx.proxy.url(&format!("/api/instances/{other}/stop")))
        .send()
        .await?;
    assert_eq!(stop.status(), 200, "{}", fx.proxy.log());
    // Clones crawl: the first start stays under way.
    fx.git.set_mode(Mode::Trickle {
        chunk: 1,
        every: Duration::from_secs(1),
    });
    let first = tokio::spawn({
        let url = fx.proxy.url("/github/acme/hello/");
        async move { client().get(url).send().await }
    });
    let starting = wait_until(Duration::from_secs(60), Duration::from_millis(100), || {
        fx.proxy.launcher_pids().len() == 1
    })
    .await;
    assert!(starting, "the first start began\n{}", fx.proxy.log());
    let list = instances(&fx).await?;
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(
        list.iter()
            .any(|w| w["repo"] == "acme/hello" && w["status"] == "starting"),
        "{list:?}"
    );

    let resp = client()
        .get(fx.proxy.url("/github/acme/other/"))
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(resp.status(), 429, "{}", fx.proxy.log());
    assert!(resp.headers().get("retry-after").is_some());
    let page = resp.text().await?;
    assert!(page.contains("Too many workspaces"), "{page}");
    assert!(page.contains("starting"), "{page}");
    let resp = client()
        .post(fx.proxy.url(&format!("/api/instances/{other}/start")))
        .send()
        .await?;
    assert_eq!(resp.status(), 429, "the API's start is one too");
    assert!(resp.headers().get("retry-after").is_some());
    let resp = create(&fx, json!({"repo": "acme/other"})).await?;
    assert_eq!(resp.status(), 429, "a create starts one too");
    assert!(resp.headers().get("retry-after").is_some());
    assert_eq!(instances(&fx).await?.len(), 2, "nothing more was made");
    assert_eq!(fx.proxy.launcher_pids().len(), 1);
    first.abort();
    Ok(())
}

#[tokio::test]
async fn a_mistyped_repository_creates_nothing_and_its_miss_is_remembered() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    for attempt in 0..2 {
        let resp = http
            .get(fx.proxy.url("/github/x/y/"))
            .header("accept", "text/html")
            .send()
            .await?;
        assert_eq!(resp.status(), 404, "attempt {attempt}: {}", fx.proxy.log());
        let page = resp.text().await?;
        assert!(page.contains("repository x/y was not found"), "{page}");
    }
    assert_eq!(
        asked(&fx.git, "x/y"),
        1,
        "the second attempt was answered from memory"
    );
    let (code, body) = call(
        http.post(fx.proxy.url("/api/instances"))
            .header("content-type", "application/json")
            .body(json!({"repo": "x/z"}).to_string()),
    )
    .await?;
    assert_eq!(
        (code, body["error"].as_str()),
        (404, Some("repo_not_found")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap_or("").contains("x/z"),
        "{body}"
    );

    assert!(instances(&fx).await?.is_empty(), "no workspace record");
    assert!(fx.proxy.launcher_pids().is_empty(), "no launcher");
    assert!(fx.proxy.volumes().is_empty(), "no volume");
    assert!(
        !fx.proxy.data_dir.join("state").read_dir()?.any(|_| true),
        "no state record"
    );
    // A repository that exists is still opened.
    let ok = http
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    assert_eq!(ok.status(), 200, "{}", fx.proxy.log());
    Ok(())
}

#[tokio::test]
async fn a_git_server_that_never_answers_blocks_no_start_and_creates_nothing() -> anyhow::Result<()>
{
    let fx = Fixture::new(|b| b.arg("--repo-check-timeout").arg("2s"))?;
    fx.git.set_mode(Mode::Hang);
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/"))
        .send()
        .await?;
    assert_eq!(resp.status(), 502, "{}", fx.proxy.log());
    let text = resp.text().await?;
    assert!(text.contains("did not answer within 2s"), "{text}");
    assert!(text.contains("nothing was created"), "{text}");
    let (code, body) = call(
        client()
            .post(fx.proxy.url("/api/instances"))
            .header("content-type", "application/json")
            .body(json!({"repo": "acme/hello"}).to_string()),
    )
    .await?;
    assert_eq!(code, 502, "{body}");
    assert!(instances(&fx).await?.is_empty());
    assert!(fx.proxy.launcher_pids().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_failed_repository_workspace_can_be_deleted_through_the_api() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    // Someone else's files where the checkout would go: the start is refused.
    let dir = fx.checkout();
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("notes.txt"), "mine\n")?;
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/"))
        .send()
        .await?;
    assert_eq!(resp.status(), 409, "{}", fx.proxy.log());
    let list = instances(&fx).await?;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["status"], "failed", "{list:?}");
    let id = list[0]["instance_id"].as_str().context("id")?.to_owned();
    assert!(id.starts_with("ws-"), "{id}");
    let resp = client()
        .delete(fx.proxy.url(&format!("/api/instances/{id}")))
        .send()
        .await?;
    assert_eq!(resp.status(), 204, "{}", fx.proxy.log());
    assert!(instances(&fx).await?.is_empty());
    assert_eq!(std::fs::read_to_string(dir.join("notes.txt"))?, "mine\n");
    Ok(())
}
