//! Pure builders of a workspace's Kubernetes objects; no I/O. Golden-tested whole
//! and validated against the upstream Knative Service CRD schema.
//!
//! Per user: a workspace volume (PVC, mounted at `/workspaces`, never deleted by
//! the proxy), when a git token is configured a Secret holding it (mounted into the
//! pod's `checkout` init container only), and the user's own git credentials
//! ([`secrets`]). Per workspace: a Knative Service and a home volume (PVC) for IDE
//! settings and extensions, both named `WorkspaceKey::name()`, and its hop Secret
//! ([`secrets`]). Labels are slugs with a hash
//! (label values allow neither `@` nor 128 characters); annotations carry the
//! exact user and repository, from which [`key_of`] reads a workspace back. A
//! workspace's home volume and hop Secret name its Service as their owner
//! ([`owned_by`], set by the runtime once the Service exists).
//!
//! Instances (made through the management API) are named by their id and carry
//! it as label and annotation (`dcs.dev/instance`); `dcs.dev/repo` is there only
//! when the workspace has a repository. The Knative Service's `dcs.dev/spec`
//! annotation holds the workspace's [`InstanceSpec`] as JSON (a token's SHA-256 at
//! most, never a token), read back by [`spec_of`]; its base image, resources, IDE
//! and extra environment shape the container, and its storage sizes the user's
//! volume when that is first created.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use dcs_model::names::{safe_name, user_volume_name};
use dcs_model::{
    InstanceId, InstanceSpec, K8sName, LauncherEnv, RepoRef, UserId, WorkspaceKey, WorkspaceKind,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, Secret, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::ByteString;

use super::config::KnativeConfig;
use super::types::{Ksvc, GROUP, VERSION};
use crate::runtime::{Upstream, WorkspaceSpec};

mod pod;
pub mod secrets;

pub use pod::ksvc;
pub use secrets::{credentials_secret, credentials_secret_name, hop_secret, hop_secret_name};

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "dcs-proxy";
/// `app.kubernetes.io/name`: what an object is.
pub const LABEL_NAME: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/managed-by`: always [`MANAGED_BY`].
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The user: a hashed slug as label, the exact id as annotation.
pub const USER_KEY: &str = "dcs.dev/user";
/// The repository: a hashed slug as label, `owner/repo` as annotation.
pub const REPO_KEY: &str = "dcs.dev/repo";
/// The instance id (label and annotation) of an instance workspace.
pub const INSTANCE_KEY: &str = "dcs.dev/instance";
/// The annotation holding a workspace's [`InstanceSpec`] as JSON.
pub const SPEC_KEY: &str = "dcs.dev/spec";
/// Knative's visibility label; `cluster-local` keeps workspaces off the public gateway.
pub const LABEL_VISIBILITY: &str = "networking.knative.dev/visibility";
/// Value of [`LABEL_MANAGED_BY`].
pub const MANAGED_BY: &str = "dcs";
/// [`LABEL_NAME`] of workspace Knative Services (and their pods).
pub const APP_WORKSPACE: &str = "dcs-workspace";
/// [`LABEL_NAME`] of a user's workspace volume.
pub const APP_USER_VOLUME: &str = "dcs-user-volume";
/// [`LABEL_NAME`] of a workspace's home volume.
pub const APP_HOME_VOLUME: &str = "dcs-workspace-home";
/// [`LABEL_NAME`] of a user's git token Secret.
pub const APP_GIT_TOKEN: &str = "dcs-git-token";
/// The key of the token inside the Secret.
pub const GIT_TOKEN_KEY: &str = "token";

/// A git token. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct GitToken(String);

impl GitToken {
    /// Reads a token file (surrounding whitespace trimmed).
    pub fn read(path: &Path) -> std::io::Result<Self> {
        let s = std::fs::read_to_string(path)?;
        Ok(Self(s.trim().to_owned()))
    }

    /// A token from a string (tests).
    pub fn new(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Debug for GitToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GitToken(<redacted>)")
    }
}

/// The label value identifying `user`: `u-<slug>-<hash>`.
pub fn user_label(user: &UserId) -> String {
    safe_name("u", &[user.as_str()]).to_string()
}

/// The label value identifying `repo`: `r-<slug>-<hash>`.
pub fn repo_label(repo: &RepoRef) -> String {
    safe_name("r", &[repo.owner(), repo.repo()]).to_string()
}

/// The name of `user`'s git token Secret: `git-<slug>-<hash>`.
pub fn git_secret_name(user: &UserId) -> K8sName {
    safe_name("git", &[user.as_str()])
}

/// The label selector of workspace Knative Services, of one user or of all.
pub fn workspace_selector(user: Option<&UserId>) -> String {
    let mut s = format!("{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_NAME}={APP_WORKSPACE}");
    if let Some(user) = user {
        s.push_str(&format!(",{USER_KEY}={}", user_label(user)));
    }
    s
}

/// The label selector of the workspace Knative Service of instance `id`.
pub fn instance_selector(id: &InstanceId) -> String {
    format!("{},{INSTANCE_KEY}={id}", workspace_selector(None))
}

/// Reads a workspace's key back from its annotations: an instance if it has an
/// instance id, else a repository workspace.
pub fn key_of(meta: &ObjectMeta) -> Option<WorkspaceKey> {
    let ann = meta.annotations.as_ref()?;
    let user = UserId::new(ann.get(USER_KEY)?).ok()?;
    if let Some(id) = ann.get(INSTANCE_KEY) {
        return Some(WorkspaceKey::instance(user, InstanceId::parse(id).ok()?));
    }
    let repo = RepoRef::parse(ann.get(REPO_KEY)?).ok()?;
    Some(WorkspaceKey::new(user, repo))
}

/// Why a workspace's recorded spec cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecError {
    /// It has no `dcs.dev/spec` annotation (made before specs were recorded).
    Absent,
    /// The annotation is not a spec.
    Unreadable(String),
}

/// Reads the recorded spec back from a Knative Service's annotations.
pub fn spec_of(meta: &ObjectMeta) -> Result<InstanceSpec, SpecError> {
    let json = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(SPEC_KEY))
        .ok_or(SpecError::Absent)?;
    serde_json::from_str(json).map_err(|e| SpecError::Unreadable(e.to_string()))
}

/// The repository a workspace checks out: its key's, or its spec's for an instance.
pub fn repo_of(spec: &WorkspaceSpec) -> Option<&RepoRef> {
    spec.key.repo().or(spec.instance.repo.as_ref())
}

/// Where the proxy sends a workspace's requests: the Knative route's cluster-local
/// host, through the Knative data plane (so the activator buffers cold starts).
pub fn upstream(cfg: &KnativeConfig, key: &WorkspaceKey) -> Upstream {
    let host = format!(
        "{}.{}.svc.{}",
        key.name(),
        cfg.namespace,
        cfg.cluster_domain
    );
    Upstream {
        authority: format!("{host}:80"),
        host: Some(host),
        socket: None,
        hop: cfg.hop.as_ref().map(|k| k.credential(&key.name())),
        multiplexed: false,
    }
}

/// `ksvc` as the owner of its workspace's own objects (its home volume and hop
/// Secret, never a user's): Kubernetes' garbage collector deletes them once the
/// Service is gone, however it went. `None` for a Service not stored yet (no uid).
pub fn owned_by(ksvc: &Ksvc) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: format!("{GROUP}/{VERSION}"),
        kind: "Service".to_owned(),
        name: ksvc.metadata.name.clone()?,
        uid: ksvc.metadata.uid.clone()?,
        controller: None,
        block_owner_deletion: None,
    })
}

/// Whether `owners` name `owner` (by uid, as the garbage collector does).
pub fn is_owned_by(owners: &[OwnerReference], owner: &OwnerReference) -> bool {
    owners.iter().any(|r| r.uid == owner.uid)
}

/// Labels of a per-user object.
pub(crate) fn user_labels(app: &str, user: &UserId) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_owned(), app.to_owned()),
        (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
        (USER_KEY.to_owned(), user_label(user)),
    ])
}

/// Labels of a per-workspace object: the repository's only if it has one, the
/// instance id for an instance.
pub(crate) fn workspace_labels(app: &str, spec: &WorkspaceSpec) -> BTreeMap<String, String> {
    let mut labels = user_labels(app, &spec.key.user);
    if let Some(repo) = repo_of(spec) {
        labels.insert(REPO_KEY.to_owned(), repo_label(repo));
    }
    if let WorkspaceKind::Instance(id) = &spec.key.kind {
        labels.insert(INSTANCE_KEY.to_owned(), id.to_string());
    }
    labels
}

/// Annotations of a per-workspace object: the exact user, repository (if any)
/// and instance id (for an instance).
pub(crate) fn workspace_annotations(spec: &WorkspaceSpec) -> BTreeMap<String, String> {
    let mut ann = identity_annotations(&spec.key.user, repo_of(spec));
    if let WorkspaceKind::Instance(id) = &spec.key.kind {
        ann.insert(INSTANCE_KEY.to_owned(), id.to_string());
    }
    ann
}

/// Annotations carrying the exact user (and repository).
pub(crate) fn identity_annotations(
    user: &UserId,
    repo: Option<&RepoRef>,
) -> BTreeMap<String, String> {
    let mut ann = BTreeMap::from([(USER_KEY.to_owned(), user.to_string())]);
    if let Some(repo) = repo {
        ann.insert(REPO_KEY.to_owned(), repo.to_string());
    }
    ann
}

pub(crate) fn meta(
    cfg: &KnativeConfig,
    name: &K8sName,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(cfg.namespace.clone()),
        labels: Some(labels),
        annotations: Some(annotations),
        ..ObjectMeta::default()
    }
}

fn pvc(cfg: &KnativeConfig, meta: ObjectMeta, access: &str, size: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: meta,
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![access.to_owned()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(size.to_owned()),
                )])),
                limits: None,
            }),
            storage_class_name: cfg.storage_class.clone(),
            volume_mode: Some("Filesystem".to_owned()),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}

/// `user`'s workspace volume, shared by all of their workspaces: `storage` in
/// size if given (the spec of the workspace that first makes it), else the
/// configured size. Only created, never updated: an existing volume keeps its size.
pub fn user_volume(
    cfg: &KnativeConfig,
    user: &UserId,
    storage: Option<&dcs_model::Quantity>,
) -> PersistentVolumeClaim {
    let meta = meta(
        cfg,
        &user_volume_name(user),
        user_labels(APP_USER_VOLUME, user),
        identity_annotations(user, None),
    );
    let size = storage.map_or(cfg.volume_size.as_str(), |q| q.as_str());
    pvc(cfg, meta, cfg.volume_access.as_str(), size)
}

/// A workspace's own home volume (IDE settings and extensions). One pod mounts it.
pub fn home_volume(cfg: &KnativeConfig, spec: &WorkspaceSpec) -> PersistentVolumeClaim {
    let meta = meta(
        cfg,
        &spec.key.name(),
        workspace_labels(APP_HOME_VOLUME, spec),
        workspace_annotations(spec),
    );
    pvc(cfg, meta, "ReadWriteOnce", &cfg.home_size)
}

/// `user`'s git token Secret, mounted as a file into their workspaces.
pub fn git_token_secret(cfg: &KnativeConfig, user: &UserId, token: &GitToken) -> Secret {
    Secret {
        metadata: meta(
            cfg,
            &git_secret_name(user),
            user_labels(APP_GIT_TOKEN, user),
            identity_annotations(user, None),
        ),
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            GIT_TOKEN_KEY.to_owned(),
            ByteString(token.0.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

/// The launcher's `DCS_*` contract inside a workspace container: the spec's
/// repository (an instance may have none), IDE kind (else the configured one) and
/// version. No git token: the `checkout` init container cloned or fetched already
/// and left its outcome in `DCS_CHECKOUT_OUTCOME_FILE` ([`checkout_env`] is its
/// contract). The hop credential and the user's own git credentials are files of
/// their Secrets.
pub fn launcher_env(cfg: &KnativeConfig, spec: &WorkspaceSpec) -> LauncherEnv {
    let key = &spec.key;
    let mut env = match &key.kind {
        WorkspaceKind::Repo(_) => LauncherEnv::new_for(key),
        WorkspaceKind::Instance(id) => {
            LauncherEnv::for_instance(Some(id.clone()), spec.instance.repo.clone())
        }
    };
    env.git_base = cfg.launcher.git_base.clone();
    env.workspaces_dir = PathBuf::from(pod::WORKSPACES_DIR);
    env.ide = spec
        .instance
        .ide
        .clone()
        .unwrap_or_else(|| cfg.launcher.ide.clone());
    env.ide_version = spec.instance.ide_version.clone();
    env.hop_secret_file = Some(Path::new(pod::HOP_DIR).join(secrets::HOP_KEY));
    env.credentials_file = Some(Path::new(pod::CREDENTIALS_DIR).join(secrets::CREDENTIALS_KEY));
    env.checkout_outcome_file = Some(Path::new(pod::CHECKOUT_DIR).join(pod::OUTCOME_FILE));
    env.extra_ca_file = cfg
        .extra_ca
        .as_ref()
        .map(|_| Path::new(pod::EXTRA_CA_DIR).join(pod::EXTRA_CA_FILE));
    env.base_path = spec.base_path();
    env.user = Some(key.user.clone());
    env.stop_grace_secs = cfg.launcher.stop_grace_secs;
    env.log = cfg.launcher.log.clone();
    cfg.launcher.git.apply(&mut env);
    env.idle = cfg.launcher.idle;
    env.pre_stop = cfg.launcher.pre_stop.clone();
    env.devcontainer = cfg.launcher.devcontainer;
    env.extensions_gallery = cfg.launcher.extensions_gallery.clone();
    // IDE installs, settings and extensions go to the workspace's own volume.
    env.config_dir = Some(Path::new(pod::HOME_DIR).join(".dcs"));
    // While its pod is not routable, the launcher pushes its progress to the proxy.
    env.progress_url = Some(crate::progress::push::url(
        &cfg.proxy_url,
        key.name().as_str(),
    ));
    env
}

/// The contract of the `checkout` init container (`dcs-launcher checkout`): the
/// workspace's, with the git token file (mounted into this container only), the hop
/// credential (to push the clone's progress to the proxy), no user credentials, and
/// a scratch config folder for the trust bundle.
pub fn checkout_env(cfg: &KnativeConfig, spec: &WorkspaceSpec) -> LauncherEnv {
    let mut env = launcher_env(cfg, spec);
    env.git_token_file = cfg
        .launcher
        .git_token_file
        .as_ref()
        .map(|_| Path::new(pod::GIT_TOKEN_DIR).join(GIT_TOKEN_KEY));
    env.credentials_file = None;
    env.config_dir = Some(Path::new(pod::CHECKOUT_DIR).join("config"));
    env
}
