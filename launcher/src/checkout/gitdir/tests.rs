//! A checkout whose `.git` leads into another user's repository (a link, a
//! `gitdir:` file, a `commondir`, a link where the fetch writes) is refused and
//! that repository untouched; partial packs an interrupted fetch left are removed by
//! the next fetch, and nothing else is.

use std::fs;

use crate::checkout::tests::{job, names};
use crate::checkout::{checkout, Outcome};
use crate::error::{Error, FailureKind};
use crate::fixtures::{git, Upstream};

/// Bob's clone of the upstream (`<tmp>/bob/acme/hello`), then a new upstream
/// commit he has not fetched; what his repository holds, to compare later.
struct Bob {
    ws: tempfile::TempDir,
    before: String,
}

impl Bob {
    fn new(upstream: &Upstream) -> Self {
        let ws = tempfile::tempdir().expect("tempdir");
        let job = job(&upstream.base(), ws.path());
        assert_eq!(checkout(&job).expect("bob's clone"), Outcome::Cloned);
        upstream.commit("later.txt", "later\n");
        let bob = Self {
            ws,
            before: String::new(),
        };
        Self {
            before: bob.state(),
            ..bob
        }
    }

    fn checkout(&self) -> std::path::PathBuf {
        self.ws.path().join("acme/hello")
    }

    fn git_dir(&self) -> std::path::PathBuf {
        self.checkout().join(".git")
    }

    /// His refs, FETCH_HEAD, and the names of his object files.
    fn state(&self) -> String {
        let refs = git(&self.checkout(), &["for-each-ref"]);
        let fetch_head = fs::read_to_string(self.git_dir().join("FETCH_HEAD")).ok();
        let objects = git(&self.checkout(), &["count-objects", "-v"]);
        let packs = names(&self.git_dir().join("objects/pack"));
        format!("{refs}\n{fetch_head:?}\n{objects}\n{packs:?}")
    }

    fn assert_untouched(&self) {
        assert_eq!(self.state(), self.before, "bob's repository changed");
    }
}

fn refused(result: crate::error::Result<Outcome>) -> String {
    match result {
        Err(Error::Checkout { kind, message }) => {
            assert_eq!(kind, FailureKind::Refused, "{message}");
            assert!(message.contains("nothing was changed"), "{message}");
            message
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_dot_git_link_or_gitdir_file_into_another_repository_is_refused() {
    let upstream = Upstream::new();
    let bob = Bob::new(&upstream);
    let alice = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), alice.path());
    fs::create_dir_all(&job.target).expect("mkdir");
    fs::write(job.target.join("notes.txt"), "mine\n").expect("write");

    std::os::unix::fs::symlink(bob.git_dir(), job.target.join(".git")).expect("symlink");
    let message = refused(checkout(&job));
    assert!(message.contains(".git is a symbolic link"), "{message}");
    bob.assert_untouched();

    fs::remove_file(job.target.join(".git")).expect("rm");
    let gitdir = format!("gitdir: {}\n", bob.git_dir().display());
    fs::write(job.target.join(".git"), gitdir).expect("write");
    let message = refused(checkout(&job));
    assert!(
        message.contains(".git is a file naming a git folder"),
        "{message}"
    );
    bob.assert_untouched();
    assert_eq!(names(&job.target), [".git", "notes.txt"]);
}

#[test]
fn a_worktree_of_another_repository_is_refused() {
    let upstream = Upstream::new();
    let bob = Bob::new(&upstream);
    // A linked worktree's git folder, pointing at bob's, as alice's `.git`.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let tree = elsewhere.path().join("tree");
    git(
        &bob.checkout(),
        &[
            "worktree",
            "add",
            "--quiet",
            "--detach",
            tree.to_str().expect("utf-8"),
        ],
    );
    let bob = Bob {
        before: bob.state(),
        ..bob
    };
    let alice = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), alice.path());
    let theirs = bob.git_dir().join("worktrees/tree");
    let ours = job.target.join(".git");
    fs::create_dir_all(&ours).expect("mkdir");
    for file in ["HEAD", "commondir", "gitdir"] {
        let text = fs::read_to_string(theirs.join(file)).expect("read");
        let text = if file == "commondir" {
            format!("{}\n", bob.git_dir().display())
        } else {
            text
        };
        fs::write(ours.join(file), text).expect("write");
    }
    let message = refused(checkout(&job));
    assert!(
        message.contains("worktree of another repository"),
        "{message}"
    );
    bob.assert_untouched();
}

