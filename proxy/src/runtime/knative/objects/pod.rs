//! The workspace's Knative Service: its revision template and pod spec.
//!
//! An init container from the launcher image copies the static `dcs-launcher` into
//! an `emptyDir`; a second, `checkout`, runs `dcs-launcher checkout` from the
//! launcher image: it clones or fetches into the user's volume with the operator's
//! git token — whose Secret is mounted into it and `history` only — and leaves its
//! outcome in a small `emptyDir` (progress: `kubectl logs <pod> -c checkout`, and
//! pushed to the proxy with the hop credential, for the progress page). The
//! main container is the chosen base image running `dcs-launcher run` on port 8080,
//! ready when `/_dcs/ready` says so; it reports the checkout's outcome as its own
//! and never sees the token. Beside it, the `history` container (launcher image,
//! the token too) fetches the rest of a shallow checkout's history
//! ([`history`]). The main container mounts the workspace's hop Secret (the credential
//! only the proxy's requests carry) and, optionally, the user's credentials Secret
//! (their own git credentials, offered through the launcher's credential helper). The
//! workspace's spec picks the base image and the CPU/memory figures (each falls
//! back to the configured one) and adds its extra environment after the launcher's
//! (never `DCS_*` nor `HOME`, which the pod sets). CA certificates the operator
//! names (`--knative-extra-ca-secret`/`-configmap`) are mounted read-only, one file,
//! named by `DCS_EXTRA_CA_FILE`. Every field
//! here must be allowed by Knative: the pod-spec features it needs are exactly
//! those the shipped `config-features` enables (a test derives them from this
//! object and the CRD's "behind a feature flag" notes).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, ContainerPort, EnvVar, HTTPGetAction, LocalObjectReference,
    PodAffinity, PodAffinityTerm, PodSecurityContext, PodSpec, Probe, ResourceRequirements,
    SeccompProfile, SecurityContext, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::Object;

use super::{
    checkout_env, launcher_env, user_label, workspace_annotations, workspace_labels, APP_WORKSPACE,
    LABEL_NAME, LABEL_VISIBILITY, SPEC_KEY, USER_KEY,
};
use crate::runtime::knative::config::{KnativeConfig, VolumeAccess};
use crate::runtime::knative::types::{
    ksvc_resource, Ksvc, KsvcSpec, RevisionSpec, RevisionTemplate,
};
use crate::runtime::WorkspaceSpec;

/// Where the user's workspace volume is mounted (the launcher's `DCS_WORKSPACES_DIR`).
pub const WORKSPACES_DIR: &str = "/workspaces";
/// Where the workspace's home volume is mounted; `HOME` points here.
pub const HOME_DIR: &str = "/home/dcs";
/// Where the init container puts the launcher.
pub const LAUNCHER_DIR: &str = "/opt/dcs/bin";
/// The launcher inside the launcher image.
pub const LAUNCHER_IN_IMAGE: &str = "/usr/local/bin/dcs-launcher";
/// Where the git token Secret is mounted (in the `checkout` and `history` containers
/// only).
pub const GIT_TOKEN_DIR: &str = "/var/run/secrets/dcs/git";
/// Where the workspace's hop Secret is mounted.
pub const HOP_DIR: &str = "/var/run/secrets/dcs/hop";
/// Where the user's credentials Secret is mounted.
pub const CREDENTIALS_DIR: &str = "/var/run/secrets/dcs/credentials";
/// Where the checkout's outcome is left (an `emptyDir`).
pub const CHECKOUT_DIR: &str = "/opt/dcs/checkout";
/// The outcome's file name in [`CHECKOUT_DIR`].
pub const OUTCOME_FILE: &str = "outcome.json";
/// Where the extra CA Secret or ConfigMap is mounted (one file, [`EXTRA_CA_FILE`]).
pub const EXTRA_CA_DIR: &str = "/var/run/secrets/dcs/ca";
/// The extra CA bundle's file name inside [`EXTRA_CA_DIR`], whatever its key.
pub const EXTRA_CA_FILE: &str = "ca.crt";
/// The one port Knative routes to.
pub const PORT: i32 = 8080;
mod history;
mod volumes;

use volumes::volumes;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

fn quantities(pairs: &[(&str, Option<&String>)]) -> Option<BTreeMap<String, Quantity>> {
    let map: BTreeMap<String, Quantity> = pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), Quantity(v.clone()))))
        .collect();
    (!map.is_empty()).then_some(map)
}

/// Non-root, no privilege escalation, no capabilities (allowed without flags).
fn container_security(cfg: &KnativeConfig) -> SecurityContext {
    SecurityContext {
        run_as_user: Some(cfg.run_as),
        run_as_group: Some(cfg.run_as),
        run_as_non_root: Some(true),
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(strings(&["ALL"])),
            add: None,
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            localhost_profile: None,
        }),
        ..SecurityContext::default()
    }
}

