//! Launchers' pushed progress ([`crate::progress::push`]) through the real
//! handler into a Knative runtime on the fake API server: only the workspace's
//! own hop credential is accepted, bad bodies are 4xx, nothing is ever created,
//! and what replica A records shows in replica B's `progress` through B's watch
//! cache until a ready report clears it; a launcher's failure shows with its
//! reason on every replica and ends the start waiting for it; what an earlier
//! start left is cleared when the next one begins, never during one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dcs_model::api::StartPhase;
use dcs_model::WorkspaceKey;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

use super::contract::NS;
use super::{config_with, eventually};
use crate::error::{Error, StartFailure};
use crate::hop::HopKey;
use crate::progress::push::handle;
use crate::runtime::contract;
use crate::runtime::knative::fake::{FakeApiServer, Policy};
use crate::runtime::knative::status::PROGRESS_ANNOTATION;
use crate::runtime::knative::KnativeRuntime;
use crate::runtime::{Runtime, Status, WorkspaceSpec};

const GROUP: &str = "serving.knative.dev";

fn hop() -> HopKey {
    HopKey::from_bytes(&[b'h'; 32]).expect("key")
}

/// A fake cluster where Services stay deploying, and two replicas on it.
fn cluster() -> (FakeApiServer, Arc<KnativeRuntime>, Arc<KnativeRuntime>) {
    let server = FakeApiServer::new();
    server.set_policy(Policy::ReadyAfter(Duration::from_secs(3600)));
    let replica = || {
        let mut cfg = config_with(&[]);
        cfg.hop = Some(hop());
        Arc::new(KnativeRuntime::new(cfg, server.client()))
    };
    let (a, b) = (replica(), replica());
    (server, a, b)
}

/// Registers `key` through `rt`; returns its name.
async fn workspace(rt: &KnativeRuntime, key: &WorkspaceKey) -> String {
    rt.register(&WorkspaceSpec::for_repo(key.clone()))
        .await
        .expect("register");
    key.name().to_string()
}

fn post(name: &str, credential: Option<&str>, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(format!("/_dcs/hop/progress/{name}"))
        .header(http::header::CONTENT_TYPE, "application/json");
    if let Some(c) = credential {
        req = req.header(crate::hop::HEADER, c);
    }
    req.body(Full::new(body.into())).expect("request")
}

/// `name`'s launcher pushing `report` with its own credential.
async fn push(rt: &KnativeRuntime, name: &str, report: &Value) -> StatusCode {
    let cred = hop().credential_for(name);
    let req = post(name, Some(cred.expose()), report.to_string());
    handle(rt, req, name).await.status()
}

fn cloning() -> Value {
    json!({"phase": "checkout", "ready": false, "error": null,
           "progress": {"phase": "clone", "received_bytes": 4096, "objects_done": 5,
                        "objects_total": 20, "objects_indexed": 0, "note": null}})
}

fn ksvc(server: &FakeApiServer, name: &str) -> Value {
    server
        .object(GROUP, "services", NS, name)
        .expect("the Service")
}

