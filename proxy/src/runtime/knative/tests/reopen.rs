//! A workspace opened again right after its delete (the deleted tab's "Open
//! again") gets a home volume of its own, not the deleted one's, which stays
//! until the old pod has stopped and then goes. One that does not go (a node
//! gone, a stuck finalizer) ends the open after a while with a reason.

use std::time::{Duration, Instant};

use super::config_with;
use super::contract::{FakeHarness, NS};
use crate::error::Error;
use crate::runtime::contract;
use crate::runtime::knative::fake::Policy;
use crate::runtime::knative::start::Waits;
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

#[tokio::test]
async fn a_workspace_opened_again_while_its_old_objects_are_stuck_deleting_fails_with_a_reason() {
    let release = Duration::from_secs(1);
    let cases = [
        ("persistentvolumeclaims", "the previous home volume"),
        ("services", "the previous Knative Service"),
    ];
    for (i, (stuck, says)) in cases.into_iter().enumerate() {
        let h = FakeHarness::new(config_with(&[]));
        let h = FakeHarness {
            runtime: h.runtime.with_waits(Waits {
                release,
                ..Waits::default()
            }),
            ..h
        };
        h.server
            .set_policy(Policy::ReadyAfter(Duration::from_millis(100)));
        let k = contract::key(&format!("stuck{i}-alice"), "acme/hello");
        let spec = WorkspaceSpec::for_repo(k.clone());
        h.runtime.ensure(&spec).await.expect("first open");
        // Its old pod never stops (a node gone): the object stays, for an hour.
        h.server
            .set_delete_grace_of(stuck, Duration::from_secs(3600));
        h.runtime.delete(&k).await.expect("delete");
        let since = Instant::now();
        let again = tokio::time::timeout(Duration::from_secs(30), h.runtime.ensure(&spec))
            .await
            .expect("the open ends, not waits for ever");
        let Err(Error::StartFailed { message, .. }) = &again else {
            panic!("{stuck}: {again:?}");
        };
        assert!(
            message.contains(says) && message.contains("still being released"),
            "{message}"
        );
        assert!(message.contains("operator"), "{message}");
        assert!(since.elapsed() >= release, "{:?}", since.elapsed());
    }
}
