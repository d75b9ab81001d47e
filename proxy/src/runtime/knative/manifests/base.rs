//! Cluster-side objects of the base: namespaces, RBAC and the Knative
//! configuration patches (the network policies are in `policies`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{doc, file, PROXY_NAME, PROXY_NAMESPACE, WORKSPACES_NAMESPACE};
use crate::runtime::knative::api::API_USAGE;

/// The `config-features` flags the workspace pod spec needs, each `enabled`.
/// A test derives the needed set from the built Knative Service and compares.
pub const FEATURES: &[&str] = &[
    "kubernetes.podspec-affinity",
    "kubernetes.podspec-init-containers",
    "kubernetes.podspec-persistent-volume-claim",
    "kubernetes.podspec-persistent-volume-write",
    "kubernetes.podspec-securitycontext",
    "kubernetes.podspec-volumes-emptydir",
];

/// `max-revision-timeout-seconds`: the ceiling of `--knative-request-timeout`.
pub const MAX_REVISION_TIMEOUT_SECS: i64 = 3600;

/// Labels every object of ours carries.
pub(super) fn labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), name.to_owned()),
        ("app.kubernetes.io/part-of".to_owned(), "dcs".to_owned()),
    ])
}

pub(super) fn meta(name: &str, namespace: Option<&str>, app: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(labels(app)),
        ..ObjectMeta::default()
    }
}

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The proxy's namespace (Pod Security `restricted`) and the workspaces' one
/// (`baseline` enforced, `restricted` warned: Knative's sidecar is not ours).
pub fn namespaces() -> Vec<Namespace> {
    let ns = |name: &str, enforce: &str| {
        let mut m = meta(name, None, "dcs");
        let labels = m.labels.get_or_insert_with(BTreeMap::new);
        labels.insert("pod-security.kubernetes.io/enforce".into(), enforce.into());
        labels.insert(
            "pod-security.kubernetes.io/warn".into(),
            "restricted".into(),
        );
        Namespace {
            metadata: m,
            ..Namespace::default()
        }
    };
    vec![
        ns(PROXY_NAMESPACE, "restricted"),
        ns(WORKSPACES_NAMESPACE, "baseline"),
    ]
}

/// ServiceAccount, Role (in the workspace namespace, exactly [`API_USAGE`]) and
/// RoleBinding.
pub fn rbac() -> String {
    let sa = ServiceAccount {
        metadata: meta(PROXY_NAME, Some(PROXY_NAMESPACE), PROXY_NAME),
        ..ServiceAccount::default()
    };
    let role = Role {
        metadata: meta(PROXY_NAME, Some(WORKSPACES_NAMESPACE), PROXY_NAME),
        rules: Some(
            API_USAGE
                .iter()
                .map(|(group, resource, verbs)| PolicyRule {
                    api_groups: Some(strings(&[group])),
                    resources: Some(strings(&[resource])),
                    verbs: strings(verbs),
                    ..PolicyRule::default()
                })
                .collect(),
        ),
    };
    let binding = RoleBinding {
        metadata: meta(PROXY_NAME, Some(WORKSPACES_NAMESPACE), PROXY_NAME),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: PROXY_NAME.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: PROXY_NAME.into(),
            namespace: Some(PROXY_NAMESPACE.into()),
            ..Subject::default()
        }]),
    };
    file(vec![doc(&sa), doc(&role), doc(&binding)])
}

/// A partial ConfigMap of `knative-serving` holding only `data`.
pub(super) fn knative_map(name: &str, data: &[(&str, String)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("knative-serving".to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        ),
        ..ConfigMap::default()
    }
}

/// Partial `config-features`, `config-defaults` and `config-autoscaler`.
pub fn knative_config() -> Vec<ConfigMap> {
    let features: Vec<(&str, String)> = FEATURES.iter().map(|f| (*f, "enabled".into())).collect();
    vec![
        knative_map("config-features", &features),
        knative_map(
            "config-defaults",
            &[(
                "max-revision-timeout-seconds",
                MAX_REVISION_TIMEOUT_SECS.to_string(),
            )],
        ),
        knative_map(
            "config-autoscaler",
            &[("enable-scale-to-zero", "true".into())],
        ),
    ]
}
