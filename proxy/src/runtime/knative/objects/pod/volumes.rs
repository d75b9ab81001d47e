//! The pod's volumes: the user's and the workspace's claims, the launcher's and the
//! checkout's `emptyDir`s, the hop and credentials Secrets, the git token Secret
//! (mounted into the `checkout` and `history` containers only) and the extra CA
//! certificates.

use dcs_model::names::user_volume_name;
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EmptyDirVolumeSource, KeyToPath, PersistentVolumeClaimVolumeSource,
    SecretVolumeSource, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::super::{credentials_secret_name, git_secret_name, hop_secret_name};
use super::EXTRA_CA_FILE;
use crate::runtime::knative::config::{CaSource, KnativeConfig};
use crate::runtime::WorkspaceSpec;

fn empty_dir(name: &str, size: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity(size.to_owned())),
            medium: None,
        }),
        ..Volume::default()
    }
}

/// Every volume of `spec`'s pod.
pub(super) fn volumes(cfg: &KnativeConfig, spec: &WorkspaceSpec) -> Vec<Volume> {
    let pvc = |name: &str, claim: String| Volume {
        name: name.to_owned(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim,
            read_only: Some(false),
        }),
        ..Volume::default()
    };
    let mut volumes = vec![
        pvc("workspaces", user_volume_name(&spec.key.user).to_string()),
        pvc("home", spec.key.name().to_string()),
        empty_dir("launcher", "256Mi"),
        empty_dir("checkout", "16Mi"),
        // Readable by the workspace user (fsGroup), by nobody else.
        Volume {
            name: "hop".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(hop_secret_name(&spec.key).to_string()),
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "credentials".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(credentials_secret_name(&spec.key.user).to_string()),
                default_mode: Some(0o440),
                optional: Some(true),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
    ];
    if cfg.launcher.git_token_file.is_some() {
        volumes.push(Volume {
            name: "git-token".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(git_secret_name(&spec.key.user).to_string()),
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    if let Some(ca) = &cfg.extra_ca {
        // Only the bundle's key, as a fixed file name; readable by the workspace user.
        let items = Some(vec![KeyToPath {
            key: ca.key.clone(),
            path: EXTRA_CA_FILE.to_owned(),
            mode: None,
        }]);
        let mut volume = Volume {
            name: "extra-ca".to_owned(),
            ..Volume::default()
        };
        match &ca.source {
            CaSource::Secret(name) => {
                volume.secret = Some(SecretVolumeSource {
                    secret_name: Some(name.clone()),
                    items,
                    default_mode: Some(0o444),
                    ..SecretVolumeSource::default()
                });
            }
            CaSource::ConfigMap(name) => {
                volume.config_map = Some(ConfigMapVolumeSource {
                    name: name.clone(),
                    items,
                    default_mode: Some(0o444),
                    ..ConfigMapVolumeSource::default()
                });
            }
        }
        volumes.push(volume);
    }
    volumes
}
