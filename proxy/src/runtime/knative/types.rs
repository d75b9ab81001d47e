//! Typed Knative Serving objects (`serving.knative.dev/v1`): just the fields the
//! runtime writes or reads, as `kube::core::Object<Spec, Status>`.
//!
//! A revision template's spec is a Kubernetes `PodSpec` plus Knative's own
//! timeouts and concurrency, so [`RevisionSpec`] flattens k8s-openapi's
//! [`PodSpec`]: every pod field is typed by the upstream Kubernetes types.
//! Fields the runtime never reads are ignored when deserializing (the server's
//! answer carries defaults and status we do not model).

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::core::{ApiResource, GroupVersionKind, NotUsed, Object};
use serde::{Deserialize, Serialize};

/// The API group of Knative Serving.
pub const GROUP: &str = "serving.knative.dev";
/// The served version.
pub const VERSION: &str = "v1";

/// A Knative Service.
pub type Ksvc = Object<KsvcSpec, KsvcStatus>;
/// A Knative Revision; only its status is read.
pub type Revision = Object<NotUsed, RevisionStatus>;

/// The API resource of `services.serving.knative.dev`.
pub fn ksvc_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(GROUP, VERSION, "Service"),
        "services",
    )
}

/// The API resource of `revisions.serving.knative.dev`.
pub fn revision_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(GROUP, VERSION, "Revision"),
        "revisions",
    )
}

/// `Service.spec`: only the template (all traffic goes to the latest revision).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KsvcSpec {
    /// The template every revision is stamped from.
    #[serde(default)]
    pub template: RevisionTemplate,
}

/// `spec.template`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RevisionTemplate {
    /// Labels and annotations of each revision (and its pods); a Service made by
    /// hand may have none.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The revision's pod spec and Knative settings.
    #[serde(default)]
    pub spec: RevisionSpec,
}

/// `spec.template.spec`: a pod spec plus Knative's request settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionSpec {
    /// Concurrent requests per pod; 0 = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_concurrency: Option<i64>,
    /// Longest request (WebSockets included), seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// Longest wait for a response's first byte, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_start_timeout_seconds: Option<i64>,
    /// Longest silence on a request, seconds; 0 = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_seconds: Option<i64>,
    /// The pod spec (Knative allows a subset, see `config-features`).
    #[serde(flatten)]
    pub pod: PodSpec,
}

/// `Service.status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KsvcStatus {
    /// `Ready`, `ConfigurationsReady`, `RoutesReady`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation the controller last saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The route's URL (`http://<name>.<ns>.svc.cluster.local` when cluster-local).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The newest revision that became ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_ready_revision_name: Option<String>,
    /// The newest revision created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_created_revision_name: Option<String>,
}

/// `Revision.status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionStatus {
    /// `Ready`, `Active` (False with reason `NoTraffic` = scaled to zero), …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Pods running now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_replicas: Option<i32>,
    /// Pods wanted by the autoscaler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_replicas: Option<i32>,
}

/// A Knative condition (`knative.dev/pkg/apis.Condition`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`, `Active`, …
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// One-word reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the condition last changed status (Knative sets it on every one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

/// The name of `ksvc`'s latest created revision, if it has one.
pub fn latest_created(ksvc: &Ksvc) -> Option<&str> {
    ksvc.status
        .as_ref()?
        .latest_created_revision_name
        .as_deref()
}

/// The condition of type `type_`, if present.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}
