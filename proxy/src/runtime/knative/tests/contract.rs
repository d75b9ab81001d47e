//! The shared runtime contract against the stateful fake API server, the
//! Knative controller's part played by the harness and Knative's networking
//! layer by the ingress stand-in; and the RBAC Role checked against every call
//! the runtime made.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use dcs_model::credentials::{CredentialFile, StoredCredential};
use dcs_model::names::user_volume_name;
use dcs_model::WorkspaceKey;

use super::{config, config_with, eventually};
use crate::api::credentials::store::KnativeStore;
use crate::api::credentials::CredentialStore;
use crate::runtime::contract::{self, Harness};
use crate::runtime::knative::api::API_USAGE;
use crate::runtime::knative::fake::ingress::FakeIngress;
use crate::runtime::knative::fake::FakeApiServer;
use crate::runtime::knative::KnativeRuntime;
use crate::runtime::{Runtime, Status, Upstream, WorkspaceSpec};

pub(super) const NS: &str = "dcs-workspaces";

pub(super) struct FakeHarness {
    pub(super) server: FakeApiServer,
    pub(super) runtime: KnativeRuntime,
    pub(super) ingress: FakeIngress,
}

impl FakeHarness {
    pub(super) fn new(cfg: crate::runtime::knative::KnativeConfig) -> Self {
        let server = FakeApiServer::new();
        let ingress = FakeIngress::start(&server);
        let runtime = KnativeRuntime::new(cfg, server.client())
            .with_route_override(ingress.addr().to_string());
        Self {
            server,
            runtime,
            ingress,
        }
    }
}

impl FakeHarness {
    /// Starts `key` (a repository workspace) as Knative would, until it runs.
    pub(super) async fn ensure_ready(&self, key: &WorkspaceKey) {
        Harness::ensure(self, &WorkspaceSpec::for_repo(key.clone()))
            .await
            .expect("ensure");
        self.settle_started(key).await;
    }

    /// Waits until the runtime's watch cache shows `key` as `want`.
    async fn heard(&self, key: &WorkspaceKey, want: Status) {
        eventually("the runtime's cache hears of Knative's change", || async {
            (self.runtime.status(key).await.ok()? == want).then_some(())
        })
        .await;
    }
}

#[async_trait]
impl Harness for FakeHarness {
    fn runtime(&self) -> &dyn Runtime {
        &self.runtime
    }

    /// Knative makes a ready revision while `ensure` waits for it.
    async fn ensure(&self, spec: &WorkspaceSpec) -> crate::error::Result<Upstream> {
        let name = spec.key.name().to_string();
        let ensure = self.runtime.ensure(spec);
        tokio::pin!(ensure);
        loop {
            tokio::select! {
                // The runtime is done (ready, failed or not found).
                done = &mut ensure => return done,
                // Meanwhile Knative readies what the runtime applied.
                () = tokio::time::sleep(Duration::from_millis(20)) => self.server.settle(NS, &name),
            }
        }
    }

    /// Knative makes a ready revision (or wakes the scaled-to-zero one on the
    /// first request through the activator); the runtime's cache hears of it.
    async fn settle_started(&self, key: &WorkspaceKey) {
        self.server.mark_ready(NS, key.name().as_str());
        self.heard(key, Status::Running).await;
    }

    /// Knative scales the idle revision to zero; the runtime's cache hears of it.
    async fn settle_stopped(&self, key: &WorkspaceKey) {
        self.server.scale_to_zero(NS, key.name().as_str());
        self.heard(key, Status::Stopped).await;
    }

    /// Knative starts what it is given (initial scale 1) and scales it to zero
    /// once idle.
    fn registered_status(&self) -> Status {
        Status::Starting
    }

    /// The user's workspace volume is there.
    async fn files_exist(&self, key: &WorkspaceKey) -> bool {
        let pvc = user_volume_name(&key.user);
        self.server
            .object("", "persistentvolumeclaims", NS, pvc.as_str())
            .is_some()
    }
}

