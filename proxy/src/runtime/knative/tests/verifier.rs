//! The exact requests of each runtime call, against a scripted API server
//! (`tower_test::mock::pair`): method, path, query (`fieldManager`, `force`,
//! `labelSelector`), content type and body; answers include real error `Status`es.
//! The instance calls are in [`instances`].

use std::collections::BTreeMap;

use dcs_model::names::user_volume_name;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::{json, Value};
use tower_test::mock;

use super::{config, config_with, key, spec};
use crate::runtime::knative::fake::form_pairs;
use crate::runtime::knative::objects::{self, git_secret_name, workspace_selector, GitToken};
use crate::runtime::knative::KnativeRuntime;
use crate::runtime::{Runtime, Status, WorkspaceSpec};

mod instances;

/// Alice's workspace as a new one is recorded: with its creation time (so the
/// runtime stamps none) and its repository.
fn recorded_spec() -> WorkspaceSpec {
    let mut s = spec();
    s.instance.repo = key().repo().cloned();
    s.instance.created_unix = 1_700_000_000;
    s
}

/// The GET `ensure` makes first, answered "no such Service".
fn absent_ksvc() -> Step {
    Step {
        reply: (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
        ..step(Method::GET, format!("{KSVCS}/{}", key().name()))
    }
}

/// One expected request and the answer to it.
struct Step {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
    reply: (StatusCode, Value),
}

fn step(method: Method, path: String) -> Step {
    Step {
        method,
        path,
        query: vec![],
        body: None,
        reply: (StatusCode::OK, json!({})),
    }
}

fn apply() -> Vec<(&'static str, String)> {
    vec![
        ("fieldManager", "dcs-proxy".into()),
        ("force", "true".into()),
    ]
}

fn create() -> Vec<(&'static str, String)> {
    vec![("fieldManager", "dcs-proxy".into())]
}
const KSVCS: &str = "/apis/serving.knative.dev/v1/namespaces/dcs-workspaces/services";
const REVISIONS: &str = "/apis/serving.knative.dev/v1/namespaces/dcs-workspaces/revisions";
const PVCS: &str = "/api/v1/namespaces/dcs-workspaces/persistentvolumeclaims";

fn status_body(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": format!("a {reason} for the test"), "reason": reason, "code": code})
}

/// Serves `steps` in order, asserting each request; returns the client.
fn scripted(steps: Vec<Step>) -> (kube::Client, tokio::task::JoinHandle<()>) {
    let (svc, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let task = tokio::spawn(async move {
        for (i, s) in steps.into_iter().enumerate() {
            let (req, send) = handle.next_request().await.expect("a request");
            assert_eq!(
                (req.method(), req.uri().path()),
                (&s.method, s.path.as_str()),
                "step {i}"
            );
            let query = form_pairs(req.uri().query().unwrap_or_default());
            let want: BTreeMap<String, String> = s
                .query
                .iter()
                .map(|(k, v)| ((*k).into(), v.clone()))
                .collect();
            assert_eq!(query, want, "step {i}: query");
            if s.method == Method::PATCH {
                let ct = req
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .expect("content type");
                assert_eq!(ct, "application/apply-patch+yaml", "step {i}");
            }
            let bytes = req.into_body().collect().await.expect("body").to_bytes();
            if let Some(want) = s.body {
                let got: Value = serde_json::from_slice(&bytes).expect("json body");
                assert_eq!(got, want, "step {i}: body");
            }
            let mut resp = Response::new(Body::from(s.reply.1.to_string().into_bytes()));
            *resp.status_mut() = s.reply.0;
            send.send_response(resp);
        }
        // Nothing more may be asked.
        assert!(
            handle.next_request().await.is_none(),
            "an unexpected extra request"
        );
    });
    (kube::Client::new(svc, "default"), task)
}

#[tokio::test]
async fn ensure_applies_the_secret_creates_the_volumes_and_applies_the_service() {
    let tmp = tempfile::tempdir().expect("tmp");
    let token_file = tmp.path().join("token");
    std::fs::write(&token_file, "s3cr3t\n").expect("write");
    let mut cfg = config();
    cfg.launcher.git_token_file = Some(token_file);
    let k = key();
    let secret = serde_json::to_value(objects::git_token_secret(
        &cfg,
        &k.user,
        &GitToken::new("s3cr3t"),
    ))
    .expect("json");
    let user_pvc = serde_json::to_value(objects::user_volume(&cfg, &k.user, None)).expect("json");
    let home_pvc =
        serde_json::to_value(objects::home_volume(&cfg, &recorded_spec())).expect("json");
    let ksvc = serde_json::to_value(objects::ksvc(&cfg, &recorded_spec())).expect("json");
    let steps = vec![
        absent_ksvc(),
        Step {
            query: apply(),
            body: Some(secret.clone()),
            reply: (StatusCode::OK, secret),
            ..step(
                Method::PATCH,
                format!(
                    "/api/v1/namespaces/dcs-workspaces/secrets/{}",
                    git_secret_name(&k.user)
                ),
            )
        },
        Step {
            query: create(),
            body: Some(user_pvc),
            reply: (StatusCode::CONFLICT, status_body(409, "AlreadyExists")),
            ..step(Method::POST, PVCS.into())
        },
        Step {
            query: create(),
            body: Some(home_pvc.clone()),
            reply: (StatusCode::CREATED, home_pvc),
            ..step(Method::POST, PVCS.into())
        },
        Step {
            query: apply(),
            body: Some(ksvc.clone()),
            reply: (StatusCode::CREATED, ksvc),
            ..step(Method::PATCH, format!("{KSVCS}/{}", k.name()))
        },
    ];
    let (client, server) = scripted(steps);
    let rt = KnativeRuntime::new(cfg.clone(), client);
    let up = rt.ensure(&recorded_spec()).await.expect("ensure");
    assert_eq!(up, objects::upstream(&cfg, &k));
    drop(rt);
    server.await.expect("scenario");
}

#[tokio::test]
async fn an_apply_that_races_another_replica_is_retried_once() {
    let cfg = config_with(&[]);
    let k = key();
    let ksvc = serde_json::to_value(objects::ksvc(&cfg, &recorded_spec())).expect("json");
    let steps = vec![
        absent_ksvc(),
        Step {
            query: create(),
            reply: (StatusCode::CREATED, json!({})),
            ..step(Method::POST, PVCS.into())
        },
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
    rt.ensure(&recorded_spec())
        .await
        .expect("ensure after one retry");
    drop(rt);
    server.await.expect("scenario");
}

#[tokio::test]
async fn status_reads_the_service_then_its_serving_revision() {
    let k = key();
    let mut ksvc = serde_json::to_value(objects::ksvc(&config(), &spec())).expect("json");
    ksvc["status"] = json!({"conditions": [{"type": "Ready", "status": "True"}],
                            "latestReadyRevisionName": "rev-00002"});
    let rev = json!({"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
        "metadata": {"name": "rev-00002"}, "spec": {},
        "status": {"conditions": [{"type": "Active", "status": "False", "reason": "NoTraffic"}]}});
    let steps = vec![
        Step {
            reply: (StatusCode::OK, ksvc),
            ..step(Method::GET, format!("{KSVCS}/{}", k.name()))
        },
        Step {
            reply: (StatusCode::OK, rev),
            ..step(Method::GET, format!("{REVISIONS}/rev-00002"))
        },
        Step {
            reply: (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
            ..step(Method::GET, format!("{KSVCS}/{}", k.name()))
        },
        Step {
            reply: (StatusCode::FORBIDDEN, status_body(403, "Forbidden")),
            ..step(Method::GET, format!("{KSVCS}/{}", k.name()))
        },
    ];
    let (client, server) = scripted(steps);
    let rt = KnativeRuntime::new(config(), client);
    assert_eq!(rt.status(&k).await.expect("status"), Status::Stopped);
    assert_eq!(rt.status(&k).await.expect("status"), Status::NotFound);
    let err = rt.status(&k).await.expect_err("forbidden is an error");
    assert!(
        matches!(&err, crate::error::Error::Runtime(m) if m.contains("Forbidden")),
        "{err}"
    );
    drop(rt);
    server.await.expect("scenario");
}

#[tokio::test]
async fn list_selects_services_and_revisions_by_label() {
    let k = key();
    let selector = workspace_selector(Some(&k.user));
    let query = vec![("labelSelector", selector)];
    let mut ksvc = serde_json::to_value(objects::ksvc(&config(), &spec())).expect("json");
    ksvc["status"] = json!({"conditions": [{"type": "Ready", "status": "Unknown"}]});
    let list = |items: Vec<Value>| json!({"apiVersion": "serving.knative.dev/v1", "kind": "List", "metadata": {}, "items": items});
    let steps = vec![
        Step {
            query: query.clone(),
            reply: (StatusCode::OK, list(vec![ksvc])),
            ..step(Method::GET, KSVCS.into())
        },
        Step {
            query,
            reply: (StatusCode::OK, list(vec![])),
            ..step(Method::GET, REVISIONS.into())
        },
    ];
    let (client, server) = scripted(steps);
    let rt = KnativeRuntime::new(config(), client);
    let listed = rt.list(Some(&k.user)).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!((&listed[0].key, &listed[0].status), (&k, &Status::Starting));
    drop(rt);
    server.await.expect("scenario");
}

#[tokio::test]
async fn delete_removes_the_service_and_home_volume_but_not_the_user_volume() {
    let k = key();
    let background = json!({"propagationPolicy": "Background"});
    let steps = vec![
        Step {
            body: Some(background.clone()),
            reply: (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
            ..step(Method::DELETE, format!("{KSVCS}/{}", k.name()))
        },
        Step {
            body: Some(background),
            reply: (
                StatusCode::OK,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
            ),
            ..step(Method::DELETE, format!("{PVCS}/{}", k.name()))
        },
    ];
    assert_ne!(k.name(), user_volume_name(&k.user));
    let (client, server) = scripted(steps);
    let rt = KnativeRuntime::new(config(), client);
    rt.delete(&k).await.expect("delete");
    rt.stop(&k).await.expect("stop makes no request");
    drop(rt);
    server.await.expect("scenario");
}
