//! The Kubernetes API calls of the Knative runtime, and nothing else (the
//! watches that keep the workspace cache current are in [`super::cache`]).
//!
//! Writes: Knative Services and Secrets by server-side apply (field manager
//! `dcs-proxy`, forced: the proxy owns these fields); a launcher's progress
//! annotation and a home volume's owner by JSON merge patch (never creates);
//! volumes by create-if-absent,
//! because a PVC's spec is immutable and a user's volume is never changed once made
//! (a changed size or class applies to new users). API errors are matched with
//! `Status::is_not_found()` / `is_already_exists()` / `is_conflict()`, never raw codes.
//! The RBAC Role shipped in `knative/` grants exactly the calls made here
//! ([`API_USAGE`]; a test checks it against the fake API server's log).

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::debug;

use super::objects::FIELD_MANAGER;
use super::types::{ksvc_resource, Ksvc};

/// What the proxy does with the API: `(API group, resource, verbs)`. The shipped
/// Role is generated from this table.
pub const API_USAGE: &[(&str, &str, &[&str])] = &[
    (
        "serving.knative.dev",
        "services",
        &["get", "list", "watch", "create", "patch", "delete"],
    ),
    ("serving.knative.dev", "revisions", &["list", "watch"]),
    (
        "",
        "persistentvolumeclaims",
        &["get", "create", "patch", "delete"],
    ),
    ("", "secrets", &["get", "create", "patch", "delete"]),
    ("", "pods", &["list"]),
];

/// A failed API call.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {kind} {name}: {source}")]
pub struct ApiError {
    /// `apply`, `get`, …
    pub op: &'static str,
    /// Kind of object.
    pub kind: &'static str,
    /// Object name or selector.
    pub name: String,
    /// The client's error.
    #[source]
    pub source: kube::Error,
}

/// `Result` of an API call.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.is_not_found())
}

fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.is_already_exists())
}

/// A create racing another one (two proxy replicas applying the same new object).
fn is_create_race(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.is_conflict() || s.is_already_exists())
}

/// What became of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Written.
    Done,
    /// Not written: the object changed since the version named.
    Stale,
    /// Not written: there is no such object.
    Gone,
}

/// The workspace namespace's API.
#[derive(Clone)]
pub struct KnativeApi {
    ksvcs: Api<Ksvc>,
    pvcs: Api<PersistentVolumeClaim>,
    secrets: Api<Secret>,
    pods: Api<Pod>,
}

impl KnativeApi {
    /// The API of `namespace` through `client`.
    pub fn new(client: Client, namespace: &str) -> Self {
        Self {
            ksvcs: Api::namespaced_with(client.clone(), namespace, &ksvc_resource()),
            pvcs: Api::namespaced(client.clone(), namespace),
            secrets: Api::namespaced(client.clone(), namespace),
            pods: Api::namespaced(client, namespace),
        }
    }

    /// Server-side applies a Knative Service.
    pub async fn apply_ksvc(&self, ksvc: &Ksvc) -> Result<Ksvc> {
        apply(
            &self.ksvcs,
            "Knative Service",
            name_of(&ksvc.metadata),
            ksvc,
        )
        .await
    }

    /// Server-side applies a Secret.
    pub async fn apply_secret(&self, secret: &Secret) -> Result<()> {
        apply(&self.secrets, "Secret", name_of(&secret.metadata), secret)
            .await
            .map(drop)
    }

