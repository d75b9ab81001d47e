use std::sync::Arc;

use dcs_model::credentials::StoredCredential;

use super::*;

fn credential(host: &str, token: &str) -> StoredCredential {
    StoredCredential {
        host: host.into(),
        username: "x-access-token".into(),
        token: token.into(),
    }
}

fn one(host: &str, token: &str) -> CredentialFile {
    let mut stored = CredentialFile::default();
    stored.set(credential(host, token)).expect("set");
    stored
}

/// Sets `host`'s credential through `store`.
async fn set(store: &LocalStore, user: &UserId, host: &str) -> Result<CredentialFile, ApiErr> {
    let change = |f: &mut CredentialFile| {
        f.set(credential(host, "ghp_x"))
            .map_err(|why| ApiErr::field("host", why))
    };
    store.update(user, &change).await
}

#[tokio::test]
async fn the_local_file_is_owner_only_and_round_trips() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::new(dir.path().to_path_buf());
    let alice = UserId::new("alice").expect("user");
    assert_eq!(
        store.load(&alice).await.expect("load"),
        CredentialFile::default()
    );
    let stored = set(&store, &alice, "github.com").await.expect("set");
    assert_eq!(stored, one("github.com", "ghp_x"));
    assert_eq!(store.load(&alice).await.expect("load"), stored);
    let (volume, below) = store.file(&alice);
    assert_eq!(volume, dir.path().join("workspaces/alice"));
    let file = volume.join(below);
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let bob = UserId::new("bob").expect("user");
    assert!(store.load(&bob).await.expect("load").credentials.is_empty());
    // A change that fails leaves the file as it was.
    let refuse = |_: &mut CredentialFile| Err(ApiErr::not_found("no"));
    let err = store.update(&alice, &refuse).await.expect_err("refused");
    assert_eq!(err.status(), http::StatusCode::NOT_FOUND);
    assert_eq!(store.load(&alice).await.expect("load"), stored);
}

/// Twenty hosts set at once through one store (one proxy), in rounds: every
/// host of every round is kept, none lost to a change made from an older read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_of_one_user_all_land() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(LocalStore::new(dir.path().to_path_buf()));
    let alice = UserId::new("alice").expect("user");
    for round in 0..3 {
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (store, alice) = (store.clone(), alice.clone());
                tokio::spawn(
                    async move { set(&store, &alice, &format!("h{round}-{i}.example")).await },
                )
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("set");
        }
        let hosts = store.load(&alice).await.expect("load").credentials.len();
        assert_eq!(hosts, 20 * (round + 1), "round {round}");
    }
    // … and removed at once: all gone.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (store, alice) = (store.clone(), alice.clone());
            tokio::spawn(async move {
                let host = format!("h0-{i}.example");
                let change = move |f: &mut CredentialFile| {
                    f.remove(&host)
                        .then_some(())
                        .ok_or_else(|| ApiErr::not_found("gone"))
                };
                store.update(&alice, &change).await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("removed");
    }
    let left = store.load(&alice).await.expect("load").credentials;
    assert_eq!(left.len(), 40);
    assert!(left.iter().all(|c| !c.host.starts_with("h0-")));
}

/// A store where Bob has saved a credential; Alice's volume exists, empty.
async fn alice_and_bob() -> (tempfile::TempDir, LocalStore, UserId, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::new(dir.path().to_path_buf());
    let bob = UserId::new("bob").expect("user");
    store
        .write(&bob, &one("github.com", "ghp_bobs_token"))
        .await
        .expect("save");
    let alice = UserId::new("alice").expect("user");
    std::fs::create_dir_all(dir.path().join("workspaces/alice/.dcs")).expect("mkdir");
    let bobs = dir.path().join("workspaces/bob/.dcs/git-credentials.json");
    (dir, store, alice, bobs)
}

/// A 409 that names what to remove, and no token.
fn assert_refused(result: Result<impl std::fmt::Debug, ApiErr>, remove: &Path) {
    let err = result.expect_err("refused");
    assert_eq!(err.status(), http::StatusCode::CONFLICT, "{err:?}");
    let remove = format!("remove {} from a workspace terminal", remove.display());
    assert!(err.body().message.contains(&remove), "{err:?}");
    assert!(!err.body().message.contains("ghp_"), "{err:?}");
}

#[tokio::test]
async fn bobs_file_linked_from_alices_volume_is_neither_read_nor_written() {
    let (dir, store, alice, bobs) = alice_and_bob().await;
    let before = std::fs::read(&bobs).expect("read");
    let alices = dir
        .path()
        .join("workspaces/alice/.dcs/git-credentials.json");
    std::os::unix::fs::symlink(&bobs, &alices).expect("symlink");
    assert_refused(store.load(&alice).await, &alices);
    assert_refused(set(&store, &alice, "x.org").await, &alices);
    // A write (never reached through a change, which reads first) replaces the
    // link with Alice's own file.
    let _ = store.write(&alice, &one("x.org", "ghp_alices")).await;
    assert_eq!(std::fs::read(&bobs).expect("read"), before);
    let text = std::fs::read_to_string(&alices).unwrap_or_default();
    assert!(!text.contains("ghp_bobs_token"), "{text}");
}

#[tokio::test]
async fn a_dcs_folder_linked_to_bobs_leaves_bobs_file_untouched() {
    let (dir, store, alice, bobs) = alice_and_bob().await;
    let before = std::fs::read(&bobs).expect("read");
    let alices = dir.path().join("workspaces/alice/.dcs");
    std::fs::remove_dir(&alices).expect("rmdir");
    std::os::unix::fs::symlink(bobs.parent().expect("dir"), &alices).expect("symlink");
    assert_refused(store.load(&alice).await, &alices);
    let saved = store.write(&alice, &one("x.org", "ghp_alices")).await;
    assert_refused(saved, &alices);
    assert_eq!(std::fs::read(&bobs).expect("read"), before);
    let names = std::fs::read_dir(bobs.parent().expect("dir"))
        .expect("list")
        .count();
    assert_eq!(names, 1, "nothing else is written into Bob's folder");
}

#[tokio::test]
async fn a_link_to_dev_zero_or_an_oversized_file_is_answered_promptly() {
    let (dir, store, alice, _) = alice_and_bob().await;
    let alices = dir
        .path()
        .join("workspaces/alice/.dcs/git-credentials.json");
    std::os::unix::fs::symlink("/dev/zero", &alices).expect("symlink");
    let answer = tokio::time::timeout(std::time::Duration::from_secs(5), store.load(&alice));
    assert_refused(answer.await.expect("answered promptly"), &alices);
    std::fs::remove_file(&alices).expect("rm");
    std::fs::write(&alices, vec![b' '; 2 << 20]).expect("write");
    assert_refused(store.load(&alice).await, &alices);
}
