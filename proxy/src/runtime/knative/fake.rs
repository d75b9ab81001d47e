//! A small stateful fake Kubernetes API server for tests, served over HTTP on
//! `127.0.0.1` (port 0) and reached by a real `kube::Client`: every client is a
//! "replica" with its own connections, so two runtimes on one server see each
//! other's changes only through the API, as in a cluster.
//!
//! Real semantics where the runtime depends on them: `404 NotFound` and
//! `409 AlreadyExists` / `Conflict` `Status` bodies, label selectors on lists
//! and watches, server-side apply (creates or updates; needs `fieldManager`;
//! another manager's object conflicts unless forced; the body's name must match
//! the URL), JSON merge patches of existing objects (404 when absent),
//! `resourceVersion`s (bumped by every write; a patch, apply or delete naming a
//! stale one is `409 Conflict`) and generation bumps on spec changes, watch
//! streams with resume, bookmarks and `410 Gone` after [`FakeApiServer::compact`],
//! deletions that take a moment with a `deletionTimestamp`
//! ([`FakeApiServer::set_delete_grace`]) and the garbage collection of a
//! Service's revisions. It plays the Knative controller on demand or on a clock
//! ([`Policy`]): a Service becomes Ready after some time, or fails with a
//! reason. [`ingress`] is a loopback stand-in for Knative's networking layer.
//!
//! # Layout
//! - `wire`: paths, queries, selectors, `Status` bodies, watch lines.
//! - `verbs`: get, list, create, apply, merge patch.
//! - `delete`: delete, at once or after a grace, and the garbage collector.
//! - `owners`: what merge patches own, kept across applies.
//! - `preconditions`: `resourceVersion` and `uid` preconditions of writes.
//! - `watch`: `resourceVersion`s, history, watch streams.
//! - `controller`: the Knative controller's part.
//! - [`ingress`]: the networking layer's part.
//! - [`launcher`]: a real `dcs-launcher` for the ingress to route to.
//!
//! Every call is logged (for the RBAC check and request counts), and every
//! object created is counted. Faults on demand: a call that fails with a 500
//! ([`FakeApiServer::fail_next`]), watches that do not hear of changes for a while
//! ([`FakeApiServer::hold_watches`]). Deleting an object deletes the objects that
//! name it as their owner (`ownerReferences`), as the garbage collector does.

mod controller;
mod delete;
pub mod ingress;
pub mod launcher;
mod owners;
mod preconditions;
mod verbs;
mod watch;
mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;

pub use self::controller::Policy;
use self::watch::{Change, Watcher};
pub use self::wire::{form_pairs, selector_matches, FakeBody};
use self::wire::{parse_path, status, Target};

/// One API call as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The RBAC verb: get, list, watch, create, patch, delete.
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
    /// The last `resourceVersion` given out.
    version: u64,
    /// Uids given out.
    uids: u64,
    /// Changes after `floor`, for watches that resume.
    history: Vec<Change>,
    /// Watches resuming from before this version get `410 Gone`.
    floor: u64,
    watchers: Vec<Watcher>,
    next_watch: u64,
    /// `(resource, name)` of every object created, in order.
    created: Vec<(String, String)>,
    /// What the Knative controller does with a new generation of any Service.
    policy: Policy,
    /// … and of particular Services.
    policies: BTreeMap<String, Policy>,
    /// How long a deleted object stays with its `deletionTimestamp`.
    delete_grace: Duration,
    /// … of particular resources (`persistentvolumeclaims`).
    delete_graces: BTreeMap<String, Duration>,
    /// A Service deleted (by "another replica") just before the next apply of it.
    delete_before_apply: Option<String>,
    /// Whether volumes' storage class allows expansion (`allowVolumeExpansion`).
    volume_expansion: bool,
    /// `(verb, resource)` of calls to fail with `500 InternalError`, once each.
    faults: Vec<(String, String)>,
    /// Resources whose changes the open watches do not hear yet ([`watch`]).
    held: std::collections::BTreeSet<String>,
    /// The changes held back meanwhile: key, object, event line.
    held_events: Vec<(Key, Value, bytes::Bytes)>,
}

struct Inner {
    state: Mutex<State>,
    addr: SocketAddr,
}

/// The fake server; clones share it.
#[derive(Clone)]
pub struct FakeApiServer {
    inner: Arc<Inner>,
}

