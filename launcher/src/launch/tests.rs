//! The launcher end to end on loopback: readiness through every phase, the
//! WebSocket echo, and graceful shutdown.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use dcs_model::env::{READY_MAX_WAIT_MS, READY_WAIT_HEADER};

use crate::fixtures::{env, Running, Upstream};

/// A git "server" that accepts connections and says nothing until released, then
/// hangs up on everyone.
async fn stalling_git_server() -> (String, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (release, released) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut held = Vec::new();
        tokio::pin!(released);
        loop {
            tokio::select! {
                _ = &mut released => break,
                Ok((mut stream, _)) = listener.accept() => {
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf).await;
                    held.push(stream);
                }
            }
        }
        drop(held);
        // Anything later is refused outright.
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    (base, release)
}

#[tokio::test]
async fn ready_is_503_while_checking_out_and_after_failing() {
    let ws = tempfile::tempdir().expect("tempdir");
    let (base, release) = stalling_git_server().await;
    let l = Running::start(env(&base, ws.path())).await;

    let during = l.wait_for_phase("checkout").await;
    assert_eq!(during.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(during.json()["ready"], false);
    let ide = l.get("/").await;
    assert_eq!(ide.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ide.headers["retry-after"], "2");

    release.send(()).expect("server alive");
    let failed = l.wait_for_phase("failed").await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    let json = failed.json();
    assert_eq!(json["ready"], false);
    assert_eq!(json["error"]["kind"], "network", "{json}");
    assert!(json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains(&base)));
    assert!(!ws.path().join("acme/hello").exists());
    l.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_held_ready_answers_when_the_start_moves_on_not_before() {
    let ws = tempfile::tempdir().expect("tempdir");
    let (base, release) = stalling_git_server().await;
    let l = Running::start(env(&base, ws.path())).await;
    // The clone is under way and stuck: nothing changes until the server lets go.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while l.get("/_dcs/ready").await.json()["progress"]["phase"] != "clone" {
        assert!(
            std::time::Instant::now() < deadline,
            "the clone never began"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let bad = l.get("/_dcs/ready?wait=soon").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());

    // Asked on a connection of our own, so that the kernel can tell when the
    // launcher has read the question: from then on it holds it (the service runs
    // as the request is read), and only then is the clone let go.
    let mut asked = TcpStream::connect(l.addr).await.expect("connect");
    let question = "GET /_dcs/ready?wait=600000 HTTP/1.1\r\nhost: l\r\nconnection: close\r\n\r\n";
    asked.write_all(question.as_bytes()).await.expect("ask");
    let me = asked.local_addr().expect("local address");
    let held = tokio::spawn(async move {
        let mut answer = Vec::new();
        asked.read_to_end(&mut answer).await.expect("the answer");
        String::from_utf8_lossy(&answer).into_owned()
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    // (An answer at once ends the connection: nothing left to wait for then.)
    while !read_by_peer(me, l.addr) && !held.is_finished() {
        let late = std::time::Instant::now() > deadline;
        assert!(!late, "the launcher never read the question");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    release.send(()).expect("server alive");
    let reply = held.await.expect("held request");
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    // What it answered tells the cases apart: an answer at once, or one after the
    // wait ran out without noticing the change, would still say `clone`.
    assert!(head.starts_with("HTTP/1.1 503"), "{reply}");
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    assert_eq!(
        json["phase"], "failed",
        "answered once the clone failed: {reply}"
    );
    let capped = format!("{}: {}", READY_WAIT_HEADER, READY_MAX_WAIT_MS);
    assert!(
        head.to_ascii_lowercase().contains(&capped),
        "the wait is capped, and said: {head}"
    );
    // The start has ended: a held question is answered at once.
    let ended = l.get("/_dcs/ready?wait=600000").await;
    assert_eq!(ended.json()["phase"], "failed");
    l.stop().await.expect("clean stop");
}

/// Whether all that `me` wrote on its loopback connection to `peer` was read there:
/// acknowledged (`me`'s send queue empty) and taken from `peer`'s receive queue
/// (the `tx_queue:rx_queue` of each socket in `/proc/net/tcp`).
fn read_by_peer(me: SocketAddr, peer: SocketAddr) -> bool {
    let hex = |a: SocketAddr| match a.ip() {
        IpAddr::V4(ip) => format!("{:08X}:{:04X}", u32::from_ne_bytes(ip.octets()), a.port()),
        IpAddr::V6(_) => String::new(),
    };
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let queue = |from: SocketAddr, to: SocketAddr, which: usize| {
        let (from, to) = (hex(from), hex(to));
        let f = table
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.get(1) == Some(&from.as_str()) && f.get(2) == Some(&to.as_str()))?;
        u64::from_str_radix(f.get(4)?.split(':').nth(which)?, 16).ok()
    };
    queue(me, peer, 0) == Some(0) && queue(peer, me, 1) == Some(0)
}

#[tokio::test]
async fn ready_is_200_once_cloned_and_the_ide_is_up() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    let reply = l.get("/_dcs/ready").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        serde_json::json!({"phase": "ready", "ready": true, "error": null, "warning": null, "progress": null})
    );
    l.stop().await.expect("clean stop");
}

#[tokio::test]
async fn an_instance_without_a_repository_gets_an_empty_folder_and_its_label() {
    let ws = tempfile::tempdir().expect("tempdir");
    let mut e = env("file:///nonexistent", ws.path());
    let id = dcs_model::InstanceId::parse("inst-0123456789abcdef").expect("id");
    e.repo = None;
    e.instance = Some(id.clone());
    e.base_path = format!("/instances/{id}");
    let l = Running::ready(e).await;
    let folder = ws.path().join("_instances").join(id.as_str());
    assert_eq!(l.checkout, folder);
    assert!(folder.is_dir(), "the instance folder is made");
    std::fs::write(folder.join("notes.txt"), "mine\n").expect("write");
    assert_eq!(l.get("/_dcs/files/notes.txt").await.body, "mine\n");
    // The file manager (the `none` IDE) titles the workspace with the instance id.
    let page = l.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains(id.as_str()), "{}", page.text());
    l.stop().await.expect("clean stop");

    // A restart uses the folder as it is.
    let mut again = env("file:///nonexistent", ws.path());
    again.repo = None;
    again.instance = Some(id);
    let l = Running::ready(again).await;
    assert_eq!(
        std::fs::read_to_string(folder.join("notes.txt")).expect("kept"),
        "mine\n"
    );
    l.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_failed_fetch_is_ready_with_a_warning() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let first = Running::ready(env(&upstream.base(), ws.path())).await;
    first.stop().await.expect("clean stop");
    let bare = upstream.dir.path().join("git/acme/hello.git");
    std::fs::rename(&bare, upstream.dir.path().join("gone.git")).expect("move upstream");

    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    let json = l.get("/_dcs/ready").await.json();
    assert!(
        json["warning"]
            .as_str()
            .is_some_and(|w| w.contains("used as it is")),
        "{json}"
    );
    l.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_refused_checkout_is_explained_and_files_stay_browsable() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let target = ws.path().join("acme/hello");
    std::fs::create_dir_all(&target).expect("mkdir");
    std::fs::write(target.join("notes.txt"), "mine\n").expect("write");

    let l = Running::start(env(&upstream.base(), ws.path())).await;
    let json = l.wait_for_phase("failed").await.json();
    assert_eq!(json["error"]["kind"], "refused");
    assert!(json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("nothing was changed")));
    let ide = l.get("/").await;
    assert_eq!(ide.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(ide.text().contains("nothing was changed"));
    assert_eq!(l.get("/_dcs/files/notes.txt").await.body, "mine\n");
    assert_eq!(
        std::fs::read(target.join("notes.txt")).expect("notes"),
        b"mine\n"
    );
    l.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_missing_repository_is_not_found() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let mut e = env(&upstream.base(), ws.path());
    e.repo = Some(dcs_model::RepoRef::parse("acme/absent").expect("repo"));
    let l = Running::start(e).await;
    let json = l.wait_for_phase("failed").await.json();
    assert_eq!(json["error"]["kind"], "not_found", "{json}");
    l.stop().await.expect("clean stop");
}

