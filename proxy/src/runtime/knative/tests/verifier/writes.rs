//! The requests of a delete, of an ensure of a serving workspace (one read, no
//! write) and of one scaled to zero (the objects applied, its own named as the
//! Service's), and of an apply that races another replica.

use dcs_model::names::user_volume_name;
use http::{Method, StatusCode};
use serde_json::json;

use super::{
    absent_home, absent_ksvc, apply, create, finish, home, home_owned, hop_secret,
    hop_secret_owned, recorded_spec, scaled_to_zero, scripted, scripted_with, status_body, step,
    stored_ready, Cache, Step, KSVCS, PVCS, SECRETS,
};
use crate::runtime::knative::objects;
use crate::runtime::knative::tests::{config, config_with, key, spec};
use crate::runtime::knative::KnativeRuntime;
use crate::runtime::Runtime;

#[tokio::test]
async fn delete_removes_the_hop_secret_home_volume_and_last_the_service_but_not_the_user_volume() {
    let k = key();
    let background = json!({"propagationPolicy": "Background"});
    let steps = vec![
        Step {
            body: Some(background.clone()),
            reply: (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
            ..step(
                Method::DELETE,
                format!("{SECRETS}/{}", objects::hop_secret_name(&k)),
            )
        },
        Step {
            body: Some(background.clone()),
            reply: (
                StatusCode::OK,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
            ),
            ..step(Method::DELETE, format!("{PVCS}/{}", k.name()))
        },
        // Last: until it is gone, the workspace is found and its delete can be retried.
        Step {
            body: Some(background.clone()),
            reply: (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
            ..step(Method::DELETE, format!("{KSVCS}/{}", k.name()))
        },
    ];
    assert_ne!(k.name(), user_volume_name(&k.user));
    let (client, server) = scripted(steps);
    let rt = KnativeRuntime::new(config(), client);
    rt.delete(&k).await.expect("delete");
    rt.stop(&k).await.expect("stop makes no request");
    finish(rt, server).await;
}

#[tokio::test]
async fn ensure_of_a_serving_workspace_reads_it_and_writes_nothing() {
    let cfg = config_with(&["--knative-launcher-image", "dcs-launcher:next"]);
    let k = key();
    // Made by a replica with other settings; its revision serves.
    let steps = vec![Step {
        reply: (StatusCode::OK, stored_ready(&recorded_spec(), "5")),
        ..step(Method::GET, format!("{KSVCS}/{}", k.name()))
    }];
    let mut serving = scaled_to_zero("rev-00001");
    serving["status"] = json!({"conditions": [{"type": "Active", "status": "True"}]});
    let cache = Cache {
        revisions: vec![serving],
        ..Cache::default()
    };
    let (client, server) = scripted_with(steps, cache);
    let rt = KnativeRuntime::new(cfg.clone(), client);
    let up = rt.ensure(&spec()).await.expect("ensure");
    assert_eq!(up, objects::upstream(&cfg, &k));
    finish(rt, server).await;
}

#[tokio::test]
async fn an_apply_that_races_another_replica_is_retried_once() {
    let cfg = config_with(&[]);
    let k = key();
    let ksvc = serde_json::to_value(objects::ksvc(&cfg, &recorded_spec())).expect("json");
    let steps = vec![
        absent_ksvc(),
        hop_secret(&cfg, &recorded_spec()),
        Step {
            query: create(),
            reply: (StatusCode::CREATED, json!({})),
            ..step(Method::POST, PVCS.into())
        },
        absent_home(),
        Step {
            query: create(),
            reply: (StatusCode::CREATED, json!({})),
            ..step(Method::POST, PVCS.into())
        },
        Step {
            query: apply(),
            reply: (StatusCode::CONFLICT, status_body(409, "Conflict")),
            ..step(Method::PATCH, format!("{KSVCS}/{}", k.name()))
        },
        Step {
            query: apply(),
            body: Some(ksvc.clone()),
            reply: (StatusCode::OK, ksvc),
            ..step(Method::PATCH, format!("{KSVCS}/{}", k.name()))
        },
    ];
    let (client, server) = scripted(steps);
    let rt = KnativeRuntime::new(cfg, client);
    rt.register(&recorded_spec())
        .await
        .expect("register after one retry");
    finish(rt, server).await;
}

#[tokio::test]
async fn ensure_of_a_ready_workspace_scaled_to_zero_applies_and_returns_at_once() {
    let cfg = config_with(&[]);
    let k = key();
    let steps = vec![
        Step {
            reply: (StatusCode::OK, stored_ready(&recorded_spec(), "5")),
            ..step(Method::GET, format!("{KSVCS}/{}", k.name()))
        },
        hop_secret_owned(&cfg, &recorded_spec(), "uid-1"),
        Step {
            query: create(),
            reply: (StatusCode::CONFLICT, status_body(409, "AlreadyExists")),
            ..step(Method::POST, PVCS.into())
        },
        home(&cfg, &recorded_spec()),
        Step {
            query: apply(),
            body: Some(serde_json::to_value(objects::ksvc(&cfg, &recorded_spec())).expect("json")),
            reply: (StatusCode::OK, stored_ready(&recorded_spec(), "6")),
            ..step(Method::PATCH, format!("{KSVCS}/{}", k.name()))
        },
        // A volume made before volumes had owners gets one.
        home_owned(&recorded_spec(), "uid-1"),
    ];
    let cache = Cache {
        revisions: vec![scaled_to_zero("rev-00001")],
        ..Cache::default()
    };
    let (client, server) = scripted_with(steps, cache);
    let rt = KnativeRuntime::new(cfg.clone(), client);
    // Knative's activator holds the requests while the pod starts.
    let up = rt.ensure(&spec()).await.expect("ensure");
    assert_eq!(up, objects::upstream(&cfg, &k));
    finish(rt, server).await;
}
