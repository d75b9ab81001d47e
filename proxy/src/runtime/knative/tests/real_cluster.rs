//! Against a real cluster with Knative Serving (`KUBECONFIG`): ignored by default,
//! run by `make e2e-k8s` (`cargo test -p dcs-proxy -- --ignored`). They use the
//! namespace `$DCS_E2E_NAMESPACE` (default `dcs-workspaces`) and clean up after
//! themselves, except users' volumes, which the runtime never deletes.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, DeleteParams, Patch, PatchParams};

use super::config_with;
use crate::runtime::contract;
use crate::runtime::knative::objects::{self, FIELD_MANAGER};
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
async fn a_workspace_starts_scales_to_zero_and_is_deleted() {
    let cfg = cluster_config();
    let rt = KnativeRuntime::connect(cfg.clone()).await.expect("connect");
    let key = contract::key("e2e-alice", "octocat/Hello-World");
    let spec = WorkspaceSpec::for_repo(key.clone());
    rt.ensure(&spec).await.expect("ensure");
    rt.ensure(&spec).await.expect("ensure is idempotent");
    wait_for(&rt, &key, &Status::Running, Duration::from_secs(600)).await;
    let listed = rt.list(Some(&key.user)).await.expect("list");
    assert_eq!(
        listed.iter().map(|w| &w.key).collect::<Vec<_>>(),
        vec![&key]
    );
    // No traffic: Knative scales it to zero after its stable window and grace.
    wait_for(&rt, &key, &Status::Stopped, Duration::from_secs(600)).await;
    rt.delete(&key).await.expect("delete");
    rt.delete(&key).await.expect("delete again");
    wait_for(&rt, &key, &Status::NotFound, Duration::from_secs(120)).await;
    let client = kube::Client::try_default().await.expect("KUBECONFIG");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client, &cfg.namespace);
    let volume = dcs_model::names::user_volume_name(&key.user);
    assert!(
        pvcs.get_opt(volume.as_str()).await.expect("get").is_some(),
        "the user's volume stays"
    );
    pvcs.delete(volume.as_str(), &DeleteParams::default())
        .await
        .expect("test cleanup");
}