#[tokio::test]
async fn an_unknown_ide_fails_run_with_the_known_kinds() {
    let ws = tempfile::tempdir().expect("tempdir");
    let mut e = env("file:///nonexistent", ws.path());
    e.ide = "emacs".into();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let err = crate::run(e, listener, std::future::pending())
        .await
        .expect_err("unknown IDE");
    assert!(err.to_string().contains("known kinds: none"), "{err}");
}

#[tokio::test]
async fn ws_echo_returns_text_and_binary_and_answers_pings() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let l = Running::start(env(&upstream.base(), ws.path())).await;
    let stream = TcpStream::connect(l.addr).await.expect("connect");
    let url = format!("ws://{}/_dcs/ws-echo", l.addr);
    let (mut client, response) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("upgrade");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);

    client.send(Message::text("héllo")).await.expect("send");
    assert_eq!(
        client.next().await.expect("reply").expect("ok"),
        Message::text("héllo")
    );
    client
        .send(Message::binary(vec![1u8, 2, 3, 255]))
        .await
        .expect("send");
    assert_eq!(
        client.next().await.expect("reply").expect("ok"),
        Message::binary(vec![1u8, 2, 3, 255])
    );
    client
        .send(Message::Ping(vec![9u8].into()))
        .await
        .expect("ping");
    assert_eq!(
        client.next().await.expect("reply").expect("ok"),
        Message::Pong(vec![9u8].into())
    );

    let plain = l.get("/_dcs/ws-echo").await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST);
    assert!(plain.text().contains("WebSocket"));

    // Shutdown closes the open WebSocket with "going away" and `run` returns cleanly.
    let stop = tokio::spawn(l.stop());
    let closed = tokio::time::timeout(Duration::from_secs(60), client.next())
        .await
        .expect("closed in time")
        .expect("a frame")
        .expect("ok");
    match closed {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected a close frame, got {other:?}"),
    }
    stop.await.expect("no panic").expect("clean stop");
}

