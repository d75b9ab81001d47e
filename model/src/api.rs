//! Management API request and response types, and request validation. Validation
//! collects every problem as a [`FieldError`] so the API can answer one 422 listing
//! them all. The proxy serves these types and the `dcs` CLI reads them, so both
//! agree by construction; with the `openapi` feature they describe themselves for
//! the OpenAPI document.
//!
//! This file holds the create request and its validation; the answers live in
//! [`views`] (re-exported here).

mod idle;
mod progress;
mod views;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use idle::{ActiveWork, ActivityBeacon, IdleReport, KeepaliveRequest, LastInput};
pub use progress::{Objects, Progress, StartPhase};
pub use views::*;

use crate::env::IDE_KINDS;
use crate::{ImageRef, InstanceSpec, Quantity, RepoRef, Sharing, UserId};

/// `POST /api/instances` body. Unknown fields are rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateInstance {
    /// Whose instance (default: the caller; others need an admin group).
    pub user_id: Option<String>,
    /// Repository to check out: `owner/repo`, or a link to it on the git base's
    /// server (read by the proxy as its home page reads one).
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
    /// Who besides the owner (and admins) may open it; nobody by default.
    pub shared_with: Option<SharedWith>,
}

/// `PATCH /api/instances/{id}` body: what to change. Unknown fields are rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PatchInstance {
    /// Replaces who besides the owner may open it (`{}` or empty lists: nobody).
    pub shared_with: Option<SharedWith>,
}

/// A validated [`PatchInstance`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstancePatch {
    /// The new sharing, when given.
    pub shared_with: Option<Sharing>,
}

impl PatchInstance {
    /// Checks every field.
    pub fn validate(&self) -> Result<InstancePatch, Vec<FieldError>> {
        let shared_with = self
            .shared_with
            .as_ref()
            .map(|s| Sharing::from_request(s, "shared_with"))
            .transpose()?;
        Ok(InstancePatch { shared_with })
    }
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
                if q.value() <= 0.0 {
                    // Kubernetes refuses a zero-size volume; a zero CPU or memory
                    // figure is a mistake too.
                    fail(field, format!("{q} must be more than 0"));
                } else if q.value() > max {
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
        let shared_with = match self
            .shared_with
            .as_ref()
            .map(|s| Sharing::from_request(s, "shared_with"))
        {
            Some(Ok(s)) => s,
            Some(Err(errs)) => {
                for e in errs {
                    fail(&e.field, e.message);
                }
                Sharing::default()
            }
            None => Sharing::default(),
        };
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
                    shared_with,
                    ..InstanceSpec::default()
                },
            })
        } else {
            Err(errors)
        }
    }
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
mod tests;
