//! The live progress page in Knative mode, in Chromium, through a real `dcs-proxy`
//! on the stateful fake API server with a loopback stand-in for Knative's ingress
//! (`--knative-ingress`). The test plays the cluster: the Knative controller (the
//! revision's pod starting, the Service turning Ready or failing) and the
//! workspace's checkout container (pushing its clone progress over the hop, as
//! `dcs-launcher` does). The page shows the Knative phases and the pushed clone
//! percentage as they happen and lands in the workspace by itself; a launcher's
//! failure and a revision that cannot pull its image show their reason and what
//! to do.

use std::time::Duration;

use dcs_e2e::browser::{self, Script};
use dcs_e2e::{ide_support, GitServer, Proxy, ProxyBuilder, UpstreamRepo};
use dcs_proxy::hop::HopKey;
use dcs_proxy::runtime::knative::fake::ingress::FakeIngress;
use dcs_proxy::runtime::knative::fake::{FakeApiServer, Policy};
use serde_json::{json, Value};

const NS: &str = "dcs-workspaces";
const GROUP: &str = "serving.knative.dev";
const PATIENCE: Duration = Duration::from_secs(90);
const SECRET: &[u8] = b"progress-page-knative-secret-0123456789";

/// The cluster, a git server with `acme/hello`, and a proxy on both.
struct Scene {
    server: FakeApiServer,
    _ingress: FakeIngress,
    proxy: Proxy,
    _git: GitServer,
    _dir: tempfile::TempDir,
}

fn scene() -> anyhow::Result<Scene> {
    dcs_proxy::runtime::knative::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("git");
    std::fs::create_dir_all(&root)?;
    UpstreamRepo::create(&root, "acme/hello", &[("README.md", "# hello\n")])?;
    let git = GitServer::start(&root)?;
    let server = FakeApiServer::new();
    server.set_policy(Policy::ReadyAfter(Duration::from_secs(3600)));
    std::fs::write(dir.path().join("kubeconfig"), server.kubeconfig())?;
    std::fs::write(dir.path().join("hop.key"), SECRET)?;
    let ingress = FakeIngress::start(&server);
    let proxy = ProxyBuilder::new(&dir.path().join("data"), &git.base_url())
        .knative(&dir.path().join("kubeconfig"), &dir.path().join("hop.key"))
        .arg("--knative-ingress")
        .arg(ingress.addr().to_string())
        .start()?;
    Ok(Scene {
        server,
        _ingress: ingress,
        proxy,
        _git: git,
        _dir: dir,
    })
}

impl Scene {
    /// The one Service the proxy made, once it has: the page shows its progress
    /// before the proxy's create reaches the API server.
    async fn service(&self) -> anyhow::Result<String> {
        let made = || self.server.created("services");
        dcs_e2e::wait_until(PATIENCE, Duration::from_millis(20), || !made().is_empty()).await;
        let made = made();
        anyhow::ensure!(made.len() == 1, "one Service made, not {made:?}");
        Ok(made[0].clone())
    }

    /// The revision's pod runs, not yet healthy: what Knative shows while the
    /// checkout container works.
    fn pod_starting(&self, name: &str) -> anyhow::Result<()> {
        let rev = format!("{name}-00001");
        let mut revision = self
            .server
            .object(GROUP, "revisions", NS, &rev)
            .ok_or_else(|| anyhow::anyhow!("no revision {rev}"))?;
        revision["status"]["actualReplicas"] = json!(1);
        self.server.insert(GROUP, "revisions", NS, revision);
        Ok(())
    }

