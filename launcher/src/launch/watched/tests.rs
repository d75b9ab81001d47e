//! A start-up task that dies: the workspace reads as failed, with the reason, on the
//! real front's `/_dcs/ready`; a start that ends on purpose (a stop) or after the
//! workspace is ready changes nothing.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, StatusCode};
use tokio::net::TcpListener;

use super::watched;
use crate::app::App;
use crate::fixtures::{env, send, PATIENCE};
use crate::ready::Phase;

/// What `tracing`'s writer panicked with when the log was on a full disk.
const FULL_DISK: &str = "failed printing to stderr: No space left on device (os error 28)";

#[tokio::test]
async fn a_start_that_panics_fails_the_workspace_with_the_reason() {
    let ws = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    // The start gets as far as the checkout, then dies.
    let start = |_env, app: Arc<App>, _ide, _cancel| async move {
        app.readiness().set_phase(Phase::Checkout);
        panic!("{FULL_DISK}");
    };
    let e = env("file:///nonexistent", ws.path());
    let run = tokio::spawn(crate::launch::run_with(e, listener, shutdown, start));

    let deadline = Instant::now() + PATIENCE;
    let report = loop {
        let reply = send(addr, Method::GET, "/_dcs/ready", &[], Bytes::new()).await;
        let json: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON");
        if json["phase"] != "checkout" {
            assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
            break json;
        }
        assert!(Instant::now() < deadline, "stuck in the checkout: {json}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(report["phase"], "failed", "{report}");
    assert_eq!(report["error"]["kind"], "other", "{report}");
    let message = report["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("the start stopped: {FULL_DISK}")),
        "{message}"
    );

    let _ = stop.send(());
    let stopped = tokio::time::timeout(PATIENCE, run)
        .await
        .expect("run returns (a hang guard, not a timing check)")
        .expect("run does not panic");
    assert!(stopped.is_ok(), "{stopped:?}");
}

#[tokio::test]
async fn a_start_ended_by_a_stop_or_after_the_workspace_was_ready_changes_nothing() {
    let ws = tempfile::tempdir().expect("tempdir");
    let e = env("file:///nonexistent", ws.path());

    // Stopping: the start returns early on purpose.
    let app = Arc::new(App::new(&e));
    app.readiness().set_phase(Phase::Checkout);
    watched(async {}, app.clone(), Arc::new(AtomicBool::new(true))).await;
    assert_eq!(app.readiness().phase(), Phase::Checkout);

    // Ready: what fails afterwards is not the start's.
    let app = Arc::new(App::new(&e));
    let ready = {
        let app = app.clone();
        async move {
            app.readiness().set_phase(Phase::Ready);
            panic!("after the start");
        }
    };
    watched(ready, app.clone(), Arc::new(AtomicBool::new(false))).await;
    assert_eq!(app.readiness().phase(), Phase::Ready);

    // Not stopping, not ready, not failed: the start ended too early.
    let app = Arc::new(App::new(&e));
    watched(async {}, app.clone(), Arc::new(AtomicBool::new(false))).await;
    let report = app.readiness().report(false);
    assert_eq!(report.phase, Phase::Failed);
    let message = report.error.map(|f| f.message).unwrap_or_default();
    assert!(
        message.contains("the start stopped: it ended before the workspace was ready"),
        "{message}"
    );
}

#[test]
fn a_start_that_returned_ready_is_done_and_only_an_unsettled_one_failed() {
    use super::{ending, Ending};
    // Every successful start returns once the workspace is ready: nothing to say (it
    // was logged as an error at every start).
    assert_eq!(ending(Ok(()), false, Phase::Ready), Ending::Done);
    assert_eq!(ending(Ok(()), false, Phase::Failed), Ending::Done);
    assert_eq!(ending(Ok(()), true, Phase::Checkout), Ending::Done);
    assert_eq!(
        ending(Ok(()), false, Phase::Checkout),
        Ending::Failed("it ended before the workspace was ready".to_owned())
    );
    assert_eq!(
        ending(Err("boom".to_owned()), false, Phase::Ready),
        Ending::DiedAfter("boom".to_owned())
    );
    assert_eq!(
        ending(Err("boom".to_owned()), true, Phase::StartingIde),
        Ending::Failed("boom".to_owned())
    );
}
