//! The activator over a scripted runtime: single-flight starts, the memory of a
//! failed start, the limits on starts at once and the repository check.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use dcs_model::{RepoRef, UserId};

use super::*;
use crate::error::StartFailure;
use crate::runtime::{VolumeInfo, WorkspaceInfo};

/// A runtime whose `ensure` fails (or succeeds, or never finishes) as told,
/// counting calls; its workspaces are unknown (`NotFound`) when told so.
#[derive(Default)]
struct Scripted {
    ensures: AtomicUsize,
    fail: std::sync::atomic::AtomicBool,
    hold: std::sync::atomic::AtomicBool,
    unknown: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Runtime for Scripted {
    async fn ensure(&self, _spec: &WorkspaceSpec) -> Result<Upstream> {
        self.ensures.fetch_add(1, Ordering::SeqCst);
        if self.hold.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::StartFailed {
                kind: StartFailure::NotFound,
                message: "repository acme/missing was not found".into(),
            });
        }
        Ok(Upstream {
            authority: "127.0.0.1:9".into(),
            host: None,
            socket: None,
            hop: None,
            multiplexed: false,
        })
    }
    async fn register(&self, _spec: &WorkspaceSpec) -> Result<()> {
        Ok(())
    }
    async fn update_spec(
        &self,
        _key: &WorkspaceKey,
        _spec: &dcs_model::InstanceSpec,
    ) -> Result<()> {
        Ok(())
    }
    async fn volume(&self, _user: &UserId) -> Result<VolumeInfo> {
        Err(Error::Runtime("not scripted".into()))
    }
    async fn status(&self, _key: &WorkspaceKey) -> Result<Status> {
        if self.unknown.load(Ordering::SeqCst) {
            return Ok(Status::NotFound);
        }
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

fn spec_of(user: &str, repo: &str) -> WorkspaceSpec {
    WorkspaceSpec::for_repo(WorkspaceKey::new(
        UserId::new(user).expect("user"),
        RepoRef::parse(repo).expect("repo"),
    ))
}

/// Begins the start of `spec` in the background (it never finishes: `hold`).
fn begin(
    act: &Arc<Activator>,
    spec: WorkspaceSpec,
) -> tokio::task::JoinHandle<Result<Arc<Upstream>>> {
    let act = act.clone();
    tokio::spawn(async move { act.upstream(&spec).await })
}

async fn until_starting(act: &Activator, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while lock(&act.starting).len() < n {
        assert!(Instant::now() < deadline, "the starts never began");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn starts_beyond_the_per_user_and_total_limits_are_429_and_joining_one_is_not() {
    let runtime = Arc::new(Scripted::default());
    runtime.hold.store(true, Ordering::SeqCst);
    let act = Arc::new(
        Activator::new(
            runtime.clone(),
            Duration::from_secs(600),
            Duration::from_secs(60),
            Arc::new(Metrics::default()),
        )
        .with_quotas(Quotas {
            instances_per_user: None,
            starts_per_user: Some(1),
            starts_total: Some(2),
        }),
    );
    let a = begin(&act, spec_of("alice", "acme/a"));
    until_starting(&act, 1).await;
    let err = act
        .upstream(&spec_of("alice", "acme/b"))
        .await
        .expect_err("alice's second start");
    assert_eq!(err.status(), 429, "{err}");
    assert!(act
        .admit_start(&UserId::new("alice").expect("user"))
        .is_err());
    // Joining the start under way is not another start.
    let join = begin(&act, spec_of("alice", "acme/a"));
    let b = begin(&act, spec_of("bob", "acme/a"));
    until_starting(&act, 2).await;
    let err = act
        .upstream(&spec_of("carol", "acme/a"))
        .await
        .expect_err("the third start in total");
    assert!(err.to_string().contains("starting 2 workspaces"), "{err}");
    assert!(!join.is_finished(), "the join waits for alice's start");
    assert_eq!(runtime.ensures.load(Ordering::SeqCst), 2);
    // The API's start is within the limits; its create was admitted before it woke:
    // that start is not refused.
    let err = act
        .wake(&spec_of("carol", "acme/c"), true)
        .expect_err("a limited wake beyond the limit");
    assert!(err.to_string().contains("starting 2 workspaces"), "{err}");
    act.wake(&spec_of("carol", "acme/c"), false)
        .expect("an admitted wake");
    until_starting(&act, 3).await;
    for task in [a, join, b] {
        task.abort();
    }
}

/// An activator over a runtime that knows no workspace, checking repositories
/// against the bare repositories under `git` (a `file://` git base).
fn checking_repos_at(git: &std::path::Path) -> (Arc<Activator>, Arc<Scripted>) {
    let probe = RepoProbe::new(
        &format!("file://{}", git.display()),
        None,
        crate::config::edge::RepoCheck::default(),
    );
    let runtime = Arc::new(Scripted::default());
    runtime.unknown.store(true, Ordering::SeqCst);
    let act = Arc::new(
        Activator::new(
            runtime.clone(),
            Duration::from_secs(60),
            Duration::from_secs(60),
            Arc::new(Metrics::default()),
        )
        .with_repo_probe(Arc::new(probe)),
    );
    (act, runtime)
}

#[tokio::test]
async fn a_repository_workspace_the_runtime_does_not_know_is_made_only_if_the_repo_exists() {
    let git = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(git.path().join("acme/hello.git")).expect("mkdir");
    let (act, runtime) = checking_repos_at(git.path());
    let err = act
        .upstream(&spec_of("alice", "acme/missing"))
        .await
        .expect_err("missing");
    assert_eq!(err.status(), 404, "{err}");
    assert!(
        err.to_string().contains("acme/missing was not found"),
        "{err}"
    );
    assert_eq!(
        runtime.ensures.load(Ordering::SeqCst),
        0,
        "nothing was made"
    );
    let err = act
        .require_repo(&RepoRef::parse("acme/missing").expect("repo"))
        .await
        .expect_err("the API's create asks the same");
    assert_eq!(err.status(), 404);
    act.upstream(&spec_of("alice", "acme/hello"))
        .await
        .expect("an existing repository starts");
    assert_eq!(runtime.ensures.load(Ordering::SeqCst), 1);
    // A workspace the runtime knows is woken without asking.
    runtime.unknown.store(false, Ordering::SeqCst);
    act.upstream(&spec_of("alice", "acme/gone"))
        .await
        .expect("known workspaces are not checked");
    assert_eq!(runtime.ensures.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_start_the_repository_check_refused_is_no_start_failure_and_a_failed_one_is() {
    let git = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(git.path().join("acme/hello.git")).expect("mkdir");
    let (act, runtime) = checking_repos_at(git.path());
    for _ in 0..3 {
        let err = act.upstream(&spec_of("alice", "acme/missing")).await;
        assert_eq!(err.expect_err("missing").status(), 404);
    }
    assert_eq!(act.metrics.start_failures.get(), 0, "nothing was tried");
    // A start that was tried and failed counts, whatever its kind.
    runtime.fail.store(true, Ordering::SeqCst);
    let err = act.upstream(&spec_of("alice", "acme/hello")).await;
    assert_eq!(err.expect_err("failed").status(), 404);
    assert_eq!(act.metrics.start_failures.get(), 1);
}

#[tokio::test]
async fn requests_for_repositories_that_do_not_exist_leave_nothing_behind() {
    // Every mistyped (or invented) repository name: answered 404 from the probe's
    // bounded memory of misses, and no per-workspace state kept for it here.
    let git = tempfile::tempdir().expect("tmp");
    let (act, runtime) = checking_repos_at(git.path());
    for n in 0..50 {
        let spec = spec_of("mallory", &format!("acme/invented-{n}"));
        let err = act.upstream(&spec).await.expect_err("missing");
        assert_eq!(err.status(), 404, "{err}");
        assert!(act.activity.peek(&spec.key).is_none(), "no tracker for {n}");
    }
    assert!(lock(&act.failed).is_empty(), "no remembered failures");
    assert!(lock(&act.starting).is_empty() && lock(&act.ready).is_empty());
    assert_eq!(
        runtime.ensures.load(Ordering::SeqCst),
        0,
        "nothing was made"
    );
    // Asked again: still 404 (from the probe's memory), still nothing kept.
    let again = spec_of("mallory", "acme/invented-0");
    assert_eq!(
        act.upstream(&again).await.expect_err("missing").status(),
        404
    );
    assert!(lock(&act.failed).is_empty());
}

#[tokio::test]
async fn a_delete_forgets_the_outcome_a_page_followed() {
    // A page followed a start that failed, then the workspace was deleted: what a
    // page (and `/api/status`) read afterwards is that it is gone, not the failure
    // of a start before the delete. (Its own key: the board is the process's.)
    use crate::progress::board::{self, Followed};
    let runtime = Arc::new(Scripted::default());
    runtime.fail.store(true, Ordering::SeqCst);
    let act = activator(runtime, Backoff::default());
    let spec = WorkspaceSpec::for_repo(WorkspaceKey::new(
        UserId::new("alice").expect("user"),
        RepoRef::parse("acme/deleted-while-followed").expect("repo"),
    ));
    let mut followed = act.board.follow(&act, &spec);
    assert!(board::outcome(&mut followed).await.is_err());
    let before = act.board.state(&spec.key);
    assert!(
        matches!(before, Some(Followed::Ended(Err(_)))),
        "{before:?}"
    );
    act.forget(&spec.key);
    let after = act.board.state(&spec.key);
    assert!(
        after.is_none(),
        "still followed after the delete: {after:?}"
    );
}
