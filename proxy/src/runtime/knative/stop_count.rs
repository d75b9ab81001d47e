//! Which replica counts a stop. Knative scales a workspace to zero by itself, a
//! minute or more after the stop, so every replica's reaper sees it running that
//! long and carries out the same stop its launcher's clock says is due; one of them
//! counts it (`dcs_idle_stops_total`). That one is the replica whose write of the
//! stop's moment (the launcher's `stop_at`) to the Service's
//! [`STOP_COUNTED_ANNOTATION`] lands first: a merge patch on the `resourceVersion`
//! it read, so two replicas cannot both write over a Service without it. A Service
//! that names that moment already was counted by another replica.
//!
//! An API error counts the stop here (a stop counted twice rather than never); a
//! Service that is gone counts nothing (deleted, not stopped).

use tracing::{debug, warn};

use super::api::Written;
use super::types::Ksvc;
use super::KnativeRuntime;
use dcs_model::WorkspaceKey;

/// The annotation of a workspace's Service naming the last stop a replica counted:
/// its launcher's `stop_at` (seconds since the epoch).
pub const STOP_COUNTED_ANNOTATION: &str = "dcs.dev/stop-counted";

/// Conditional writes tried before the stop is counted here regardless (other
/// writes to the Service, such as progress, may land in between).
const TRIES: usize = 3;

/// The stop `ksvc` says was counted, if any.
fn counted(ksvc: &Ksvc) -> Option<&str> {
    ksvc.metadata
        .annotations
        .as_ref()?
        .get(STOP_COUNTED_ANNOTATION)
        .map(String::as_str)
}

impl KnativeRuntime {
    /// Whether this replica counts the stop of `key` due at `due` (see the module).
    pub(super) async fn claim_stop_of(&self, key: &WorkspaceKey, due: u64) -> bool {
        let name = key.name().to_string();
        let due = due.to_string();
        // The cache's copy first; after a conflict, the API server's.
        let mut seen = self.cache.ksvc(&name).map(|k| (*k).clone());
        for _ in 0..TRIES {
            let ksvc = match seen.take() {
                Some(ksvc) => ksvc,
                None => match self.api.get_ksvc(&name).await {
                    Ok(Some(ksvc)) => ksvc,
                    Ok(None) => return false,
                    Err(error) => {
                        warn!(workspace = %key, %error, "cannot tell whether another replica counted the stop; counted here");
                        return true;
                    }
                },
            };
            if counted(&ksvc) == Some(due.as_str()) {
                return false;
            }
            let Some(version) = ksvc.metadata.resource_version.as_deref() else {
                return true;
            };
            match self
                .api
                .annotate_ksvc_at(&name, version, STOP_COUNTED_ANNOTATION, &due)
                .await
            {
                Ok(Written::Done) => return true,
                Ok(Written::Gone) => return false,
                Ok(Written::Stale) => continue,
                Err(error) => {
                    warn!(workspace = %key, %error, "cannot note the stop on the workspace's Service; counted here");
                    return true;
                }
            }
        }
        debug!(workspace = %key, "the Service kept changing; the stop is counted here");
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::runtime::contract;
    use crate::runtime::knative::fake::{FakeApiServer, Policy};
    use crate::runtime::knative::tests::{config_with, eventually};
    use crate::runtime::Runtime;

    #[tokio::test]
    async fn of_two_replicas_carrying_out_one_stop_one_counts_it() {
        let server = FakeApiServer::new();
        server.set_policy(Policy::ReadyAfter(Duration::from_millis(50)));
        let a = KnativeRuntime::new(config_with(&[]), server.client());
        let b = KnativeRuntime::new(config_with(&[]), server.client());
        let k = contract::instance_key("alice", "inst-00000000000000c1");
        a.register(&contract::instance_spec(&k))
            .await
            .expect("create");
        eventually("both caches hold it", || async {
            (a.ready().is_ok() && b.cache.ksvc(k.name().as_str()).is_some()).then_some(())
        })
        .await;
        assert!(a.claim_stop(&k, 100).await, "the first counts it");
        assert!(!b.claim_stop(&k, 100).await, "the other does not");
        assert!(!a.claim_stop(&k, 100).await, "nor the first again");
        // At once, on the same version of the Service: one of them.
        let (x, y) = tokio::join!(a.claim_stop(&k, 200), b.claim_stop(&k, 200));
        assert!(x ^ y, "exactly one counts the next stop: {x} {y}");
        let ksvc = server
            .object(
                "serving.knative.dev",
                "services",
                &a.cfg.namespace,
                k.name().as_str(),
            )
            .expect("the Service");
        assert_eq!(
            ksvc["metadata"]["annotations"][STOP_COUNTED_ANNOTATION],
            "200"
        );
        // A workspace that is gone counts nothing.
        let gone = contract::instance_key("alice", "inst-00000000000000c2");
        assert!(!a.claim_stop(&gone, 100).await);
    }
}
