//! A delete that fails part-way leaves the workspace findable, so the next one
//! finishes it; and a workspace's own objects (home volume, hop Secret) name its
//! Service as their owner, so whatever deletes the Service (a killed proxy's
//! half-done delete, `kubectl delete ksvc`) takes them along, never the user's
//! volume.

use dcs_model::names::user_volume_name;
use kube::api::{Api, DeleteParams};

use super::contract::{FakeHarness, NS};
use super::{config_with, eventually};
use crate::runtime::contract;
use crate::runtime::knative::objects::hop_secret_name;
use crate::runtime::knative::types::{ksvc_resource, Ksvc};
use crate::runtime::{Runtime, Status, WorkspaceSpec};

const GROUP: &str = "serving.knative.dev";

#[tokio::test]
async fn a_delete_that_fails_part_way_is_finished_by_the_next_one() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::instance_key("teardown-alice", "inst-00000000000000f1");
    let name = k.name().to_string();
    let hop = hop_secret_name(&k).to_string();
    h.runtime
        .register(&contract::instance_spec(&k))
        .await
        .expect("register");
    assert!(h.server.object("", "secrets", NS, &hop).is_some());
    h.server.fail_next("delete", "persistentvolumeclaims");
    let first = h.runtime.delete(&k).await;
    assert!(first.is_err(), "{first:?}");
    // The API's DELETE finds the instance first: it must still be there.
    let found = h.runtime.find(&k.id()).await.expect("find");
    assert!(found.is_some(), "the half-deleted instance is not found");
    h.runtime.delete(&k).await.expect("the second delete");
    assert_eq!(h.server.object(GROUP, "services", NS, &name), None);
    assert_eq!(
        h.server.object("", "persistentvolumeclaims", NS, &name),
        None
    );
    assert_eq!(h.server.object("", "secrets", NS, &hop), None);
    let user_volume = user_volume_name(&k.user).to_string();
    assert!(h
        .server
        .object("", "persistentvolumeclaims", NS, &user_volume)
        .is_some());
}

#[tokio::test]
async fn a_workspaces_own_objects_go_with_its_service_however_it_goes() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::key("owned-alice", "acme/hello");
    let name = k.name().to_string();
    let hop = hop_secret_name(&k).to_string();
    let user_volume = user_volume_name(&k.user).to_string();
    // Made fresh (owners set once the Service exists), then started again.
    h.ensure_ready(&k).await;
    h.server.scale_to_zero(NS, &name);
    eventually("the scale to zero is heard", || async {
        (h.runtime.status(&k).await.ok()? == Status::Stopped).then_some(())
    })
    .await;
    h.runtime
        .ensure(&WorkspaceSpec::for_repo(k.clone()))
        .await
        .expect("ensure");
    let uid =
        h.server.object(GROUP, "services", NS, &name).expect("ksvc")["metadata"]["uid"].clone();
    for (resource, object) in [("persistentvolumeclaims", &name), ("secrets", &hop)] {
        let obj = h.server.object("", resource, NS, object).expect("object");
        let owners = &obj["metadata"]["ownerReferences"];
        assert_eq!(owners.as_array().map(Vec::len), Some(1), "{obj}");
        assert_eq!(owners[0]["uid"], uid, "{obj}");
        assert_eq!(owners[0]["kind"], "Service", "{obj}");
        assert_eq!(owners[0]["apiVersion"], "serving.knative.dev/v1", "{obj}");
    }
    let user = h
        .server
        .object("", "persistentvolumeclaims", NS, &user_volume)
        .expect("the user's volume");
    assert!(user["metadata"]["ownerReferences"].is_null(), "{user}");
    // Someone deletes the Service by hand.
    let ksvcs: Api<Ksvc> = Api::namespaced_with(h.server.client(), NS, &ksvc_resource());
    ksvcs
        .delete(&name, &DeleteParams::background())
        .await
        .expect("kubectl delete ksvc");
    assert_eq!(h.server.object(GROUP, "services", NS, &name), None);
    assert_eq!(
        h.server.object("", "persistentvolumeclaims", NS, &name),
        None
    );
    assert_eq!(h.server.object("", "secrets", NS, &hop), None);
    assert!(h
        .server
        .object("", "persistentvolumeclaims", NS, &user_volume)
        .is_some());
}
