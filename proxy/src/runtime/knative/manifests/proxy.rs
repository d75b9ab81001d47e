//! The proxy itself: Deployment (2 replicas, non-root, read-only root filesystem,
//! probes, resources), Service, PodDisruptionBudget, and its site settings as a
//! generated ConfigMap (`base/proxy.env`).
//!
//! The hop secret (every workspace's hop credential derives from it) is the Secret
//! [`HOP_SECRET_NAME`] (key [`HOP_SECRET_KEY`]), mounted read-only (`0440`, group
//! the pod's fsGroup, which is the proxy's own uid) and named by
//! `DCS_PROXY_HOP_SECRET_FILE`. It is not part of the manifests (it must be random
//! and the same for every replica): `make deploy` creates it once, or
//! `kubectl -n dcs create secret generic dcs-hop --from-literal=secret="$(openssl
//! rand -hex 32)"`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapEnvSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvFromSource, EnvVar, HTTPGetAction, PodAffinityTerm, PodAntiAffinity, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecurityContext,
    Service, ServicePort, ServiceSpec, Volume, VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::base::{labels, meta};
use super::{doc, file, PROXY_NAME, PROXY_NAMESPACE, WORKSPACES_NAMESPACE};
use k8s_openapi::api::core::v1::SecretVolumeSource;

use crate::runtime::knative::config::{
    DEFAULT_BASE_IMAGE, DEFAULT_LAUNCHER_IMAGE, DEFAULT_PROXY_IMAGE,
};

/// The Secret holding the proxy's hop secret.
pub const HOP_SECRET_NAME: &str = "dcs-hop";
/// Its key.
pub const HOP_SECRET_KEY: &str = "secret";
/// Where it is mounted in the proxy.
pub const HOP_SECRET_DIR: &str = "/var/run/secrets/dcs/hop";

/// The name of the proxy's port for launchers' progress pushes (`--hop-listen`).
pub const HOP_PORT_NAME: &str = "hop";
/// Its number (the container's and the Service's; `DCS_PROXY_HOP_LISTEN` in
/// [`FIXED_ENV`] binds it, a test checks they agree).
pub const HOP_PORT: i32 = 8081;
/// The name of the proxy's scrape port (`--metrics-listen`, 9090).
pub const METRICS_PORT_NAME: &str = "metrics";

/// uid, gid and fsGroup of the proxy's pod. With the fsGroup the kubelet makes the
/// mounted Secrets' files group-readable by it (`root:65532`, `0440`).
pub const PROXY_UID: i64 = 65532;
/// Mode of the Secret files the proxy mounts: read by its group (the fsGroup) only.
pub const SECRET_MODE: i32 = 0o440;

/// Name of the ConfigMap generated from `proxy.env`.
pub const CONFIG_NAME: &str = "dcs-proxy-config";

/// Site settings shared by every install (`proxy.env`): each a `dcs-proxy serve`
/// flag's environment variable.
pub const COMMON_ENV: &[(&str, &str)] = &[
    ("DCS_PROXY_GIT_BASE", "https://github.com"),
    ("DCS_PROXY_IDE", "none"),
    ("DCS_PROXY_IDLE_TIMEOUT", "30m"),
    // The blueprint's admin group (authentik/blueprint.yaml): may act for others in /api.
    ("DCS_PROXY_ADMIN_GROUP", "dcs-admins"),
    ("DCS_PROXY_LOG", "info"),
    ("DCS_PROXY_KNATIVE_NAMESPACE", WORKSPACES_NAMESPACE),
    ("DCS_PROXY_KNATIVE_LAUNCHER_IMAGE", DEFAULT_LAUNCHER_IMAGE),
    ("DCS_PROXY_KNATIVE_BASE_IMAGE", DEFAULT_BASE_IMAGE),
    ("DCS_PROXY_KNATIVE_VOLUME_SIZE", "10Gi"),
    ("DCS_PROXY_KNATIVE_REQUEST_TIMEOUT", "1h"),
    // The Service's hop port (DCS_PROXY_HOP_LISTEN behind it).
    (
        "DCS_PROXY_KNATIVE_PROXY_URL",
        "http://dcs-proxy.dcs.svc.cluster.local:8081",
    ),
];

/// The default install's sign-in: the proxy asks the Authentik outpost itself.
pub const AUTHENTIK_ENV: &[(&str, &str)] = &[
    ("DCS_PROXY_AUTH", "authentik"),
    (
        "DCS_PROXY_AUTHENTIK_OUTPOST_URL",
        "http://ak-outpost-authentik-embedded-outpost.authentik.svc.cluster.local:9000",
    ),
    ("DCS_PROXY_PUBLIC_URL", "https://ide.example.com"),
];

/// Fixed settings of the container (not site choices).
pub const FIXED_ENV: &[(&str, &str)] = &[
    ("DCS_PROXY_LISTEN", "0.0.0.0:8080"),
    // Scraped on the pod's own port; the Service (and so the route) has only 8080.
    ("DCS_PROXY_METRICS_LISTEN", "0.0.0.0:9090"),
    // Launchers push their progress to a port of its own, the only one of the
    // proxy's that workspace pods may reach (the NetworkPolicy); they are told
    // where by DCS_PROXY_KNATIVE_PROXY_URL (a site setting: the Service's name).
    ("DCS_PROXY_HOP_LISTEN", "0.0.0.0:8081"),
    ("DCS_PROXY_RUNTIME", "knative"),
    ("DCS_PROXY_DATA_DIR", "/tmp/dcs"),
    (
        "DCS_PROXY_HOP_SECRET_FILE",
        "/var/run/secrets/dcs/hop/secret",
    ),
];

