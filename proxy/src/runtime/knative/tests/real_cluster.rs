//! Against a real cluster with Knative Serving (`KUBECONFIG`): ignored by default,
//! run by `make e2e-k8s` (`cargo test -p dcs-proxy -- --ignored`). They use the
//! namespace `$DCS_E2E_NAMESPACE` (default `dcs-workspaces`) and clean up after
//! themselves, except users' volumes, which the runtime never deletes.
//!
//! The first open waits for the workspace's route, which is cluster-local: run
//! the tests inside the cluster, or forward Knative's internal ingress and name
//! it in `$DCS_E2E_ROUTE`, e.g. `kubectl -n kourier-system port-forward
//! svc/kourier-internal 8081:80` and `DCS_E2E_ROUTE=127.0.0.1:8081`.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, DeleteParams, Patch, PatchParams};

use super::config_with;
use crate::error::Error;
use crate::runtime::contract;
use crate::runtime::knative::objects::{self, FIELD_MANAGER};
use crate::runtime::knative::route::{self, Answer};
use crate::runtime::knative::types::{ksvc_resource, Ksvc};
use crate::runtime::knative::{KnativeConfig, KnativeRuntime};
use crate::runtime::{Runtime, Status, WorkspaceSpec};

fn cluster_config() -> KnativeConfig {
    let ns = std::env::var("DCS_E2E_NAMESPACE").unwrap_or_else(|_| "dcs-workspaces".into());
    let mut cfg = config_with(&["--knative-namespace", &ns, "--knative-volume-size", "1Gi"]);
    if let Ok(image) = std::env::var("DCS_E2E_LAUNCHER_IMAGE") {
        cfg.launcher_image = image;
    }
    cfg
}

async fn runtime(cfg: &KnativeConfig) -> KnativeRuntime {
    let rt = KnativeRuntime::connect(cfg.clone()).await.expect("connect");
    match std::env::var("DCS_E2E_ROUTE") {
        Ok(route) if !route.is_empty() => rt.with_route_override(route),
        _ => rt,
    }
}

async fn wait_for(
    rt: &KnativeRuntime,
    key: &dcs_model::WorkspaceKey,
    want: &Status,
    limit: Duration,
) {
    let start = Instant::now();
    loop {
        let now = rt.status(key).await.expect("status");
        if &now == want {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "still {now:?} after {limit:?}, wanted {want:?}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn cleanup_volume(cfg: &KnativeConfig, user: &dcs_model::UserId) {
    let client = kube::Client::try_default().await.expect("KUBECONFIG");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client, &cfg.namespace);
    let volume = dcs_model::names::user_volume_name(user);
    assert!(
        pvcs.get_opt(volume.as_str()).await.expect("get").is_some(),
        "the user's volume stays"
    );
    pvcs.delete(volume.as_str(), &DeleteParams::default())
        .await
        .expect("test cleanup");
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster with Knative Serving (KUBECONFIG); run by make e2e-k8s"]
async fn knatives_admission_webhook_accepts_the_workspace_service() {
    let cfg = cluster_config();
    crate::runtime::knative::install_crypto_provider();
    let client = kube::Client::try_default().await.expect("KUBECONFIG");
    let api: Api<Ksvc> = Api::namespaced_with(client.clone(), &cfg.namespace, &ksvc_resource());
    let spec = WorkspaceSpec::for_repo(contract::key("e2e-dry-run", "acme/hello"));
    let ksvc = objects::ksvc(&cfg, &spec);
    let name = spec.key.name().to_string();
    // Dry run: validated by the apiserver and Knative's webhook (feature flags
    // included), stored nowhere.
    let params = PatchParams::apply(FIELD_MANAGER).force().dry_run();
    api.patch(&name, &params, &Patch::Apply(&ksvc))
        .await
        .expect("Knative accepts the Service");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client, &cfg.namespace);
    let pvc = objects::user_volume(&cfg, &spec.key.user, None);
    pvcs.patch(
        pvc.metadata.name.as_deref().unwrap_or_default(),
        &params,
        &Patch::Apply(&pvc),
    )
    .await
    .expect("the volume is accepted");
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster with Knative Serving (KUBECONFIG); run by make e2e-k8s"]
async fn the_first_open_waits_until_the_workspace_answers_then_it_scales_to_zero() {
    let cfg = cluster_config();
    let rt = runtime(&cfg).await;
    let key = contract::key("e2e-alice", "octocat/Hello-World");
    let spec = WorkspaceSpec::for_repo(key.clone());
    // The first open resolves only once the revision is Ready and its route
    // answers: the next request is the workspace's, not a DNS error or a 404.
    let up = tokio::time::timeout(Duration::from_secs(900), rt.ensure(&spec))
        .await
        .expect("the first start ends")
        .expect("ensure");
    assert_eq!(route::probe(&up).await, Answer::Ready);
    assert_eq!(rt.status(&key).await.expect("status"), Status::Running);
    rt.ensure(&spec).await.expect("ensure is idempotent");
    let listed = rt.list(Some(&key.user)).await.expect("list");
    assert_eq!(
        listed.iter().map(|w| &w.key).collect::<Vec<_>>(),
        vec![&key]
    );
    // No traffic: Knative scales it to zero after its stable window and grace;
    // the next open needs no wait (Knative's activator holds the request).
    wait_for(&rt, &key, &Status::Stopped, Duration::from_secs(600)).await;
    let again = rt.ensure(&spec).await.expect("wake");
    assert_eq!(again, up);
    rt.delete(&key).await.expect("delete");
    rt.delete(&key).await.expect("delete again");
    wait_for(&rt, &key, &Status::NotFound, Duration::from_secs(120)).await;
    cleanup_volume(&cfg, &key.user).await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster with Knative Serving (KUBECONFIG); run by make e2e-k8s"]
async fn a_deleted_instance_stays_deleted_for_every_replica() {
    let cfg = cluster_config();
    let (a, b) = (runtime(&cfg).await, runtime(&cfg).await);
    let key = contract::instance_key("e2e-bob", "inst-00000000000e2e01");
    let spec = WorkspaceSpec::for_repo(key.clone());
    a.register(&contract::instance_spec(&key))
        .await
        .expect("create via A");
    tokio::time::timeout(Duration::from_secs(900), b.ensure(&spec))
        .await
        .expect("the first start ends")
        .expect("open via B");
    a.delete(&key).await.expect("delete via A");
    wait_for(&b, &key, &Status::NotFound, Duration::from_secs(60)).await;
    let late = b.ensure(&spec).await;
    assert!(matches!(late, Err(Error::NotFound(_))), "{late:?}");
    assert_eq!(b.find(&key.id()).await.expect("find"), None);
    // Nothing was made again.
    let client = kube::Client::try_default().await.expect("KUBECONFIG");
    let api: Api<Ksvc> = Api::namespaced_with(client, &cfg.namespace, &ksvc_resource());
    let left = api.get_opt(key.name().as_str()).await.expect("get");
    assert!(
        left.is_none_or(|k| k.metadata.deletion_timestamp.is_some()),
        "the Service is gone"
    );
    cleanup_volume(&cfg, &key.user).await;
}
