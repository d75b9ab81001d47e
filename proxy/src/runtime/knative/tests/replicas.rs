//! Two runtimes ("replicas", each with its own client and cache) on one fake
//! API server: what one does the other sees through its watch; delete is
//! final across them; reads never poll the API server; the cache survives a
//! dropped watch and a `410 Gone`.

use std::sync::Arc;
use std::time::Duration;

use super::contract::NS;
use super::{config_with, eventually};
use crate::error::Error;
use crate::runtime::contract;
use crate::runtime::knative::fake::ingress::FakeIngress;
use crate::runtime::knative::fake::{FakeApiServer, Policy};
use crate::runtime::knative::KnativeRuntime;
use crate::runtime::{Runtime, Status, WorkspaceSpec};

/// A fake cluster whose Services become Ready 100 ms after each change, and
/// two replicas on it.
fn cluster() -> (
    FakeApiServer,
    FakeIngress,
    Arc<KnativeRuntime>,
    Arc<KnativeRuntime>,
) {
    let server = FakeApiServer::new();
    server.set_policy(Policy::ReadyAfter(Duration::from_millis(100)));
    let ingress = FakeIngress::start(&server);
    let replica = || {
        Arc::new(
            KnativeRuntime::new(config_with(&[]), server.client())
                .with_route_override(ingress.addr().to_string()),
        )
    };
    let (a, b) = (replica(), replica());
    (server, ingress, a, b)
}

#[tokio::test]
async fn create_via_a_open_via_b_delete_via_a_then_b_finds_nothing_and_makes_nothing() {
    let (server, _ingress, a, b) = cluster();
    let k = contract::instance_key("alice", "inst-00000000000000b1");
    let name = k.name().to_string();
    let spec = WorkspaceSpec::for_repo(k.clone());
    a.register(&contract::instance_spec(&k))
        .await
        .expect("create via A");
    let up = b.ensure(&spec).await.expect("open via B");
    assert_eq!(up, a.upstream(&k), "one upstream, whoever asks");
    eventually("B's cache shows it running", || async {
        (b.status(&k).await.ok()? == Status::Running).then_some(())
    })
    .await;
    a.delete(&k).await.expect("delete via A");
    // B hears of the delete through its watch (no request needed).
    eventually("B's cache hears of the delete", || async {
        (b.status(&k).await.ok()? == Status::NotFound).then_some(())
    })
    .await;
    assert_eq!(b.find(&k.id()).await.expect("find"), None);
    // A reconnecting tab's request through B: not found, nothing made again.
    for _ in 0..3 {
        let late = b.ensure(&spec).await;
        assert!(matches!(late, Err(Error::NotFound(_))), "{late:?}");
    }
    assert_eq!(server.created("services"), vec![name.clone()]);
    assert_eq!(
        server
            .created("persistentvolumeclaims")
            .iter()
            .filter(|n| **n == name)
            .count(),
        1,
        "the home volume was made once"
    );
    assert!(server
        .names("serving.knative.dev", "services", NS)
        .is_empty());
}

#[tokio::test]
async fn what_one_replica_does_and_knative_reports_reaches_the_other() {
    let (server, _ingress, a, b) = cluster();
    server.set_policy(Policy::Manual);
    let k = contract::instance_key("alice", "inst-00000000000000b2");
    b.status(&k).await.expect("B is synced");
    a.register(&contract::instance_spec(&k))
        .await
        .expect("create via A");
    assert_eq!(
        a.status(&k).await.expect("status"),
        Status::Starting,
        "A reads its writes"
    );
    eventually("B sees the create", || async {
        let listed = b.list(Some(&k.user)).await.ok()?;
        (listed.len() == 1 && listed[0].key == k && listed[0].status == Status::Starting)
            .then_some(())
    })
    .await;
    server.mark_ready(NS, k.name().as_str());
    eventually("B sees Knative's readiness", || async {
        (b.status(&k).await.ok()? == Status::Running).then_some(())
    })
    .await;
    server.scale_to_zero(NS, k.name().as_str());
    eventually("B sees the scale to zero", || async {
        (b.status(&k).await.ok()? == Status::Stopped).then_some(())
    })
    .await;
}

