//! A small stateful fake Kubernetes API server for tests, behind a real
//! `kube::Client` (via `tower_test::mock::pair`).
//!
//! Real semantics where the runtime depends on them: `404 NotFound` and
//! `409 AlreadyExists` / `Conflict` `Status` bodies, label selectors on lists,
//! server-side apply (creates or updates; needs `fieldManager`; another manager's
//! object conflicts unless forced; the body's name must match the URL), generation
//! bumps on spec changes, and the garbage collection of a Service's revisions.
//! It also plays the Knative controller on demand ([`FakeApiServer::mark_ready`],
//! [`FakeApiServer::scale_to_zero`]) and logs every call for RBAC checks.

mod controller;
mod wire;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};

pub use self::wire::{form_pairs, selector_matches};
use self::wire::{parse_path, query, respond, status, Target};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::{json, Value};

/// One API call as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The RBAC verb: get, list, create, patch, delete.
    pub verb: &'static str,
    /// API group (`""` for core).
    pub group: String,
    /// Plural resource.
    pub resource: String,
    /// Object name, if the path had one.
    pub name: Option<String>,
}

/// `(group, resource, namespace, name)`.
type Key = (String, String, String, String);

#[derive(Default)]
struct State {
    objects: BTreeMap<Key, Value>,
    calls: Vec<Call>,
    version: u64,
}

/// The fake server; clones share state.
#[derive(Clone, Default)]
pub struct FakeApiServer {
    state: Arc<Mutex<State>>,
}

impl FakeApiServer {
    /// An empty server.
    pub fn new() -> Self {
        Self::default()
    }

