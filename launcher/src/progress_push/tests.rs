//! Tests of [`super`]: a loopback HTTP server stands in for the proxy and receives
//! the phases, each with the hop credential.

use std::sync::Arc;
use std::time::Duration;

use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::*;
use crate::error::{Error, FailureKind};
use crate::ready::{Progress, Step};

/// What the stand-in received: the hop header, the path and the JSON body.
type Got = (Option<String>, String, serde_json::Value);

async fn stand_in() -> (Uri, mpsc::UnboundedReceiver<Got>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let hop = req
                            .headers()
                            .get(HOP_HEADER)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let path = req.uri().path().to_owned();
                        let body = req.into_body().collect().await.expect("body").to_bytes();
                        let json = serde_json::from_slice(&body).expect("json");
                        let _ = tx.send((hop, path, json));
                        Ok::<_, std::convert::Infallible>(
                            Response::builder()
                                .status(StatusCode::NO_CONTENT)
                                .body(Full::new(Bytes::new()))
                                .expect("response"),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let uri = format!("http://{addr}/_dcs/hop/progress/ws-1")
        .parse()
        .expect("uri");
    (uri, rx)
}

/// Receives until a report in `phase` arrives (deadline 30 s); returns it.
async fn until(rx: &mut mpsc::UnboundedReceiver<Got>, phase: &str) -> Got {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let got = rx.recv().await.expect("stand-in alive");
            if got.2["phase"] == phase {
                return got;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {phase} report within 30 s"))
}

#[tokio::test]
async fn every_phase_reaches_the_proxy_with_the_hop_credential_and_the_push_ends_when_failed() {
    let (uri, mut rx) = stand_in().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let env = crate::fixtures::env("http://127.0.0.1:9", dir.path());
    let app = Arc::new(App::new(&env));
    let credential = Credential::parse("0123abcd").expect("credential");
    let pusher = tokio::spawn(run(uri, Some(credential), app.clone()));

    app.readiness().set_progress(Some(Progress {
        phase: Step::Clone,
        received_bytes: 4096,
        objects_done: 5,
        objects_total: 10,
        objects_indexed: 0,
        note: None,
    }));
    let (hop, path, cloning) = until(&mut rx, "checkout").await;
    assert_eq!(hop.as_deref(), Some("0123abcd"));
    assert_eq!(path, "/_dcs/hop/progress/ws-1");
    // The first report may precede the figures; wait for them.
    if cloning["progress"].is_null() {
        let (_, _, later) = until(&mut rx, "checkout").await;
        assert_eq!(later["progress"]["objects_done"], 5, "{later}");
    }

    app.readiness().set_phase(Phase::StartingIde);
    app.readiness().installing_ide();
    let (hop, _, _) = until(&mut rx, "installing_ide").await;
    assert_eq!(hop.as_deref(), Some("0123abcd"));

    app.readiness().fail(&Error::Checkout {
        kind: FailureKind::Refused,
        message: "nothing was changed".into(),
    });
    let (_, _, failed) = until(&mut rx, "failed").await;
    assert_eq!(failed["error"]["message"], "nothing was changed");
    tokio::time::timeout(Duration::from_secs(30), pusher)
        .await
        .expect("the push ends after the final state")
        .expect("join");
}

#[tokio::test]
async fn an_unreachable_proxy_never_stops_the_push_or_the_start() {
    // A port nobody listens on: every push fails; the push still follows the
    // phases to the end.
    let free = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let uri: Uri = format!("http://{}/p", free.local_addr().expect("addr"))
        .parse()
        .expect("uri");
    drop(free);
    let dir = tempfile::tempdir().expect("tempdir");
    let env = crate::fixtures::env("http://127.0.0.1:9", dir.path());
    let app = Arc::new(App::new(&env));
    let pusher = tokio::spawn(run(uri, None, app.clone()));
    app.readiness().fail(&Error::Checkout {
        kind: FailureKind::Refused,
        message: "x".into(),
    });
    tokio::time::timeout(Duration::from_secs(30), pusher)
        .await
        .expect("ends")
        .expect("join");
}
