//! The API's view of a workspace ([`Instance`]): its phase, resources and
//! sharing as the API shows them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dcs_model::api::{Instance, InstanceKind, Phase};
use dcs_model::{InstanceSpec, WorkspaceKey, WorkspaceKind};

use crate::runtime::{base_path, Status};

/// The API phase of a runtime status, and the reason of a failure.
pub(super) fn phase(status: &Status) -> (Phase, Option<String>) {
    match status {
        Status::NotFound | Status::Stopped => (Phase::Stopped, None),
        Status::Starting => (Phase::Starting, None),
        Status::Running => (Phase::Running, None),
        Status::Failed { reason } => (Phase::Failed, Some(reason.clone())),
    }
}

/// The API view of a workspace.
pub fn view(key: &WorkspaceKey, status: &Status, spec: &InstanceSpec) -> Instance {
    let (status, reason) = phase(status);
    let q = |q: &Option<dcs_model::Quantity>| q.as_ref().map(|q| q.as_str().to_owned());
    let kind = match key.kind {
        WorkspaceKind::Repo(_) => InstanceKind::Repo,
        WorkspaceKind::Instance(_) => InstanceKind::Instance,
    };
    Instance {
        instance_id: key.id().to_string(),
        user_id: key.user.to_string(),
        kind,
        repo: key.repo().or(spec.repo.as_ref()).map(ToString::to_string),
        url: format!("{}/", base_path(key)),
        status,
        reason,
        base_image: spec.base_image.as_ref().map(ToString::to_string),
        ide: spec.ide.clone(),
        ide_version: spec.ide_version.clone(),
        storage: q(&spec.resources.storage),
        cpu_request: q(&spec.resources.cpu_request),
        cpu_limit: q(&spec.resources.cpu_limit),
        memory_request: q(&spec.resources.memory_request),
        memory_limit: q(&spec.resources.memory_limit),
        env: spec.env.keys().cloned().collect(),
        created_at: (spec.created_unix > 0)
            .then(|| rfc3339(UNIX_EPOCH + Duration::from_secs(spec.created_unix))),
        shared_with: spec.shared_with.view(),
    }
}

/// `t` as RFC 3339, whole seconds.
pub(super) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}
