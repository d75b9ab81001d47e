//! Optimistic concurrency, as the API server does it: a patch or apply whose
//! body carries `metadata.resourceVersion`, and a delete whose `DeleteOptions`
//! carry `preconditions` (`resourceVersion`, `uid`), land only on the object as
//! it was at that version; otherwise `409 Conflict` with a `Status` body, and
//! nothing changes. (Create of a name that exists is `409 AlreadyExists`, in
//! `verbs`.)

use http::{Response, StatusCode};
use serde_json::Value;

use super::wire::{status, FakeBody, Target};

/// The conflict of a write carrying `body`'s `metadata.resourceVersion` with
/// `current`, if the versions differ (none when the body names no version).
pub(super) fn stale_write(t: &Target, current: &Value, body: &Value) -> Option<Response<FakeBody>> {
    let wanted = body["metadata"]["resourceVersion"].as_str()?;
    if current["metadata"]["resourceVersion"].as_str() == Some(wanted) {
        return None;
    }
    let message = format!(
        "Operation cannot be fulfilled on {} \"{}\": the object has been modified; \
         please apply your changes to the latest version and try again",
        t.kind_name(),
        t.name.as_deref().unwrap_or_default()
    );
    Some(status(StatusCode::CONFLICT, "Conflict", message, t))
}

/// The conflict of a delete whose options are `options` with `current`, if a
/// precondition fails.
pub(super) fn failed_delete(
    t: &Target,
    current: &Value,
    options: &Value,
) -> Option<Response<FakeBody>> {
    for (field, label) in [("resourceVersion", "ResourceVersion"), ("uid", "UID")] {
        let Some(wanted) = options["preconditions"][field].as_str() else {
            continue;
        };
        let actual = current["metadata"][field].as_str().unwrap_or_default();
        if actual != wanted {
            let message = format!(
                "Operation cannot be fulfilled on {} \"{}\": Precondition failed: \
                 {label} in precondition: {wanted}, {label} in object meta: {actual}",
                t.kind_name(),
                t.name.as_deref().unwrap_or_default()
            );
            return Some(status(StatusCode::CONFLICT, "Conflict", message, t));
        }
    }
    None
}

#[cfg(test)]
mod tests;