fn annotation(server: &FakeApiServer, name: &str) -> Option<String> {
    ksvc(server, name)["metadata"]["annotations"][PROGRESS_ANNOTATION]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn only_the_workspaces_own_hop_credential_is_accepted() {
    let (server, a, _b) = cluster();
    let name = workspace(&a, &contract::key("alice", "acme/hello")).await;
    let other = workspace(&a, &contract::key("bob", "acme/hello")).await;
    let others = hop().credential_for(&other);
    let wrong_key = HopKey::from_bytes(&[b'x'; 32])
        .expect("key")
        .credential_for(&name);
    for (why, credential) in [
        ("none", None),
        ("garbage", Some("0123")),
        ("another workspace's", Some(others.expose())),
        ("another key's", Some(wrong_key.expose())),
    ] {
        let req = post(&name, credential, cloning().to_string());
        let resp = handle(a.as_ref(), req, &name).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{why}");
    }
    // Sent twice (right, then wrong): not one credential.
    let right = hop().credential_for(&name);
    let mut req = post(&name, Some(right.expose()), cloning().to_string());
    req.headers_mut()
        .append(crate::hop::HEADER, http::HeaderValue::from_static("x"));
    assert_eq!(
        handle(a.as_ref(), req, &name).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(annotation(&server, &name), None, "nothing was written");
    assert_eq!(
        server.count("patch", "services"),
        2,
        "no write was tried: only the two registers' applies"
    );
}

#[tokio::test]
async fn oversized_and_malformed_reports_are_refused() {
    let (server, a, _b) = cluster();
    let name = workspace(&a, &contract::key("alice", "acme/hello")).await;
    let cred = hop().credential_for(&name);
    let big = format!(
        r#"{{"ready": false, "phase": "checkout", "pad": "{}"}}"#,
        "x".repeat(crate::progress::push::MAX_BODY)
    );
    for (body, want) in [
        (big, StatusCode::PAYLOAD_TOO_LARGE),
        ("{not json".to_owned(), StatusCode::BAD_REQUEST),
        ("[1, 2]".to_owned(), StatusCode::BAD_REQUEST),
        (
            r#"{"phase": "checkout"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        ("".to_owned(), StatusCode::BAD_REQUEST),
    ] {
        let req = post(&name, Some(cred.expose()), body.clone());
        let resp = handle(a.as_ref(), req, &name).await;
        assert_eq!(resp.status(), want, "{}", &body[..body.len().min(40)]);
    }
    assert_eq!(annotation(&server, &name), None, "nothing was written");
}

#[tokio::test]
async fn an_unknown_or_deleting_workspace_is_404_and_nothing_is_created() {
    let (server, a, _b) = cluster();
    // Never made: a valid credential for its name changes nothing.
    let ghost = contract::key("carol", "acme/hello").name().to_string();
    assert_eq!(push(&a, &ghost, &cloning()).await, StatusCode::NOT_FOUND);
    assert_eq!(
        push(&a, &ghost, &json!({"phase": "ready", "ready": true})).await,
        StatusCode::NOT_FOUND
    );
    // Not a workspace name at all.
    let resp = handle(
        a.as_ref(),
        post("Not_A_Name", Some("x"), "{}"),
        "Not_A_Name",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Being deleted (finalizers at work): stays deleted.
    let key = contract::key("alice", "acme/hello");
    let name = workspace(&a, &key).await;
    let mut marked = ksvc(&server, &name);
    marked["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
    server.insert(GROUP, "services", NS, marked);
    eventually("A's cache sees the deletion", || async {
        (a.status(&key).await.ok()? == Status::NotFound).then_some(())
    })
    .await;
    assert_eq!(push(&a, &name, &cloning()).await, StatusCode::NOT_FOUND);
    assert_eq!(annotation(&server, &name), None);
    assert_eq!(server.created("services"), vec![name], "nothing else made");
    assert_eq!(
        server.count("patch", "services"),
        1,
        "only the register's apply"
    );
}

#[tokio::test]
async fn a_push_through_a_shows_in_bs_progress_and_the_final_report_clears_it() {
    let (server, a, b) = cluster();
    let key = contract::key("alice", "acme/hello");
    let name = workspace(&a, &key).await;
    // Its pod runs (the launcher reports only then): replicas up, not yet healthy.
    let rev = format!("{name}-00001");
    let mut revision = server
        .object(GROUP, "revisions", NS, &rev)
        .expect("the revision");
    revision["status"]["actualReplicas"] = json!(1);
    server.insert(GROUP, "revisions", NS, revision);
    eventually("B sees the pod starting", || async {
        let p = b.progress(&key).await.ok()??;
        (p.phase == StartPhase::Starting).then_some(())
    })
    .await;
    let before = ksvc(&server, &name);

    assert_eq!(push(&a, &name, &cloning()).await, StatusCode::NO_CONTENT);
    let cloning_seen = eventually("B's cache shows A's push", || async {
        let p = b.progress(&key).await.ok()??;
        (p.phase == StartPhase::Cloning).then_some(p)
    })
    .await;
    assert_eq!(cloning_seen.percent, Some(25));
    assert_eq!(cloning_seen.bytes, Some(4096));
    let after = ksvc(&server, &name);
    assert_eq!(
        after["metadata"]["generation"], before["metadata"]["generation"],
        "a metadata change makes no new generation (no new revision)"
    );
    assert_ne!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    assert_eq!(after["spec"], before["spec"]);

    // Within the second another progress report waits (pushed until two land
    // within one second, however slow the machine), the final one never does.
    eventually("a push within the second is refused", || async {
        let ide = json!({"phase": "starting_ide", "ready": false});
        match push(&a, &name, &ide).await {
            StatusCode::TOO_MANY_REQUESTS => Some(()),
            StatusCode::NO_CONTENT => None,
            other => panic!("{other}"),
        }
    })
    .await;
    assert_eq!(
        push(&a, &name, &json!({"phase": "ready", "ready": true})).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        annotation(&server, &name),
        None,
        "cleared for the next wake"
    );
    eventually("B's cache hears of the clearing", || async {
        let p = b.progress(&key).await.ok()??;
        (p.phase == StartPhase::Starting).then_some(())
    })
    .await;
    assert_eq!(server.created("services"), vec![name]);
}

#[tokio::test]
async fn a_launchers_failure_shows_on_every_replica_and_ends_the_start_waiting_for_it() {
    let (server, a, b) = cluster();
    let key = contract::key("alice", "acme/hello");
    let name = workspace(&a, &key).await;
    // B waits for the start (its Service stays deploying).
    let waiting = tokio::spawn({
        let b = b.clone();
        let spec = WorkspaceSpec::for_repo(key.clone());
        async move { b.ensure(&spec).await }
    });
    let failed = json!({"phase": "failed", "ready": false, "error":
        {"kind": "not_found", "message": "acme/hello was not found at the git base"}});
    assert_eq!(push(&a, &name, &failed).await, StatusCode::NO_CONTENT);
    let recorded = annotation(&server, &name).expect("the failure is recorded, not cleared");
    assert!(recorded.contains("not_found"), "{recorded}");
    let shown = eventually("B shows the launcher's failure", || async {
        let p = b.progress(&key).await.ok()??;
        (p.phase == StartPhase::Failed).then_some(p)
    })
    .await;
    assert_eq!(
        shown.reason.as_deref(),
        Some("acme/hello was not found at the git base")
    );
    let hint = shown.hint.unwrap_or_default();
    assert!(hint.contains("owner and name"), "what to do: {hint}");
    let ended = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the start ends on the launcher's word, not Knative's deadline")
        .expect("join");
    assert!(
        matches!(
            &ended,
            Err(Error::StartFailed { kind: StartFailure::NotFound, message })
                if message.contains("not found at the git base")
        ),
        "{ended:?}"
    );
    assert_eq!(server.created("services"), vec![name]);
}

#[tokio::test]
async fn what_an_earlier_start_left_is_cleared_when_the_next_begins_but_never_during_one() {
    let (server, a, b) = cluster();
    let key = contract::key("alice", "acme/hello");
    let name = workspace(&a, &key).await;
    let spec = WorkspaceSpec::for_repo(key.clone());
    assert_eq!(push(&a, &name, &cloning()).await, StatusCode::NO_CONTENT);
    let patches = server.count("patch", "services");
    // A start is under way (not ready): B's start leaves its launcher's word alone.
    let joined = tokio::spawn({
        let b = b.clone();
        let spec = spec.clone();
        async move { b.ensure(&spec).await }
    });
    eventually("B applied", || async {
        (server.count("patch", "services") > patches).then_some(())
    })
    .await;
    assert!(annotation(&server, &name).is_some(), "kept during a start");
    joined.abort();
    // That start's pod was killed mid-clone; the revision went ready later and
    // scaled to zero. The next start begins without the old figures.
    server.mark_ready(NS, &name);
    eventually("B's cache sees it ready", || async {
        (b.status(&key).await.ok()? != Status::Starting).then_some(())
    })
    .await;
    b.ensure(&spec).await.expect("the next start");
    assert_eq!(
        annotation(&server, &name),
        None,
        "cleared at the next start"
    );
    // A failure recorded after a failed attempt is cleared by the retry too.
    let failed = json!({"phase": "failed", "ready": false, "error":
        {"kind": "network", "message": "the git server did not answer"}});
    assert_eq!(push(&a, &name, &failed).await, StatusCode::NO_CONTENT);
    b.ensure(&spec)
        .await
        .expect("the retry is not ended by the old failure");
    assert_eq!(annotation(&server, &name), None);
}