    /// Pushes `report` as the workspace's launcher, until accepted (the proxy's
    /// cache may not hold the Service yet; a push within a second waits).
    async fn push(&self, name: &str, report: &Value) -> anyhow::Result<()> {
        let credential = HopKey::from_bytes(SECRET)
            .map_err(anyhow::Error::msg)?
            .credential_for(name);
        let body = report.to_string();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let req = format!(
                "POST /_dcs/hop/progress/{name} HTTP/1.1\r\nHost: {}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\
                 X-DCS-Hop: {}\r\nConnection: close\r\n\r\n{body}",
                self.proxy.addr,
                body.len(),
                credential.expose()
            );
            let status = dcs_e2e::raw_request(self.proxy.addr, req.as_bytes())
                .await?
                .status;
            if status == 204 {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline && matches!(status, 404 | 429),
                "push answered {status}\n{}",
                self.proxy.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn browser(&self, label: &str, extra: Value) -> anyhow::Result<Script> {
        let shots = ide_support::screenshot_dir(label)?;
        let mut input = json!({
            "url": self.proxy.url("/github/acme/hello/"),
            "screenshots": shots.display().to_string(),
        });
        if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
            i.extend(e.clone());
        }
        Script::start(&browser::tools(), "progress_page.mjs", input)
    }
}

fn cloning(done: u64, total: u64) -> Value {
    json!({"phase": "checkout", "ready": false, "error": null,
           "progress": {"received_bytes": done * 1024, "objects_done": done,
                        "objects_total": total}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_walks_through_the_knative_phases_and_lands_in_the_workspace_in_chromium(
) -> anyhow::Result<()> {
    let s = scene()?;
    let mut page = s.browser(
        "progress-knative",
        json!({"phases": ["cloning"], "landsOn": "a canned workspace"}),
    )?;
    let first = page.expect("progress", PATIENCE).await?;
    assert!(
        ["created", "scheduled", "starting"].contains(&first["phase"].as_str().unwrap_or("")),
        "a Knative phase at once: {first}"
    );
    let name = s.service().await?;
    s.pod_starting(&name)?;
    s.push(&name, &cloning(5, 20)).await?;
    page.expect("phase", PATIENCE).await?;
    s.server.mark_ready(NS, &name);
    s.push(
        &name,
        &json!({"phase": "ready", "ready": true, "error": null}),
    )
    .await?;
    let landed = page.expect("landed", PATIENCE).await?;
    let seen: Vec<String> = serde_json::from_value(landed["seen"].clone())?;
    let at = |phase: &str| seen.iter().position(|p| p == phase);
    assert!(
        at("cloning").is_some() && at("cloning") < at("ready"),
        "{seen:?}\n{}",
        s.proxy.log()
    );
    assert_eq!(
        landed["navigations"], 2,
        "one reload, by the page: {landed}"
    );
    page.finish(Duration::from_secs(30)).await?;
    assert_eq!(s.server.created("services"), vec![name]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launchers_failure_shows_its_reason_and_what_to_do_in_chromium() -> anyhow::Result<()> {
    let s = scene()?;
    let mut page = s.browser("progress-knative-failed", json!({"expect": "failure"}))?;
    page.expect("progress", PATIENCE).await?;
    let name = s.service().await?;
    s.pod_starting(&name)?;
    let failed = json!({"phase": "failed", "ready": false, "error":
        {"kind": "auth", "message": "the git server refused the credentials for acme/hello"}});
    s.push(&name, &failed).await?;
    let shown = page.expect("failure", PATIENCE).await?;
    let text = shown["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("refused the credentials") && text.contains("administrator"),
        "the launcher's reason and what to do: {text}\n{}",
        s.proxy.log()
    );
    page.finish(Duration::from_secs(30)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_cannot_be_pulled_shows_knatives_reason_in_chromium() -> anyhow::Result<()> {
    let s = scene()?;
    let mut page = s.browser("progress-knative-image", json!({"expect": "failure"}))?;
    page.expect("progress", PATIENCE).await?;
    let name = s.service().await?;
    s.server.fail(
        NS,
        &name,
        "ImagePullBackOff",
        "Back-off pulling image \"registry.example/nope:1\"",
    );
    let shown = page.expect("failure", PATIENCE).await?;
    let text = shown["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("cannot be pulled") && text.contains("image"),
        "Knative's reason and what to do: {text}\n{}",
        s.proxy.log()
    );
    page.finish(Duration::from_secs(30)).await?;
    Ok(())
}
