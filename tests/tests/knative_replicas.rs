//! Two real `dcs-proxy` processes in Knative mode on one fake API server (reached
//! through `KUBECONFIG`), each reaching workspaces through a loopback stand-in for
//! Knative's ingress (`--knative-ingress`): an instance created through A opens
//! through B once its Service is Ready (the request is held, never a 502); after a
//! delete through A, B answers 404 for the page with the held cookie and the API,
//! refuses the link (403, no cookie), and nothing is made again. Each replica's `dcs_workspace_start_seconds{phase}`
//! counts the phases its start went through. A stop asked for through A (a real
//! launcher behind the ingress) is carried out by B, which carries the workspace's
//! connections too; A's API start and a person coming back through B undo it.

use std::time::Duration;

use dcs_e2e::{client, Proxy};
use dcs_model::{InstanceId, UserId, WorkspaceKey};
use dcs_proxy::hop::HopKey;
use dcs_proxy::runtime::knative::fake::ingress::FakeIngress;
use dcs_proxy::runtime::knative::fake::launcher::Launcher;
use dcs_proxy::runtime::knative::fake::{FakeApiServer, Policy};
use serde_json::Value;

#[path = "common/replica.rs"]
mod replica;
use replica::replica;

const NS: &str = "dcs-workspaces";

/// The `?tkn=` exchange through `proxy`: the instance's cookie (`name=value`).
async fn exchange(proxy: &Proxy, id: &str, token: &str) -> anyhow::Result<String> {
    let resp = client()
        .get(proxy.url(&format!("/instances/{id}/?tkn={token}")))
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 303, "{}: {}", resp.status(), proxy.log());
    Ok(resp.headers()["set-cookie"]
        .to_str()?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned())
}

async fn get(proxy: &Proxy, path: &str, cookie: &str) -> anyhow::Result<(u16, String)> {
    let resp = client()
        .get(proxy.url(path))
        .header("cookie", cookie)
        .send()
        .await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

/// The samples of `dcs_workspace_start_seconds_count` by phase on `proxy`.
async fn start_phases(proxy: &Proxy) -> anyhow::Result<Vec<String>> {
    let text = proxy.metrics().await?;
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix("dcs_workspace_start_seconds_count{phase=\""))
        .filter(|l| !l.ends_with(" 0"))
        .filter_map(|l| l.split('"').next().map(str::to_owned))
        .collect())
}

/// Two replicas, A and B, on one fake API server (Services made Ready as `policy`
/// says) and one ingress stand-in.
struct Scene {
    dir: tempfile::TempDir,
    server: FakeApiServer,
    ingress: FakeIngress,
    a: Proxy,
    b: Proxy,
}

impl Scene {
    fn new(policy: Policy) -> anyhow::Result<Self> {
        dcs_proxy::runtime::knative::install_crypto_provider();
        let dir = tempfile::tempdir()?;
        let server = FakeApiServer::new();
        server.set_policy(policy);
        std::fs::write(dir.path().join("kubeconfig"), server.kubeconfig())?;
        std::fs::write(dir.path().join("hop.key"), [b'k'; 32])?;
        let ingress = FakeIngress::start(&server);
        let a = replica(dir.path(), "a", &ingress)?;
        let b = replica(dir.path(), "b", &ingress)?;
        Ok(Self {
            dir,
            server,
            ingress,
            a,
            b,
        })
    }