#[tokio::test]
async fn knative_runtime_passes_the_runtime_contract() {
    let tmp = tempfile::tempdir().expect("tmp");
    let token = tmp.path().join("token");
    std::fs::write(&token, "t0k3n").expect("write");
    let mut cfg = config();
    cfg.launcher.git_token_file = Some(token);
    let h = FakeHarness::new(cfg);
    contract::run_all(&h).await;
    // Each user got one volume and one token Secret; deleted workspaces left no
    // Service or home volume behind.
    let secrets = h.server.names("", "secrets", NS);
    let users: BTreeSet<&str> = [
        "c1-alice",
        "c2-alice",
        "c3-alice",
        "c3-bob",
        "c4-alice",
        "c5-alice",
        "c6-alice",
        "c7-alice",
        "c8-alice",
        "c9-alice",
        "c10-alice",
        "c12-alice",
        "c13-alice",
        "c14-alice",
    ]
    .into();
    let services = h.server.names("serving.knative.dev", "services", NS);
    // Every workspace left has its hop Secret; a deleted one's went with it.
    let hops: BTreeSet<String> = services
        .iter()
        .map(|s| dcs_model::names::safe_name("hop", &[s.as_str()]).to_string())
        .collect();
    let (hop_secrets, tokens): (Vec<String>, Vec<String>) =
        secrets.into_iter().partition(|s| s.starts_with("hop-"));
    assert_eq!(hop_secrets.into_iter().collect::<BTreeSet<_>>(), hops);
    assert_eq!(tokens.len(), users.len(), "{tokens:?}");
    let pvcs = h.server.names("", "persistentvolumeclaims", NS);
    assert_eq!(pvcs.len(), users.len() + services.len(), "{pvcs:?}");
    // The instance deleted during its starts left nothing behind.
    assert!(
        !services.contains(&"inst-00000000000000e2".to_owned()),
        "{services:?}"
    );
}

#[tokio::test]
async fn a_failed_start_reads_failed_with_knatives_reason() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::key("alice", "acme/hello");
    h.runtime
        .register(&WorkspaceSpec::for_repo(k.clone()))
        .await
        .expect("register");
    assert_eq!(
        h.runtime.status(&k).await.expect("status"),
        Status::Starting
    );
    h.server.fail(
        NS,
        k.name().as_str(),
        "ProgressDeadlineExceeded",
        "Initial scale was never achieved",
    );
    let failed = Status::Failed {
        reason: "ProgressDeadlineExceeded: Initial scale was never achieved".into(),
    };
    eventually("the failure reaches the cache", || async {
        (h.runtime.status(&k).await.expect("status") == failed).then_some(())
    })
    .await;
}

#[tokio::test]
async fn services_another_manager_owns_are_taken_over_by_forced_apply() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::key("alice", "acme/hello");
    let name = k.name().to_string();
    h.server.insert(
        "serving.knative.dev",
        "services",
        NS,
        serde_json::json!({
            "apiVersion": "serving.knative.dev/v1", "kind": "Service",
            "metadata": {"name": name, "namespace": NS, "managedFields": [{"manager": "kubectl"}]},
            "spec": {"template": {"spec": {"containers": [{"image": "old"}]}}},
        }),
    );
    h.ensure(&WorkspaceSpec::for_repo(k))
        .await
        .expect("forced apply wins");
    let obj = h
        .server
        .object("serving.knative.dev", "services", NS, &name)
        .expect("ksvc");
    assert_eq!(obj["metadata"]["generation"], 2);
    assert_eq!(obj["metadata"]["managedFields"][0]["manager"], "dcs-proxy");
}

#[tokio::test]
async fn the_rbac_role_grants_exactly_the_calls_the_runtime_makes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let token = tmp.path().join("token");
    std::fs::write(&token, "t0k3n").expect("write");
    let mut cfg = config();
    cfg.launcher.git_token_file = Some(token);
    let h = FakeHarness::new(cfg);
    contract::run_all(&h).await;
    // An instance asking for more storage than its user's volume has (a patch).
    let s = super::instance_spec();
    h.runtime.register(&s).await.expect("register");
    let more = dcs_model::Quantity::parse("50Gi").expect("q");
    h.runtime
        .grow_volume(&s.key.user, &more)
        .await
        .expect("grow_volume");
    // A start's look at its revision's pods (made when Knative has said nothing
    // for a while).
    let looked = contract::key("pods-alice", "acme/hello");
    h.ensure_ready(&looked).await;
    assert!(h.runtime.pod_failure(&looked).await.is_none());
    // The credentials API's store: read, made, changed, emptied (deleted).
    let store = KnativeStore::new(h.server.client(), config());
    let mut stored = store.load(&s.key.user).await.expect("load");
    for host in ["git.example", "git2.example"] {
        let change = |f: &mut CredentialFile| {
            let credential = StoredCredential {
                host: host.into(),
                username: "alice".into(),
                token: "t".into(),
            };
            f.set(credential)
                .map_err(crate::api::error::ApiErr::bad_request)
        };
        stored = store.update(&s.key.user, &change).await.expect("set");
    }
    let read = store.load(&s.key.user).await.expect("load again");
    assert_eq!(read, stored);
    let empty = |f: &mut CredentialFile| {
        f.credentials.clear();
        Ok(())
    };
    store.update(&s.key.user, &empty).await.expect("emptied");
    let used: BTreeSet<(String, String, String)> = h
        .server
        .calls()
        .into_iter()
        .map(|c| (c.group, c.resource, c.verb.to_owned()))
        .collect();
    let granted: BTreeSet<(String, String, String)> = API_USAGE
        .iter()
        .flat_map(|(g, r, verbs)| {
            verbs
                .iter()
                .map(move |v| ((*g).into(), (*r).into(), (*v).into()))
        })
        .collect();
    // SSA creates via PATCH need `create` too: the API server checks both.
    let mut needed = used.clone();
    for (g, r, v) in &used {
        if v == "patch" {
            needed.insert((g.clone(), r.clone(), "create".into()));
        }
    }
    assert_eq!(granted, needed);
}

