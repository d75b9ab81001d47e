//! The exact requests of the instance calls: an existing instance re-applied from
//! its recorded spec, an instance that does not exist never made by `ensure`,
//! and `volume` from the user's claim.

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
    let stored = |rv: &str| {
        let mut stored = super::stored_ready(&recorded, rv);
        stored["metadata"]["name"] = json!(id.as_str());
        stored
    };
    let steps = vec![
        Step {
            reply: (StatusCode::OK, stored("3")),
            ..step(Method::GET, format!("{KSVCS}/{id}"))
        },
        super::hop_secret_owned(&cfg, &recorded, "uid-1"),
        Step {
            query: create(),
            reply: (StatusCode::CONFLICT, status_body(409, "AlreadyExists")),
            ..step(Method::POST, PVCS.into())
        },
        super::home(&cfg, &recorded),
        Step {
            query: apply(),
            body: Some(ksvc),
            reply: (StatusCode::OK, stored("4")),
            ..step(Method::PATCH, format!("{KSVCS}/{id}"))
        },
        super::home_owned(&recorded, "uid-1"),
    ];
    // Scaled to zero: a running one would be left as it is.
    let cache = Cache {
        revisions: vec![super::scaled_to_zero("rev-00001")],
        ..Cache::default()
    };
    let (client, server) = scripted_with(steps, cache);
    let rt = KnativeRuntime::new(cfg, client);
    // The browser's ensure knows nothing but the key.
    rt.ensure(&WorkspaceSpec::for_repo(k))
        .await
        .expect("ensure");
    finish(rt, server).await;
}

#[tokio::test]
async fn ensure_of_an_instance_that_does_not_exist_makes_nothing() {
    let id = dcs_model::InstanceId::parse("inst-0123456789abcdef").expect("id");
    let k = dcs_model::WorkspaceKey::instance(key().user, id.clone());
    let steps = vec![Step {
        reply: (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
        ..step(Method::GET, format!("{KSVCS}/{id}"))
    }];
    let (client, server) = scripted(steps);
    let rt = KnativeRuntime::new(config_with(&[]), client);
    let got = rt.ensure(&WorkspaceSpec::for_repo(k)).await;
    assert!(
        matches!(got, Err(crate::error::Error::NotFound(_))),
        "{got:?}"
    );
    finish(rt, server).await;
}

#[tokio::test]
async fn volume_gets_the_users_claim() {
    let cfg = config_with(&[]);
    let k = key();
    let mut pvc = serde_json::to_value(objects::user_volume(&cfg, &k.user, None)).expect("json");
    pvc["status"] = json!({"phase": "Bound", "capacity": {"storage": "12Gi"}});
    let steps = vec![Step {
        reply: (StatusCode::OK, pvc),
        ..step(Method::GET, format!("{PVCS}/{}", user_volume_name(&k.user)))
    }];
    let (client, server) = scripted(steps);
    let rt = KnativeRuntime::new(cfg, client);
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
    finish(rt, server).await;
}
