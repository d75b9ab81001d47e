//! Contract cases of starts: `ensure` resolves only once the workspace answers
//! through the upstream it returns (no 502 for a first request), and a delete
//! that races starts of the same instance is final (a reconnecting tab cannot
//! bring the instance back).

use std::sync::Arc;

use super::{ensure, found, instance_key, instance_spec, listed, spec, status, Harness};
use crate::runtime::knative::route::{self, Answer};
use crate::runtime::Status;

/// The upstream `ensure` returns answers `/_dcs/ready` with the launcher's
/// "ready" at once, first start and wake alike.
pub async fn ensure_resolves_once_the_workspace_answers(h: &dyn Harness) {
    let k = instance_key("c13-alice", "inst-00000000000000e1");
    h.runtime()
        .register(&instance_spec(&k))
        .await
        .expect("register");
    let up = ensure(h, &spec(&k)).await.expect("ensure");
    assert_eq!(route::probe(&up).await, Answer::Ready, "first start");
    h.settle_started(&k).await;
    h.runtime().stop(&k).await.expect("stop");
    h.settle_stopped(&k).await;
    let up = ensure(h, &spec(&k)).await.expect("wake");
    assert_eq!(route::probe(&up).await, Answer::Ready, "wake");
}

/// `delete` while several `ensure`s of the instance are under way: whatever
/// each `ensure` answers, afterwards the instance is gone for good.
/// (The Knative runtime's starts end `NotFound`; its own tests say so.)
pub async fn a_delete_during_a_start_is_final(h: &dyn Harness) {
    let k = instance_key("c14-alice", "inst-00000000000000e2");
    h.runtime()
        .register(&instance_spec(&k))
        .await
        .expect("register");
    let s = Arc::new(spec(&k));
    let starts = futures_util::future::join_all((0..3).map(|_| ensure(h, &s)));
    let delete = async {
        tokio::task::yield_now().await;
        h.runtime().delete(&k).await.expect("delete");
    };
    // Each start ends, one way or another (ready before the delete, or ended by
    // it); what matters is what is left afterwards.
    let (_outcomes, ()) = futures_util::future::join(starts, delete).await;
    // Gone everywhere, and a late start (a tab reconnecting) does not bring it back.
    for _ in 0..2 {
        assert_eq!(status(h, &k).await, Status::NotFound);
        assert_eq!(found(h, "inst-00000000000000e2").await, None);
        assert!(listed(h, Some("c14-alice")).await.is_empty());
        let late = ensure(h, &spec(&k)).await;
        assert!(
            matches!(late, Err(crate::error::Error::NotFound(_))),
            "{late:?}"
        );
    }
}
