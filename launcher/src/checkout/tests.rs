//! Checkout against real repositories: a bare upstream reached by `file://`, work
//! trees with local changes, and a loopback HTTP server that demands credentials.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use super::*;
use crate::fixtures::{git, Upstream};

mod hosts;

/// A job cloning `acme/hello` from `base` into `workspaces`.
pub(super) fn job(base: &str, workspaces: &Path) -> Job {
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

pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn failure(result: Result<Outcome>) -> (FailureKind, String) {
    match result {
        Err(Error::Checkout { kind, message }) => (kind, message),
        other => panic!("expected a checkout failure, got {other:?}"),
    }
}

#[test]
fn a_missing_target_is_cloned_and_no_partial_dir_remains() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), ws.path());
    assert_eq!(checkout(&job).expect("clone"), Outcome::Cloned);
    assert_eq!(
        fs::read_to_string(job.target.join("README.md")).expect("readme"),
        "hello\n"
    );
    let repo = Repository::open(&job.target).expect("a repository");
    let origin = repo.find_remote("origin").expect("origin");
    assert_eq!(origin.url(), Some(job.url().as_str()));
    assert_eq!(names(&ws.path().join("acme")), ["hello"]);
}

#[test]
fn an_empty_existing_directory_is_cloned_into() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), ws.path());
    fs::create_dir_all(&job.target).expect("mkdir");
    assert_eq!(checkout(&job).expect("clone"), Outcome::Cloned);
    assert!(job.target.join("src/main.rs").is_file());
    assert_eq!(names(&ws.path().join("acme")), ["hello"]);
}

#[test]
fn an_existing_clone_is_fetched_and_local_work_is_untouched() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), ws.path());
    checkout(&job).expect("first clone");
    let t = &job.target;
    fs::write(t.join("README.md"), "my unsaved edit\n").expect("edit");
    fs::write(t.join("staged.txt"), "staged\n").expect("write");
    git(t, &["add", "staged.txt"]);
    fs::write(t.join("untracked.txt"), "mine\n").expect("write");
    let head_before = git(t, &["rev-parse", "HEAD"]);
    let status_before = git(t, &["status", "--porcelain"]);
    let index_before = git(t, &["ls-files", "--stage"]);

    let new_commit = upstream.commit("README.md", "upstream change\n");
    assert_eq!(checkout(&job).expect("fetch"), Outcome::Fetched);

    assert_eq!(
        git(t, &["rev-parse", "refs/remotes/origin/main"]),
        new_commit
    );
    assert_eq!(git(t, &["rev-parse", "HEAD"]), head_before);
    assert_eq!(git(t, &["status", "--porcelain"]), status_before);
    assert_eq!(git(t, &["ls-files", "--stage"]), index_before);
    assert_eq!(
        fs::read_to_string(t.join("README.md")).expect("readme"),
        "my unsaved edit\n"
    );
}

#[test]
fn a_failed_fetch_is_a_warning_and_the_checkout_is_used_as_it_is() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), ws.path());
    checkout(&job).expect("first clone");
    fs::write(job.target.join("README.md"), "edit\n").expect("edit");
    let bare = upstream.dir.path().join("git/acme/hello.git");
    fs::rename(&bare, upstream.dir.path().join("moved.git")).expect("move upstream away");
    match checkout(&job).expect("offline is not an error") {
        Outcome::UsedAsIs { warning } => assert!(warning.contains("used as it is"), "{warning}"),
        other => panic!("expected a warning, got {other:?}"),
    }
    assert_eq!(
        fs::read_to_string(job.target.join("README.md")).expect("readme"),
        "edit\n"
    );
}

#[test]
fn a_non_empty_directory_that_is_not_a_repo_is_refused_and_untouched() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), ws.path());
    fs::create_dir_all(&job.target).expect("mkdir");
    fs::write(job.target.join("notes.txt"), "precious\n").expect("write");
    let (kind, message) = failure(checkout(&job));
    assert_eq!(kind, FailureKind::Refused);
    assert!(
        message.contains(&job.target.display().to_string()),
        "{message}"
    );
    assert!(message.contains("nothing was changed"), "{message}");
    assert_eq!(names(&job.target), ["notes.txt"]);
    assert_eq!(
        fs::read_to_string(job.target.join("notes.txt")).expect("notes"),
        "precious\n"
    );
    assert_eq!(names(&ws.path().join("acme")), ["hello"]);
}

#[test]
fn a_missing_upstream_fails_without_leaving_anything_behind() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let mut job = job(&upstream.base(), ws.path());
    job.repo = RepoRef::parse("acme/absent").expect("repo");
    job.target = ws.path().join("acme/absent");
    let (kind, message) = failure(checkout(&job));
    assert_eq!(kind, FailureKind::NotFound, "{message}");
    assert!(message.contains("acme/absent"), "{message}");
    assert!(!job.target.exists());
    assert!(names(&ws.path().join("acme")).is_empty());
}

#[test]
fn a_cancelled_clone_leaves_nothing_behind() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), ws.path());
    job.cancel.store(true, Ordering::Relaxed);
    let (_, message) = failure(checkout(&job));
    assert!(message.contains("stopping"), "{message}");
    assert!(!job.target.exists());
    assert!(names(&ws.path().join("acme")).is_empty());
}

/// A loopback HTTP server answering every request with `401 Basic`, reporting each
/// request's head.
fn demanding_server() -> (String, mpsc::Receiver<String>) {
    recording_server("127.0.0.1:0", |_, _| {
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
            .to_owned()
    })
    .expect("bind")
}

