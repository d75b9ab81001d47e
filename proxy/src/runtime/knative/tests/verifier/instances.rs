//! The exact requests of the instance calls: an existing instance re-applied from
//! its recorded spec, `find` by id and `volume` from the user's claim.

use super::*;

#[tokio::test]
async fn ensure_of_an_existing_instance_applies_its_recorded_spec() {
    let cfg = config_with(&[]);
    let id = dcs_model::InstanceId::parse("inst-0123456789abcdef").expect("id");
    let k = dcs_model::WorkspaceKey::instance(key().user, id.clone());
    let recorded = WorkspaceSpec::new(
        k.clone(),
        dcs_model::InstanceSpec {
            base_image: Some(dcs_model::ImageRef::parse("ubuntu:24.04").expect("image")),
            token_sha256: Some("ab".repeat(32)),
            created_unix: 7,
            ..dcs_model::InstanceSpec::default()
        },
    );
    let ksvc = serde_json::to_value(objects::ksvc(&cfg, &recorded)).expect("json");
    let home = serde_json::to_value(objects::home_volume(&cfg, &recorded)).expect("json");
    let steps = vec![
        Step {
            reply: (StatusCode::OK, ksvc.clone()),
            ..step(Method::GET, format!("{KSVCS}/{id}"))
        },
        Step {
            query: create(),
            reply: (StatusCode::CONFLICT, status_body(409, "AlreadyExists")),
            ..step(Method::POST, PVCS.into())
        },
        Step {
            query: create(),
            body: Some(home),
            reply: (StatusCode::CONFLICT, status_body(409, "AlreadyExists")),
            ..step(Method::POST, PVCS.into())
        },
        Step {
            query: apply(),
            body: Some(ksvc.clone()),
            reply: (StatusCode::OK, ksvc),
            ..step(Method::PATCH, format!("{KSVCS}/{id}"))
        },
    ];
    let (client, server) = scripted(steps);
    let rt = KnativeRuntime::new(cfg, client);
    // The browser's ensure knows nothing but the key.
    rt.ensure(&WorkspaceSpec::for_repo(k))
        .await
        .expect("ensure");
    drop(rt);
    server.await.expect("scenario");
}

#[tokio::test]
async fn find_gets_the_service_named_by_the_id_and_volume_gets_the_claim() {
    let cfg = config_with(&[]);
    let k = key();
    let mut ksvc = serde_json::to_value(objects::ksvc(&cfg, &recorded_spec())).expect("json");
    ksvc["status"] = json!({"conditions": [{"type": "Ready", "status": "Unknown"}]});
    let mut pvc = serde_json::to_value(objects::user_volume(&cfg, &k.user, None)).expect("json");
    pvc["status"] = json!({"phase": "Bound", "capacity": {"storage": "12Gi"}});
    let steps = vec![
        Step {
            reply: (StatusCode::OK, ksvc),
            ..step(Method::GET, format!("{KSVCS}/{}", k.name()))
        },
        Step {
            reply: (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
            ..step(Method::GET, format!("{KSVCS}/inst-0000000000000000"))
        },
        Step {
            reply: (StatusCode::OK, pvc),
            ..step(Method::GET, format!("{PVCS}/{}", user_volume_name(&k.user)))
        },
    ];
    let (client, server) = scripted(steps);
    let rt = KnativeRuntime::new(cfg, client);
    let found = rt.find(&k.id()).await.expect("find").expect("found");
    assert_eq!(found.key, k);
    assert_eq!(found.status, Status::Starting);
    assert_eq!(found.spec, recorded_spec().instance);
    let absent = dcs_model::InstanceId::parse("inst-0000000000000000").expect("id");
    assert_eq!(rt.find(&absent).await.expect("find"), None);
    let v = rt.volume(&k.user).await.expect("volume");
    assert_eq!(
        v,
        crate::runtime::VolumeInfo {
            name: user_volume_name(&k.user).to_string(),
            exists: true,
            used_bytes: None,
            capacity: Some("12Gi".into()),
        },
        "the bound capacity wins over the request"
    );
    drop(rt);
    server.await.expect("scenario");
}
