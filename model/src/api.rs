//! Management API request and response types, and request validation. Validation
//! collects every problem as a [`FieldError`] so the API can answer one 422 listing
//! them all. The proxy serves these types and the `dcs` CLI reads them, so both
//! agree by construction; with the `openapi` feature they describe themselves for
//! the OpenAPI document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::env::IDE_KINDS;
use crate::{ImageRef, InstanceSpec, Quantity, RepoRef, UserId};

/// `POST /api/instances` body. Unknown fields are rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateInstance {
    /// Whose instance (default: the caller; others need an admin group).
    pub user_id: Option<String>,
    /// Repository to check out, `owner/repo`.
    pub repo: Option<String>,
    /// Container image the workspace runs in.
    pub base_image: Option<String>,
    /// IDE kind.
    pub ide: Option<String>,
    /// IDE version (`vscode_version` is accepted as an alias).
    #[serde(alias = "vscode_version")]
    pub ide_version: Option<String>,
    /// Size of the user's workspace volume.
    pub storage: Option<String>,
    /// CPU request.
    pub cpu_request: Option<String>,
    /// CPU limit.
    pub cpu_limit: Option<String>,
    /// Memory request.
    pub memory_request: Option<String>,
    /// Memory limit.
    pub memory_limit: Option<String>,
    /// Extra environment variables for the workspace.
    pub env: Option<BTreeMap<String, String>>,
}

/// One field's problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The field (`env.FOO` for an env entry).
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// Upper bounds set by the operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    /// Largest CPU limit, cores.
    pub max_cpu: f64,
    /// Largest memory limit, bytes.
    pub max_memory: f64,
    /// Largest volume, bytes.
    pub max_storage: f64,
    /// Most env entries.
    pub max_env: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            max_cpu: 8.0,
            max_memory: 32.0 * GIB,
            max_storage: 200.0 * GIB,
            max_env: 64,
        }
    }
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Validated resources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// Volume size.
    pub storage: Option<Quantity>,
    /// CPU request.
    pub cpu_request: Option<Quantity>,
    /// CPU limit.
    pub cpu_limit: Option<Quantity>,
    /// Memory request.
    pub memory_request: Option<Quantity>,
    /// Memory limit.
    pub memory_limit: Option<Quantity>,
}

/// A validated [`CreateInstance`]: whose, and what it runs (the spec's token hash
/// and creation time are left for the API to fill in).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRequest {
    /// Explicit owner, if given.
    pub user: Option<UserId>,
    /// What the instance runs.
    pub spec: InstanceSpec,
}

impl CreateInstance {
    /// Checks every field against its rules and `bounds`.
    pub fn validate(&self, bounds: &Bounds) -> Result<InstanceRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.to_owned(),
                message,
            })
        };
        let user = opt(&self.user_id, UserId::new)
            .map_err(|e| fail("user_id", e.to_string()))
            .ok()
            .flatten();
        let repo = opt(&self.repo, RepoRef::parse)
            .map_err(|e| fail("repo", e.to_string()))
            .ok()
            .flatten();
        let base_image = opt(&self.base_image, ImageRef::parse)
            .map_err(|e| fail("base_image", e.to_string()))
            .ok()
            .flatten();
        if let Some(ide) = &self.ide {
            if !IDE_KINDS.contains(&ide.as_str()) {
                fail(
                    "ide",
                    format!("unknown IDE kind; choose one of: {}", IDE_KINDS.join(", ")),
                );
            }
        }
        if let Some(v) = &self.ide_version {
            let ok = !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                fail(
                    "ide_version",
                    "a version is 1 to 64 letters, digits, '.', '_' or '-'".into(),
                );
            }
        }
        let mut quantity =
            |field: &str, value: &Option<String>, max: f64, unit: &str| -> Option<Quantity> {
                let q = match value.as_deref().map(Quantity::parse)? {
                    Ok(q) => q,
                    Err(e) => {
                        fail(field, e.to_string());
                        return None;
                    }
                };
                if q.value() > max {
                    fail(
                        field,
                        format!(
                            "{q} is more than the allowed maximum of {}",
                            human(max, unit)
                        ),
                    );
                }
                Some(q)
            };
        let resources = Resources {
            storage: quantity("storage", &self.storage, bounds.max_storage, "B"),
            cpu_request: quantity("cpu_request", &self.cpu_request, bounds.max_cpu, "cores"),
            cpu_limit: quantity("cpu_limit", &self.cpu_limit, bounds.max_cpu, "cores"),
            memory_request: quantity(
                "memory_request",
                &self.memory_request,
                bounds.max_memory,
                "B",
            ),
            memory_limit: quantity("memory_limit", &self.memory_limit, bounds.max_memory, "B"),
        };
        for (req, lim, field) in [
            (&resources.cpu_request, &resources.cpu_limit, "cpu_request"),
            (
                &resources.memory_request,
                &resources.memory_limit,
                "memory_request",
            ),
        ] {
            if let (Some(r), Some(l)) = (req, lim) {
                if r.value() > l.value() {
                    fail(field, format!("the request {r} is more than the limit {l}"));
                }
            }
        }
        let env = self.env.clone().unwrap_or_default();
        if env.len() > bounds.max_env {
            fail("env", format!("at most {} variables", bounds.max_env));
        }
        for (name, value) in &env {
            if let Err(why) = check_env(name, value) {
                fail(
                    &format!("env.{}", crate::error::shown(name).trim_matches('"')),
                    why.to_owned(),
                );
            }
        }
        if errors.is_empty() {
            Ok(InstanceRequest {
                user,
                spec: InstanceSpec {
                    repo,
                    base_image,
                    ide: self.ide.clone(),
                    ide_version: self.ide_version.clone(),
                    resources,
                    env,
                    ..InstanceSpec::default()
                },
            })
        } else {
            Err(errors)
        }
    }
}

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

