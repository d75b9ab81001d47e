//! Instances: [`InstanceId`], the public handle of a workspace in the management
//! API, and [`InstanceSpec`], everything about a workspace beyond its key (image,
//! IDE, resources, extra environment, the hash of its access token).
//!
//! Explicit instances get ids `inst-<16 hex>` (random, made by the API); a
//! repository workspace's id is its object name (`ws-…`). Both are DNS-1035 labels,
//! so an id is also a safe object name and path segment.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::api::Resources;
use crate::error::shown;
use crate::names::K8sName;
use crate::{ImageRef, RepoRef, Sharing};

/// Prefix of the ids of explicit instances.
pub const INSTANCE_PREFIX: &str = "inst-";

/// A validated instance id: a DNS-1035 label (`[a-z]([-a-z0-9]*[a-z0-9])?`, ≤ 63).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstanceId(String);

/// Why an instance id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid instance id {shown}: an id is 1 to 63 lowercase letters, digits and '-', starting with a letter")]
pub struct InstanceIdError {
    shown: String,
}

impl InstanceId {
    /// Validates an id given by a client.
    pub fn parse(s: &str) -> Result<Self, InstanceIdError> {
        if K8sName::is_dns1035(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InstanceIdError { shown: shown(s) })
        }
    }

    /// The id of an explicit instance from 8 random bytes: `inst-<16 hex>`.
    pub fn from_random(bytes: [u8; 8]) -> Self {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("{INSTANCE_PREFIX}{hex}"))
    }

    /// The id of an object name (a repository workspace's id is its name).
    pub fn from_name(name: &K8sName) -> Self {
        Self(name.as_str().to_owned())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for InstanceId {
    type Error = InstanceIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<InstanceId> for String {
    fn from(id: InstanceId) -> Self {
        id.0
    }
}

/// What a workspace runs, beyond whose it is. Every field is optional: an empty
/// spec is a repository workspace with the operator's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceSpec {
    /// The repository checked out in it, if any.
    pub repo: Option<RepoRef>,
    /// The container image it runs in (the runtime's default if `None`).
    pub base_image: Option<ImageRef>,
    /// IDE kind (the runtime's default if `None`).
    pub ide: Option<String>,
    /// IDE version (the kind's pinned default if `None`).
    pub ide_version: Option<String>,
    /// Resources (the runtime's defaults where `None`).
    pub resources: Resources,
    /// Extra environment for the workspace (never `DCS_*`).
    pub env: BTreeMap<String, String>,
    /// Hex SHA-256 of the access token, for token-gated instances. The token
    /// itself is never stored.
    pub token_sha256: Option<String>,
    /// When it was created, seconds since the Unix epoch (0 if unknown).
    pub created_unix: u64,
    /// Who besides its owner (and admins) may open it.
    #[serde(skip_serializing_if = "Sharing::is_empty")]
    pub shared_with: Sharing,
}

impl InstanceSpec {
    /// The extra environment a runtime may apply: portable names (letters, digits
    /// and `_`, not starting with a digit), never `DCS_*` (the launcher's contract),
    /// values without NUL. The API refuses anything else; this filters defensively,
    /// so a record written by hand or by an older version cannot reach the launcher.
    pub fn extra_env(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.env
            .iter()
            .filter(|(name, value)| is_extra_env_name(name) && !value.contains('\0'))
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

/// Variables a workspace's extra environment may not set: the workspace's `HOME`
/// (its own volume), and those Knative sets itself and refuses in a Service.
pub const RESERVED_ENV: &[&str] = &["HOME", "PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"];

/// Whether `name` is well formed for an environment variable: letters, digits and
/// `_`, not starting with a digit, at most 128.
pub fn is_env_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Whether `name` may be set as extra workspace environment (see
/// [`InstanceSpec::extra_env`]): well formed, not `DCS_*`, not [`RESERVED_ENV`].
pub fn is_extra_env_name(name: &str) -> bool {
    is_env_name(name) && !name.starts_with("DCS_") && !RESERVED_ENV.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dns_labels() {
        assert!(InstanceId::parse("inst-0123456789abcdef").is_ok());
        assert!(InstanceId::parse("ws-alice-acme-hello-0011223344556677").is_ok());
        for bad in ["", "Inst-1", "1abc", "a_b", "a-", "../x", &"a".repeat(64)] {
            assert!(InstanceId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn random_ids_have_the_instance_prefix() {
        let id = InstanceId::from_random([0xab; 8]);
        assert_eq!(id.as_str(), "inst-abababababababab");
        assert!(InstanceId::parse(id.as_str()).is_ok());
    }

    #[test]
    fn extra_env_never_passes_the_launchers_contract_or_bad_names() {
        let spec = InstanceSpec {
            env: BTreeMap::from(
                [
                    ("FOO", "bar"),
                    ("_x1", "ok"),
                    ("DCS_REPO", "evil/repo"),
                    ("1BAD", "x"),
                    ("A=B", "x"),
                    ("", "x"),
                    ("NUL", "a\0b"),
                ]
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
            ),
            ..Default::default()
        };
        let got: Vec<(&str, &str)> = spec.extra_env().collect();
        assert_eq!(got, vec![("FOO", "bar"), ("_x1", "ok")]);
    }

    #[test]
    fn specs_round_trip_and_tolerate_missing_fields() {
        let spec: InstanceSpec = serde_json::from_str("{}").expect("empty spec");
        assert_eq!(spec, InstanceSpec::default());
        let full = InstanceSpec {
            repo: Some(RepoRef::parse("acme/hello").expect("repo")),
            base_image: Some(ImageRef::parse("ubuntu:24.04").expect("image")),
            token_sha256: Some("00".repeat(32)),
            created_unix: 7,
            ..Default::default()
        };
        let json = serde_json::to_string(&full).expect("serializes");
        assert_eq!(
            serde_json::from_str::<InstanceSpec>(&json).expect("parses"),
            full
        );
    }
}
