//! The reads come from the workspace cache: one LIST and one WATCH per kind,
//! selected by label, and then no request for `status` or `list`; `find` asks
//! the API server only for an id the cache does not know. A watch the API server
//! refuses is an error people can read.

use super::*;
use crate::runtime::knative::objects::workspace_selector;
use crate::runtime::Status;

/// Alice's Service, Ready, served by `rev-00002`.
fn ready_ksvc() -> Value {
    let mut ksvc = serde_json::to_value(objects::ksvc(&config(), &recorded_spec())).expect("json");
    ksvc["metadata"]["uid"] = json!("uid-1");
    ksvc["metadata"]["resourceVersion"] = json!("1");
    ksvc["metadata"]["generation"] = json!(1);
    ksvc["status"] = json!({"conditions": [{"type": "Ready", "status": "True"}],
                            "observedGeneration": 1,
                            "latestReadyRevisionName": "rev-00002",
                            "latestCreatedRevisionName": "rev-00002"});
    ksvc
}

fn scaled_to_zero_revision() -> Value {
    json!({"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
        "metadata": {"name": "rev-00002", "namespace": "dcs-workspaces", "resourceVersion": "1"},
        "spec": {},
        "status": {"conditions": [{"type": "Active", "status": "False", "reason": "NoTraffic"}]}})
}

#[tokio::test]
async fn status_list_and_find_read_the_watch_cache_without_requests() {
    let k = key();
    let cache = Cache {
        ksvcs: vec![ready_ksvc()],
        revisions: vec![scaled_to_zero_revision()],
        ..Cache::default()
    };
    let seen = cache.seen.clone();
    // The only API call: the id the cache does not know.
    let steps = vec![Step {
        reply: (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
        ..step(Method::GET, format!("{KSVCS}/inst-0000000000000000"))
    }];
    let (client, server) = scripted_with(steps, cache);
    let rt = KnativeRuntime::new(config(), client);
    for _ in 0..50 {
        assert_eq!(rt.status(&k).await.expect("status"), Status::Stopped);
        let listed = rt.list(None).await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!((&listed[0].key, &listed[0].status), (&k, &Status::Stopped));
    }
    let other = super::super::contract_key("bob");
    assert_eq!(rt.status(&other).await.expect("status"), Status::NotFound);
    assert!(rt.list(Some(&other.user)).await.expect("list").is_empty());
    let found = rt.find(&k.id()).await.expect("find").expect("found");
    assert_eq!(found.spec, recorded_spec().instance);
    let absent = dcs_model::InstanceId::parse("inst-0000000000000000").expect("id");
    assert_eq!(rt.find(&absent).await.expect("find"), None);
    finish(rt, server).await;
    // One LIST then WATCHes per kind, selected by label: nothing polls.
    let selector = workspace_selector(None);
    let seen = lock(&seen).clone();
    for path in [KSVCS, REVISIONS] {
        let of_kind: Vec<_> = seen.iter().filter(|(p, _)| p == path).collect();
        let lists = of_kind
            .iter()
            .filter(|(_, q)| !q.contains_key("watch"))
            .count();
        assert_eq!(lists, 1, "{path}: {of_kind:?}");
        for (_, q) in &of_kind {
            assert_eq!(q.get("labelSelector"), Some(&selector), "{q:?}");
        }
        let watch = of_kind
            .iter()
            .find(|(_, q)| q.contains_key("watch"))
            .expect("a watch");
        assert_eq!(watch.1.get("watch").map(String::as_str), Some("true"));
        assert_eq!(
            watch.1.get("resourceVersion").map(String::as_str),
            Some("1")
        );
        assert_eq!(
            watch.1.get("allowWatchBookmarks").map(String::as_str),
            Some("true")
        );
    }
}

#[tokio::test]
async fn a_refused_watch_is_an_error_people_can_read() {
    let forbidden = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "services.serving.knative.dev is forbidden: User \"system:serviceaccount:dcs:dcs-proxy\" cannot list resource \"services\" in the namespace \"dcs-workspaces\"",
        "reason": "Forbidden", "code": 403});
    let cache = Cache {
        refuse: Some((StatusCode::FORBIDDEN, forbidden)),
        ..Cache::default()
    };
    let (client, server) = scripted_with(vec![], cache);
    let rt = KnativeRuntime::new(config(), client);
    let err = rt.status(&key()).await.expect_err("no list, no status");
    let shown = err.to_string();
    assert!(matches!(err, crate::error::Error::Runtime(_)), "{err:?}");
    for hidden in ["serviceaccount", "dcs-workspaces", "Forbidden", "Status {"] {
        assert!(!shown.contains(hidden), "{shown}");
    }
    assert!(
        shown.contains("cannot read the list of workspaces"),
        "{shown}"
    );
    finish(rt, server).await;
}
