//! Management API response types: what the proxy answers and the `dcs` CLI reads.

use serde::{Deserialize, Serialize};

use super::FieldError;

/// Whether a listed workspace is a repository workspace (`/github/…`) or an
/// instance made through the API (`/instances/<id>/`, token-gated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InstanceKind {
    /// Opened at `/github/<owner>/<repo>/`; no token.
    Repo,
    /// Made with `POST /api/instances`; opened with its access token.
    Instance,
}

/// A workspace's lifecycle phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Scaled to zero; the next request wakes it.
    Stopped,
    /// Being started.
    Starting,
    /// Serving.
    Running,
    /// The last start failed (see `reason`).
    Failed,
}

/// One instance (or repository workspace), as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Instance {
    /// Its id: `inst-<16 hex>` for instances, the object name for repository workspaces.
    pub instance_id: String,
    /// Whose it is.
    pub user_id: String,
    /// Repository workspace or API instance.
    pub kind: InstanceKind,
    /// The repository checked out in it, `owner/repo`, if any.
    pub repo: Option<String>,
    /// Where to open it (without any token).
    pub url: String,
    /// Lifecycle phase.
    pub status: Phase,
    /// Why it failed, when `status` is `failed`.
    pub reason: Option<String>,
    /// Container image, if not the operator's default.
    pub base_image: Option<String>,
    /// IDE kind, if not the operator's default.
    pub ide: Option<String>,
    /// IDE version, if not the kind's pinned default.
    pub ide_version: Option<String>,
    /// Size asked for the user's workspace volume.
    pub storage: Option<String>,
    /// CPU request.
    pub cpu_request: Option<String>,
    /// CPU limit.
    pub cpu_limit: Option<String>,
    /// Memory request.
    pub memory_request: Option<String>,
    /// Memory limit.
    pub memory_limit: Option<String>,
    /// Names of the extra environment variables (values are not shown).
    pub env: Vec<String>,
    /// When it was created (RFC 3339, UTC), if known.
    pub created_at: Option<String>,
    /// Who besides its owner (and admins) may open it.
    #[serde(default)]
    pub shared_with: SharedWith,
}

/// Who besides an instance's owner may open it: user ids, and group names exactly
/// as the identity provider sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SharedWith {
    /// User ids.
    pub users: Vec<String>,
    /// Group names.
    pub groups: Vec<String>,
}

/// `201` answer to `POST /api/instances`: the instance and its access token, which
/// is shown this once and never again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedInstance {
    /// The instance.
    #[serde(flatten)]
    pub instance: Instance,
    /// 256-bit token, hex. Open `url?tkn=<access_token>` once; a cookie takes over.
    pub access_token: String,
    /// Settings the runtime accepted but does not apply (e.g. images in local mode).
    pub warnings: Vec<String>,
}

/// `GET /api/instances` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceList {
    /// The instances, repository workspaces included, sorted by id.
    pub instances: Vec<Instance>,
}

/// `GET /api/status` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceStatus {
    /// Its id.
    pub instance_id: String,
    /// Lifecycle phase.
    pub phase: Phase,
    /// Whether it serves requests now.
    pub ready: bool,
    /// Why it failed, or what it is waiting for.
    pub reason: Option<String>,
    /// Last client activity seen by this proxy (RFC 3339, UTC), if any.
    pub last_activity: Option<String>,
    /// When it will be stopped if left idle (RFC 3339, UTC), while running.
    pub idle_stop_at: Option<String>,
    /// The idle timeout, seconds.
    pub idle_timeout_seconds: u64,
    /// How far its start is (phase, clone figures, a failure's reason and hint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<super::Progress>,
    /// Why it runs or when it stops, as its launcher says (while running and
    /// answering): last input, work, open connections, stop time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<super::IdleReport>,
}

/// `GET /api/workspaces/{user_id}` answer: the user's persistent volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkspaceVolume {
    /// Whose volume.
    pub user_id: String,
    /// Its name (a PVC in Knative mode, a directory in local mode).
    pub volume: String,
    /// Whether it exists yet (it is made on the first start).
    pub exists: bool,
    /// Bytes used, where the runtime can tell.
    pub used_bytes: Option<u64>,
    /// Capacity, as a quantity (e.g. `10Gi`), where the runtime sets one.
    pub capacity: Option<String>,
    /// Ids of the instances using it.
    pub instances: Vec<String>,
}

/// `GET /api/me` answer: who the caller is, as the proxy sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// The stable user id workspaces are owned by.
    pub user_id: String,
    /// The name shown to people.
    pub username: String,
    /// Group memberships.
    pub groups: Vec<String>,
    /// Whether the caller may act for other users (member of an admin group, or
    /// the single local user of `--auth none`).
    pub admin: bool,
}

/// Every error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    /// A stable code: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `payload_too_large`, `unsupported_media_type`, `validation_failed`, …
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
    /// Field-level problems (for `validation_failed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}
