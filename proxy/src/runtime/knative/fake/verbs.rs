//! The fake API server's verbs on stored objects: get, list, create,
//! server-side apply, JSON merge patch and delete, with the API server's answers
//! and errors (a stale `resourceVersion`: `preconditions`).

use std::collections::BTreeMap;

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::preconditions::stale_write;
use super::watch::list_version;
use super::wire::{respond, selector_matches, status, FakeBody, Target};
use super::{FakeApiServer, Key, State};

pub(super) fn key_of(t: &Target, name: &str) -> Key {
    (
        t.group.clone(),
        t.resource.clone(),
        t.namespace.clone(),
        name.to_owned(),
    )
}

pub(super) fn not_found(t: &Target, name: &str) -> Response<FakeBody> {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("{} \"{name}\" not found", t.kind_name()),
        t,
    )
}

/// Whether `t` is a Knative Service.
pub(super) fn is_ksvc(t: &Target) -> bool {
    t.group == "serving.knative.dev" && t.resource == "services"
}

impl FakeApiServer {
    pub(super) fn get(&self, t: &Target) -> Response<FakeBody> {
        let name = t.name.clone().unwrap_or_default();
        match self.lock().objects.get(&key_of(t, &name)) {
            Some(obj) => respond(StatusCode::OK, obj),
            None => not_found(t, &name),
        }
    }

    pub(super) fn list(&self, t: &Target, q: &BTreeMap<String, String>) -> Response<FakeBody> {
        let selector = q.get("labelSelector").cloned().unwrap_or_default();
        let state = self.lock();
        let items: Vec<Value> = state
            .objects
            .iter()
            .filter(|((g, r, n, _), _)| g == &t.group && r == &t.resource && n == &t.namespace)
            .filter(|(_, o)| selector_matches(&selector, &o["metadata"]["labels"]))
            .map(|(_, o)| o.clone())
            .collect();
        respond(
            StatusCode::OK,
            &json!({"apiVersion": t.api_version(), "kind": "List",
                    "metadata": {"resourceVersion": list_version(&state)}, "items": items}),
        )
    }

    pub(super) fn create(
        &self,
        t: Target,
        q: &BTreeMap<String, String>,
        body: Value,
    ) -> Response<FakeBody> {
        let name = body["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let t = Target {
            name: Some(name.clone()),
            ..t
        };
        let key = key_of(&t, &name);
        let mut state = self.lock();
        if state.objects.contains_key(&key) {
            return status(
                StatusCode::CONFLICT,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", t.kind_name()),
                &t,
            );
        }
        let manager = q
            .get("fieldManager")
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        let obj = stamp(&mut state, body, None, &t.namespace, &manager);
        let obj = state.put(key, obj);
        respond(StatusCode::CREATED, &obj)
    }

    pub(super) fn apply(
        &self,
        t: &Target,
        q: &BTreeMap<String, String>,
        content_type: &str,
        body: Value,
    ) -> Response<FakeBody> {
        if content_type == "application/merge-patch+json" {
            return self.merge_patch(t, body);
        }
        if content_type != "application/apply-patch+yaml" {
            return status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                format!("the fake supports only server-side apply and JSON merge patch, not {content_type}"),
                t,
            );
        }
        let Some(manager) = q.get("fieldManager").cloned() else {
            return status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(), t);
        };
        let name = t.name.clone().unwrap_or_default();
        if body["metadata"]["name"].as_str() != Some(name.as_str()) {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "the name of the object does not match the name on the URL".into(),
                t,
            );
        }
        let key = key_of(t, &name);
        let mut state = self.lock();
        if is_ksvc(t) && state.delete_before_apply.as_deref() == Some(name.as_str()) {
            state.delete_before_apply = None;
            self.finish_delete(&mut state, &key);
            let home = (
                String::new(),
                "persistentvolumeclaims".into(),
                t.namespace.clone(),
                name.clone(),
            );
            self.finish_delete(&mut state, &home);
        }
        let existing = state.objects.get(&key).cloned();
        if let Some(old) = &existing {
            if let Some(conflict) = stale_write(t, old, &body) {
                return conflict;
            }
            let owner = old["metadata"]["managedFields"][0]["manager"]
                .as_str()
                .unwrap_or_default();
            if owner != manager && q.get("force").map(String::as_str) != Some("true") {
                return status(
                    StatusCode::CONFLICT,
                    "Conflict",
                    format!("Apply failed with 1 conflict: conflict with \"{owner}\""),
                    t,
                );
            }
        }
        let created = existing.is_none();
        let old_generation = existing
            .as_ref()
            .and_then(|o| o["metadata"]["generation"].as_i64());
        let obj = stamp(&mut state, body, existing, &t.namespace, &manager);
        let generation = obj["metadata"]["generation"].as_i64();
        let obj = state.put(key, obj);
        if is_ksvc(t) && (created || generation != old_generation) {
            self.controller_saw_new_generation(&mut state, &t.namespace, &name);
        }
        drop(state);
        respond(
            if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            &obj,
        )
    }

    /// A JSON merge patch (RFC 7386) of an existing object: 404 when absent (it
    /// never creates); the name, uid, status and deletion mark stay; the
    /// generation is bumped only when the spec changes; watchers see `MODIFIED`.
    fn merge_patch(&self, t: &Target, patch: Value) -> Response<FakeBody> {
        let name = t.name.clone().unwrap_or_default();
        let key = key_of(t, &name);
        let mut state = self.lock();
        let Some(old) = state.objects.get(&key).cloned() else {
            return not_found(t, &name);
        };
        if let Some(conflict) = stale_write(t, &old, &patch) {
            return conflict;
        }
        let mut obj = old.clone();
        merge(&mut obj, &patch);
        if t.resource == "persistentvolumeclaims" {
            if let Some(refused) = volume_change(&old, &obj, state.volume_expansion, t, &name) {
                return refused;
            }
        }
        for field in [
            "name",
            "namespace",
            "uid",
            "deletionTimestamp",
            "managedFields",
        ] {
            obj["metadata"][field] = old["metadata"][field].clone();
        }
        super::owners::after_merge_patch(&mut obj, &old, &patch);
        obj["status"] = old["status"].clone();
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
        let bumped = obj["spec"] != old["spec"];
        obj["metadata"]["generation"] = json!(if bumped { generation + 1 } else { generation });
        if let Some(meta) = obj["metadata"].as_object_mut() {
            meta.retain(|_, v| !v.is_null());
        }
        if let Some(o) = obj.as_object_mut() {
            o.retain(|_, v| !v.is_null());
        }
        let obj = state.put(key, obj);
        if is_ksvc(t) && bumped {
            self.controller_saw_new_generation(&mut state, &t.namespace, &name);
        }
        drop(state);
        respond(StatusCode::OK, &obj)
    }
}

