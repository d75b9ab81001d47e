//! Field ownership between a server-side apply and merge patches, as far as the
//! runtime depends on it: the annotations a merge patch set belong to that update
//! (a `managedFields` entry with `operation: Update`), and a later apply that does
//! not name them leaves them alone, as the API server does. Without this, an apply
//! would silently drop what a launcher recorded on its Service.

use serde_json::{json, Value};

/// The marker of the update entry that owns merge-patched annotations.
const UPDATE: &str = "Update";

/// The annotation keys merge patches own on `obj`.
fn owned(obj: &Value) -> Vec<String> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["operation"] == UPDATE)
        .flat_map(|e| e["annotations"].as_array().cloned().unwrap_or_default())
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect()
}

/// After a merge patch `patch` turned `old` into `obj` (whose managed fields are
/// `old`'s): the annotations it set are owned by an update, those it removed no
/// longer are.
pub(super) fn after_merge_patch(obj: &mut Value, old: &Value, patch: &Value) {
    let mut keys = owned(old);
    if let Some(changed) = patch["metadata"]["annotations"].as_object() {
        for (k, v) in changed {
            keys.retain(|o| o != k);
            if !v.is_null() {
                keys.push(k.clone());
            }
        }
    }
    set_owned(obj, keys);
}

/// After an apply turned `old` into `obj`: what updates own and the apply does not
/// name is kept.
pub(super) fn after_apply(obj: &mut Value, old: &Value) {
    let keys = owned(old);
    for k in &keys {
        let value = &old["metadata"]["annotations"][k];
        if !value.is_null() && obj["metadata"]["annotations"][k].is_null() {
            obj["metadata"]["annotations"][k] = value.clone();
        }
    }
    set_owned(obj, keys);
}

fn set_owned(obj: &mut Value, keys: Vec<String>) {
    let mut entries: Vec<Value> = obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["operation"] != UPDATE)
        .collect();
    if !keys.is_empty() {
        entries.push(json!({"manager": "merge-patch", "operation": UPDATE, "annotations": keys}));
    }
    obj["metadata"]["managedFields"] = Value::Array(entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patched_annotations_survive_an_apply_that_does_not_name_them() {
        let old = json!({"metadata": {"annotations": {"a": "1"},
            "managedFields": [{"manager": "m", "operation": "Apply"}]}});
        let patch = json!({"metadata": {"annotations": {"p": "x"}}});
        let mut patched = json!({"metadata": {"annotations": {"a": "1", "p": "x"},
            "managedFields": old["metadata"]["managedFields"].clone()}});
        after_merge_patch(&mut patched, &old, &patch);
        let mut applied = json!({"metadata": {"annotations": {"a": "2"},
            "managedFields": [{"manager": "m", "operation": "Apply"}]}});
        after_apply(&mut applied, &patched);
        assert_eq!(
            applied["metadata"]["annotations"],
            json!({"a": "2", "p": "x"})
        );
        assert_eq!(
            applied["metadata"]["managedFields"][0]["operation"],
            "Apply"
        );
        // Removed by a patch: no longer owned, an apply does not bring it back.
        let clear = json!({"metadata": {"annotations": {"p": null}}});
        let mut cleared = json!({"metadata": {"annotations": {"a": "2"},
            "managedFields": applied["metadata"]["managedFields"].clone()}});
        after_merge_patch(&mut cleared, &applied, &clear);
        let mut again = json!({"metadata": {"managedFields": []}});
        after_apply(&mut again, &cleared);
        assert!(again["metadata"]["annotations"]["p"].is_null());
    }
}
