//! The Secrets a workspace mounts besides the git token's (see the parent module):
//!
//! - per workspace, its **hop Secret** (`hop-<slug>-<hash>`): the workspace's hop
//!   credential, mounted read-only into the workspace container only, named by
//!   `DCS_HOP_SECRET_FILE`. Re-applied at every start, so a rotated proxy secret
//!   reaches the workspace at its next start.
//! - per user, their **credentials Secret** (`cred-<slug>-<hash>`): the user's own
//!   git credentials ([`CredentialFile`] as JSON), written by the management API,
//!   mounted (optional: it may not exist yet) read-only into that user's workspace
//!   containers, named by `DCS_CREDENTIALS_FILE`; the kubelet refreshes the mounted
//!   file, so a change reaches running workspaces.

use std::collections::BTreeMap;

use dcs_model::credentials::CredentialFile;
use dcs_model::names::safe_name;
use dcs_model::{K8sName, UserId, WorkspaceKey};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;

use super::{identity_annotations, meta, user_labels};
use crate::hop::Credential;
use crate::runtime::knative::config::KnativeConfig;
use crate::runtime::WorkspaceSpec;

/// [`super::LABEL_NAME`] of a workspace's hop Secret.
pub const APP_HOP: &str = "dcs-hop";
/// [`super::LABEL_NAME`] of a user's credentials Secret.
pub const APP_CREDENTIALS: &str = "dcs-credentials";
/// The key of the credential in a hop Secret.
pub const HOP_KEY: &str = "credential";
/// The key of the JSON in a credentials Secret.
pub const CREDENTIALS_KEY: &str = "credentials.json";

/// The name of `key`'s hop Secret.
pub fn hop_secret_name(key: &WorkspaceKey) -> K8sName {
    safe_name("hop", &[key.name().as_str()])
}

/// The name of `user`'s credentials Secret.
pub fn credentials_secret_name(user: &UserId) -> K8sName {
    safe_name("cred", &[user.as_str()])
}

/// `spec`'s hop Secret holding `credential`.
pub fn hop_secret(cfg: &KnativeConfig, spec: &WorkspaceSpec, credential: &Credential) -> Secret {
    secret(
        cfg,
        &hop_secret_name(&spec.key),
        super::workspace_labels(APP_HOP, spec),
        super::workspace_annotations(spec),
        HOP_KEY,
        credential.expose().as_bytes().to_vec(),
    )
}

/// `user`'s credentials Secret holding `stored`.
pub fn credentials_secret(cfg: &KnativeConfig, user: &UserId, stored: &CredentialFile) -> Secret {
    let json = serde_json::to_vec(stored).unwrap_or_default();
    secret(
        cfg,
        &credentials_secret_name(user),
        user_labels(APP_CREDENTIALS, user),
        identity_annotations(user, None),
        CREDENTIALS_KEY,
        json,
    )
}

/// The credentials a credentials Secret holds (none if it holds none).
pub fn credentials_of(secret: &Secret) -> CredentialFile {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(CREDENTIALS_KEY))
        .and_then(|b| serde_json::from_slice(&b.0).ok())
        .unwrap_or_default()
}

fn secret(
    cfg: &KnativeConfig,
    name: &K8sName,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    key: &str,
    value: Vec<u8>,
) -> Secret {
    Secret {
        metadata: meta(cfg, name, labels, annotations),
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(key.to_owned(), ByteString(value))])),
        ..Secret::default()
    }
}