#[tokio::test]
async fn more_storage_grows_a_volume_only_where_its_storage_class_allows_it() {
    let h = FakeHarness::new(config_with(&[]));
    let s = super::instance_spec();
    h.runtime.register(&s).await.expect("register");
    let user = &s.key.user;
    let more = dcs_model::Quantity::parse("50Gi").expect("q");
    // Not allowed (the fake's default, as without `allowVolumeExpansion`): the
    // answer says so and names both sizes; nothing changes.
    let warning = h
        .runtime
        .grow_volume(user, &more)
        .await
        .expect("grow")
        .expect("a warning");
    assert!(
        warning.contains("50Gi") && warning.contains("20Gi") && warning.contains("expansion"),
        "{warning}"
    );
    let v = h.runtime.volume(user).await.expect("volume");
    assert_eq!(v.capacity.as_deref(), Some("20Gi"));
    // Allowed: the claim asks for the new size, and there is nothing to warn of.
    h.server.set_volume_expansion(true);
    assert_eq!(
        h.runtime.grow_volume(user, &more).await.expect("grow"),
        None
    );
    let v = h.runtime.volume(user).await.expect("volume");
    assert_eq!(v.capacity.as_deref(), Some("50Gi"));
    // Asking for less or the same changes nothing and asks nothing.
    let patches = h.server.count("patch", "persistentvolumeclaims");
    for q in ["10Gi", "50Gi"] {
        let q = dcs_model::Quantity::parse(q).expect("q");
        assert_eq!(h.runtime.grow_volume(user, &q).await.expect("grow"), None);
    }
    assert_eq!(h.server.count("patch", "persistentvolumeclaims"), patches);
}

#[tokio::test]
async fn an_instances_storage_sizes_a_new_user_volume_and_never_an_existing_one() {
    let h = FakeHarness::new(config_with(&[]));
    let mut s = super::instance_spec();
    h.runtime.register(&s).await.expect("register");
    let v = h.runtime.volume(&s.key.user).await.expect("volume");
    assert!(v.exists);
    assert_eq!(v.capacity.as_deref(), Some("20Gi"));
    assert_eq!(v.used_bytes, None);
    // A second instance asking for more does not resize the user's volume.
    s.key = dcs_model::WorkspaceKey::instance(
        s.key.user.clone(),
        dcs_model::InstanceId::parse("inst-00000000000000ff").expect("id"),
    );
    s.instance.resources.storage = Some(dcs_model::Quantity::parse("50Gi").expect("q"));
    h.runtime.register(&s).await.expect("register");
    let v = h.runtime.volume(&s.key.user).await.expect("volume");
    assert_eq!(v.capacity.as_deref(), Some("20Gi"));
    // A user whose first workspace asked for nothing gets the configured size.
    let k = contract::key("bob", "acme/hello");
    h.ensure(&WorkspaceSpec::for_repo(k.clone()))
        .await
        .expect("ensure");
    let v = h.runtime.volume(&k.user).await.expect("volume");
    assert_eq!(v.capacity.as_deref(), Some("10Gi"));
}

#[tokio::test]
async fn services_without_a_recorded_spec_list_with_the_defaults() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::key("alice", "acme/hello");
    h.ensure(&WorkspaceSpec::for_repo(k.clone()))
        .await
        .expect("ensure");
    // Made by an older version: no spec annotation; then one garbled by hand.
    let name = k.name().to_string();
    for garbage in [None, Some("{not json")] {
        let mut obj = h
            .server
            .object("serving.knative.dev", "services", NS, &name)
            .expect("ksvc");
        match garbage {
            None => {
                obj["metadata"]["annotations"]
                    .as_object_mut()
                    .expect("annotations")
                    .remove("dcs.dev/spec");
            }
            Some(g) => obj["metadata"]["annotations"]["dcs.dev/spec"] = serde_json::json!(g),
        }
        h.server.insert("serving.knative.dev", "services", NS, obj);
        // Listed with the defaults (no creation time) once the cache has it.
        let listed = eventually("the cache shows the change", || async {
            let listed = h.runtime.list(Some(&k.user)).await.expect("list");
            (listed.len() == 1 && listed[0].spec.created_unix == 0).then_some(listed)
        })
        .await;
        assert_eq!(listed[0].spec.repo.as_ref(), k.repo());
        assert_eq!(listed[0].spec.token_sha256, None);
        // The next ensure records a spec again.
        h.ensure(&WorkspaceSpec::for_repo(k.clone()))
            .await
            .expect("ensure");
        let found = h.runtime.find(&k.id()).await.expect("find").expect("found");
        assert!(found.spec.created_unix > 0, "{:?}", found.spec);
    }
}
