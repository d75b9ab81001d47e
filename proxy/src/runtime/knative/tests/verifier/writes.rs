//! The requests of a delete, and of an apply that races another replica.

use dcs_model::names::user_volume_name;
use http::{Method, StatusCode};
use serde_json::json;

use super::{
    absent_home, absent_ksvc, apply, create, finish, hop_secret, recorded_spec, scripted,
    status_body, step, Step, KSVCS, PVCS, SECRETS,
};
use crate::runtime::knative::objects;
use crate::runtime::knative::tests::{config, config_with, key};
use crate::runtime::knative::KnativeRuntime;
use crate::runtime::Runtime;

#[tokio::test]
async fn delete_removes_the_service_home_volume_and_hop_secret_but_not_the_user_volume() {
    let k = key();
    let background = json!({"propagationPolicy": "Background"});
    let steps = vec![
        Step {
            body: Some(background.clone()),
            reply: (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
            ..step(Method::DELETE, format!("{KSVCS}/{}", k.name()))
        },
        Step {
            body: Some(background.clone()),
            reply: (
                StatusCode::OK,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
            ),
            ..step(Method::DELETE, format!("{PVCS}/{}", k.name()))
        },
        Step {
            body: Some(background.clone()),
            reply: (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
            ..step(
                Method::DELETE,
                format!("{SECRETS}/{}", objects::hop_secret_name(&k)),
            )
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
