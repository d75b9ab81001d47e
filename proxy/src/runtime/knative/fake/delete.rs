//! Deletes in the fake API server: at once, or after a grace with a
//! `deletionTimestamp` meanwhile (finalizers, a claim protected while a pod uses
//! it: [`FakeApiServer::set_delete_grace`]); and the garbage collector's part: a
//! Knative Service's revisions go with it at once, and every object naming a deleted
//! object as its owner (`ownerReferences`, by uid) is deleted in turn, each with
//! its own grace.

use std::time::Duration;

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::preconditions::failed_delete;
use super::verbs::{key_of, not_found};
use super::wire::{respond, FakeBody, Target};
use super::{FakeApiServer, Key, State};

/// When a deleted object is marked (any fixed time will do for the runtime).
const MARKED_AT: &str = "2024-01-01T00:00:00Z";

impl FakeApiServer {
    pub(super) fn delete(&self, t: &Target, options: &Value) -> Response<FakeBody> {
        let name = t.name.clone().unwrap_or_default();
        let key = key_of(t, &name);
        let mut state = self.lock();
        let Some(obj) = state.objects.get(&key).cloned() else {
            return not_found(t, &name);
        };
        if let Some(conflict) = failed_delete(t, &obj, options) {
            return conflict;
        }
        match self.delete_object(&mut state, &key) {
            Some(marked) => respond(StatusCode::ACCEPTED, &marked),
            None => success(t, &name),
        }
    }

    /// Deletes the object under `key` as the API server does: at once (`None`),
    /// or marked for its resource's grace (the marked object).
    fn delete_object(&self, state: &mut State, key: &Key) -> Option<Value> {
        let obj = state.objects.get(key).cloned()?;
        let grace: Duration =
            (state.delete_graces.get(&key.1).copied()).unwrap_or(state.delete_grace);
        if grace.is_zero() {
            self.finish_delete(state, key);
            return None;
        }
        if !obj["metadata"]["deletionTimestamp"].is_null() {
            return Some(obj);
        }
        let mut marked = obj;
        marked["metadata"]["deletionTimestamp"] = json!(MARKED_AT);
        let marked = state.put(key.clone(), marked);
        let uid = marked["metadata"]["uid"].clone();
        let (server, key) = (self.clone(), key.clone());
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let mut state = server.lock();
            if state.objects.get(&key).map(|o| &o["metadata"]["uid"]) == Some(&uid) {
                server.finish_delete(&mut state, &key);
            }
        });
        Some(marked)
    }

    /// Removes the object; what it owns is deleted in turn (see the module docs).
    pub(super) fn finish_delete(&self, state: &mut State, key: &Key) {
        let Some(removed) = state.remove(key) else {
            return;
        };
        let (group, resource, ns, name) = key;
        if group == "serving.knative.dev" && resource == "services" {
            let revisions: Vec<Key> = (state.objects.keys())
                .filter(|(g, r, n, _)| g == "serving.knative.dev" && r == "revisions" && n == ns)
                .filter(|k| {
                    state.objects[*k]["metadata"]["labels"]["serving.knative.dev/service"]
                        == name.as_str()
                })
                .cloned()
                .collect();
            for k in revisions {
                state.remove(&k);
            }
        }
        let mut owned: Vec<Key> = Vec::new();
        if let Some(uid) = removed["metadata"]["uid"].as_str() {
            owned.extend(
                (state.objects.iter())
                    .filter(|(_, o)| {
                        o["metadata"]["ownerReferences"]
                            .as_array()
                            .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
                    })
                    .map(|(k, _)| k.clone()),
            );
        }
        for k in owned {
            self.delete_object(state, &k);
        }
    }
}

fn success(t: &Target, name: &str) -> Response<FakeBody> {
    respond(
        StatusCode::OK,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Success", "details": {"name": name, "group": t.group, "kind": t.resource}}),
    )
}
