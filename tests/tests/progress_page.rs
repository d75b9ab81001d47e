//! The live progress page (local mode, `--auth none`), against a real git server
//! that trickles its answers so the clone takes seconds: a browser navigation to a
//! workspace that is not ready gets the page at once (not a request held until the
//! start timeout and then a 504), the page walks through the start's real phases
//! (cloning with its percentage, the IDE starting, ready) and lands in the workspace
//! by itself, also when the start takes longer than `--start-timeout`; a failing
//! start shows its reason and what to do; the same phases show in `/api/status`;
//! every error page names a request id that the proxy's log line with the cause
//! carries.

use std::time::{Duration, Instant};

use dcs_e2e::browser::{self, Script};
use dcs_e2e::git_server::{GitServer, Mode};
use dcs_e2e::repos::noise;
use dcs_e2e::{api, client, ide_support, Fixture};
use serde_json::Value;

/// How long a condition may take on a busy machine.
const PATIENCE: Duration = Duration::from_secs(90);

/// A fixture whose git server sends 4 KiB every 100 ms and whose repository holds
/// 40 files of 8 KiB of noise (about 320 KiB of pack: several seconds of clone,
/// dozens of objects), with a start timeout shorter than the clone.
fn slow_clone() -> anyhow::Result<Fixture> {
    let fx = Fixture::with_git(
        |root| {
            GitServer::builder(root)
                .mode(Mode::Trickle {
                    chunk: 4096,
                    every: Duration::from_millis(100),
                })
                .start()
        },
        |b| b.arg("--ide").arg("none").arg("--start-timeout").arg("3s"),
    )?;
    let files: Vec<(String, String)> = (0..40)
        .map(|i| (format!("data/{i}.txt"), noise(8 * 1024, 2 * i + 1)))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    fx.repo.commit(&refs, "bulk")?;
    Ok(fx)
}

/// A navigation as a browser sends it.
fn navigate(fx: &Fixture, path: &str) -> reqwest::RequestBuilder {
    dcs_e2e::navigation(client().get(fx.proxy.url(path)))
}