/// RFC 7386: `patch`'s members replace `target`'s, objects merge recursively,
/// `null` removes.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(t) = target {
        for (k, v) in members {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// Server-set metadata: uid, generation (bumped when the spec changes), managed
/// fields; keeps the old status and deletion mark. The `resourceVersion` is set
/// when the object is stored ([`State::put`]).
pub(super) fn stamp(
    state: &mut State,
    mut obj: Value,
    old: Option<Value>,
    ns: &str,
    manager: &str,
) -> Value {
    state.uids += 1;
    let generation = match &old {
        None => 1,
        Some(o) if o["spec"] == obj["spec"] => o["metadata"]["generation"].as_i64().unwrap_or(1),
        Some(o) => o["metadata"]["generation"].as_i64().unwrap_or(1) + 1,
    };
    let uid = old
        .as_ref()
        .map(|o| o["metadata"]["uid"].clone())
        .unwrap_or_else(|| json!(format!("uid-{}", state.uids)));
    let meta = &mut obj["metadata"];
    meta["namespace"] = json!(ns);
    meta["uid"] = uid;
    meta["generation"] = json!(generation);
    meta["managedFields"] = json!([{"manager": manager, "operation": "Apply"}]);
    if let Some(old) = &old {
        super::owners::after_apply(&mut obj, old);
        for (field, value) in [
            ("status", &old["status"]),
            ("deletionTimestamp", &old["metadata"]["deletionTimestamp"]),
        ] {
            if value.is_null() {
                continue;
            }
            if field == "status" {
                obj["status"] = value.clone();
            } else {
                obj["metadata"][field] = value.clone();
            }
        }
    }
    obj
}

/// The API server's answer to a change of a volume's requested storage, if it
/// refuses it: 403 when its storage class does not allow expansion, 422 for a
/// smaller size (a volume never shrinks).
fn volume_change(
    old: &Value,
    new: &Value,
    allowed: bool,
    t: &Target,
    name: &str,
) -> Option<Response<FakeBody>> {
    let size = |v: &Value| {
        v["spec"]["resources"]["requests"]["storage"]
            .as_str()
            .and_then(|s| dcs_model::Quantity::parse(s).ok())
            .map(|q| q.value())
    };
    let (before, after) = (size(old), size(new));
    if before == after {
        return None;
    }
    if !allowed {
        let msg = format!(
            "persistentvolumeclaims \"{name}\" is forbidden: only dynamically provisioned pvc \
             can be resized and the storageclass that provisions the pvc must support resize"
        );
        return Some(status(StatusCode::FORBIDDEN, "Forbidden", msg, t));
    }
    if after < before {
        let msg = format!(
            "PersistentVolumeClaim \"{name}\" is invalid: spec.resources.requests.storage: \
             Forbidden: field can not be less than previous value"
        );
        return Some(status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", msg, t));
    }
    None
}
