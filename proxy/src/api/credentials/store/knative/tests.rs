//! The Secret store against the stateful fake API server: two stores are two
//! replicas, each with its own connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use clap::Parser;
use dcs_model::credentials::StoredCredential;
use serde_json::json;

use super::*;
use crate::runtime::knative::fake::FakeApiServer;
use crate::runtime::knative::KnativeArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: KnativeArgs,
}

fn config() -> KnativeConfig {
    Cli::try_parse_from(["dcs-proxy"])
        .expect("flags parse")
        .args
        .validate()
        .expect("valid")
}

fn credential(host: &str) -> StoredCredential {
    StoredCredential {
        host: host.into(),
        username: "x-access-token".into(),
        token: format!("ghp_{host}"),
    }
}

fn hosts(file: &CredentialFile) -> Vec<String> {
    file.credentials.iter().map(|c| c.host.clone()).collect()
}

/// A fake API server and two replicas' stores on it.
fn replicas() -> (FakeApiServer, [Arc<KnativeStore>; 2], UserId) {
    let server = FakeApiServer::new();
    let store = || Arc::new(KnativeStore::new(server.client(), config()));
    let alice = UserId::new("alice").expect("user");
    (server.clone(), [store(), store()], alice)
}

async fn set(store: &KnativeStore, user: &UserId, host: &str) -> Result<CredentialFile, ApiErr> {
    let change = |f: &mut CredentialFile| {
        f.set(credential(host))
            .map_err(|why| ApiErr::field("host", why))
    };
    store.update(user, &change).await
}

async fn remove(store: &KnativeStore, user: &UserId, host: &str) -> Result<CredentialFile, ApiErr> {
    let change = |f: &mut CredentialFile| {
        f.remove(host)
            .then_some(())
            .ok_or_else(|| ApiErr::not_found("gone"))
    };
    store.update(user, &change).await
}

/// Runs `op` on each of `hosts` at once, alternating between the two stores.
async fn at_once<F, Fut>(stores: &[Arc<KnativeStore>; 2], hosts: Vec<String>, op: F)
where
    F: Fn(Arc<KnativeStore>, String) -> Fut,
    Fut: std::future::Future<Output = Result<CredentialFile, ApiErr>> + Send + 'static,
{
    let tasks: Vec<_> = hosts
        .into_iter()
        .enumerate()
        .map(|(i, host)| tokio::spawn(op(stores[i % 2].clone(), host)))
        .collect();
    for task in tasks {
        task.await.expect("task").expect("changed");
    }
}

/// Twenty hosts set at once, half through each replica, in rounds: every host is
/// kept; then removed twenty at once: exactly those go, and the last removal
/// deletes the Secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_changing_one_users_credentials_at_once_lose_nothing() {
    let (server, stores, alice) = replicas();
    let name = objects::credentials_secret_name(&alice);
    let names = |round: usize| -> Vec<String> {
        (0..20)
            .map(|i| format!("h{round}-{i:02}.example"))
            .collect()
    };
    for round in 0..3 {
        let user = alice.clone();
        at_once(&stores, names(round), move |store, host| {
            let user = user.clone();
            async move { set(&store, &user, &host).await }
        })
        .await;
        let stored = stores[round % 2].load(&alice).await.expect("load");
        let want: Vec<String> = (0..=round).flat_map(names).collect();
        assert_eq!(hosts(&stored), want, "round {round}");
    }
    for round in 0..3 {
        let user = alice.clone();
        at_once(&stores, names(round), move |store, host| {
            let user = user.clone();
            async move { remove(&store, &user, &host).await }
        })
        .await;
        let stored = stores[0].load(&alice).await.expect("load");
        let want: Vec<String> = (round + 1..3).flat_map(names).collect();
        assert_eq!(hosts(&stored), want, "removal {round}");
    }
    assert!(server
        .object("", "secrets", "dcs-workspaces", name.as_str())
        .is_none());
    // The Secret keeps its labels through every write.
    set(&stores[0], &alice, "a.example").await.expect("set");
    set(&stores[1], &alice, "b.example").await.expect("set");
    let secret = server
        .object("", "secrets", "dcs-workspaces", name.as_str())
        .expect("secret");
    let built = objects::credentials_secret(&config(), &alice, &CredentialFile::default());
    let labels = serde_json::to_value(built.metadata.labels).expect("labels");
    assert_eq!(secret["metadata"]["labels"], labels);
}

type Edit = fn(&mut CredentialFile) -> Result<(), ApiErr>;

