//! The exact requests of each runtime call, against a scripted API server
//! (`tower_test::mock::pair`): method, path, query (`fieldManager`, `force`,
//! `labelSelector`), content type and body; answers include real error `Status`es.
//! The workspace cache's own requests (a LIST, then a WATCH, per kind) are
//! answered beside the script from a canned list ([`Cache`]), and a Service the
//! script returns from an apply is streamed to the cache's watch, as the API
//! server does. The instance calls are in [`instances`], the cache's in [`reads`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dcs_model::names::user_volume_name;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use kube::client::Body;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tower_test::mock;

use super::{config, config_with, key, spec};
use crate::runtime::knative::fake::{form_pairs, FakeBody};
use crate::runtime::knative::objects::{self, git_secret_name, GitToken};
use crate::runtime::knative::{KnativeConfig, KnativeRuntime};
use crate::runtime::{Runtime, WorkspaceSpec};
use dcs_os::mutex::lock;

mod instances;
mod reads;
mod writes;

/// Alice's workspace as a new one is recorded: with its creation time (so the
/// runtime stamps none) and its repository.
fn recorded_spec() -> WorkspaceSpec {
    let mut s = spec();
    s.instance.repo = key().repo().cloned();
    s.instance.created_unix = 1_700_000_000;
    s
}