fn init_container(cfg: &KnativeConfig) -> Container {
    let target = format!("{LAUNCHER_DIR}/dcs-launcher");
    Container {
        name: "install-launcher".to_owned(),
        image: Some(cfg.launcher_image.clone()),
        command: Some(vec!["cp".to_owned(), LAUNCHER_IN_IMAGE.to_owned(), target]),
        volume_mounts: Some(vec![mount("launcher", LAUNCHER_DIR, false)]),
        resources: Some(ResourceRequirements {
            requests: quantities(&[
                ("cpu", Some(&"10m".to_owned())),
                ("memory", Some(&"16Mi".to_owned())),
            ]),
            limits: quantities(&[("memory", Some(&"64Mi".to_owned()))]),
            ..ResourceRequirements::default()
        }),
        security_context: Some(container_security(cfg)),
        ..Container::default()
    }
}

fn env_vars(env: &dcs_model::LauncherEnv) -> Vec<EnvVar> {
    env.to_vars()
        .into_iter()
        .map(|(name, value)| EnvVar {
            name: name.to_owned(),
            value: Some(value),
            value_from: None,
        })
        .collect()
}

/// `dcs-launcher checkout` from the launcher image: the only container with the
/// git token. Sized like the workspace (the pod's request is the larger of its
/// init containers and the sum of its containers, so this costs nothing more).
fn checkout_container(
    cfg: &KnativeConfig,
    spec: &WorkspaceSpec,
    resources: ResourceRequirements,
) -> Container {
    let mut mounts = vec![
        mount("workspaces", WORKSPACES_DIR, false),
        mount("checkout", CHECKOUT_DIR, false),
        // The clone's progress is pushed to the proxy with the hop credential.
        mount("hop", HOP_DIR, true),
    ];
    if cfg.launcher.git_token_file.is_some() {
        mounts.push(mount("git-token", GIT_TOKEN_DIR, true));
    }
    if cfg.extra_ca.is_some() {
        mounts.push(mount("extra-ca", EXTRA_CA_DIR, true));
    }
    Container {
        name: "checkout".to_owned(),
        image: Some(cfg.launcher_image.clone()),
        command: Some(vec![LAUNCHER_IN_IMAGE.to_owned(), "checkout".to_owned()]),
        working_dir: Some(WORKSPACES_DIR.to_owned()),
        env: Some(env_vars(&checkout_env(cfg, spec))),
        resources: Some(resources),
        security_context: Some(container_security(cfg)),
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

fn main_container(cfg: &KnativeConfig, spec: &WorkspaceSpec) -> Container {
    let mut env = env_vars(&launcher_env(cfg, spec));
    env.push(EnvVar {
        name: "HOME".to_owned(),
        value: Some(HOME_DIR.to_owned()),
        value_from: None,
    });
    // The workspace's own variables, after the pod's; a name set already is
    // skipped (server-side apply refuses duplicate entries in a keyed list);
    // Knative's own are never extra env (`dcs_model::instance::RESERVED_ENV`).
    for (name, value) in spec.instance.extra_env() {
        if env.iter().all(|e| e.name != name) {
            env.push(EnvVar {
                name: name.to_owned(),
                value: Some(value.to_owned()),
                value_from: None,
            });
        }
    }
    let mut mounts = vec![
        mount("workspaces", WORKSPACES_DIR, false),
        mount("home", HOME_DIR, false),
        mount("launcher", LAUNCHER_DIR, true),
        mount("checkout", CHECKOUT_DIR, true),
        mount("hop", HOP_DIR, true),
        mount("credentials", CREDENTIALS_DIR, true),
    ];
    if cfg.extra_ca.is_some() {
        mounts.push(mount("extra-ca", EXTRA_CA_DIR, true));
    }
    let image = spec
        .instance
        .base_image
        .as_ref()
        .map_or_else(|| cfg.base_image.clone(), |i| i.as_str().to_owned());
    Container {
        name: "workspace".to_owned(),
        image: Some(image),
        command: Some(vec![
            format!("{LAUNCHER_DIR}/dcs-launcher"),
            "run".to_owned(),
        ]),
        working_dir: Some(WORKSPACES_DIR.to_owned()),
        ports: Some(vec![ContainerPort {
            container_port: PORT,
            ..ContainerPort::default()
        }]),
        env: Some(env),
        readiness_probe: Some(Probe {
            // Knative probes only the container port; name it (0 would mean "unset").
            http_get: Some(HTTPGetAction {
                path: Some(dcs_model::plumbing::READY.to_owned()),
                port: IntOrString::Int(PORT),
                ..HTTPGetAction::default()
            }),
            ..Probe::default()
        }),
        resources: Some(workspace_resources(cfg, spec)),
        security_context: Some(container_security(cfg)),
        // A failed start ends the launcher with its reason as the termination
        // message (`dcs_launcher::failed_start`); its last log lines stand in.
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

/// The workspace's CPU and memory: the spec's figures, else the configured ones.
fn workspace_resources(cfg: &KnativeConfig, spec: &WorkspaceSpec) -> ResourceRequirements {
    let r = &cfg.resources;
    let want = &spec.instance.resources;
    let pick = |asked: &Option<dcs_model::Quantity>, configured: &String| {
        asked
            .as_ref()
            .map_or_else(|| configured.clone(), |q| q.as_str().to_owned())
    };
    let cpu_request = pick(&want.cpu_request, &r.cpu_request);
    let memory_request = pick(&want.memory_request, &r.memory_request);
    let memory_limit = pick(&want.memory_limit, &r.memory_limit);
    let cpu_limit = want
        .cpu_limit
        .as_ref()
        .map(|q| q.as_str().to_owned())
        .or_else(|| r.cpu_limit.clone());
    ResourceRequirements {
        requests: quantities(&[
            ("cpu", Some(&cpu_request)),
            ("memory", Some(&memory_request)),
        ]),
        limits: quantities(&[("cpu", cpu_limit.as_ref()), ("memory", Some(&memory_limit))]),
        ..ResourceRequirements::default()
    }
}

/// With a ReadWriteOnce user volume, all of a user's workspace pods must share a
/// node: the volume attaches to one node at a time.
fn same_node_as_user(cfg: &KnativeConfig, spec: &WorkspaceSpec) -> Option<Affinity> {
    (cfg.volume_access == VolumeAccess::ReadWriteOnce).then(|| Affinity {
        pod_affinity: Some(PodAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                label_selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([
                        (LABEL_NAME.to_owned(), APP_WORKSPACE.to_owned()),
                        (USER_KEY.to_owned(), user_label(&spec.key.user)),
                    ])),
                    match_expressions: None,
                }),
                topology_key: "kubernetes.io/hostname".to_owned(),
                ..PodAffinityTerm::default()
            }]),
            preferred_during_scheduling_ignored_during_execution: None,
        }),
        ..Affinity::default()
    })
}