fn opt<T, E>(value: &Option<String>, parse: impl Fn(&str) -> Result<T, E>) -> Result<Option<T>, E> {
    value.as_deref().map(parse).transpose()
}

fn check_env(name: &str, value: &str) -> Result<(), &'static str> {
    if !crate::instance::is_env_name(name) {
        return Err(
            "a variable name is letters, digits and '_', not starting with a digit (at most 128)",
        );
    }
    if name.starts_with("DCS_") {
        return Err("DCS_* variables are reserved for the launcher");
    }
    if crate::instance::RESERVED_ENV.contains(&name) {
        return Err("HOME, PORT, K_SERVICE, K_CONFIGURATION and K_REVISION are set by the runtime");
    }
    if value.len() > 32 * 1024 || value.contains('\0') {
        return Err("a value is at most 32 KiB and has no NUL byte");
    }
    Ok(())
}

fn human(value: f64, unit: &str) -> String {
    if unit == "B" && value >= GIB {
        format!("{}Gi", value / GIB)
    } else {
        format!("{value} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(req: CreateInstance) -> Vec<String> {
        req.validate(&Bounds::default())
            .expect_err("invalid")
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_full_valid_request_passes() {
        let json = r#"{"repo":"acme/hello","base_image":"mcr.microsoft.com/devcontainers/python:1-3.12",
            "vscode_version":"1.96.0","storage":"20Gi","cpu_request":"500m","cpu_limit":"2",
            "memory_request":"1Gi","memory_limit":"4Gi","env":{"FOO":"bar"}}"#;
        let req: CreateInstance = serde_json::from_str(json).expect("parses");
        let ok = req.validate(&Bounds::default()).expect("valid");
        assert_eq!(ok.spec.ide_version.as_deref(), Some("1.96.0"));
        assert_eq!(ok.spec.resources.cpu_limit.expect("cpu").value(), 2.0);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<CreateInstance>(r#"{"reppo":"a/b"}"#).is_err());
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let req = CreateInstance {
            user_id: Some("../x".into()),
            repo: Some("nope".into()),
            base_image: Some("Ubuntu:LATEST!".into()),
            ide: Some("emacs".into()),
            ide_version: Some("1 0".into()),
            storage: Some("10TB".into()),
            cpu_request: Some("4".into()),
            cpu_limit: Some("2".into()),
            memory_limit: Some("1Ti".into()),
            env: Some(BTreeMap::from([
                ("1BAD".into(), "x".into()),
                ("DCS_REPO".into(), "x".into()),
                ("PORT".into(), "1".into()),
            ])),
            ..Default::default()
        };
        let got = fields(req);
        for want in [
            "user_id",
            "repo",
            "base_image",
            "ide",
            "ide_version",
            "storage",
            "cpu_request",
            "memory_limit",
            "env.1BAD",
            "env.DCS_REPO",
            "env.PORT",
        ] {
            assert!(got.iter().any(|f| f == want), "{want} missing from {got:?}");
        }
    }

    #[test]
    fn bounds_are_enforced() {
        let req = CreateInstance {
            cpu_limit: Some("64".into()),
            ..Default::default()
        };
        let errs = req.validate(&Bounds::default()).expect_err("too big");
        assert!(errs[0].message.contains("maximum of 8 cores"), "{errs:?}");
    }
}
