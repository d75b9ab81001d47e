//! The transfer child for real (the test harness re-run as the child, see
//! [`Program::this_executable`]): git servers that never answer, the limits, the
//! checkout lock and the partial clones it cleans up.

use std::net::TcpListener;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use dcs_model::RepoRef;
use dcs_os::lock::FileLock;

use super::*;
use crate::fixtures::{git, Upstream};

/// A "git server" that accepts connections, reads nothing and never answers.
fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    base
}

fn job(base: &str, workspaces: &Path) -> Job {
    Job {
        repo: RepoRef::parse("acme/hello").expect("repo"),
        git_base: base.to_owned(),
        target: workspaces.join("acme/hello"),
        token_file: None,
        cancel: Arc::new(AtomicBool::new(false)),
        observer: None,
        roots_later: None,
        confined: None,
    }
}

fn short_limits() -> Limits {
    Limits {
        total: Duration::from_secs(3),
        low_speed_limit: 1000,
        low_speed_time: Duration::from_secs(2),
    }
}

/// Everything `run` reported.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<Status>>>);

impl Seen {
    fn sink(&self) -> impl Fn(Status) + Send + Sync {
        let seen = self.0.clone();
        move |s| seen.lock().expect("lock").push(s)
    }

    fn any(&self, f: impl Fn(&Status) -> bool) -> bool {
        self.0.lock().expect("lock").iter().any(f)
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `run`, bounded by a generous deadline so a regression fails instead of hanging.
async fn run_bounded(job: &Job, limits: Limits, seen: &Seen) -> Result<Outcome> {
    let sink = seen.sink();
    tokio::time::timeout(
        Duration::from_secs(90),
        run(job, &Program::this_executable(), limits, &sink),
    )
    .await
    .expect("the transfer ends well before 90 s")
}

fn failure(result: Result<Outcome>) -> (FailureKind, String) {
    match result {
        Err(Error::Checkout { kind, message }) => (kind, message),
        other => panic!("expected a checkout failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_clone_from_a_server_that_never_answers_is_given_up_at_the_low_speed_limit() {
    let base = silent_server();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&base, ws.path());
    let limits = Limits {
        total: Duration::from_secs(600),
        ..short_limits()
    };
    let (kind, message) = failure(run_bounded(&job, limits, &Seen::default()).await);
    assert_eq!(kind, FailureKind::Network, "{message}");
    assert!(
        message.starts_with(&format!(
            "the git server at {base} sent less than 1000 bytes/s for 2 s while cloning acme/hello"
        )),
        "{message}"
    );
    assert!(message.contains("DCS_GIT_LOW_SPEED_LIMIT"), "{message}");
    assert!(!job.target.exists());
    assert_eq!(
        names(&ws.path().join("acme")),
        [".hello.dcs-lock"],
        "the killed child's partial clone is gone"
    );
}

#[tokio::test]
async fn a_clone_is_given_up_at_the_total_limit_when_the_speed_limit_is_off() {
    let base = silent_server();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&base, ws.path());
    let limits = Limits {
        low_speed_limit: 0,
        ..short_limits()
    };
    let (kind, message) = failure(run_bounded(&job, limits, &Seen::default()).await);
    assert_eq!(kind, FailureKind::Network, "{message}");
    assert!(
        message.starts_with(&format!(
            "cloning acme/hello from {base} took longer than 3 s; gave up (DCS_GIT_TIMEOUT"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn a_fetch_that_hits_a_limit_leaves_the_checkout_as_it_is_with_a_warning() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let cloned = job(&upstream.base(), ws.path());
    let seen = Seen::default();
    assert_eq!(
        run_bounded(&cloned, short_limits(), &seen)
            .await
            .expect("clone"),
        Outcome::Cloned
    );
    assert!(seen.any(|s| matches!(s, Status::Transfer { op: Op::Clone, .. })));
    std::fs::write(cloned.target.join("README.md"), "my edit\n").expect("edit");
    let base = silent_server();
    let url = format!("{base}/acme/hello.git");
    git(&cloned.target, &["remote", "set-url", "origin", &url]);
    let head = git(&cloned.target, &["rev-parse", "HEAD"]);

    let stalled = job(&base, ws.path());
    match run_bounded(&stalled, short_limits(), &Seen::default()).await {
        Ok(Outcome::UsedAsIs { warning }) => {
            assert!(warning.starts_with("could not fetch updates"), "{warning}");
            assert!(warning.contains("while fetching acme/hello"), "{warning}");
        }
        other => panic!("expected a warning, got {other:?}"),
    }
    assert_eq!(git(&cloned.target, &["rev-parse", "HEAD"]), head);
    assert_eq!(
        std::fs::read_to_string(cloned.target.join("README.md")).expect("readme"),
        "my edit\n"
    );
}

#[tokio::test]
async fn a_second_launcher_waits_for_the_lock_and_abandoned_partials_are_removed() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), ws.path());
    let owner = ws.path().join("acme");
    let repo = job.repo.clone();
    std::fs::create_dir_all(owner.join(lock::partial_name(&repo, 999_999)).join(".git"))
        .expect("an abandoned partial clone");
    let held = FileLock::try_lock(&lock::lock_path(&owner, &repo))
        .expect("lock")
        .expect("free");

    let seen = Seen::default();
    let running = tokio::spawn({
        let (job, seen) = (job.clone(), seen.clone());
        async move { run_bounded(&job, short_limits(), &seen).await }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.any(|s| *s == Status::Waiting) {
        assert!(Instant::now() < deadline, "never said it waits");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!running.is_finished());
    assert!(
        !job.target.exists(),
        "nothing happens while another holds the lock"
    );
    drop(held);
    let outcome = running.await.expect("task").expect("clone");
    assert_eq!(outcome, Outcome::Cloned);
    assert_eq!(names(&owner), [".hello.dcs-lock", "hello"]);
}

#[tokio::test]
async fn cancelling_kills_the_child_and_removes_its_partial_clone() {
    let base = silent_server();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&base, ws.path());
    let seen = Seen::default();
    let limits = Limits {
        total: Duration::from_secs(600),
        low_speed_limit: 0,
        ..short_limits()
    };
    let running = tokio::spawn({
        let (job, seen) = (job.clone(), seen.clone());
        async move { run_bounded(&job, limits, &seen).await }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.any(|s| matches!(s, Status::Transfer { .. })) {
        assert!(Instant::now() < deadline, "the clone never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    job.cancel.store(true, Ordering::Relaxed);
    let (_, message) = failure(running.await.expect("task"));
    assert!(message.contains("launcher is stopping"), "{message}");
    assert_eq!(names(&ws.path().join("acme")), [".hello.dcs-lock"]);
}

/// A child that reports its outcome and then lingers (as a real one does while it
/// gives its memory back): the checkout goes on at the report, and the child is still
/// reaped (killed once it lingers past the exit wait).
#[tokio::test]
async fn the_checkout_goes_on_at_the_childs_report_and_the_child_is_reaped_beside() {
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job("http://127.0.0.1:9", ws.path());
    let pid_file = ws.path().join("child.pid");
    let done = serde_json::to_string(&super::super::protocol::Line::Done {
        outcome: Outcome::Cloned,
    })
    .expect("line");
    // Reads the job, reports, and lingers (also once its stdin closes, which waiting
    // for a child does first; as itself, so that killing it leaves nothing behind).
    let script = format!(
        "echo $$ > '{}'; read job; echo '{done}'; read more; exec sleep 600",
        pid_file.display()
    );
    let program = Program {
        path: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        env: Vec::new(),
        roots_later: None,
    };
    let sink = Seen::default().sink();
    let outcome = tokio::time::timeout(
        Duration::from_secs(60),
        run(&job, &program, short_limits(), &sink),
    )
    .await
    .expect("run ends");
    assert_eq!(outcome.expect("reported"), Outcome::Cloned);
    let pid = std::fs::read_to_string(&pid_file).expect("pid file");
    let proc_dir = Path::new("/proc").join(pid.trim());
    // Not waited for: still running when the checkout went on (neither gone nor a
    // zombie).
    let state = std::fs::read_to_string(proc_dir.join("stat"))
        .expect("the checkout went on while the child still ran");
    assert!(
        !state.contains(") Z "),
        "still running, not exited: {state}"
    );
    // Killed after the exit wait, and reaped: no process, no zombie.
    let deadline = Instant::now() + EXIT_WAIT + Duration::from_secs(30);
    while proc_dir.exists() {
        assert!(
            Instant::now() < deadline,
            "the lingering child was never reaped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