/// Hosts stored `before`, what another replica stores between the change's
/// read and its write, the change, and the hosts stored `after`.
struct Case {
    before: &'static [&'static str],
    theirs: &'static [&'static str],
    edit: Edit,
    after: &'static [&'static str],
}

/// A change whose first read is overtaken by another replica's write (stored
/// straight into the fake API server, between the read and the write): the
/// write is refused and the change made again on a fresh read, keeping both.
#[tokio::test]
async fn a_change_made_from_a_stale_read_is_made_again_not_lost() {
    let (server, [store, _], alice) = replicas();
    let name = objects::credentials_secret_name(&alice);
    let other = |hosts: &[&str]| {
        let mut file = CredentialFile::default();
        for h in hosts {
            file.set(credential(h)).expect("set");
        }
        let mut secret =
            serde_json::to_value(objects::credentials_secret(&config(), &alice, &file))
                .expect("json");
        // The same object, changed (not a new one).
        let current = server.object("", "secrets", "dcs-workspaces", name.as_str());
        if let Some(uid) = current.map(|c| c["metadata"]["uid"].clone()) {
            secret["metadata"]["uid"] = uid;
        }
        secret
    };
    let add_mine: Edit = |f| {
        f.set(credential("mine.example"))
            .map_err(ApiErr::bad_request)
    };
    let drop_a: Edit = |f| {
        f.remove("a.example")
            .then_some(())
            .ok_or_else(|| ApiErr::not_found("gone"))
    };
    let cases = [
        // Create: none read, one made meanwhile (409 AlreadyExists).
        Case {
            before: &[],
            theirs: &["theirs.example"],
            edit: add_mine,
            after: &["mine.example", "theirs.example"],
        },
        // Patch: stale resourceVersion (409 Conflict).
        Case {
            before: &["a.example"],
            theirs: &["a.example", "theirs.example"],
            edit: add_mine,
            after: &["a.example", "mine.example", "theirs.example"],
        },
        // Delete: the last host removed, one added meanwhile (precondition fails).
        Case {
            before: &["a.example"],
            theirs: &["a.example", "theirs.example"],
            edit: drop_a,
            after: &["theirs.example"],
        },
    ];
    for Case {
        before,
        theirs,
        edit,
        after,
    } in cases
    {
        remove_all(&store, &alice).await;
        for h in before {
            set(&store, &alice, h).await.expect("set");
        }
        let runs = AtomicUsize::new(0);
        let theirs = other(theirs);
        let change = |f: &mut CredentialFile| {
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                server.insert("", "secrets", "dcs-workspaces", theirs.clone());
            }
            edit(f)
        };
        let stored = store.update(&alice, &change).await.expect("update");
        assert_eq!(hosts(&stored), *after, "{before:?}");
        assert_eq!(hosts(&store.load(&alice).await.expect("load")), *after);
        assert_eq!(runs.load(Ordering::SeqCst), 2, "made again once");
    }
}

async fn remove_all(store: &KnativeStore, user: &UserId) {
    let change = |f: &mut CredentialFile| {
        f.credentials.clear();
        Ok(())
    };
    store.update(user, &change).await.expect("emptied");
}

/// Another replica that always writes first: after [`ATTEMPTS`] the answer is a
/// 503 `unavailable`, and what the other replica wrote stays.
#[tokio::test]
async fn a_change_always_overtaken_gives_up_with_503() {
    let (server, [store, _], alice) = replicas();
    set(&store, &alice, "a.example").await.expect("set");
    let name = objects::credentials_secret_name(&alice);
    let runs = AtomicUsize::new(0);
    let change = |f: &mut CredentialFile| {
        runs.fetch_add(1, Ordering::SeqCst);
        let key = ("", "secrets", "dcs-workspaces", name.as_str());
        let mut current = server.object(key.0, key.1, key.2, key.3).expect("secret");
        current["metadata"]["annotations"]["touched"] =
            json!(runs.load(Ordering::SeqCst).to_string());
        server.insert(key.0, key.1, key.2, current);
        f.set(credential("mine.example"))
            .map_err(ApiErr::bad_request)
    };
    let err = store.update(&alice, &change).await.expect_err("gave up");
    assert_eq!(err.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(err.body().error, "unavailable");
    assert_eq!(runs.load(Ordering::SeqCst), ATTEMPTS as usize);
    let stored = store.load(&alice).await.expect("load");
    assert_eq!(hosts(&stored), ["a.example"]);
}