#[tokio::test]
async fn after_shutdown_the_port_is_closed() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    let addr = l.addr;
    l.stop().await.expect("clean stop");
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}

#[tokio::test]
async fn a_start_waits_while_another_launcher_checks_out_its_folder_and_says_so() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let e = env(&upstream.base(), ws.path());
    let owner = ws.path().join("acme");
    std::fs::create_dir_all(&owner).expect("mkdir");
    let repo = e.repo.clone().expect("a repository");
    // Another launcher (here: the test) is checking out into the same folder.
    let held = dcs_os::FileLock::try_lock(&crate::checkout::lock::lock_path(&owner, &repo))
        .expect("lock")
        .expect("free");
    let l = Running::start(e).await;
    let deadline = std::time::Instant::now() + crate::fixtures::PATIENCE;
    let report = loop {
        let report = l.get("/_dcs/ready").await.json();
        if report["progress"]["phase"] == "waiting" {
            break report;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never waiting: {report}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(report["phase"], "checkout");
    let note = report["progress"]["note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("waiting for another workspace to finish checking out acme/hello"),
        "{note}"
    );
    let page = l
        .send(http::Method::GET, "/", &[("accept", "text/html")], b"")
        .await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.text().contains("waiting for another workspace"),
        "{}",
        page.text()
    );
    assert!(
        !l.checkout.exists(),
        "nothing is cloned while the other holds the folder"
    );

    drop(held);
    let ready = l.wait_for_phase("ready").await.json();
    assert_eq!(ready["progress"], serde_json::Value::Null);
    assert!(l.checkout.join("README.md").is_file());
    l.stop().await.expect("clean stop");
}

#[tokio::test]
async fn answers_carry_no_date_the_proxy_in_front_dates_them() {
    let (upstream, ws) = (Upstream::new(), tempfile::tempdir().expect("tempdir"));
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    for path in [
        "/_dcs/ready",
        "/_dcs/files/README.md",
        "/",
        "/_dcs/no-such-thing",
    ] {
        let reply = l.get(path).await;
        assert!(
            !reply.headers.contains_key(http::header::DATE),
            "{path}: {:?}",
            reply.headers
        );
    }
    l.stop().await.expect("clean stop");
}