/// The workspace's Knative Service.
pub fn ksvc(cfg: &KnativeConfig, spec: &WorkspaceSpec) -> Ksvc {
    let key = &spec.key;
    let name = key.name().to_string();
    let labels = workspace_labels(APP_WORKSPACE, spec);
    let mut ksvc_labels = labels.clone();
    ksvc_labels.insert(LABEL_VISIBILITY.to_owned(), "cluster-local".to_owned());
    let template_annotations = BTreeMap::from([
        (
            "autoscaling.knative.dev/min-scale".to_owned(),
            "0".to_owned(),
        ),
        (
            "autoscaling.knative.dev/max-scale".to_owned(),
            "1".to_owned(),
        ),
        (
            "autoscaling.knative.dev/initial-scale".to_owned(),
            "1".to_owned(),
        ),
        (
            "serving.knative.dev/progress-deadline".to_owned(),
            format!("{}s", cfg.progress_deadline_secs),
        ),
    ]);
    let pod = PodSpec {
        init_containers: Some(vec![
            init_container(cfg),
            checkout_container(cfg, spec, workspace_resources(cfg, spec)),
        ]),
        containers: [
            Some(main_container(cfg, spec)),
            history::container(cfg, spec),
        ]
        .into_iter()
        .flatten()
        .collect(),
        volumes: Some(volumes(cfg, spec)),
        security_context: Some(PodSecurityContext {
            fs_group: Some(cfg.run_as),
            ..PodSecurityContext::default()
        }),
        affinity: same_node_as_user(cfg, spec),
        enable_service_links: Some(false),
        automount_service_account_token: Some(false),
        image_pull_secrets: cfg
            .image_pull_secret
            .as_ref()
            .map(|s| vec![LocalObjectReference { name: s.clone() }]),
        ..PodSpec::default()
    };
    let mut ksvc = Object::new(
        &name,
        &ksvc_resource(),
        KsvcSpec {
            template: RevisionTemplate {
                metadata: ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(template_annotations),
                    ..ObjectMeta::default()
                },
                spec: RevisionSpec {
                    container_concurrency: Some(0),
                    timeout_seconds: Some(cfg.request_timeout_secs),
                    response_start_timeout_seconds: Some(cfg.request_timeout_secs),
                    idle_timeout_seconds: Some(0),
                    pod,
                },
            },
        },
    );
    ksvc.metadata.namespace = Some(cfg.namespace.clone());
    ksvc.metadata.labels = Some(ksvc_labels);
    let mut annotations = workspace_annotations(spec);
    // Serializing a spec of strings and numbers cannot fail; were it to, the
    // workspace still runs and reads back with the default spec.
    if let Ok(json) = serde_json::to_string(&spec.instance) {
        annotations.insert(SPEC_KEY.to_owned(), json);
    }
    ksvc.metadata.annotations = Some(annotations);
    ksvc
}
