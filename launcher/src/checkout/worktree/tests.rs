//! The parallel working tree against `git clone` of the same repository: the same
//! files, modes, symlinks, filtered line endings and submodule folders, an index
//! git finds clean without hashing, and a cancelled write that stops.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use super::*;
use crate::checkout::{checkout, Outcome};
use crate::fixtures::{git, Upstream};

/// Files beyond the upstream's two, spread over nested folders.
const FILES: usize = 300;

/// An upstream whose last commit has [`FILES`] files in nested folders, an
/// executable, a symlink, `.gitattributes` at the top and in a folder (CRLF line
/// endings on checkout), and a submodule entry.
fn busy_upstream() -> Upstream {
    let upstream = Upstream::new();
    let work = upstream.dir.path().join("work");
    for i in 0..FILES {
        let dir = work.join(format!("d{:02}/s{}", i % 17, i % 3));
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join(format!("f{i:03}.txt")), format!("file {i}\n")).expect("write");
    }
    fs::write(work.join("run.sh"), "#!/bin/sh\necho hi\n").expect("write");
    fs::set_permissions(work.join("run.sh"), fs::Permissions::from_mode(0o755)).expect("chmod");
    std::os::unix::fs::symlink("README.md", work.join("link")).expect("symlink");
    fs::write(work.join(".gitattributes"), "*.crlf text eol=crlf\n").expect("write");
    fs::write(work.join("a.crlf"), "one\ntwo\n").expect("write");
    fs::create_dir_all(work.join("docs")).expect("mkdir");
    fs::write(work.join("docs/.gitattributes"), "*.md text eol=crlf\n").expect("write");
    fs::write(work.join("docs/x.md"), "three\nfour\n").expect("write");
    git(&work, &["add", "."]);
    let head = git(&work, &["rev-parse", "HEAD"]);
    let gitlink = format!("160000,{head},vendor/lib");
    git(&work, &["update-index", "--add", "--cacheinfo", &gitlink]);
    git(&work, &["commit", "--quiet", "-m", "busy"]);
    git(&work, &["push", "--quiet", "origin", "main"]);
    upstream
}

/// Every path under `root` outside `.git`, with what it is: file content and
/// mode, symlink target, or folder.
fn tree_of(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let name = path
                .strip_prefix(root)
                .expect("under root")
                .display()
                .to_string();
            if name == ".git" {
                continue;
            }
            let meta = fs::symlink_metadata(&path).expect("lstat");
            let what = if meta.is_symlink() {
                format!("-> {}", fs::read_link(&path).expect("readlink").display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_owned()
            } else {
                let mode = meta.permissions().mode() & 0o111;
                let bytes = fs::read(&path).expect("read");
                format!("{mode:o} {}", String::from_utf8_lossy(&bytes))
            };
            out.push((name, what));
        }
    }
    out.sort();
    out
}

#[test]
fn a_fresh_clone_is_written_as_git_clone_writes_it_by_several_threads() {
    let upstream = busy_upstream();
    let ws = tempfile::tempdir().expect("tempdir");
    let job = crate::checkout::tests::job(&upstream.base(), ws.path());
    assert_eq!(checkout(&job).expect("clone"), Outcome::Cloned);
    let ours = &job.target;
    let theirs = ws.path().join("by-git");
    git(
        ws.path(),
        &[
            "clone",
            "--quiet",
            &job.url(),
            theirs.to_str().expect("utf-8"),
        ],
    );

    assert_eq!(tree_of(ours), tree_of(&theirs));
    assert_eq!(
        fs::read(ours.join("a.crlf")).expect("read"),
        b"one\r\ntwo\r\n"
    );
    assert_eq!(
        fs::read(ours.join("docs/x.md")).expect("read"),
        b"three\r\nfour\r\n",
        "a folder's .gitattributes applies to its files"
    );
    assert!(ours.join("vendor/lib").is_dir());
    assert_eq!(
        git(ours, &["ls-files", "--stage"]),
        git(&theirs, &["ls-files", "--stage"])
    );
    // Without refreshing: every entry's recorded stat matches its file.
    assert_eq!(git(ours, &["diff-files", "--name-only"]), "");
    assert_eq!(git(ours, &["status", "--porcelain"]), "");
}

/// A clone of `upstream` into `<dir>/clone` whose checkout was skipped, as
/// `clone_fresh` makes it.
fn clone_without_files(upstream: &Upstream, dir: &Path) -> std::path::PathBuf {
    let target = dir.join("clone");
    let mut no_files = git2::build::CheckoutBuilder::new();
    no_files.dry_run();
    let url = format!("{}/acme/hello.git", upstream.base());
    git2::build::RepoBuilder::new()
        .with_checkout(no_files)
        .clone(&url, &target)
        .expect("clone without files");
    target
}

#[test]
fn the_work_is_shared_between_threads() {
    let (upstream, dir) = (busy_upstream(), tempfile::tempdir().expect("tempdir"));
    let target = clone_without_files(&upstream, dir.path());
    assert!(!target.join("README.md").exists());

    let written = write(&target, &AtomicBool::new(false)).expect("write");
    assert_eq!(written.files, FILES + 9, "{written:?}");
    assert!(written.workers >= 2, "{written:?}");
    assert_eq!(git(&target, &["status", "--porcelain"]), "");
}

#[test]
fn a_cancelled_write_stops_with_an_error() {
    let (upstream, dir) = (busy_upstream(), tempfile::tempdir().expect("tempdir"));
    let target = clone_without_files(&upstream, dir.path());

    let cancelled = write(&target, &AtomicBool::new(true));
    assert!(cancelled.is_err(), "{cancelled:?}");
    assert!(
        !target.join("d00/s0/f000.txt").exists(),
        "no chunk is started once cancelled"
    );
}

#[test]
fn an_empty_repository_is_cloned_with_nothing_to_write() {
    let upstream = tempfile::tempdir().expect("tempdir");
    let bare = upstream.path().join("git/acme/hello.git");
    fs::create_dir_all(&bare).expect("mkdir");
    git(&bare, &["init", "--bare", "--quiet"]);
    let ws = tempfile::tempdir().expect("tempdir");
    let base = format!("file://{}", upstream.path().join("git").display());
    let job = crate::checkout::tests::job(&base, ws.path());
    assert_eq!(checkout(&job).expect("clone"), Outcome::Cloned);
    assert!(job.target.join(".git").is_dir());
    assert_eq!(
        fs::read_dir(&job.target).expect("list").count(),
        1,
        "only .git"
    );
    let written = write(&job.target, &AtomicBool::new(false)).expect("nothing to write");
    assert_eq!(written.files, 0);
}
