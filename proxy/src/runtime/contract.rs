//! The runtime contract: one test suite every [`Runtime`] passes.
//!
//! Test support, compiled in so integration tests can use it (it is small and
//! runs nothing by itself). Each case takes a [`Harness`], which gives the runtime
//! plus the few hooks where platforms differ: Knative makes a Service ready while
//! `ensure` waits for it and scales it to zero *after* `stop` returns, so a
//! harness over a fake API server plays the Knative controller there
//! ([`Harness::ensure`], [`Harness::settle_stopped`]); a process runtime needs no
//! hooks. Cases use distinct users, so they can share one runtime.
//!
//! Instances (workspaces made through the management API) have their own cases
//! ([`instances`]); [`starts`] holds what every start promises: `ensure` resolves
//! once the workspace answers, and a delete during a start is final.
//!
//! Instantiations: `proxy/tests/runtime_contract_local.rs` (real `dcs-launcher`
//! processes and a local git repository) and the Knative runtime's unit tests
//! (its stateful fake API server).

pub mod instances;
pub mod starts;

use async_trait::async_trait;
use dcs_model::{InstanceId, InstanceSpec, RepoRef, UserId, WorkspaceKey};

pub use self::instances::*;
pub use self::starts::*;
use super::{Runtime, Status, Upstream, WorkspaceSpec};

/// Repositories the cases open; a harness whose runtime clones must serve them.
pub const REPOS: &[&str] = &["acme/hello", "acme/world"];

/// A runtime under test, and the platform's side of the story.
#[async_trait]
pub trait Harness: Send + Sync {
    /// The runtime.
    fn runtime(&self) -> &dyn Runtime;
    /// The runtime's `ensure`, with the platform doing its part meanwhile (a
    /// Knative harness makes the Service ready while `ensure` waits).
    async fn ensure(&self, spec: &WorkspaceSpec) -> crate::error::Result<Upstream> {
        self.runtime().ensure(spec).await
    }
    /// Lets the platform finish starting `key` after `ensure` returned.
    async fn settle_started(&self, _key: &WorkspaceKey) {}
    /// Lets the platform scale `key` to zero after `stop` returned.
    async fn settle_stopped(&self, _key: &WorkspaceKey) {}
    /// Whether `key`'s files (its user's volume, its checkout) still exist.
    async fn files_exist(&self, key: &WorkspaceKey) -> bool;
    /// The status right after `register`: `Stopped` where registering starts
    /// nothing (processes), `Starting` where the platform starts what it is given
    /// and scales it to zero later (Knative).
    fn registered_status(&self) -> Status {
        Status::Stopped
    }
}

/// The key of `user`'s workspace of `repo`.
pub fn key(user: &str, repo: &str) -> WorkspaceKey {
    WorkspaceKey::new(
        UserId::new(user).expect("contract user ids are valid"),
        RepoRef::parse(repo).expect("contract repos are valid"),
    )
}

/// The key of `user`'s instance `id`.
pub fn instance_key(user: &str, id: &str) -> WorkspaceKey {
    WorkspaceKey::instance(
        UserId::new(user).expect("contract user ids are valid"),
        InstanceId::parse(id).expect("contract instance ids are valid"),
    )
}

/// What the API records for an instance without a repository: a token hash and
/// a creation time (so no runtime fills one in), the rest the operator's defaults.
pub fn instance_spec(key: &WorkspaceKey) -> WorkspaceSpec {
    WorkspaceSpec::new(
        key.clone(),
        InstanceSpec {
            token_sha256: Some("5e".repeat(32)),
            created_unix: 1_700_000_000,
            env: [("GREETING".to_owned(), "hello".to_owned())].into(),
            ..InstanceSpec::default()
        },
    )
}

fn spec(key: &WorkspaceKey) -> WorkspaceSpec {
    WorkspaceSpec::for_repo(key.clone())
}

/// `ensure` through the harness.
async fn ensure(h: &dyn Harness, spec: &WorkspaceSpec) -> crate::error::Result<Upstream> {
    h.ensure(spec).await
}

async fn status(h: &dyn Harness, key: &WorkspaceKey) -> Status {
    h.runtime().status(key).await.expect("status")
}

async fn listed(h: &dyn Harness, user: Option<&str>) -> Vec<(WorkspaceKey, Status)> {
    let user = user.map(|u| UserId::new(u).expect("user"));
    let list = h.runtime().list(user.as_ref()).await.expect("list");
    list.into_iter().map(|w| (w.key, w.status)).collect()
}

/// Runs every case.
pub async fn run_all(h: &dyn Harness) {
    unknown_workspaces_are_not_found_and_stop_delete_are_fine(h).await;
    ensure_is_idempotent_and_runs(h).await;
    concurrent_ensures_make_one_workspace(h).await;
    list_is_filtered_by_user(h).await;
    stop_keeps_files_and_ensure_wakes(h).await;
    delete_forgets_but_keeps_the_users_files(h).await;
    register_records_the_spec_and_starts_nothing(h).await;
    ensure_after_register_keeps_the_recorded_spec(h).await;
    find_works_by_id_for_both_kinds(h).await;
    delete_forgets_an_instance(h).await;
    an_unregistered_instance_is_never_started(h).await;
    update_spec_replaces_the_recorded_spec(h).await;
    volume_reports_the_users_volume(h).await;
    ensure_resolves_once_the_workspace_answers(h).await;
    a_delete_during_a_start_is_final(h).await;
}

