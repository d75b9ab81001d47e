//! The shared runtime contract against `LocalRuntime`: real `dcs-launcher`
//! processes cloning bare repositories served as `file://`.
//!
//! Needs the launcher binary next to this test's profile directory
//! (`cargo build --bins` first), or in `$DCS_BIN_DIR`, and the `git` CLI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use async_trait::async_trait;
use dcs_model::WorkspaceKey;
use dcs_proxy::runtime::contract::{self, Harness, REPOS};
use dcs_proxy::runtime::local::{LocalConfig, LocalRuntime};
use dcs_proxy::runtime::Runtime;

/// `target/<profile>/dcs-launcher`, located from this test executable.
fn launcher_bin() -> PathBuf {
    let dir = match std::env::var_os("DCS_BIN_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let exe = std::env::current_exe().expect("current exe");
            let mut dir = exe.parent().expect("parent").to_path_buf();
            if dir.ends_with("deps") {
                dir.pop();
            }
            dir
        }
    };
    let bin = dir.join("dcs-launcher");
    assert!(
        bin.is_file(),
        "{} not found: run `cargo build --bins` first (or set DCS_BIN_DIR)",
        bin.display()
    );
    bin
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("the git CLI");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bare `<root>/<owner>/<repo>.git` with one commit.
fn bare_repo(root: &Path, repo: &str) {
    let work = root.join("work").join(repo);
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("README.md"), format!("# {repo}\n")).expect("write");
    git(&work, &["add", "README.md"]);
    git(&work, &["commit", "-q", "-m", "init"]);
    let bare = root.join(format!("{repo}.git"));
    std::fs::create_dir_all(bare.parent().expect("parent")).expect("mkdir");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().expect("utf8"),
            bare.to_str().expect("utf8"),
        ],
    );
}

struct LocalHarness {
    runtime: LocalRuntime,
    data_dir: PathBuf,
}

#[async_trait]
impl Harness for LocalHarness {
    fn runtime(&self) -> &dyn Runtime {
        &self.runtime
    }

    /// The checkout in the user's volume.
    async fn files_exist(&self, key: &WorkspaceKey) -> bool {
        let env = dcs_model::LauncherEnv {
            workspaces_dir: self.data_dir.join("workspaces").join(key.user.as_str()),
            ..dcs_model::LauncherEnv::new_for(key)
        };
        let folder = env.checkout_dir();
        match key.repo() {
            Some(_) => folder.join(".git").is_dir(),
            None => folder.is_dir(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_runtime_passes_the_runtime_contract() {
    let tmp = tempfile::tempdir().expect("tmp");
    let git_root = tmp.path().join("git");
    for repo in REPOS {
        bare_repo(&git_root, repo);
    }
    let data_dir = tmp.path().join("data");
    let runtime = LocalRuntime::open(LocalConfig {
        data_dir: data_dir.clone(),
        launcher_bin: launcher_bin(),
        git_base: format!("file://{}", git_root.display()),
        git_token_file: None,
        ide: "none".into(),
        ide_bin: None,
        stop_grace: Duration::from_secs(2),
        start_limit: Duration::from_secs(60),
        launcher_log: None,
    })
    .expect("open");
    let h = LocalHarness { runtime, data_dir };
    contract::run_all(&h).await;

    // Local specifics: the volume is the user's directory, measured; nothing of a
    // container applies.
    assert!(!h.runtime.applies_containers());
    let alice = contract::key("c1-alice", REPOS[0]).user;
    let v = h.runtime.volume(&alice).await.expect("volume");
    assert_eq!(
        PathBuf::from(&v.name),
        h.data_dir.join("workspaces").join("c1-alice")
    );
    assert!(v.used_bytes.is_some_and(|b| b > 0), "{v:?}");
    assert_eq!(v.capacity, None);
    // An instance without a repository runs in `_instances/<id>` with its env.
    let inst = contract::instance_key("c7-alice", "inst-00000000000000c7");
    let folder = h
        .data_dir
        .join("workspaces/c7-alice/_instances/inst-00000000000000c7");
    assert!(folder.is_dir());
    assert!(inst.repo().is_none());
    h.runtime.shutdown().await;
}
