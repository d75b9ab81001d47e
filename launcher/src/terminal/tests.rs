//! The terminal over a real WebSocket to a whole launcher: a real shell on a PTY.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::*;
use crate::fixtures::{env, Running, Upstream, PATIENCE};

type Ws = WebSocketStream<tokio::net::TcpStream>;

async fn open(l: &Running) -> Ws {
    let stream = tokio::net::TcpStream::connect(l.addr)
        .await
        .expect("connect");
    let url = format!("ws://{}{PATH}", l.addr);
    let (ws, res) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("upgrade");
    assert_eq!(res.status(), 101);
    ws
}

/// Reads output until it contains `want`; returns everything read.
async fn read_until(ws: &mut Ws, want: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !seen.contains(want) {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => seen.push_str(&String::from_utf8_lossy(&b)),
            Ok(Some(Ok(_))) => {}
            other => panic!("no {want:?} in {seen:?}: {other:?}"),
        }
    }
    seen
}

#[tokio::test]
async fn a_shell_on_a_pty_runs_commands_in_the_checkout_and_resizes() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    let mut term = open(&l).await;

    term.send(Message::text("echo hi-$((40+2))\n"))
        .await
        .expect("send");
    read_until(&mut term, "hi-42").await;

    term.send(Message::binary(b"pwd; tty\n".to_vec()))
        .await
        .expect("send");
    let out = read_until(&mut term, "/dev/pts/").await;
    assert!(out.contains(&l.checkout.display().to_string()), "{out}");

    let resize = r#"{"resize":{"cols":101,"rows":33}}"#;
    term.send(Message::text(resize)).await.expect("send");
    term.send(Message::text("stty size\n")).await.expect("send");
    read_until(&mut term, "33 101").await;

    term.send(Message::text("exit\n")).await.expect("send");
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match term.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    })
    .await
    .expect("closes when the shell exits");
    assert_eq!(closed.map(|f| f.code), Some(CloseCode::Normal));
    l.stop().await.expect("stops");
}

#[tokio::test]
async fn closing_the_socket_hangs_the_shell_up() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    let mut term = open(&l).await;
    // The output line, not the echoed input, has the `2x`.
    let cmd = "echo pid=$$ $((1+1))x\n";
    term.send(Message::text(cmd)).await.expect("send");
    let out = read_until(&mut term, "2x").await;
    let pid: u32 = out
        .split("pid=")
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .next()
        .expect("a pid");
    drop(term);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while dcs_os::proc::is_alive(pid) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "shell {pid} still runs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    l.stop().await.expect("stops");
}

#[test]
fn the_shell_is_shell_if_it_exists_else_bash_else_sh() {
    let all = |_: &Path| true;
    assert_eq!(shell(Some("/bin/zsh"), all), Path::new("/bin/zsh"));
    assert_eq!(
        shell(Some("zsh"), all),
        Path::new("/bin/bash"),
        "relative is ignored"
    );
    assert_eq!(
        shell(None, |p: &Path| p == Path::new("/bin/sh")),
        Path::new("/bin/sh")
    );
}