/// A `proxy.env`: the sign-in settings `auth`, then [`COMMON_ENV`].
pub fn env_file(auth: &[(&str, &str)]) -> String {
    let mut out = String::from(
        "# Site settings of dcs-proxy, one `dcs-proxy serve` flag's environment variable\n\
         # per line (see docs/operations.md). Generated by `dcs-proxy manifests`: sites\n\
         # override them in their own overlay (configMapGenerator, behavior: merge).\n",
    );
    for (k, v) in auth.iter().chain(COMMON_ENV) {
        out.push_str(&format!("{k}={v}\n"));
    }
    out
}

fn selector() -> BTreeMap<String, String> {
    BTreeMap::from([("app.kubernetes.io/name".to_owned(), PROXY_NAME.to_owned())])
}

fn http_probe(path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(10),
        ..Probe::default()
    }
}

fn container() -> Container {
    Container {
        name: "proxy".into(),
        image: Some(DEFAULT_PROXY_IMAGE.into()),
        image_pull_policy: Some("IfNotPresent".into()),
        args: Some(vec!["serve".into()]),
        env: Some(
            FIXED_ENV
                .iter()
                .map(|(k, v)| EnvVar {
                    name: (*k).into(),
                    value: Some((*v).into()),
                    value_from: None,
                })
                .collect(),
        ),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: CONFIG_NAME.into(),
                optional: None,
            }),
            ..EnvFromSource::default()
        }]),
        ports: Some(vec![
            ContainerPort {
                name: Some("http".into()),
                container_port: 8080,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some(HOP_PORT_NAME.into()),
                container_port: HOP_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some(METRICS_PORT_NAME.into()),
                container_port: 9090,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
        ]),
        readiness_probe: Some(http_probe("/readyz")),
        liveness_probe: Some(http_probe("/healthz")),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".into(), Quantity("100m".into())),
                ("memory".into(), Quantity("128Mi".into())),
            ])),
            limits: Some(BTreeMap::from([(
                "memory".into(),
                Quantity("512Mi".into()),
            )])),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: None,
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "tmp".into(),
                mount_path: "/tmp".into(),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "hop".into(),
                mount_path: HOP_SECRET_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
        ]),
        ..Container::default()
    }
}

fn deployment() -> Deployment {
    let pod = PodSpec {
        service_account_name: Some(PROXY_NAME.into()),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(PROXY_UID),
            run_as_group: Some(PROXY_UID),
            // Without it the Secrets' files are root:root and the proxy cannot
            // read its hop secret (`--hop-secret-file: Permission denied`).
            fs_group: Some(PROXY_UID),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        }),
        containers: vec![container()],
        volumes: Some(vec![
            Volume {
                name: "tmp".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            },
            Volume {
                name: "hop".into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(HOP_SECRET_NAME.into()),
                    items: Some(vec![k8s_openapi::api::core::v1::KeyToPath {
                        key: HOP_SECRET_KEY.into(),
                        path: HOP_SECRET_KEY.into(),
                        mode: None,
                    }]),
                    default_mode: Some(SECRET_MODE),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            },
        ]),
        // Spread the replicas over nodes when the cluster has several.
        affinity: Some(Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    WeightedPodAffinityTerm {
                        weight: 100,
                        pod_affinity_term: PodAffinityTerm {
                            label_selector: Some(LabelSelector {
                                match_labels: Some(selector()),
                                match_expressions: None,
                            }),
                            topology_key: "kubernetes.io/hostname".into(),
                            ..PodAffinityTerm::default()
                        },
                    },
                ]),
                required_during_scheduling_ignored_during_execution: None,
            }),
            ..Affinity::default()
        }),
        termination_grace_period_seconds: Some(30),
        ..PodSpec::default()
    };
    Deployment {
        metadata: meta(PROXY_NAME, Some(PROXY_NAMESPACE), PROXY_NAME),
        spec: Some(DeploymentSpec {
            replicas: Some(2),
            selector: LabelSelector {
                match_labels: Some(selector()),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(PROXY_NAME)),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

fn service() -> Service {
    Service {
        metadata: meta(PROXY_NAME, Some(PROXY_NAMESPACE), PROXY_NAME),
        spec: Some(ServiceSpec {
            selector: Some(selector()),
            ports: Some(vec![
                ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    target_port: Some(IntOrString::String("http".into())),
                    protocol: Some("TCP".into()),
                    ..ServicePort::default()
                },
                ServicePort {
                    name: Some(HOP_PORT_NAME.into()),
                    port: HOP_PORT,
                    target_port: Some(IntOrString::String(HOP_PORT_NAME.into())),
                    protocol: Some("TCP".into()),
                    ..ServicePort::default()
                },
            ]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn pdb() -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(PROXY_NAME, Some(PROXY_NAMESPACE), PROXY_NAME),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector()),
                match_expressions: None,
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    }
}

/// `base/proxy.yaml`.
pub fn objects() -> String {
    file(vec![doc(&deployment()), doc(&service()), doc(&pdb())])
}
