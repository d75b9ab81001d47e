//! The shared runtime contract against `LocalRuntime`: real `dcs-launcher`
//! processes cloning bare repositories served as `file://`.
//!
//! Needs the launcher binary (see `common`) and the `git` CLI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dcs_model::WorkspaceKey;
use dcs_proxy::runtime::contract::{self, Harness, REPOS};
use dcs_proxy::runtime::local::{LocalConfig, LocalRuntime};
use dcs_proxy::runtime::{Runtime, Status, WorkspaceSpec};

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
        launcher_bin: common::launcher_bin(),
        git_base: format!("file://{}", git_root.display()),
        git_token_file: None,
        ide: "none".into(),
        ide_bin: None,
        stop_grace: Duration::from_secs(2),
        start_limit: Duration::from_secs(60),
        launcher_log: None,
        git: Default::default(),
        extra_ca_file: None,
        idle: Default::default(),
        pre_stop: None,
        devcontainer: Default::default(),
        extensions_gallery: None,
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

/// A git server that accepts connections and never answers; counts them.
fn hanging_git_server() -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (base, accepted)
}

/// Live launchers working in `user`'s volume under `data_dir`.
fn launchers_of(data_dir: &Path, user: &str) -> Vec<u32> {
    let marker = format!(
        "DCS_WORKSPACES_DIR={}",
        data_dir.join("workspaces").join(user).display()
    );
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| dcs_os::proc::is_alive(*pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|e| e == marker.as_bytes()))
        })
        .collect()
}

/// Polls `cond` every 20 ms until it holds, failing the test after `secs` seconds.
async fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Bounds a call that must not wait for the hanging start.
async fn promptly<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .unwrap_or_else(|_| panic!("{what} waited for the hanging start"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_start_blocks_nothing_and_stop_delete_and_shutdown_end_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (git_base, accepted) = hanging_git_server();
    let data_dir = tmp.path().join("data");
    let runtime = Arc::new(
        LocalRuntime::open(LocalConfig {
            data_dir: data_dir.clone(),
            launcher_bin: common::launcher_bin(),
            git_base,
            git_token_file: None,
            ide: "none".into(),
            ide_bin: None,
            stop_grace: Duration::from_secs(2),
            start_limit: Duration::from_secs(600),
            launcher_log: None,
            git: Default::default(),
            extra_ca_file: None,
            idle: Default::default(),
            pre_stop: None,
            devcontainer: Default::default(),
            extensions_gallery: None,
        })
        .expect("open"),
    );
    let hang = contract::key("alice", "acme/hang");
    let start_hanging = || {
        let (runtime, spec) = (runtime.clone(), WorkspaceSpec::for_repo(hang.clone()));
        tokio::spawn(async move { runtime.ensure(&spec).await })
    };
    let first = start_hanging();
    wait_for("the clone reached the git server", 60, || {
        accepted.load(Ordering::SeqCst) >= 1
    })
    .await;

    // Everything else goes on while the clone hangs.
    let all = promptly("list", runtime.list(None)).await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, Status::Starting);
    assert_eq!(
        promptly("status", runtime.status(&hang))
            .await
            .expect("status"),
        Status::Starting
    );
    let other = contract::instance_key("bob", "inst-00000000000000b0");
    let other_spec = contract::instance_spec(&other);
    runtime.register(&other_spec).await.expect("register");
    promptly("another workspace's start", runtime.ensure(&other_spec))
        .await
        .expect("the other workspace starts");
    assert_eq!(
        runtime.status(&other).await.expect("status"),
        Status::Running
    );

    // Stop cancels the start and ends its launcher.
    promptly("stop", runtime.stop(&hang)).await.expect("stop");
    let ended = promptly("the cancelled start", first).await.expect("join");
    assert!(ended.is_err(), "{ended:?}");
    assert_eq!(
        runtime.status(&hang).await.expect("status"),
        Status::Stopped
    );
    wait_for("alice's launcher is gone", 30, || {
        launchers_of(&data_dir, "alice").is_empty()
    })
    .await;

    // A delete during a hanging start: gone for everyone who asks from the moment it
    // begins, not only once the start and its launcher have ended (a list read in
    // between showed it `stopped`).
    let second = start_hanging();
    wait_for("the second clone reached the git server", 60, || {
        accepted.load(Ordering::SeqCst) >= 2
    })
    .await;
    let delete = runtime.delete(&hang);
    tokio::pin!(delete);
    assert!(
        futures_util::FutureExt::now_or_never(&mut delete).is_none(),
        "the delete waits for the start to end"
    );
    assert_eq!(
        runtime.status(&hang).await.expect("status"),
        Status::NotFound
    );
    let listed = runtime.list(None).await.expect("list");
    assert!(listed.iter().all(|w| w.key != hang), "{listed:?}");
    promptly("delete", delete).await.expect("delete");
    assert!(promptly("the cancelled start", second)
        .await
        .expect("join")
        .is_err());

    // Shutdown during a hanging start stops every launcher, the starting one too.
    let second = start_hanging();
    wait_for("the third clone reached the git server", 60, || {
        accepted.load(Ordering::SeqCst) >= 3
    })
    .await;
    promptly("shutdown", runtime.shutdown()).await;
    assert!(promptly("the cancelled start", second)
        .await
        .expect("join")
        .is_err());
    assert!(
        launchers_of(&data_dir, "alice").is_empty(),
        "the starting launcher was stopped"
    );
    assert!(
        launchers_of(&data_dir, "bob").is_empty(),
        "the running launcher was stopped"
    );
    let after = runtime.ensure(&WorkspaceSpec::for_repo(hang.clone())).await;
    assert!(after.is_err(), "no start after shutdown: {after:?}");
}
