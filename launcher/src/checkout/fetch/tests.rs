//! A checkout whose `origin` the user changed (renamed, re-pointed, removed) or whose
//! git base the operator changed: opened as it is, nothing fetched, nothing changed,
//! with a warning that says how to get updates again.

use std::fs;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use dcs_model::RepoRef;

use super::same_remote;
use crate::checkout::{checkout, Job, Outcome};
use crate::fixtures::{git, Upstream};

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

/// The working tree, index and refs of `dir`, to show nothing changed.
fn state(dir: &Path) -> [String; 4] {
    [
        git(dir, &["rev-parse", "HEAD"]),
        git(dir, &["status", "--porcelain", "--untracked-files=all"]),
        git(dir, &["ls-files", "--stage"]),
        git(dir, &["for-each-ref"]),
    ]
}

fn warning(outcome: Outcome) -> String {
    match outcome {
        Outcome::UsedAsIs { warning } => warning,
        other => panic!("expected a warning, got {other:?}"),
    }
}

/// A clone of `upstream` with local work in it, and the state to compare against.
fn clone_with_local_work(upstream: &Upstream, ws: &Path) -> (Job, [String; 4]) {
    let job = job(&upstream.base(), ws);
    checkout(&job).expect("first clone");
    fs::write(job.target.join("README.md"), "my edit\n").expect("edit");
    fs::write(job.target.join("notes.txt"), "mine\n").expect("write");
    upstream.commit("README.md", "upstream moved on\n");
    let before = state(&job.target);
    (job, before)
}

#[test]
fn a_checkout_whose_origin_was_re_pointed_opens_as_it_is_with_a_warning() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let (job, before) = clone_with_local_work(&upstream, ws.path());
    git(
        &job.target,
        &[
            "remote",
            "set-url",
            "origin",
            "https://user:pw@example.invalid/other/repo.git",
        ],
    );
    let before = [
        before[0].clone(),
        before[1].clone(),
        before[2].clone(),
        state(&job.target)[3].clone(),
    ];
    let warning = warning(checkout(&job).expect("opens"));
    assert_eq!(
        warning,
        format!(
            "origin of {} points at https://***@example.invalid/other/repo.git, not {url}: \
             updates are not fetched. To get them: git remote set-url origin {url}",
            job.target.display(),
            url = job.url()
        )
    );
    // (Not just "pw": temp dir names are random and may contain it.)
    assert!(!warning.contains("user:pw"), "{warning}");
    assert_eq!(
        state(&job.target),
        before,
        "nothing fetched, nothing changed"
    );
}

#[test]
fn a_checkout_whose_origin_was_renamed_or_removed_opens_as_it_is_with_a_warning() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let (job, _) = clone_with_local_work(&upstream, ws.path());
    git(&job.target, &["remote", "rename", "origin", "upstream"]);
    let before = state(&job.target);
    let renamed = warning(checkout(&job).expect("opens"));
    assert!(
        renamed.ends_with(&format!(
            "has no remote 'origin' (its remote 'upstream' points at {}): updates are not \
             fetched. To get them: git remote rename upstream origin",
            job.url()
        )),
        "{renamed}"
    );
    assert_eq!(state(&job.target), before);

    git(&job.target, &["remote", "remove", "upstream"]);
    let before = state(&job.target);
    let removed = warning(checkout(&job).expect("opens"));
    assert!(
        removed.ends_with(&format!(
            "has no remote 'origin': updates are not fetched. To get them: git remote add \
             origin {}",
            job.url()
        )),
        "{removed}"
    );
    assert_eq!(state(&job.target), before);
}

#[test]
fn a_changed_git_base_opens_the_checkout_as_it_is_with_a_warning() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let (old, before) = clone_with_local_work(&upstream, ws.path());
    let new = job("https://git.example.invalid", ws.path());
    let warning = warning(checkout(&new).expect("opens"));
    assert!(
        warning.contains(&format!("points at {}, not {}", old.url(), new.url())),
        "{warning}"
    );
    assert!(warning.ends_with(&format!("git remote set-url origin {}", new.url())));
    assert_eq!(state(&old.target), before);
}

#[test]
fn an_origin_differing_only_by_dot_git_or_slash_is_the_same_repo() {
    assert_eq!(
        same_remote("https://h/a/b.git"),
        same_remote("https://h/a/b/")
    );
    assert_ne!(
        same_remote("https://h/a/b.git"),
        same_remote("https://h/a/c.git")
    );
}

#[test]
fn first_clones_are_shallow_only_over_smart_transports() {
    use crate::checkout::{is_shallow, shallow_capable};
    for url in [
        "https://h/a/b.git",
        "http://127.0.0.1:1/a/b.git",
        "ssh://h/a/b",
    ] {
        assert!(shallow_capable(url), "{url}");
    }
    for url in ["file:///srv/a/b.git", "/srv/a/b.git", "git@h:a/b.git"] {
        assert!(!shallow_capable(url), "{url}");
    }
    // libgit2's local transport cannot fetch shallow: such a clone is complete.
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), ws.path());
    assert_eq!(checkout(&job).expect("clone"), Outcome::Cloned);
    assert!(!is_shallow(&job.target));
}

#[test]
fn completing_a_complete_checkout_fetches_it_as_usual() {
    use crate::checkout::checkout_with;
    use crate::checkout::protocol::History;
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), ws.path());
    checkout(&job).expect("clone");
    let before = state(&job.target);
    upstream.commit("later.txt", "later\n");
    assert_eq!(
        checkout_with(&job, History::Complete).expect("fetch"),
        Outcome::Fetched
    );
    assert_eq!(
        state(&job.target)[..3],
        before[..3],
        "working tree untouched"
    );
}

#[test]
fn a_refspec_into_local_branches_never_moves_the_checked_out_one() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let (job, _) = clone_with_local_work(&upstream, ws.path());
    let dir = &job.target;
    // The user's own commit on the checked-out branch, and a refspec (theirs, or a
    // tool's) that maps origin's branches onto the local ones.
    git(dir, &["add", "-A"]);
    git(
        dir,
        &[
            "-c",
            "user.name=u",
            "-c",
            "user.email=u@x",
            "commit",
            "-qm",
            "mine",
        ],
    );
    let mine = git(dir, &["rev-parse", "HEAD"]);
    git(
        dir,
        &[
            "config",
            "--add",
            "remote.origin.fetch",
            "+refs/heads/*:refs/heads/*",
        ],
    );
    let branch = git(dir, &["symbolic-ref", "--short", "HEAD"]);
    let before = state(dir);
    let warned = warning(checkout(&job).expect("opened"));
    assert!(
        warned.contains("+refs/heads/*:refs/heads/*")
            && warned.contains("git config --unset --fixed-value"),
        "{warned}"
    );
    assert_eq!(
        git(dir, &["rev-parse", &branch]),
        mine,
        "the branch stayed on the commit"
    );
    assert_eq!(state(dir), before, "nothing fetched, nothing changed");
    // Without that refspec, updates flow again into the remote-tracking refs only.
    git(
        dir,
        &[
            "config",
            "--unset",
            "remote.origin.fetch",
            "refs/heads/\\*:refs/heads",
        ],
    );
    assert_eq!(checkout(&job).expect("fetch"), Outcome::Fetched);
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), mine);
    let tracking = git(
        dir,
        &["rev-parse", &format!("refs/remotes/origin/{branch}")],
    );
    assert_ne!(tracking, mine, "the remote-tracking ref moved");
}