    /// A client talking to this server.
    pub fn client(&self) -> kube::Client {
        let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = self.clone();
        tokio::spawn(async move {
            while let Some((req, send)) = handle.next_request().await {
                send.send_response(server.handle(req).await);
            }
        });
        kube::Client::new(svc, "default")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// An object, if stored.
    pub fn object(&self, group: &str, resource: &str, ns: &str, name: &str) -> Option<Value> {
        let key = (group.into(), resource.into(), ns.into(), name.into());
        self.lock().objects.get(&key).cloned()
    }

    /// Names of the stored objects of a resource in `ns`.
    pub fn names(&self, group: &str, resource: &str, ns: &str) -> Vec<String> {
        self.lock()
            .objects
            .keys()
            .filter(|(g, r, n, _)| g == group && r == resource && n == ns)
            .map(|k| k.3.clone())
            .collect()
    }

    /// Stores an object as is (e.g. one made by another manager).
    pub fn insert(&self, group: &str, resource: &str, ns: &str, obj: Value) {
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let key = (group.into(), resource.into(), ns.into(), name);
        self.lock().objects.insert(key, obj);
    }

    async fn handle(&self, req: Request<Body>) -> Response<Body> {
        let method = req.method().clone();
        let q = query(&req);
        let content_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let Some(t) = parse_path(req.uri().path()) else {
            let t = Target {
                group: String::new(),
                version: String::new(),
                namespace: String::new(),
                resource: req.uri().path().to_owned(),
                name: None,
            };
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                "the server could not find the requested resource".into(),
                &t,
            );
        };
        let bytes = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "unreadable body".into(),
                    &t,
                )
            }
        };
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let verb = match (&method, &t.name) {
            (&Method::GET, Some(_)) => "get",
            (&Method::GET, None) => "list",
            (&Method::POST, None) => "create",
            (&Method::PATCH, Some(_)) => "patch",
            (&Method::DELETE, Some(_)) => "delete",
            _ => {
                return status(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    format!("{method} is not supported here"),
                    &t,
                )
            }
        };
        let mut state = self.lock();
        state.calls.push(Call {
            verb,
            group: t.group.clone(),
            resource: t.resource.clone(),
            name: t.name.clone(),
        });
        let kind_name = |t: &Target| match t.group.as_str() {
            "" => t.resource.clone(),
            g => format!("{}.{g}", t.resource),
        };
        match verb {
            "get" => {
                let name = t.name.clone().unwrap_or_default();
                let key = (
                    t.group.clone(),
                    t.resource.clone(),
                    t.namespace.clone(),
                    name.clone(),
                );
                match state.objects.get(&key) {
                    Some(obj) => respond(StatusCode::OK, obj),
                    None => status(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        format!("{} \"{name}\" not found", kind_name(&t)),
                        &t,
                    ),
                }
            }
            "list" => {
                let selector = q.get("labelSelector").cloned().unwrap_or_default();
                let items: Vec<Value> = state
                    .objects
                    .iter()
                    .filter(|((g, r, n, _), _)| {
                        g == &t.group && r == &t.resource && n == &t.namespace
                    })
                    .filter(|(_, o)| selector_matches(&selector, &o["metadata"]["labels"]))
                    .map(|(_, o)| o.clone())
                    .collect();
                let api_version = if t.group.is_empty() {
                    t.version.clone()
                } else {
                    format!("{}/{}", t.group, t.version)
                };
                let version = state.version.to_string();
                respond(
                    StatusCode::OK,
                    &json!({"apiVersion": api_version, "kind": "List",
                    "metadata": {"resourceVersion": version}, "items": items}),
                )
            }
            "create" => {
                let name = body["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let t = Target {
                    name: Some(name.clone()),
                    ..t
                };
                let key = (
                    t.group.clone(),
                    t.resource.clone(),
                    t.namespace.clone(),
                    name.clone(),
                );
                if state.objects.contains_key(&key) {
                    return status(
                        StatusCode::CONFLICT,
                        "AlreadyExists",
                        format!("{} \"{name}\" already exists", kind_name(&t)),
                        &t,
                    );
                }
                let manager = q
                    .get("fieldManager")
                    .cloned()
                    .unwrap_or_else(|| "unknown".into());
                let obj = stamp(&mut state, body, None, &t.namespace, &manager);
                state.objects.insert(key, obj.clone());
                respond(StatusCode::CREATED, &obj)
            }
            "patch" => {
                if content_type != "application/apply-patch+yaml" {
                    return status(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "UnsupportedMediaType",
                        format!("the fake supports only server-side apply, not {content_type}"),
                        &t,
                    );
                }
                let Some(manager) = q.get("fieldManager").cloned() else {
                    return status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(), &t);
                };
                let name = t.name.clone().unwrap_or_default();
                if body["metadata"]["name"].as_str() != Some(name.as_str()) {
                    return status(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "the name of the object does not match the name on the URL".into(),
                        &t,
                    );
                }
                let key = (
                    t.group.clone(),
                    t.resource.clone(),
                    t.namespace.clone(),
                    name.clone(),
                );
                let existing = state.objects.get(&key).cloned();
                if let Some(old) = &existing {
                    let owner = old["metadata"]["managedFields"][0]["manager"]
                        .as_str()
                        .unwrap_or_default();
                    if owner != manager && q.get("force").map(String::as_str) != Some("true") {
                        return status(
                            StatusCode::CONFLICT,
                            "Conflict",
                            format!("Apply failed with 1 conflict: conflict with \"{owner}\""),
                            &t,
                        );
                    }
                }
                let created = existing.is_none();
                let obj = stamp(&mut state, body, existing, &t.namespace, &manager);
                state.objects.insert(key, obj.clone());
                respond(
                    if created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    },
                    &obj,
                )
            }
            _ => {
                let name = t.name.clone().unwrap_or_default();
                let key = (
                    t.group.clone(),
                    t.resource.clone(),
                    t.namespace.clone(),
                    name.clone(),
                );
                if state.objects.remove(&key).is_none() {
                    return status(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        format!("{} \"{name}\" not found", kind_name(&t)),
                        &t,
                    );
                }
                if t.resource == "services" && t.group == "serving.knative.dev" {
                    // Garbage collection of the Service's revisions.
                    state.objects.retain(|(g, r, n, _), o| {
                        !(g == "serving.knative.dev"
                            && r == "revisions"
                            && n == &t.namespace
                            && o["metadata"]["labels"]["serving.knative.dev/service"]
                                == name.as_str())
                    });
                }
                respond(
                    StatusCode::OK,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                    "status": "Success", "details": {"name": name, "group": t.group, "kind": t.resource}}),
                )
            }
        }
    }
}

/// Server-set metadata: uid, resourceVersion, generation (bumped when the spec
/// changes), managed fields; keeps the old status.
fn stamp(state: &mut State, mut obj: Value, old: Option<Value>, ns: &str, manager: &str) -> Value {
    state.version += 1;
    let generation = match &old {
        None => 1,
        Some(o) if o["spec"] == obj["spec"] => o["metadata"]["generation"].as_i64().unwrap_or(1),
        Some(o) => o["metadata"]["generation"].as_i64().unwrap_or(1) + 1,
    };
    let uid = old
        .as_ref()
        .map(|o| o["metadata"]["uid"].clone())
        .unwrap_or_else(|| json!(format!("uid-{}", state.version)));
    let meta = &mut obj["metadata"];
    meta["namespace"] = json!(ns);
    meta["uid"] = uid;
    meta["resourceVersion"] = json!(state.version.to_string());
    meta["generation"] = json!(generation);
    meta["managedFields"] = json!([{"manager": manager, "operation": "Apply"}]);
    if let Some(status) = old
        .as_ref()
        .map(|o| o["status"].clone())
        .filter(|s| !s.is_null())
    {
        obj["status"] = status;
    }
    obj
}