impl FakeApiServer {
    /// A server with no objects, listening on `127.0.0.1` (needs a Tokio runtime).
    pub fn new() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("local address");
        let listener = tokio::net::TcpListener::from_std(listener).expect("a Tokio runtime");
        let server = Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                addr,
            }),
        };
        let this = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let this = this.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let this = this.clone();
                        async move { Ok::<_, std::convert::Infallible>(this.handle(req).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        server
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// A new client with its own connections (one proxy replica).
    pub fn client(&self) -> kube::Client {
        crate::runtime::knative::install_crypto_provider();
        let url = self.url().parse().expect("the server's URL");
        let mut cfg = kube::Config::new(url);
        cfg.default_namespace = "default".into();
        kube::Client::try_from(cfg).expect("a client for the fake API server")
    }

    /// A kubeconfig naming this server (for a `dcs-proxy` process: `KUBECONFIG`).
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
             clusters:\n- name: fake\n  cluster:\n    server: {}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n\
             users:\n- name: fake\n  user: {{}}\n",
            self.url()
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Calls so far with this verb on this resource.
    pub fn count(&self, verb: &str, resource: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.verb == verb && c.resource == resource)
            .count()
    }

    /// Names of the objects of `resource` created so far, in order (a name twice
    /// means it was made again after a delete).
    pub fn created(&self, resource: &str) -> Vec<String> {
        self.lock()
            .created
            .iter()
            .filter(|(r, _)| r == resource)
            .map(|(_, n)| n.clone())
            .collect()
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

    /// Stores an object as is (e.g. one made by another manager), as a change
    /// the watches see.
    pub fn insert(&self, group: &str, resource: &str, ns: &str, mut obj: Value) {
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut state = self.lock();
        if obj["metadata"]["uid"].is_null() {
            state.uids += 1;
            obj["metadata"]["uid"] = serde_json::json!(format!("uid-{}", state.uids));
        }
        state.put((group.into(), resource.into(), ns.into(), name), obj);
    }

    /// The next server-side apply of the Knative Service `name` finds it deleted
    /// just before (another replica's delete landing between a runtime's look and
    /// its write).
    pub fn delete_before_next_apply(&self, name: &str) {
        self.lock().delete_before_apply = Some(name.to_owned());
    }

    /// Whether a merge patch may grow a volume's requested storage, as a storage
    /// class with `allowVolumeExpansion: true` lets it (default: not).
    pub fn set_volume_expansion(&self, allowed: bool) {
        self.lock().volume_expansion = allowed;
    }

    /// The next call with `verb` (get, list, create, patch, delete) on `resource`
    /// (`persistentvolumeclaims`, `services`, …) fails with `500 InternalError`
    /// and changes nothing (an API server or etcd hiccup); once per call of this.
    pub fn fail_next(&self, verb: &str, resource: &str) {
        self.lock()
            .faults
            .push((verb.to_owned(), resource.to_owned()));
    }

    /// Deleted objects stay for `grace` with a `deletionTimestamp` (finalizers).
    pub fn set_delete_grace(&self, grace: Duration) {
        self.lock().delete_grace = grace;
    }

    /// Deleted objects of `resource` stay for `grace` (a claim stays until the
    /// pods using it are gone, often far longer than its Service).
    pub fn set_delete_grace_of(&self, resource: &str, grace: Duration) {
        self.lock().delete_graces.insert(resource.to_owned(), grace);
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<FakeBody> {
        let method = req.method().clone();
        let q = form_pairs(req.uri().query().unwrap_or_default());
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
            let msg = "the server could not find the requested resource".into();
            return status(StatusCode::NOT_FOUND, "NotFound", msg, &t);
        };
        let body: Value = match req.into_body().collect().await {
            Ok(b) => serde_json::from_slice(&b.to_bytes()).unwrap_or(Value::Null),
            Err(_) => {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "unreadable body".into(),
                    &t,
                )
            }
        };
        let watch = matches!(q.get("watch").map(String::as_str), Some("true" | "1"));
        let verb = match (&method, &t.name) {
            (&Method::GET, Some(_)) => "get",
            (&Method::GET, None) if watch => "watch",
            (&Method::GET, None) => "list",
            (&Method::POST, None) => "create",
            (&Method::PATCH, Some(_)) => "patch",
            (&Method::DELETE, Some(_)) => "delete",
            _ => {
                let msg = format!("{method} is not supported here");
                return status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", msg, &t);
            }
        };
        let fault = {
            let mut state = self.lock();
            state.calls.push(Call {
                verb,
                group: t.group.clone(),
                resource: t.resource.clone(),
                name: t.name.clone(),
            });
            let at = (state.faults.iter()).position(|(v, r)| v == verb && r == &t.resource);
            at.map(|i| state.faults.remove(i))
        };
        if fault.is_some() {
            let msg = "an injected fault: etcdserver: request timed out".into();
            return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", msg, &t);
        }
        match verb {
            "get" => self.get(&t),
            "watch" => self.watch(&t, &q),
            "list" => self.list(&t, &q),
            "create" => self.create(t, &q, body),
            "patch" => self.apply(&t, &q, &content_type, body),
            _ => self.delete(&t, &body),
        }
    }
}

impl Default for FakeApiServer {
    fn default() -> Self {
        Self::new()
    }
}