/// Polls the progress endpoint until `done` holds for an answer; returns every
/// answer seen.
async fn follow(
    fx: &Fixture,
    prefix: &str,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let resp = client()
            .get(fx.proxy.url(&format!("{prefix}/_dcs/progress")))
            .header("accept", "application/json")
            .send()
            .await?;
        let (code, body) = api::status_json(resp).await?;
        anyhow::ensure!(code == 200, "{code}: {body}\n{}", fx.proxy.log());
        let finished = done(&body);
        seen.push(body);
        if finished {
            return Ok(seen);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "never done; seen {seen:?}\n{}",
            fx.proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn phases(seen: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in seen {
        let phase = p["phase"].as_str().unwrap_or("?").to_owned();
        if out.last() != Some(&phase) {
            out.push(phase);
        }
    }
    out
}

#[tokio::test]
async fn a_navigation_gets_the_progress_page_at_once_and_it_follows_the_start_past_the_timeout(
) -> anyhow::Result<()> {
    let fx = slow_clone()?;
    let resp = navigate(&fx, "/github/acme/hello/").send().await?;
    let status = resp.status().as_u16();
    let csp = resp
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let page = resp.text().await?;
    assert_eq!(status, 200, "{page}\n{}", fx.proxy.log());
    assert!(
        page.contains("Starting your workspace")
            && page.contains("data-progress=\"/github/acme/hello/_dcs/progress\""),
        "not the progress page: {page}"
    );
    assert!(
        !fx.checkout().join("data/39.txt").exists(),
        "the page came only after the clone"
    );
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    // The script comes from the proxy itself, same origin.
    let script = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/progress.js"))
        .send()
        .await?;
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()?
        .starts_with("text/javascript"));

    let seen = follow(&fx, "/github/acme/hello", |p| {
        p["phase"] == "ready" || p["phase"] == "failed"
    })
    .await?;
    let walked = phases(&seen);
    assert_eq!(
        walked.last().map(String::as_str),
        Some("ready"),
        "{seen:?}\n{}",
        fx.proxy.log()
    );
    let cloning: Vec<&Value> = seen.iter().filter(|p| p["phase"] == "cloning").collect();
    assert!(
        cloning.iter().any(|p| p["percent"].is_u64()
            && p["objects"]["total"].as_u64().unwrap_or(0) > 40
            && p["bytes"].as_u64().unwrap_or(0) > 0),
        "no clone figures: {seen:?}"
    );
    let at = |phase: &str| walked.iter().position(|p| p == phase);
    assert!(at("cloning") < at("ready"), "{walked:?}");
    // The start outlived the 3 s start timeout, and the page kept following it.
    let resp = navigate(&fx, "/github/acme/hello/").send().await?;
    assert_eq!(resp.status(), 200);
    let body = resp.text().await?;
    assert!(
        !body.contains("Starting your workspace") && body.contains("README.md"),
        "not the workspace: {body}"
    );
    Ok(())
}

#[tokio::test]
async fn the_page_walks_through_the_phases_and_lands_in_the_workspace_in_chromium(
) -> anyhow::Result<()> {
    let tools = browser::tools();
    let fx = slow_clone()?;
    let shots = ide_support::screenshot_dir("progress")?;
    let mut script = Script::start(
        &tools,
        "progress_page.mjs",
        serde_json::json!({
            "url": fx.proxy.url("/github/acme/hello/"),
            "screenshots": shots.display().to_string(),
        }),
    )?;
    let page = script.expect("progress", PATIENCE).await?;
    assert_ne!(page["phase"], "ready", "{page}");
    let landed = script.expect("landed", PATIENCE).await?;
    let seen: Vec<String> = serde_json::from_value(landed["seen"].clone())?;
    let at = |phase: &str| seen.iter().position(|p| p == phase);
    assert!(
        at("cloning").is_some() && at("cloning") < at("ready"),
        "the page did not walk through cloning to ready: {seen:?}\n{}",
        fx.proxy.log()
    );
    assert_eq!(
        landed["navigations"], 2,
        "one reload, by the page: {landed}"
    );
    script.finish(Duration::from_secs(30)).await?;
    Ok(())
}

#[tokio::test]
async fn a_failing_start_shows_its_reason_and_what_to_do_in_chromium() -> anyhow::Result<()> {
    let tools = browser::tools();
    let fx = slow_clone()?;
    // Something that is not the repository where its checkout goes: the launcher
    // refuses to touch it.
    std::fs::create_dir_all(fx.checkout())?;
    std::fs::write(fx.checkout().join("mine.txt"), "not a checkout\n")?;
    let shots = ide_support::screenshot_dir("progress-failed")?;
    let mut script = Script::start(
        &tools,
        "progress_page.mjs",
        serde_json::json!({
            "url": fx.proxy.url("/github/acme/hello/"),
            "screenshots": shots.display().to_string(),
            "expect": "failure",
        }),
    )?;
    let failed = script.expect("failure", PATIENCE).await?;
    let text = failed["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("not a git repository") || text.contains("not empty"),
        "no reason shown: {failed}\n{}",
        fx.proxy.log()
    );
    assert!(text.contains("request id"), "{failed}");
    script.finish(Duration::from_secs(30)).await?;
    assert_eq!(
        std::fs::read_to_string(fx.checkout().join("mine.txt"))?,
        "not a checkout\n"
    );
    Ok(())
}

#[tokio::test]
async fn api_status_shows_the_clone_progress_then_ready() -> anyhow::Result<()> {
    let fx = slow_clone()?;
    let (code, created) = api::call(
        client()
            .post(fx.proxy.url("/api/instances"))
            .header("content-type", "application/json")
            .body(serde_json::json!({"repo": "acme/hello"}).to_string()),
    )
    .await?;
    assert_eq!(code, 201, "{created}");
    let id = created["instance_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let (code, body) = api::call(
            client()
                .get(fx.proxy.url("/api/status"))
                .query(&[("instance_id", &id)]),
        )
        .await?;
        assert_eq!(code, 200, "{body}");
        let ready = body["ready"] == true;
        seen.push(body["progress"].clone());
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let walked = phases(&seen);
    assert!(
        walked.iter().any(|p| p == "cloning") && walked.last().map(String::as_str) == Some("ready"),
        "{walked:?} {seen:?}"
    );
    Ok(())
}

#[tokio::test]
async fn an_error_page_names_a_request_id_and_the_log_line_with_that_id_has_the_cause(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--ide").arg("none"))?;
    // Asking for HTML without being a navigation: held for the outcome, a 404 page.
    let resp = client()
        .get(fx.proxy.url("/github/acme/missing/"))
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(resp.status(), 404);
    let id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let page = resp.text().await?;
    assert!(!id.is_empty(), "no X-Request-Id");
    assert!(
        page.contains(&format!("request id: <code>{id}</code>")),
        "{page}"
    );
    let logged = dcs_e2e::procs::wait_until(PATIENCE, Duration::from_millis(50), || {
        fx.proxy.log().lines().any(|l| {
            l.contains(&id) && l.contains("answered with an error") && l.contains("missing")
        })
    })
    .await;
    assert!(
        logged,
        "no log line with {id} and the cause:\n{}",
        fx.proxy.log()
    );

    // The API's errors too.
    let resp = client()
        .get(fx.proxy.url("/api/status"))
        .query(&[("instance_id", "nope")])
        .send()
        .await?;
    let header = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (code, body) = api::status_json(resp).await?;
    assert!(code >= 400, "{body}");
    assert_eq!(body["request_id"], header.as_str(), "{body}");
    Ok(())
}

#[tokio::test]
async fn dcs_create_wait_prints_the_phases_as_they_happen() -> anyhow::Result<()> {
    let fx = slow_clone()?;
    let home = tempfile::tempdir()?;
    let out = tokio::time::timeout(
        Duration::from_secs(180),
        tokio::process::Command::new(dcs_e2e::bin_path("dcs")?)
            .args(["create", "--repo", "acme/hello", "--wait", "--server"])
            .arg(fx.proxy.url(""))
            .env_remove("DCS_SERVER")
            .env_remove("DCS_TOKEN")
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{}", fx.proxy.log());
    // Not a terminal: one line per change, e.g. `inst-…: cloning 40% (12/30 objects, 96.0 KiB) (2s)`.
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(": cloning ") && l.contains('%') && l.contains("objects")),
        "no clone progress in: {stderr}"
    );
    assert!(stderr.contains("is ready"), "{stderr}");
    Ok(())
}
