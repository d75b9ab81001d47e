//! Two real `dcs-proxy` replicas in Knative mode on one fake API server, a real
//! launcher behind the ingress stand-in: a stop that falls due in the workspace
//! (here asked for at the launcher itself, as a third replica would) is carried out
//! by both replicas' reapers (Knative scales the workspace down only later, so both
//! see it running), and counted once in `dcs_idle_stops_total` across them: by the
//! one whose note on the workspace's Service landed first.

use std::time::Duration;

use dcs_e2e::{client, Proxy};
use dcs_model::{InstanceId, UserId, WorkspaceKey};
use dcs_proxy::hop::HopKey;
use dcs_proxy::runtime::knative::fake::ingress::FakeIngress;
use dcs_proxy::runtime::knative::fake::launcher::Launcher;
use dcs_proxy::runtime::knative::fake::{FakeApiServer, Policy};
use dcs_proxy::runtime::Upstream;
use serde_json::Value;

#[path = "common/replica.rs"]
mod replica;
use replica::replica;

const NS: &str = "dcs-workspaces";
/// The note on the Service of the last stop counted (`runtime::knative::stop_count`).
const STOP_COUNTED_ANNOTATION: &str = "dcs.dev/stop-counted";
const REQUESTED: &str = "dcs_idle_stops_total{reason=\"requested\"}";

async fn requested(proxy: &Proxy) -> anyhow::Result<u64> {
    Ok(dcs_e2e::metric(&proxy.metrics().await?, REQUESTED))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_both_replicas_carry_out_is_counted_once() -> anyhow::Result<()> {
    dcs_proxy::runtime::knative::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let server = FakeApiServer::new();
    server.set_policy(Policy::ReadyAfter(Duration::from_millis(200)));
    std::fs::write(dir.path().join("kubeconfig"), server.kubeconfig())?;
    std::fs::write(dir.path().join("hop.key"), [b'k'; 32])?;
    let ingress = FakeIngress::start(&server);
    let a = replica(dir.path(), "a", &ingress)?;
    let b = replica(dir.path(), "b", &ingress)?;

    // An instance made through A, its pod a real launcher: running, for both.
    let resp = client()
        .post(a.url("/api/instances"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await?;
    assert_eq!(resp.status(), 201, "{}", a.log());
    let created: Value = serde_json::from_str(&resp.text().await?)?;
    let field = |k: &str| created[k].as_str().unwrap_or_default().to_owned();
    let id = field("instance_id");
    let key = WorkspaceKey::instance(UserId::new(&field("user_id"))?, InstanceId::parse(&id)?);
    let name = key.name().to_string();
    let hop = HopKey::load(&dir.path().join("hop.key")).map_err(anyhow::Error::msg)?;
    let pod = dir.path().join("pod");
    std::fs::create_dir_all(&pod)?;
    let launcher =
        Launcher::start(&dcs_e2e::bin_path("dcs-launcher")?, &key, &pod, Some(&hop)).await?;
    ingress.forward(&name, launcher.addr);

    // The stop falls due in the workspace.
    let direct = Upstream {
        authority: launcher.addr.to_string(),
        host: None,
        socket: None,
        hop: Some(hop.credential(&key.name())),
        multiplexed: false,
    };
    dcs_proxy::activator::ask::stop(&direct)
        .await
        .map_err(anyhow::Error::msg)?;

    // Both replicas carry it out; between them, it is counted once.
    let carried = |p: &Proxy| p.log().contains("stopping idle workspace");
    let decided = |p: &Proxy| p.log().contains("idle stop counted");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let counted = loop {
        let counted = requested(&a).await? + requested(&b).await?;
        if carried(&a) && carried(&b) && ((decided(&a) && decided(&b)) || counted > 1) {
            break counted;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not carried out by both (counted {counted}):\nA:\n{}\nB:\n{}",
            a.log(),
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(counted, 1, "A:\n{}\nB:\n{}", a.log(), b.log());
    let ksvc = server
        .object("serving.knative.dev", "services", NS, &name)
        .ok_or_else(|| anyhow::anyhow!("no Service"))?;
    let note = &ksvc["metadata"]["annotations"][STOP_COUNTED_ANNOTATION];
    assert!(
        note.as_str().is_some_and(|n| n.parse::<u64>().is_ok()),
        "{ksvc}"
    );
    Ok(())
}
