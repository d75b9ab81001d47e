//! The activator over a scripted runtime: single-flight starts and the memory of a
//! failed start.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use dcs_model::{RepoRef, UserId};

use super::*;
use crate::error::StartFailure;
use crate::runtime::{VolumeInfo, WorkspaceInfo};

/// A runtime whose `ensure` fails (or succeeds) as told, counting calls.
#[derive(Default)]
struct Scripted {
    ensures: AtomicUsize,
    fail: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Runtime for Scripted {
    async fn ensure(&self, _spec: &WorkspaceSpec) -> Result<Upstream> {
        self.ensures.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::StartFailed {
                kind: StartFailure::NotFound,
                message: "repository acme/missing was not found".into(),
            });
        }
        Ok(Upstream {
            authority: "127.0.0.1:9".into(),
            host: None,
        })
    }
    async fn register(&self, _spec: &WorkspaceSpec) -> Result<()> {
        Ok(())
    }
    async fn volume(&self, _user: &UserId) -> Result<VolumeInfo> {
        Err(Error::Runtime("not scripted".into()))
    }
    async fn status(&self, _key: &WorkspaceKey) -> Result<Status> {
        Ok(Status::Stopped)
    }
    async fn list(&self, _user: Option<&UserId>) -> Result<Vec<WorkspaceInfo>> {
        Ok(Vec::new())
    }
    async fn stop(&self, _key: &WorkspaceKey) -> Result<()> {
        Ok(())
    }
    async fn delete(&self, _key: &WorkspaceKey) -> Result<()> {
        Ok(())
    }
}

fn activator(runtime: Arc<Scripted>, backoff: Backoff) -> Arc<Activator> {
    Arc::new(
        Activator::new(
            runtime,
            Duration::from_secs(60),
            Duration::from_secs(60),
            Arc::new(Metrics::default()),
        )
        .with_backoff(backoff),
    )
}

fn spec() -> WorkspaceSpec {
    WorkspaceSpec::for_repo(WorkspaceKey::new(
        UserId::new("alice").expect("user"),
        RepoRef::parse("acme/missing").expect("repo"),
    ))
}

#[test]
fn backoff_doubles_from_the_first_delay_up_to_the_maximum() {
    let b = Backoff::default();
    assert_eq!(b.after(1), Duration::from_secs(5));
    assert_eq!(b.after(2), Duration::from_secs(10));
    assert_eq!(b.after(4), Duration::from_secs(40));
    assert_eq!(b.after(5), Duration::from_secs(60));
    assert_eq!(b.after(u32::MAX), Duration::from_secs(60));
}

#[tokio::test]
async fn a_failed_start_is_answered_at_once_without_starting_again() {
    let runtime = Arc::new(Scripted::default());
    runtime.fail.store(true, Ordering::SeqCst);
    let backoff = Backoff {
        first: Duration::from_secs(600),
        max: Duration::from_secs(600),
    };
    let act = activator(runtime.clone(), backoff);
    let first = act.upstream(&spec()).await;
    assert!(matches!(first, Err(Error::StartFailed { .. })), "{first:?}");
    for _ in 0..20 {
        let again = act.upstream(&spec()).await;
        let Err(Error::StartFailed { kind, message }) = again else {
            panic!("the failure is remembered: {again:?}");
        };
        assert_eq!(kind, StartFailure::NotFound);
        assert!(message.contains("next attempt starts in"), "{message}");
    }
    assert_eq!(
        runtime.ensures.load(Ordering::SeqCst),
        1,
        "one start, not 21"
    );

    // The API's create (wake) and a delete (forget) clear the memory.
    act.forget(&spec().key);
    runtime.fail.store(false, Ordering::SeqCst);
    act.upstream(&spec())
        .await
        .expect("starts again after forget");
    assert_eq!(runtime.ensures.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn after_the_backoff_the_next_request_starts_again() {
    let runtime = Arc::new(Scripted::default());
    runtime.fail.store(true, Ordering::SeqCst);
    let backoff = Backoff {
        first: Duration::from_millis(1),
        max: Duration::from_millis(1),
    };
    let act = activator(runtime.clone(), backoff);
    assert!(act.upstream(&spec()).await.is_err());
    runtime.fail.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    while act.upstream(&spec()).await.is_err() {
        assert!(Instant::now() < deadline, "never retried");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(runtime.ensures.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_cancelled_start_is_not_remembered_as_a_failure() {
    let act = activator(Arc::new(Scripted::default()), Backoff::default());
    act.note_outcome(&spec().key, &Err(Error::Cancelled));
    assert!(act.remembered_failure(&spec().key).is_none());
}