#[tokio::test]
async fn reads_never_poll_the_api_server() {
    let (server, _ingress, a, b) = cluster();
    for i in 0..3 {
        let k = contract::key(&format!("r{i}-alice"), "acme/hello");
        a.ensure(&WorkspaceSpec::for_repo(k)).await.expect("ensure");
    }
    eventually("B lists all three", || async {
        (b.list(None).await.ok()?.len() == 3).then_some(())
    })
    .await;
    let requests = |s: &FakeApiServer| {
        s.calls()
            .into_iter()
            .filter(|c| matches!(c.verb, "list" | "get"))
            .count()
    };
    let before = requests(&server);
    // The idle reaper's every tick, on both replicas, and status pages.
    for _ in 0..100 {
        for rt in [&a, &b] {
            let all = rt.list(None).await.expect("list");
            assert_eq!(all.len(), 3);
            for w in &all {
                assert_eq!(rt.status(&w.key).await.expect("status"), w.status);
                assert!(rt.find(&w.key.id()).await.expect("find").is_some());
            }
        }
    }
    assert_eq!(requests(&server), before, "no LIST or GET for reads");
    // One LIST per kind per replica (the watches' first list), nothing more.
    assert_eq!(server.count("list", "services"), 2);
    assert_eq!(server.count("list", "revisions"), 2);
}

#[tokio::test]
async fn the_cache_resumes_after_a_dropped_watch_and_relists_after_410_gone() {
    let (server, _ingress, a, b) = cluster();
    let k1 = contract::instance_key("alice", "inst-00000000000000c1");
    let k2 = contract::instance_key("alice", "inst-00000000000000c2");
    b.status(&k1).await.expect("B is synced");
    // The API server drops every watch: B resumes from its last version.
    server.close_watches();
    a.register(&contract::instance_spec(&k1))
        .await
        .expect("create");
    eventually("B hears of it after resuming", || async {
        (b.status(&k1).await.ok()? != Status::NotFound).then_some(())
    })
    .await;
    // History compacted: B's resume gets 410 Gone, lists again, and still
    // hears of what changed meanwhile.
    server.compact();
    a.register(&contract::instance_spec(&k2))
        .await
        .expect("create");
    a.delete(&k1).await.expect("delete");
    eventually("B relisted", || async {
        let listed = b.list(None).await.ok()?;
        (listed.len() == 1 && listed[0].key == k2).then_some(())
    })
    .await;
    assert!(
        server.count("list", "services") >= 3,
        "B listed again after 410"
    );
}

#[tokio::test]
async fn a_dcs_proxy_process_reaches_the_fake_through_its_kubeconfig() {
    // What an end-to-end test hands a `dcs-proxy` process in `KUBECONFIG`.
    let (server, _ingress, a, _b) = cluster();
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&server.kubeconfig()).expect("yaml");
    let options = kube::config::KubeConfigOptions::default();
    let cfg = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("config");
    let client = kube::Client::try_from(cfg).expect("client");
    let c = KnativeRuntime::new(config_with(&[]), client);
    let k = contract::instance_key("alice", "inst-00000000000000d1");
    a.register(&contract::instance_spec(&k))
        .await
        .expect("create");
    eventually("the kubeconfig's client sees it", || async {
        (c.find(&k.id()).await.ok()??.key == k).then_some(())
    })
    .await;
}

#[tokio::test]
async fn find_cached_never_asks_the_api_server_yet_sees_another_replicas_create() {
    let (server, _ingress, a, b) = cluster();
    let made_up = |i: usize| dcs_model::InstanceId::parse(&format!("x{i}")).expect("an id");
    // Synced (a first read), then made-up ids: from the cache alone.
    assert_eq!(b.find_cached(&made_up(0)).await.expect("find"), None);
    let before = server.calls().len();
    // (Each waits its moment for the watch: all at once.)
    let ids: Vec<_> = (1..=20).map(made_up).collect();
    let found = futures_util::future::join_all(ids.iter().map(|id| b.find_cached(id))).await;
    assert!(found.iter().all(|f| matches!(f, Ok(None))), "{found:?}");
    let asked: Vec<_> = server.calls()[before..]
        .iter()
        .filter(|c| c.verb == "get")
        .cloned()
        .collect();
    assert!(asked.is_empty(), "{asked:?}");
    // Made through A just now: B's watch brings it within the moment it waits.
    let k = contract::instance_key("alice", "inst-00000000000000c1");
    a.register(&contract::instance_spec(&k))
        .await
        .expect("create via A");
    let found = b.find_cached(&k.id()).await.expect("find");
    assert_eq!(found.map(|w| w.key), Some(k));
}