    /// An instance created through A: its id and access token.
    async fn create(&self) -> anyhow::Result<Value> {
        let resp = client()
            .post(self.a.url("/api/instances"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await?;
        anyhow::ensure!(resp.status() == 201, "{}", self.a.log());
        Ok(serde_json::from_str(&resp.text().await?)?)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_via_a_open_via_b_delete_via_a_then_b_finds_nothing_and_makes_nothing(
) -> anyhow::Result<()> {
    // Knative makes the Service Ready when the test says.
    let scene = Scene::new(Policy::Manual)?;
    let Scene { server, a, b, .. } = &scene;
    let created = scene.create().await?;
    let id = created["instance_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token = created["access_token"].as_str().unwrap_or_default();
    let services = server.created("services");
    assert_eq!(services.len(), 1, "one Service: {services:?}");
    let name = services[0].clone();

    // B sees the Service starting (its cache has it, in a phase before ready).
    let status = b.url(&format!("/api/status?instance_id={id}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (code, now) = dcs_e2e::api::call(client().get(&status)).await?;
        let phase = now["progress"]["phase"].as_str().unwrap_or_default();
        if code == 200 && now["phase"] == "starting" && !phase.is_empty() && phase != "ready" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B never saw the start: {code} {now}\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Opened through B while it is not ready: held until it is, then served. B's
    // start looks at the progress as it begins, and only then writes the Service
    // (its apply, a patch): once the API server got that, B has seen the start in a
    // phase before ready, and Knative may finish it.
    let patches = || {
        server
            .calls()
            .iter()
            .filter(|c| c.verb == "patch" && c.resource == "services")
            .count()
    };
    let before = patches();
    let cookie = exchange(b, &id, token).await?;
    let held = tokio::spawn({
        let (url, cookie) = (b.url(&format!("/instances/{id}/x")), cookie.clone());
        async move {
            let resp = client().get(url).header("cookie", cookie).send().await?;
            anyhow::Ok((resp.status().as_u16(), resp.text().await?))
        }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while patches() == before {
        assert!(
            tokio::time::Instant::now() < deadline && !held.is_finished(),
            "B never applied the Service: {}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // B samples its start's phase every LOOK_EVERY (250 ms) for the metrics: keep the
    // Service from Ready until B's progress shows a phase before it, and for a few
    // sample periods more, so the sample cannot miss it (a quick settle made the
    // start end before its first look, once, in `make test`).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let resp = client()
            .get(b.url(&format!("/instances/{id}/_dcs/progress")))
            .header("cookie", cookie.clone())
            .header("accept", "application/json")
            .send()
            .await?;
        let body: serde_json::Value =
            serde_json::from_slice(&resp.bytes().await?).unwrap_or_default();
        let phase = body["phase"].as_str().unwrap_or_default();
        if !phase.is_empty() && phase != "ready" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline && !held.is_finished(),
            "B never showed a phase before ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(4 * dcs_proxy::activator::phases::LOOK_EVERY).await;
    // Ready (again, should B's apply have made a new generation) until served.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !held.is_finished() {
        server.settle(NS, &name);
        assert!(
            tokio::time::Instant::now() < deadline,
            "B never served it: {}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, body) = held.await??;
    assert_eq!(
        (code, body.as_str()),
        (200, "a canned workspace"),
        "{}",
        b.log()
    );
    let phases = start_phases(b).await?;
    assert!(phases.contains(&"ready".to_owned()), "{phases:?}");
    assert!(
        phases.iter().any(|p| p != "ready"),
        "the start is seen in a phase before ready: {phases:?}"
    );

    let resp = client()
        .delete(a.url(&format!("/api/instances/{id}")))
        .send()
        .await?;
    assert_eq!(resp.status(), 204, "{}", a.log());
    // B hears of it through its watch: page, cookie, API and token all 404.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (code, _) = get(b, &format!("/instances/{id}/x"), &cookie).await?;
        if code == 404 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B still answers {code} after the delete: {}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, _) = get(b, &format!("/api/instances/{id}"), "").await?;
    assert_eq!(code, 404);
    // The link is refused as any wrong token is (no cookie is set).
    let resp = client()
        .get(b.url(&format!("/instances/{id}/?tkn={token}")))
        .send()
        .await?;
    assert_eq!(resp.status(), 403, "the link no longer works");
    assert!(resp.headers().get("set-cookie").is_none());
    // A reconnecting tab: its requests through B make nothing.
    for path in ["/x", "/", "/_dcs/ready"] {
        let (code, _) = get(b, &format!("/instances/{id}{path}"), &cookie).await?;
        assert_eq!(code, 404, "{path}");
    }
    assert_eq!(server.created("services"), vec![name.clone()]);
    assert!(server
        .names("serving.knative.dev", "services", NS)
        .is_empty());
    let homes = server.created("persistentvolumeclaims");
    assert_eq!(
        homes.iter().filter(|n| **n == name).count(),
        1,
        "its home volume was made once: {homes:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_asked_through_a_is_carried_out_by_b_until_someone_comes_back_through_b(
) -> anyhow::Result<()> {
    let scene = Scene::new(Policy::ReadyAfter(Duration::from_millis(200)))?;
    let Scene {
        dir,
        server,
        ingress,
        a,
        b,
    } = &scene;
    let created = scene.create().await?;
    let field = |k: &str| created[k].as_str().unwrap_or_default().to_owned();
    let (id, token) = (field("instance_id"), field("access_token"));
    let key = WorkspaceKey::instance(UserId::new(&field("user_id"))?, InstanceId::parse(&id)?);
    assert_eq!(server.created("services"), vec![key.name().to_string()]);
    // The Service's pod: a real launcher, the hop credential the replicas derive.
    let hop = HopKey::load(&dir.path().join("hop.key")).map_err(anyhow::Error::msg)?;
    let bin = dcs_e2e::bin_path("dcs-launcher")?;
    let pod = dir.path().join("pod");
    std::fs::create_dir_all(&pod)?;
    let launcher = Launcher::start(&bin, &key, &pod, Some(&hop)).await?;
    ingress.forward(key.name().as_str(), launcher.addr);

    // A tab whose connections go through B.
    let cookie = exchange(b, &id, &token).await?;
    let (code, _) = get(b, &format!("/instances/{id}/_dcs/ready"), &cookie).await?;
    assert_eq!(code, 200, "{}", b.log());
    let poll = || {
        client()
            .get(b.url(&format!("/instances/{id}/_dcs/idle")))
            .header("cookie", &cookie)
            .header("x-dcs-background", "1")
            .send()
    };
    let resp = poll().await?;
    assert_eq!(resp.status(), 200, "B forwards the poll: {}", b.log());

    // Stop now, through A.
    let resp = client()
        .post(a.url(&format!("/api/instances/{id}/stop")))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", a.log());
    // B hears of it from the workspace's clock at its next reaper pass: its tab is
    // told the stop was asked for, and B closed what it carried.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let resp = poll().await?;
        if resp.status() == 503 {
            let told: Value = serde_json::from_str(&resp.text().await?)?;
            assert_eq!(told["reason"], "requested", "{told}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B still forwards the tab's poll ({}) after the stop: {}",
            resp.status(),
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = b.metrics().await?;
    assert_eq!(
        dcs_e2e::metric(&metrics, "dcs_idle_stops_total{reason=\"requested\"}"),
        1,
        "{metrics}"
    );

    // Started again through A's API before Knative scaled it down: the workspace
    // hears of it, so its clock no longer says a stop is due (no reaper stops it).
    let resp = client()
        .post(a.url(&format!("/api/instances/{id}/start")))
        .send()
        .await?;
    assert_eq!(resp.status(), 202, "{}", a.log());
    let status = a.url(&format!("/api/status?instance_id={id}"));
    let idle = loop {
        let (_, now) = dcs_e2e::api::call(client().get(&status)).await?;
        if now["idle"].is_object() {
            break now["idle"].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "A never reports the clock: {now} {}",
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(idle["stop_requested_at"].is_null(), "{idle}");
    assert_eq!(idle["last_input"]["kind"], "keep-working", "{idle}");
    // B still tells its stale tab the stop (B's note stands until a navigation).
    assert_eq!(poll().await?.status(), 503);

    // Someone comes back through B (the Resume reload): it runs for them, and the
    // workspace's clock no longer says a stop is due.
    let (code, _) = get(b, &format!("/instances/{id}/"), &cookie).await?;
    assert_eq!(code, 200, "{}", b.log());
    let resp = poll().await?;
    assert_eq!(resp.status(), 200, "{}", b.log());
    let report: Value = serde_json::from_str(&resp.text().await?)?;
    assert!(report["stop_requested_at"].is_null(), "{report}");
    assert!(
        report["stop_at"].as_u64() > report["now"].as_u64(),
        "{report}"
    );
    Ok(())
}
