//! Changes and watches: every write goes through [`State::put`] or
//! [`State::remove`], which give the object the next `resourceVersion`, keep
//! the event in the history and send it to every open watch it matches.
//!
//! A watch (`GET <collection>?watch=true`) replays the history after its
//! `resourceVersion` (all current objects as `ADDED` when it names none), then
//! streams live events as newline-delimited JSON. A `resourceVersion` older than
//! the retained history is answered with an `ERROR` event carrying `410 Gone`, as
//! the API server does after compaction ([`super::FakeApiServer::compact`]);
//! clients re-list. `timeoutSeconds` ends the stream (after a `BOOKMARK` when
//! `allowWatchBookmarks=true`), as the server does.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::wire::{bookmark_line, event_line, selector_matches, status_object, FakeBody, Target};
use super::{FakeApiServer, Key, State};

/// One change, as kept for watches that resume.
pub(super) struct Change {
    pub(super) version: u64,
    pub(super) key: Key,
    pub(super) kind: &'static str,
    pub(super) object: Value,
}

/// An open watch.
pub(super) struct Watcher {
    pub(super) id: u64,
    pub(super) group: String,
    pub(super) resource: String,
    pub(super) namespace: String,
    pub(super) selector: String,
    pub(super) tx: mpsc::UnboundedSender<Bytes>,
}

impl Watcher {
    fn wants(&self, key: &Key, object: &Value) -> bool {
        self.group == key.0
            && self.resource == key.1
            && self.namespace == key.2
            && selector_matches(&self.selector, &object["metadata"]["labels"])
    }
}

impl State {
    /// Stores `object` under `key` with the next `resourceVersion` and tells the
    /// watches (`ADDED` if it is new, else `MODIFIED`). Returns what was stored.
    pub(super) fn put(&mut self, key: Key, mut object: Value) -> Value {
        self.version += 1;
        object["metadata"]["resourceVersion"] = json!(self.version.to_string());
        let kind = if self.objects.contains_key(&key) {
            "MODIFIED"
        } else {
            self.created.push((key.1.clone(), key.3.clone()));
            "ADDED"
        };
        self.objects.insert(key.clone(), object.clone());
        self.publish(key, kind, object.clone());
        object
    }

    /// Removes the object under `key` and tells the watches (`DELETED`, the
    /// object with a new `resourceVersion`).
    pub(super) fn remove(&mut self, key: &Key) -> Option<Value> {
        let mut object = self.objects.remove(key)?;
        self.version += 1;
        object["metadata"]["resourceVersion"] = json!(self.version.to_string());
        self.publish(key.clone(), "DELETED", object.clone());
        Some(object)
    }

    fn publish(&mut self, key: Key, kind: &'static str, object: Value) {
        let line = event_line(kind, &object);
        if self.held.contains(&key.1) {
            self.held_events.push((key.clone(), object.clone(), line));
        } else {
            self.watchers
                .retain(|w| !w.wants(&key, &object) || w.tx.send(line.clone()).is_ok());
        }
        self.history.push(Change {
            version: self.version,
            key,
            kind,
            object,
        });
    }
}

fn stream_body(rx: mpsc::UnboundedReceiver<Bytes>) -> FakeBody {
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, std::io::Error>(Frame::data(line)), rx))
    });
    StreamBody::new(frames).boxed_unsync()
}

fn kind_of(t: &Target) -> &'static str {
    match (t.group.as_str(), t.resource.as_str()) {
        ("serving.knative.dev", "services") => "Service",
        ("serving.knative.dev", "revisions") => "Revision",
        ("", "persistentvolumeclaims") => "PersistentVolumeClaim",
        ("", "secrets") => "Secret",
        _ => "Object",
    }
}

impl FakeApiServer {
    /// Answers `GET <collection>?watch=true`.
    pub(super) fn watch(&self, t: &Target, q: &BTreeMap<String, String>) -> Response<FakeBody> {
        let (tx, rx) = mpsc::unbounded_channel();
        let selector = q.get("labelSelector").cloned().unwrap_or_default();
        let from: Option<u64> = q
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .filter(|v| *v > 0);
        let bookmarks = q.get("allowWatchBookmarks").map(String::as_str) == Some("true");
        let timeout = q
            .get("timeoutSeconds")
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut state = self.lock();
        let id = state.next_watch;
        state.next_watch += 1;
        let watcher = Watcher {
            id,
            group: t.group.clone(),
            resource: t.resource.clone(),
            namespace: t.namespace.clone(),
            selector,
            tx,
        };
        match from {
            Some(v) if v < state.floor => {
                let gone = status_object(
                    StatusCode::GONE,
                    "Expired",
                    &format!("too old resource version: {v} ({})", state.floor),
                    t,
                );
                let _ = watcher.tx.send(event_line("ERROR", &gone));
                // The watcher is dropped: the stream ends after the error.
                return watch_response(rx);
            }
            Some(v) => {
                for c in state.history.iter().filter(|c| c.version > v) {
                    if watcher.wants(&c.key, &c.object) {
                        let _ = watcher.tx.send(event_line(c.kind, &c.object));
                    }
                }
            }
            None => {
                for (key, object) in &state.objects {
                    if watcher.wants(key, object) {
                        let _ = watcher.tx.send(event_line("ADDED", object));
                    }
                }
            }
        }
        state.watchers.push(watcher);
        drop(state);
        if let Some(after) = timeout {
            let server = self.clone();
            let t = t.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let mut state = server.lock();
                let version = state.version;
                if let Some(pos) = state.watchers.iter().position(|w| w.id == id) {
                    let w = state.watchers.remove(pos);
                    if bookmarks {
                        let _ = w.tx.send(bookmark_line(&t, kind_of(&t), version));
                    }
                }
            });
        }
        watch_response(rx)
    }

    /// Forgets the history: a watch resuming from any version seen so far gets
    /// `410 Gone` and must list again. Open watches are closed.
    pub fn compact(&self) {
        let mut state = self.lock();
        state.floor = state.version + 1;
        state.history.clear();
        state.watchers.clear();
    }

    /// Closes every open watch (as an API server restart or a dropped
    /// connection does); clients resume from their last version.
    pub fn close_watches(&self) {
        self.lock().watchers.clear();
    }

    /// The open watches of `resource` hear of no change until
    /// [`FakeApiServer::release_watches`] (a watch lagging behind the API server).
    pub fn hold_watches(&self, resource: &str) {
        self.lock().held.insert(resource.to_owned());
    }

    /// The open watches of `resource` hear of what was held back, and of every
    /// change from now on.
    pub fn release_watches(&self, resource: &str) {
        let mut state = self.lock();
        state.held.remove(resource);
        let (released, kept) = std::mem::take(&mut state.held_events)
            .into_iter()
            .partition::<Vec<_>, _>(|(key, _, _)| key.1 == resource);
        state.held_events = kept;
        for (key, object, line) in released {
            (state.watchers).retain(|w| !w.wants(&key, &object) || w.tx.send(line.clone()).is_ok());
        }
    }

    /// How many watches are open now.
    pub fn open_watches(&self) -> usize {
        let mut state = self.lock();
        state.watchers.retain(|w| !w.tx.is_closed());
        state.watchers.len()
    }
}

fn watch_response(rx: mpsc::UnboundedReceiver<Bytes>) -> Response<FakeBody> {
    let mut resp = Response::new(stream_body(rx));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// The `resourceVersion` a list answer carries.
pub(super) fn list_version(state: &State) -> String {
    state.version.max(1).to_string()
}