/// `volume`: a user with a started workspace has one; a stranger has none.
pub async fn volume_reports_the_users_volume(h: &dyn Harness) {
    let k = key("c10-alice", REPOS[0]);
    ensure(h, &spec(&k)).await.expect("ensure");
    h.settle_started(&k).await;
    let v = h.runtime().volume(&k.user).await.expect("volume");
    assert!(v.exists, "{v:?}");
    assert!(!v.name.is_empty());
    let nobody = UserId::new("c10-nobody").expect("user");
    let v = h.runtime().volume(&nobody).await.expect("volume");
    assert!(!v.exists, "{v:?}");
    assert_eq!(v.used_bytes, None);
}

/// Never-seen workspaces: `NotFound`; `stop` and `delete` succeed and change nothing.
pub async fn unknown_workspaces_are_not_found_and_stop_delete_are_fine(h: &dyn Harness) {
    let k = key("c0-ghost", REPOS[0]);
    assert_eq!(status(h, &k).await, Status::NotFound);
    h.runtime().stop(&k).await.expect("stop unknown");
    h.runtime().delete(&k).await.expect("delete unknown");
    assert_eq!(status(h, &k).await, Status::NotFound);
    assert!(listed(h, Some("c0-ghost")).await.is_empty());
}

/// NotFound → ensure → Running; a second `ensure` returns the same upstream.
pub async fn ensure_is_idempotent_and_runs(h: &dyn Harness) {
    let k = key("c1-alice", REPOS[0]);
    assert_eq!(status(h, &k).await, Status::NotFound);
    let first = ensure(h, &spec(&k)).await.expect("ensure");
    h.settle_started(&k).await;
    assert_eq!(status(h, &k).await, Status::Running);
    let second = ensure(h, &spec(&k)).await.expect("ensure again");
    assert_eq!(first, second, "ensure of a running workspace is a no-op");
    assert_eq!(
        listed(h, Some("c1-alice")).await,
        vec![(k.clone(), Status::Running)]
    );
    assert!(h.files_exist(&k).await);
}

/// Concurrent `ensure`s of one workspace agree and create it once.
pub async fn concurrent_ensures_make_one_workspace(h: &dyn Harness) {
    let k = key("c2-alice", REPOS[0]);
    let s = spec(&k);
    let all = futures_util::future::join_all((0..4).map(|_| ensure(h, &s))).await;
    let ups: Vec<_> = all.into_iter().map(|r| r.expect("ensure")).collect();
    assert!(ups.windows(2).all(|w| w[0] == w[1]), "{ups:?}");
    h.settle_started(&k).await;
    assert_eq!(
        listed(h, Some("c2-alice")).await,
        vec![(k.clone(), Status::Running)]
    );
}

/// `list(Some(user))` shows exactly that user's workspaces, sorted; `list(None)` all.
pub async fn list_is_filtered_by_user(h: &dyn Harness) {
    let a1 = key("c3-alice", REPOS[0]);
    let a2 = key("c3-alice", REPOS[1]);
    let b1 = key("c3-bob", REPOS[0]);
    for k in [&a1, &a2, &b1] {
        ensure(h, &spec(k)).await.expect("ensure");
        h.settle_started(k).await;
    }
    let keys = |l: Vec<(WorkspaceKey, Status)>| l.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(
        keys(listed(h, Some("c3-alice")).await),
        vec![a1.clone(), a2.clone()]
    );
    assert_eq!(keys(listed(h, Some("c3-bob")).await), vec![b1.clone()]);
    assert!(listed(h, Some("c3-carol")).await.is_empty());
    let all = keys(listed(h, None).await);
    for k in [&a1, &a2, &b1] {
        assert!(all.contains(k), "{k} missing from {all:?}");
    }
}

/// `stop` (twice is fine) keeps the files; the workspace reads `Stopped` once the
/// platform scaled it down; the next `ensure` wakes it.
pub async fn stop_keeps_files_and_ensure_wakes(h: &dyn Harness) {
    let k = key("c4-alice", REPOS[0]);
    ensure(h, &spec(&k)).await.expect("ensure");
    h.settle_started(&k).await;
    h.runtime().stop(&k).await.expect("stop");
    h.runtime().stop(&k).await.expect("stop again");
    h.settle_stopped(&k).await;
    assert_eq!(status(h, &k).await, Status::Stopped);
    assert_eq!(
        listed(h, Some("c4-alice")).await,
        vec![(k.clone(), Status::Stopped)]
    );
    assert!(h.files_exist(&k).await, "stop keeps the files");
    ensure(h, &spec(&k)).await.expect("wake");
    h.settle_started(&k).await;
    assert_eq!(status(h, &k).await, Status::Running);
}

/// `delete` (twice is fine) forgets the workspace but keeps the user's files; a new
/// `ensure` brings it back.
pub async fn delete_forgets_but_keeps_the_users_files(h: &dyn Harness) {
    let k = key("c5-alice", REPOS[0]);
    let other = key("c5-alice", REPOS[1]);
    for k in [&k, &other] {
        ensure(h, &spec(k)).await.expect("ensure");
        h.settle_started(k).await;
    }
    h.runtime().delete(&k).await.expect("delete");
    h.runtime().delete(&k).await.expect("delete again");
    h.runtime().stop(&k).await.expect("stop after delete");
    assert_eq!(status(h, &k).await, Status::NotFound);
    assert_eq!(
        listed(h, Some("c5-alice")).await,
        vec![(other.clone(), Status::Running)],
        "the user's other workspace is untouched"
    );
    assert!(h.files_exist(&k).await, "delete keeps the user's files");
    ensure(h, &spec(&k)).await.expect("ensure after delete");
    h.settle_started(&k).await;
    assert_eq!(status(h, &k).await, Status::Running);
}
