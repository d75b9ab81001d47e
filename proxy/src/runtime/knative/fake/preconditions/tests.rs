//! The fake API server's optimistic concurrency, through a real `kube::Client`.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::Api;
use serde_json::json;

use crate::runtime::knative::fake::FakeApiServer;

fn reason(result: Result<impl std::fmt::Debug, kube::Error>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(s)) => (s.code, s.reason.clone()),
        other => panic!("not a Status: {other:?}"),
    }
}

#[tokio::test]
async fn writes_bump_the_version_and_stale_ones_conflict() {
    let server = FakeApiServer::new();
    let secrets: Api<Secret> = Api::namespaced(server.client(), "ns");
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "s"}, "data": {"k": "YQ=="}
    }))
    .expect("secret");
    let made = secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create");
    let v1 = made.metadata.resource_version.clone().expect("version");
    // Create of an existing name: 409 AlreadyExists.
    let again = secrets.create(&PostParams::default(), &secret).await;
    assert_eq!(reason(again), (409, "AlreadyExists".into()));
    // A merge patch naming the current version lands and bumps it.
    let patch = |version: &str, value: &str| json!({"metadata": {"resourceVersion": version}, "data": {"k": value}});
    let params = PatchParams::default();
    let changed = secrets
        .patch("s", &params, &Patch::Merge(&patch(&v1, "Yg==")))
        .await
        .expect("patch");
    let v2 = changed.metadata.resource_version.clone().expect("version");
    assert_ne!(v1, v2);
    // Naming the old one: 409 Conflict, nothing changes.
    let stale = secrets
        .patch("s", &params, &Patch::Merge(&patch(&v1, "Yw==")))
        .await;
    assert_eq!(reason(stale), (409, "Conflict".into()));
    // So does a server-side apply naming it.
    let mut applied = secret.clone();
    applied.metadata.resource_version = Some(v1.clone());
    let apply = PatchParams::apply("m").force();
    let stale = secrets.patch("s", &apply, &Patch::Apply(&applied)).await;
    assert_eq!(reason(stale), (409, "Conflict".into()));
    let kept = secrets.get("s").await.expect("get");
    assert_eq!(kept.metadata.resource_version, Some(v2.clone()));
    assert_eq!(kept.data, changed.data);
    // A delete with a stale precondition: 409 Conflict, still there; a current one
    // deletes.
    let delete = |version: &str| {
        DeleteParams::default().preconditions(Preconditions {
            resource_version: Some(version.to_owned()),
            uid: None,
        })
    };
    let stale = secrets.delete("s", &delete(&v1)).await;
    assert_eq!(reason(stale), (409, "Conflict".into()));
    assert!(secrets.get_opt("s").await.expect("get").is_some());
    let wrong_uid = DeleteParams::default().preconditions(Preconditions {
        resource_version: None,
        uid: Some("another".into()),
    });
    assert_eq!(
        reason(secrets.delete("s", &wrong_uid).await),
        (409, "Conflict".into())
    );
    secrets.delete("s", &delete(&v2)).await.expect("delete");
    assert!(secrets.get_opt("s").await.expect("get").is_none());
}
