//! A workspace opened again right after its delete (the deleted tab's "Open
//! again") gets a home volume of its own, not the deleted one's, which stays
//! until the old pod has stopped and then goes.

use std::time::Duration;

use super::config_with;
use super::contract::{FakeHarness, NS};
use crate::runtime::contract;
use crate::runtime::knative::fake::Policy;
use crate::runtime::{Runtime, WorkspaceSpec};

#[tokio::test]
async fn a_workspace_opened_again_while_its_old_volume_goes_gets_a_new_one() {
    let h = FakeHarness::new(config_with(&[]));
    h.server
        .set_policy(Policy::ReadyAfter(Duration::from_millis(100)));
    let k = contract::key("reopen-alice", "acme/hello");
    let name = k.name().to_string();
    let spec = WorkspaceSpec::for_repo(k.clone());
    h.runtime.ensure(&spec).await.expect("first open");
    // The claim outlives its Service (protected while the old pod stops).
    h.server
        .set_delete_grace_of("persistentvolumeclaims", Duration::from_secs(2));
    h.runtime.delete(&k).await.expect("delete");
    let old = h
        .server
        .object("", "persistentvolumeclaims", NS, &name)
        .expect("the old volume, still going");
    assert!(!old["metadata"]["deletionTimestamp"].is_null(), "{old}");
    let again = tokio::time::timeout(Duration::from_secs(30), h.runtime.ensure(&spec))
        .await
        .expect("the open ends, not hangs on a volume that went");
    assert!(again.is_ok(), "{again:?}");
    let new = h
        .server
        .object("", "persistentvolumeclaims", NS, &name)
        .expect("a home volume");
    assert!(new["metadata"]["deletionTimestamp"].is_null(), "{new}");
    assert_ne!(new["metadata"]["uid"], old["metadata"]["uid"]);
}