    /// Creates a volume unless it exists; an existing one is left exactly as it is.
    pub async fn create_pvc(&self, pvc: &PersistentVolumeClaim) -> Result<()> {
        let name = name_of(&pvc.metadata);
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PostParams::default()
        };
        match self.pvcs.create(&params, pvc).await {
            Ok(_) => Ok(()),
            Err(e) if is_already_exists(&e) => {
                debug!(pvc = name, "volume exists");
                Ok(())
            }
            Err(source) => Err(err("create", "PersistentVolumeClaim", name, source)),
        }
    }

    /// A Knative Service, or `None` if there is none.
    pub async fn get_ksvc(&self, name: &str) -> Result<Option<Ksvc>> {
        get(&self.ksvcs, "Knative Service", name).await
    }

    /// A volume, or `None` if there is none.
    pub async fn get_pvc(&self, name: &str) -> Result<Option<PersistentVolumeClaim>> {
        get(&self.pvcs, "PersistentVolumeClaim", name).await
    }

    /// Sets (`Some`) or removes (`None`) one annotation of an existing Knative
    /// Service by JSON merge patch, which never creates: `None` if there is no
    /// such Service.
    pub async fn annotate_ksvc(
        &self,
        name: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<Option<Ksvc>> {
        let patch = serde_json::json!({"metadata": {"annotations": {key: value}}});
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        match self.ksvcs.patch(name, &params, &Patch::Merge(&patch)).await {
            Ok(ksvc) => Ok(Some(ksvc)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(source) => Err(err("patch", "Knative Service", name, source)),
        }
    }

    /// [`KnativeApi::annotate_ksvc`] only if the Service is still at the
    /// `resourceVersion` `version` (the API server's optimistic concurrency).
    pub async fn annotate_ksvc_at(
        &self,
        name: &str,
        version: &str,
        key: &str,
        value: &str,
    ) -> Result<Written> {
        let patch = serde_json::json!({
            "metadata": {"resourceVersion": version, "annotations": {key: value}}
        });
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        match self.ksvcs.patch(name, &params, &Patch::Merge(&patch)).await {
            Ok(_) => Ok(Written::Done),
            Err(e) if is_not_found(&e) => Ok(Written::Gone),
            Err(kube::Error::Api(s)) if s.is_conflict() => Ok(Written::Stale),
            Err(source) => Err(err("patch", "Knative Service", name, source)),
        }
    }

    /// Asks for `storage` on an existing volume by JSON merge patch (never
    /// creates). `Ok(Err(why))` when the API server refuses: the volume's storage
    /// class does not allow expansion (403), or the size is invalid (422).
    pub async fn expand_pvc(&self, name: &str, storage: &str) -> Result<Result<(), String>> {
        let patch = serde_json::json!({"spec": {"resources": {"requests": {"storage": storage}}}});
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        match self.pvcs.patch(name, &params, &Patch::Merge(&patch)).await {
            Ok(_) => Ok(Ok(())),
            Err(kube::Error::Api(s)) if s.code == 403 || s.code == 422 || s.code == 404 => {
                Ok(Err(s.message))
            }
            Err(source) => Err(err("patch", "PersistentVolumeClaim", name, source)),
        }
    }

    /// Sets a volume's owner references by JSON merge patch (never creates; none
    /// there is fine).
    pub async fn own_pvc(&self, name: &str, owners: &[OwnerReference]) -> Result<()> {
        let patch = serde_json::json!({"metadata": {"ownerReferences": owners}});
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        match self.pvcs.patch(name, &params, &Patch::Merge(&patch)).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(source) => Err(err("patch", "PersistentVolumeClaim", name, source)),
        }
    }

    /// Deletes a Knative Service (its revisions and pods go with it); absent is fine.
    pub async fn delete_ksvc(&self, name: &str) -> Result<()> {
        delete(&self.ksvcs, "Knative Service", name).await
    }

    /// Deletes a volume; absent is fine.
    pub async fn delete_pvc(&self, name: &str) -> Result<()> {
        delete(&self.pvcs, "PersistentVolumeClaim", name).await
    }

    /// The pods of the revision `revision`.
    pub async fn revision_pods(&self, revision: &str) -> Result<Vec<Pod>> {
        let selector = format!("serving.knative.dev/revision={revision}");
        self.pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map(|list| list.items)
            .map_err(|source| err("list", "Pod", &selector, source))
    }

    /// Deletes a Secret (none there is fine).
    pub async fn delete_secret(&self, name: &str) -> Result<()> {
        delete(&self.secrets, "Secret", name).await
    }
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

fn err(op: &'static str, kind: &'static str, name: &str, source: kube::Error) -> ApiError {
    ApiError {
        op,
        kind,
        name: name.to_owned(),
        source,
    }
}

async fn apply<K>(api: &Api<K>, kind: &'static str, name: &str, obj: &K) -> Result<K>
where
    K: Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match api.patch(name, &params, &Patch::Apply(obj)).await {
        // Two replicas creating the same object at once: the loser retries once,
        // now as an update of the winner's identical object.
        Err(e) if is_create_race(&e) => {
            debug!(kind, name, error = %e, "apply raced another writer; retrying");
            api.patch(name, &params, &Patch::Apply(obj))
                .await
                .map_err(|e| err("apply", kind, name, e))
        }
        other => other.map_err(|e| err("apply", kind, name, e)),
    }
}

async fn get<K>(api: &Api<K>, kind: &'static str, name: &str) -> Result<Option<K>>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.get(name).await {
        Ok(obj) => Ok(Some(obj)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(err("get", kind, name, e)),
    }
}

async fn delete<K>(api: &Api<K>, kind: &'static str, name: &str) -> Result<()>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(err("delete", kind, name, e)),
    }
}