/// A loopback server on `addr` that records each request's head (before it
/// answers, so every request a finished transfer made is recorded) and answers
/// with what `answer` makes of the head. Its base URL and the heads.
fn recording_server(
    addr: &str,
    answer: impl Fn(&str, &str) -> String + Send + 'static,
) -> Option<(String, mpsc::Receiver<String>)> {
    let listener = TcpListener::bind(addr).ok()?;
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    let me = base.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let reply = answer(&me, &head);
            if tx.send(head).is_err() {
                return;
            }
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    Some((base, rx))
}

fn base64(input: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn the_token_goes_only_into_the_authorization_header_and_is_tried_once() {
    let (base, requests) = demanding_server();
    let ws = tempfile::tempdir().expect("tempdir");
    let token_file = ws.path().join("token");
    fs::write(&token_file, "s3cret-token\n").expect("write");
    let mut job = job(&base, ws.path());
    job.token_file = Some(token_file);

    let (kind, message) = failure(checkout(&job));
    assert_eq!(kind, FailureKind::Auth, "{message}");
    assert!(message.contains("rejected the token"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");

    let heads: Vec<String> = requests.try_iter().collect();
    assert_eq!(
        heads.len(),
        2,
        "one anonymous try, one with the token: {heads:?}"
    );
    assert!(!heads[0].to_ascii_lowercase().contains("authorization"));
    let expected = format!("Basic {}", base64(b"x-access-token:s3cret-token"));
    assert!(heads[1].contains(&expected), "{}", heads[1]);
    assert!(heads
        .iter()
        .all(|h| !h.lines().next().unwrap_or("").contains("s3cret")));
    assert!(!job.target.exists());
    assert!(names(&ws.path().join("acme")).is_empty());
}

#[test]
fn without_a_token_auth_failures_explain_how_to_provide_one() {
    let (base, _requests) = demanding_server();
    let ws = tempfile::tempdir().expect("tempdir");
    let (kind, message) = failure(checkout(&job(&base, ws.path())));
    assert_eq!(kind, FailureKind::Auth, "{message}");
    assert!(message.contains("DCS_GIT_TOKEN_FILE"), "{message}");
}

#[test]
fn an_instance_folder_is_created_empty() {
    let ws = tempfile::tempdir().expect("tempdir");
    let target = ws.path().join("_instances/inst-0123456789abcdef");
    assert!(matches!(prepare_empty(&target), Ok(Outcome::Created)));
    assert!(target.is_dir());
    assert!(names(&target).is_empty());
    assert!(matches!(prepare_empty(&target), Ok(Outcome::Existing)));
}

#[test]
fn an_existing_instance_folder_with_files_is_untouched() {
    let ws = tempfile::tempdir().expect("tempdir");
    let target = ws.path().join("_instances/inst-0123456789abcdef");
    fs::create_dir_all(target.join("src")).expect("mkdir");
    fs::write(target.join("notes.txt"), "precious\n").expect("write");
    assert!(matches!(prepare_empty(&target), Ok(Outcome::Existing)));
    assert_eq!(names(&target), ["notes.txt", "src"]);
    assert_eq!(
        fs::read_to_string(target.join("notes.txt")).expect("notes"),
        "precious\n"
    );
}

#[test]
fn a_file_or_symlink_at_the_instance_folder_is_refused_and_untouched() {
    let ws = tempfile::tempdir().expect("tempdir");
    let file = ws.path().join("_instances/inst-file");
    fs::create_dir_all(ws.path().join("_instances")).expect("mkdir");
    fs::write(&file, "mine\n").expect("write");
    let (kind, message) = failure(prepare_empty(&file));
    assert_eq!(kind, FailureKind::Refused);
    assert!(message.contains("nothing was changed"), "{message}");
    assert_eq!(fs::read_to_string(&file).expect("file"), "mine\n");

    // A symlink is not followed, even to a directory.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let link = ws.path().join("_instances/inst-link");
    std::os::unix::fs::symlink(elsewhere.path(), &link).expect("symlink");
    let (kind, _) = failure(prepare_empty(&link));
    assert_eq!(kind, FailureKind::Refused);
    assert!(names(elsewhere.path()).is_empty());
}

/// The checkout is the workspace user's, and so is git's configuration there (its
/// `.git/config`, their `~/.gitconfig`): a proxy named in it must not carry a
/// plain-HTTP transfer, which holds the operator's token in the clear. The proxy
/// comes from the launcher's environment only ([`proxy`]; over TLS: see
/// `hosts::a_proxy_named_in_the_checkouts_configuration_is_not_used_for_tls`).
#[test]
fn a_proxy_named_in_the_users_git_configuration_never_sees_the_token() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        checkout(&job(&upstream.base(), ws.path())).expect("clone"),
        Outcome::Cloned
    );
    // The same checkout, now of a plain-HTTP git server that is down.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let git_server = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let token_file = ws.path().join("token");
    fs::write(&token_file, "s3cret-token\n").expect("write");
    let mut job = job(&git_server, ws.path());
    job.token_file = Some(token_file);
    git(&job.target, &["remote", "set-url", "origin", &job.url()]);
    // The user's own listener, named as the proxy in the checkout's configuration.
    let (proxy, requests) = demanding_server();
    git(&job.target, &["config", "http.proxy", &proxy]);
    git(&job.target, &["config", "remote.origin.proxy", &proxy]);

    let outcome = checkout(&job).expect("a failed fetch is a warning");
    let Outcome::UsedAsIs { warning } = outcome else {
        panic!("expected the checkout used as it is, got {outcome:?}");
    };
    assert!(warning.contains("could not reach"), "{warning}");
    let seen = requests.recv_timeout(Duration::from_millis(500));
    assert!(seen.is_err(), "the user's proxy got a request: {seen:?}");
    assert_eq!(
        fs::read_to_string(job.target.join("README.md")).expect("readme"),
        "hello\n"
    );
}