#[test]
fn a_link_where_the_fetch_writes_is_refused() {
    let upstream = Upstream::new();
    let bob = Bob::new(&upstream);
    let alice = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), alice.path());
    assert_eq!(checkout(&job).expect("alice's clone"), Outcome::Cloned);
    let git_dir = job.target.join(".git");

    // Her reflog of origin/main appends to bob's file.
    let victim = bob.checkout().join("README.md");
    let log = git_dir.join("logs/refs/remotes/origin/main");
    fs::create_dir_all(log.parent().expect("parent")).expect("mkdir");
    let _ = fs::remove_file(&log);
    std::os::unix::fs::symlink(&victim, &log).expect("symlink");
    let message = refused(checkout(&job));
    assert!(message.contains("main is a symbolic link"), "{message}");
    assert_eq!(fs::read_to_string(&victim).expect("read"), "hello\n");
    fs::remove_file(&log).expect("rm");

    // Her objects are bob's.
    let objects = git_dir.join("objects");
    fs::rename(&objects, git_dir.join("objects.mine")).expect("mv");
    std::os::unix::fs::symlink(bob.git_dir().join("objects"), &objects).expect("symlink");
    let message = refused(checkout(&job));
    assert!(message.contains("objects is a symbolic link"), "{message}");
    bob.assert_untouched();
    fs::remove_file(&objects).expect("rm");
    fs::rename(git_dir.join("objects.mine"), &objects).expect("mv");

    // Her remote-tracking refs are bob's.
    let origin = git_dir.join("refs/remotes/origin");
    let _ = fs::remove_dir_all(&origin);
    fs::create_dir_all(git_dir.join("refs/remotes")).expect("mkdir");
    std::os::unix::fs::symlink(bob.git_dir().join("refs/remotes/origin"), &origin)
        .expect("symlink");
    refused(checkout(&job));
    bob.assert_untouched();
    fs::remove_file(&origin).expect("rm");

    // Links elsewhere in the git folder are hers: the fetch goes on.
    let hooks = git_dir.join("hooks");
    let _ = fs::remove_dir_all(&hooks);
    std::os::unix::fs::symlink(alice.path(), &hooks).expect("symlink");
    assert_eq!(checkout(&job).expect("fetch"), Outcome::Fetched);
}

#[test]
fn a_link_on_the_way_is_checked_again_when_the_transfer_starts() {
    let upstream = Upstream::new();
    let bob = Bob::new(&upstream);
    let alice = tempfile::tempdir().expect("tempdir");
    let mut job = job(&upstream.base(), alice.path());
    job.confined = Some(alice.path().to_path_buf());
    // Planted after the checkout step looked, before its transfer child opens.
    std::os::unix::fs::symlink(bob.ws.path().join("acme"), alice.path().join("acme"))
        .expect("symlink");
    let message = refused(checkout(&job));
    assert!(message.contains("acme is a symbolic link"), "{message}");
    bob.assert_untouched();

    // A folder again: cloned.
    fs::remove_file(alice.path().join("acme")).expect("rm");
    assert_eq!(checkout(&job).expect("clone"), Outcome::Cloned);
}

#[test]
fn partial_packs_of_an_interrupted_fetch_are_removed_by_the_next_and_nothing_else() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = job(&upstream.base(), ws.path());
    assert_eq!(checkout(&job).expect("clone"), Outcome::Cloned);
    let pack = job.target.join(".git/objects/pack");
    let before = names(&pack);
    let partial = pack.join("pack_git2_a1B2c3");
    fs::write(&partial, vec![b'P'; 1 << 20]).expect("write");
    fs::write(pack.join("pack_git2_"), "not libgit2's").expect("write");
    fs::write(pack.join("tmp_pack_x1"), "git's own, maybe in use").expect("write");
    fs::create_dir(pack.join("pack_git2_dir")).expect("mkdir");
    let new_commit = upstream.commit("README.md", "upstream change\n");

    assert_eq!(checkout(&job).expect("fetch"), Outcome::Fetched);
    assert!(!partial.exists(), "the partial pack is removed");
    let left = names(&pack);
    for kept in ["pack_git2_", "pack_git2_dir", "tmp_pack_x1"] {
        assert!(left.iter().any(|n| n == kept), "{kept} kept: {left:?}");
    }
    for pack_file in &before {
        assert!(left.contains(pack_file), "{pack_file} kept: {left:?}");
    }
    assert_eq!(
        git(&job.target, &["rev-parse", "refs/remotes/origin/main"]),
        new_commit
    );
    git(&job.target, &["fsck", "--no-progress"]);
}