/// The GET a write makes first, answered "no such Service".
fn absent_ksvc() -> Step {
    Step {
        reply: (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
        ..step(Method::GET, format!("{KSVCS}/{}", key().name()))
    }
}

/// The apply of `spec`'s hop Secret (before its volumes and Service).
fn hop_secret(cfg: &KnativeConfig, spec: &WorkspaceSpec) -> Step {
    let hop = cfg.hop.as_ref().expect("a hop secret configured");
    let secret = objects::hop_secret(cfg, spec, &hop.credential(&spec.key.name()));
    applied_secret(objects::hop_secret_name(&spec.key).as_str(), secret)
}

/// [`hop_secret`] naming the Service `owner` (its uid) as its owner.
fn hop_secret_owned(cfg: &KnativeConfig, spec: &WorkspaceSpec, owner: &str) -> Step {
    let hop = cfg.hop.as_ref().expect("a hop secret configured");
    let mut secret = objects::hop_secret(cfg, spec, &hop.credential(&spec.key.name()));
    secret.metadata.owner_references = Some(vec![owner_ref(&spec.key.name(), owner)]);
    applied_secret(objects::hop_secret_name(&spec.key).as_str(), secret)
}

/// The reference to the Service `name` of uid `uid`.
fn owner_ref(
    name: &dcs_model::K8sName,
    uid: &str,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
    let mut ksvc = objects::ksvc(&config_with(&[]), &recorded_spec());
    ksvc.metadata.name = Some(name.to_string());
    ksvc.metadata.uid = Some(uid.to_owned());
    objects::owned_by(&ksvc).expect("a stored Service")
}

/// The merge patch naming the Service of uid `owner` the owner of `spec`'s home volume.
fn home_owned(spec: &WorkspaceSpec, owner: &str) -> Step {
    let owners = json!({"metadata": {"ownerReferences": [owner_ref(&spec.key.name(), owner)]}});
    Step {
        query: create(),
        body: Some(owners.clone()),
        reply: (StatusCode::OK, owners),
        ..step(Method::PATCH, format!("{PVCS}/{}", spec.key.name()))
    }
}

/// A revision `name` scaled to zero, as the cache lists it.
fn scaled_to_zero(name: &str) -> Value {
    json!({"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
        "metadata": {"name": name, "namespace": "dcs-workspaces", "resourceVersion": "1"},
        "spec": {},
        "status": {"conditions": [{"type": "Active", "status": "False", "reason": "NoTraffic"}]}})
}

/// The server-side apply of `secret`, named `name`, answered with it.
fn applied_secret(name: &str, secret: impl serde::Serialize) -> Step {
    let secret = serde_json::to_value(secret).expect("json");
    Step {
        query: apply(),
        body: Some(secret.clone()),
        reply: (StatusCode::OK, secret),
        ..step(Method::PATCH, format!("{SECRETS}/{name}"))
    }
}

/// The look at Alice's home volume, answered "none".
fn absent_home() -> Step {
    Step {
        reply: (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
        ..step(Method::GET, format!("{PVCS}/{}", key().name()))
    }
}

/// The look at `spec`'s home volume, answered with it (not being deleted).
fn home(cfg: &KnativeConfig, spec: &WorkspaceSpec) -> Step {
    let pvc = serde_json::to_value(objects::home_volume(cfg, spec)).expect("json");
    Step {
        reply: (StatusCode::OK, pvc),
        ..step(Method::GET, format!("{PVCS}/{}", spec.key.name()))
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
const SECRETS: &str = "/api/v1/namespaces/dcs-workspaces/secrets";

fn status_body(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": format!("a {reason} for the test"), "reason": reason, "code": code})
}

/// `(path, query)` of the requests the cache made.
type Seen = Arc<Mutex<Vec<(String, BTreeMap<String, String>)>>>;

/// What the cache's LISTs find, and what its requests were.
#[derive(Default, Clone)]
struct Cache {
    /// Services and Revisions the first LISTs return.
    ksvcs: Vec<Value>,
    revisions: Vec<Value>,
    /// Answer every LIST with this error instead.
    refuse: Option<(StatusCode, Value)>,
    /// `(path, query)` of every request the cache made.
    seen: Seen,
}

fn full(code: StatusCode, body: &Value) -> Response<FakeBody> {
    let body = Full::new(Bytes::from(body.to_string()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut resp = Response::new(body);
    *resp.status_mut() = code;
    resp
}

fn streaming(rx: mpsc::UnboundedReceiver<Bytes>) -> Response<FakeBody> {
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    Response::new(StreamBody::new(frames).boxed_unsync())
}

/// Answers one request of the cache (a GET of a whole collection); `None` if
/// the request is not the cache's.
fn cache_answer(
    cache: &Cache,
    req: &Request<Body>,
    watches: &mut Vec<(String, mpsc::UnboundedSender<Bytes>)>,
    applied: &[Bytes],
) -> Option<Response<FakeBody>> {
    let path = req.uri().path().to_owned();
    if req.method() != Method::GET || (path != KSVCS && path != REVISIONS) {
        return None;
    }
    let query = form_pairs(req.uri().query().unwrap_or_default());
    let watch = query.get("watch").map(String::as_str) == Some("true");
    lock(&cache.seen).push((path.clone(), query));
    if watch {
        let (tx, rx) = mpsc::unbounded_channel();
        if path == KSVCS {
            // What was applied since the list, as a watch from its version sees it.
            for line in applied {
                let _ = tx.send(line.clone());
            }
        }
        watches.push((path, tx));
        return Some(streaming(rx));
    }
    if let Some((code, body)) = &cache.refuse {
        return Some(full(*code, body));
    }
    let items = if path == KSVCS {
        cache.ksvcs.clone()
    } else {
        cache.revisions.clone()
    };
    let list = json!({"apiVersion": "serving.knative.dev/v1", "kind": "List",
                      "metadata": {"resourceVersion": "1"}, "items": items});
    Some(full(StatusCode::OK, &list))
}

/// Serves `steps` in order, asserting each request (the cache's aside); returns
/// the client.
fn scripted(steps: Vec<Step>) -> (kube::Client, tokio::task::JoinHandle<()>) {
    scripted_with(steps, Cache::default())
}

fn scripted_with(steps: Vec<Step>, cache: Cache) -> (kube::Client, tokio::task::JoinHandle<()>) {
    let (svc, mut handle) = mock::pair::<Request<Body>, Response<FakeBody>>();
    let task = tokio::spawn(async move {
        let mut watches = Vec::new();
        let mut applied = Vec::new();
        let mut steps = steps.into_iter().enumerate();
        while let Some((req, send)) = handle.next_request().await {
            if let Some(resp) = cache_answer(&cache, &req, &mut watches, &applied) {
                send.send_response(resp);
                continue;
            }
            let Some((i, s)) = steps.next() else {
                panic!(
                    "an unexpected extra request: {} {}",
                    req.method(),
                    req.uri()
                );
            };
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
                // Volumes are created, then only merge-patched (their owner).
                let want = match s.path.starts_with(PVCS) {
                    true => "application/merge-patch+json",
                    false => "application/apply-patch+yaml",
                };
                assert_eq!(ct, want, "step {i}");
            }
            let bytes = req.into_body().collect().await.expect("body").to_bytes();
            if let Some(want) = s.body {
                let got: Value = serde_json::from_slice(&bytes).expect("json body");
                assert_eq!(got, want, "step {i}: body");
            }
            // An applied Service reaches the cache's watch, as from the API server.
            let stored = s.reply.1["metadata"]["resourceVersion"].is_string();
            if s.method == Method::PATCH && s.path.starts_with(KSVCS) && stored {
                let mut line = json!({"type": "MODIFIED", "object": s.reply.1}).to_string();
                line.push('\n');
                let line = Bytes::from(line);
                for (_, tx) in watches.iter().filter(|(p, _)| p == KSVCS) {
                    let _ = tx.send(line.clone());
                }
                applied.push(line);
            }
            send.send_response(full(s.reply.0, &s.reply.1));
        }
        assert!(steps.next().is_none(), "a step was never asked for");
    });
    (kube::Client::new(svc, "default"), task)
}

/// Ends the runtime and the script; the script checks that every step ran.
async fn finish(rt: KnativeRuntime, server: tokio::task::JoinHandle<()>) {
    drop(rt);
    server.await.expect("scenario");
}

#[tokio::test]
async fn register_applies_the_secret_creates_the_volumes_and_applies_the_service() {
    let tmp = tempfile::tempdir().expect("tmp");
    let token_file = tmp.path().join("token");
    std::fs::write(&token_file, "s3cr3t\n").expect("write");
    let mut cfg = config();
    cfg.launcher.git_token_file = Some(token_file);
    let k = key();
    let secret = objects::git_token_secret(&cfg, &k.user, &GitToken::new("s3cr3t"));
    let user_pvc = serde_json::to_value(objects::user_volume(&cfg, &k.user, None)).expect("json");
    let home_pvc =
        serde_json::to_value(objects::home_volume(&cfg, &recorded_spec())).expect("json");
    let ksvc = serde_json::to_value(objects::ksvc(&cfg, &recorded_spec())).expect("json");
    let steps = vec![
        absent_ksvc(),
        applied_secret(git_secret_name(&k.user).as_str(), secret),
        hop_secret(&cfg, &recorded_spec()),
        Step {
            query: create(),
            body: Some(user_pvc),
            reply: (StatusCode::CONFLICT, status_body(409, "AlreadyExists")),
            ..step(Method::POST, PVCS.into())
        },
        absent_home(),
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
    rt.register(&recorded_spec()).await.expect("register");
    finish(rt, server).await;
}

/// A Service of `spec` as the API server returns it: uid, generation 1,
/// `resourceVersion` `rv`, Ready for its generation.
fn stored_ready(spec: &WorkspaceSpec, rv: &str) -> Value {
    let mut ksvc = serde_json::to_value(objects::ksvc(&config_with(&[]), spec)).expect("json");
    ksvc["metadata"]["uid"] = json!("uid-1");
    ksvc["metadata"]["generation"] = json!(1);
    ksvc["metadata"]["resourceVersion"] = json!(rv);
    ksvc["status"] = json!({"observedGeneration": 1, "latestReadyRevisionName": "rev-00001",
        "latestCreatedRevisionName": "rev-00001", "conditions": [{"type": "Ready", "status": "True"}]});
    ksvc
}
