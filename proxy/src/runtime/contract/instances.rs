//! Contract cases of instances (workspaces made through the management API):
//! `register` records a spec without waiting for a start, the recorded spec
//! (token hash included) survives later `ensure`s with the defaults, `find`
//! works by id for both kinds, `update_spec` replaces the spec, and an instance
//! is made only by `register`.

use dcs_model::{InstanceId, InstanceSpec, UserId, WorkspaceKey};

use super::{ensure, instance_key, instance_spec, key, listed, spec, status, Harness, REPOS};
use crate::runtime::Status;

pub(super) async fn found(h: &dyn Harness, id: &str) -> Option<(WorkspaceKey, InstanceSpec)> {
    let id = InstanceId::parse(id).expect("id");
    let info = h.runtime().find(&id).await.expect("find");
    info.map(|w| (w.key, w.spec))
}

/// `register` records the spec (token hash included) without waiting for a
/// start; `status`, `list` and `find` see it at once; registering again is fine.
pub async fn register_records_the_spec_and_starts_nothing(h: &dyn Harness) {
    let k = instance_key("c6-alice", "inst-00000000000000c6");
    let s = instance_spec(&k);
    h.runtime().register(&s).await.expect("register");
    h.runtime().register(&s).await.expect("register again");
    assert_eq!(status(h, &k).await, h.registered_status());
    let list = h
        .runtime()
        .list(Some(&k.user))
        .await
        .expect("list")
        .into_iter()
        .map(|w| (w.key, w.spec))
        .collect::<Vec<_>>();
    assert_eq!(list, vec![(k.clone(), s.instance.clone())]);
    assert_eq!(
        found(h, "inst-00000000000000c6").await,
        Some((k.clone(), s.instance.clone()))
    );
}

/// An `ensure` with the defaults after `register` starts the instance from the
/// recorded spec and keeps it (the token hash is never lost); an instance without
/// a repository gets its own folder.
pub async fn ensure_after_register_keeps_the_recorded_spec(h: &dyn Harness) {
    let k = instance_key("c7-alice", "inst-00000000000000c7");
    let s = instance_spec(&k);
    h.runtime().register(&s).await.expect("register");
    let first = ensure(h, &spec(&k)).await.expect("ensure");
    h.settle_started(&k).await;
    assert_eq!(status(h, &k).await, Status::Running);
    let again = ensure(h, &spec(&k)).await.expect("ensure again");
    assert_eq!(first, again);
    let (_, recorded) = found(h, "inst-00000000000000c7").await.expect("found");
    assert_eq!(recorded, s.instance, "ensure keeps the recorded spec");
    assert!(h.files_exist(&k).await, "the instance's folder exists");
}

/// `find` by id: a repository workspace by its object name, an instance by its
/// id; an unknown id is `None`.
pub async fn find_works_by_id_for_both_kinds(h: &dyn Harness) {
    let repo = key("c8-alice", REPOS[0]);
    let inst = instance_key("c8-alice", "inst-00000000000000c8");
    ensure(h, &spec(&repo)).await.expect("ensure");
    h.settle_started(&repo).await;
    h.runtime()
        .register(&instance_spec(&inst))
        .await
        .expect("register");
    let (got, spec_of_repo) = found(h, repo.id().as_str()).await.expect("repo found");
    assert_eq!(got, repo);
    assert_eq!(spec_of_repo.repo.as_ref(), repo.repo());
    let (got, _) = found(h, inst.id().as_str()).await.expect("instance found");
    assert_eq!(got, inst);
    assert_eq!(found(h, "inst-00000000000000ff").await, None);
}

/// `delete` forgets an instance (status, list, find) and keeps the user's files.
pub async fn delete_forgets_an_instance(h: &dyn Harness) {
    let k = instance_key("c9-alice", "inst-00000000000000c9");
    h.runtime()
        .register(&instance_spec(&k))
        .await
        .expect("register");
    ensure(h, &spec(&k)).await.expect("ensure");
    h.settle_started(&k).await;
    h.runtime().delete(&k).await.expect("delete");
    h.runtime().delete(&k).await.expect("delete again");
    assert_eq!(status(h, &k).await, Status::NotFound);
    assert!(listed(h, Some("c9-alice")).await.is_empty());
    assert_eq!(found(h, "inst-00000000000000c9").await, None);
    assert!(h.files_exist(&k).await, "delete keeps the user's files");
    // Delete is final: a late request for the instance never brings it back.
    let late = ensure(h, &spec(&k)).await;
    assert!(
        matches!(late, Err(crate::error::Error::NotFound(_))),
        "{late:?}"
    );
    assert_eq!(status(h, &k).await, Status::NotFound);
    assert_eq!(found(h, "inst-00000000000000c9").await, None);
}

/// An instance is made only by `register` (the API's create): `ensure` of one that
/// was never registered is `NotFound` and creates nothing.
pub async fn an_unregistered_instance_is_never_started(h: &dyn Harness) {
    let k = instance_key("c11-alice", "inst-00000000000000d1");
    let got = ensure(h, &spec(&k)).await;
    assert!(
        matches!(got, Err(crate::error::Error::NotFound(_))),
        "{got:?}"
    );
    assert_eq!(status(h, &k).await, Status::NotFound);
    assert!(listed(h, Some("c11-alice")).await.is_empty());
}

/// `update_spec` replaces the recorded spec (sharing) without changing the
/// workspace's state; an unknown workspace is `NotFound`.
pub async fn update_spec_replaces_the_recorded_spec(h: &dyn Harness) {
    let k = instance_key("c12-alice", "inst-00000000000000d2");
    let s = instance_spec(&k);
    h.runtime().register(&s).await.expect("register");
    let before = status(h, &k).await;
    let mut shared = s.instance.clone();
    shared.shared_with = dcs_model::Sharing {
        users: vec![UserId::new("bob").expect("user")],
        groups: vec!["team".into()],
    };
    h.runtime().update_spec(&k, &shared).await.expect("update");
    let (_, got) = found(h, "inst-00000000000000d2").await.expect("found");
    assert_eq!(got, shared, "the new spec is recorded whole");
    assert_eq!(status(h, &k).await, before, "nothing restarted");
    let unknown = instance_key("c12-alice", "inst-00000000000000d3");
    let got = h.runtime().update_spec(&unknown, &shared).await;
    assert!(
        matches!(got, Err(crate::error::Error::NotFound(_))),
        "{got:?}"
    );
}
