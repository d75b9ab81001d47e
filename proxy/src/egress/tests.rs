//! The egress proxy end to end: a real unix socket, real TCP servers on 127.0.0.1,
//! raw HTTP (or hyper's client) as the workspace's tools would send it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use dcs_net::limits::TunnelGate;
use tokio::io::AsyncReadExt;

use super::{Mode, Policy};
use fixtures::{echoes, free_port, status, Echo, Proxy, DEADLINE};

mod counts;
mod fixtures;
mod lookup;
mod plain;

fn allowing(entries: &[String]) -> Policy {
    Policy {
        mode: Mode::Public,
        allow: entries
            .iter()
            .map(|entry| entry.parse().expect("an allow entry"))
            .collect(),
    }
}

fn connect_close(target: &str) -> String {
    format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n")
}

#[tokio::test]
async fn connect_to_an_allowed_address_carries_bytes_both_ways() {
    let echo = Echo::start().await;
    let port = echo.addr.port();
    let proxy = Proxy::start(allowing(&[format!("127.0.0.1:{port}")]), |e| e);

    let (mut tunnel, head) = proxy.tunnel(&format!("127.0.0.1:{port}")).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    echoes(&mut tunnel, b"ping").await;
    echoes(&mut tunnel, &[7u8; 100_000]).await;

    // By a name the proxy resolves.
    let (mut tunnel, head) = proxy.tunnel(&format!("echo.example:{port}")).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    echoes(&mut tunnel, b"pong").await;
    assert_eq!(echo.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connect_elsewhere_is_refused_403_with_the_reason() {
    let echo = Echo::start().await;
    let other = Echo::start().await;
    let proxy = Proxy::start(
        allowing(&[format!("127.0.0.1:{}", echo.addr.port())]),
        |e| e,
    );

    let answer = proxy
        .exchange(&connect_close(&other.addr.to_string()))
        .await;
    assert_eq!(status(&answer), 403, "{answer}");
    assert!(answer.contains("text/plain"), "{answer}");
    assert!(
        answer.contains(&format!("refused {}", other.addr)),
        "{answer}"
    );
    assert!(
        answer.contains("127.0.0.1 is a loopback address"),
        "{answer}"
    );
    assert!(answer.contains("--sandbox-egress-allow"), "{answer}");

    // Without the allow entry, the allowed server is refused too.
    let strict = Proxy::start(Policy::default(), |e| e);
    let answer = strict
        .exchange(&connect_close(&echo.addr.to_string()))
        .await;
    assert_eq!(status(&answer), 403, "{answer}");
    assert!(
        answer.contains("127.0.0.1 is a loopback address"),
        "{answer}"
    );

    assert_eq!(other.accepted.load(Ordering::SeqCst), 0, "never reached");
    assert_eq!(echo.accepted.load(Ordering::SeqCst), 0, "never reached");
}

#[tokio::test]
async fn a_name_that_resolves_to_the_metadata_address_is_refused() {
    let proxy = Proxy::start(Policy::default(), |e| e);
    let answer = proxy.exchange(&connect_close("metadata.example:80")).await;
    assert_eq!(status(&answer), 403, "{answer}");
    assert!(answer.contains("metadata.example:80"), "{answer}");
    assert!(
        answer.contains("169.254.169.254 is a link-local address"),
        "{answer}"
    );
}

#[tokio::test]
async fn egress_off_refuses_even_allowed_addresses() {
    let echo = Echo::start().await;
    let mut policy = allowing(&[format!("127.0.0.1:{}", echo.addr.port())]);
    policy.mode = Mode::Off;
    let proxy = Proxy::start(policy, |e| e);
    let answer = proxy.exchange(&connect_close(&echo.addr.to_string())).await;
    assert_eq!(status(&answer), 403, "{answer}");
    assert!(answer.contains("egress is off on this server"), "{answer}");
    assert_eq!(echo.accepted.load(Ordering::SeqCst), 0);
    // Not even a name is resolved: an unknown one is refused, not 502.
    let answer = proxy.exchange(&connect_close("nowhere.example:443")).await;
    assert_eq!(status(&answer), 403, "{answer}");
    assert!(answer.contains("egress is off on this server"), "{answer}");
}

#[tokio::test]
async fn unknown_names_and_closed_ports_are_502_and_a_missing_port_400() {
    let proxy = Proxy::start(allowing(&["127.0.0.1".to_owned()]), |e| e);
    let answer = proxy.exchange(&connect_close("nowhere.example:443")).await;
    assert_eq!(status(&answer), 502, "{answer}");
    assert!(
        answer.contains("cannot resolve nowhere.example"),
        "{answer}"
    );

    let closed = format!("127.0.0.1:{}", free_port().await);
    let answer = proxy.exchange(&connect_close(&closed)).await;
    assert_eq!(status(&answer), 502, "{answer}");
    assert!(
        answer.contains(&format!("cannot connect to {closed}")),
        "{answer}"
    );

    let answer = proxy.exchange(&connect_close("echo.example")).await;
    assert_eq!(status(&answer), 400, "{answer}");
    assert!(answer.contains("needs host:port"), "{answer}");
}

#[tokio::test]
async fn a_refusal_says_why_in_its_status_line_too() {
    // Tools show a refused CONNECT's status line, never its body.
    let proxy = Proxy::start(Policy::default(), |e| e);
    let answer = proxy.exchange(&connect_close("10.1.2.3:443")).await;
    let line = answer.lines().next().unwrap_or_default();
    assert!(line.starts_with("HTTP/1.1 403 "), "{answer}");
    assert!(line.contains("10.1.2.3 is a private address"), "{line}");
    // A failure too (here: a name that does not resolve).
    let answer = proxy.exchange(&connect_close("nowhere.example:443")).await;
    let line = answer.lines().next().unwrap_or_default();
    assert!(line.starts_with("HTTP/1.1 502 "), "{answer}");
    assert!(line.contains("cannot resolve nowhere.example"), "{line}");
}

#[tokio::test]
async fn a_request_head_over_64_kib_is_431() {
    let proxy = Proxy::start(Policy::default(), |e| e);
    let big = "a".repeat(100_000);
    let answer = proxy
        .exchange(&format!(
            "GET http://web.example/ HTTP/1.1\r\nHost: web.example\r\nX-Big: {big}\r\n\
             Connection: close\r\n\r\n"
        ))
        .await;
    assert_eq!(status(&answer), 431, "{}", &answer[..answer.len().min(300)]);
    assert!(answer.contains("at most 64 KiB"), "{answer}");
}

#[tokio::test]
async fn requests_that_are_not_proxy_requests_are_400_saying_what_this_is() {
    let proxy = Proxy::start(Policy::default(), |e| e);
    for request in [
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        "GET https://npm.example/ HTTP/1.1\r\nHost: npm.example\r\nConnection: close\r\n\r\n",
        "GET ftp://npm.example/ HTTP/1.1\r\nHost: npm.example\r\nConnection: close\r\n\r\n",
    ] {
        let answer = proxy.exchange(request).await;
        assert_eq!(status(&answer), 400, "{request}: {answer}");
        assert!(
            answer.contains("This is the workspace's egress proxy"),
            "{request}: {answer}"
        );
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_are_503_until_one_closes() {
    let mut echo = Echo::start().await;
    let target = echo.addr.to_string();
    let proxy = Proxy::start(allowing(std::slice::from_ref(&target)), |e| {
        e.with_max_connections(2)
    });
    let (first, head) = proxy.tunnel(&target).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let (mut second, head) = proxy.tunnel(&target).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let serving = proxy.serving.as_ref().expect("serving");
    assert_eq!(serving.open(), 2);

    let answer = proxy.exchange(&connect_close(&target)).await;
    assert_eq!(status(&answer), 503, "{answer}");
    assert!(answer.contains("2 connections open"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert_eq!(
        echo.accepted.load(Ordering::SeqCst),
        2,
        "the third never dialled"
    );

    // The first tunnel closes: its place is free again.
    drop(first);
    echo.one_ended().await;
    let again = tokio::time::timeout(DEADLINE, async {
        loop {
            if serving.open() < 2 {
                break proxy.tunnel(&target).await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("a place frees up in time");
    assert!(again.1.starts_with("HTTP/1.1 200 "), "{}", again.1);
    echoes(&mut second, b"still open").await;
}

#[tokio::test]
async fn every_workspace_counts_in_half_of_the_proxys_gate_503_when_full_until_one_closes() {
    let mut echo = Echo::start().await;
    let target = echo.addr.to_string();
    // Room for two tunnels (two descriptors each) in the whole proxy, of which the
    // way out may take half: one.
    let gate = TunnelGate::new().with_cap(4);
    let policy = allowing(std::slice::from_ref(&target));
    let alice = Proxy::start(policy.clone(), |e| e.with_gate(gate.clone()));
    let bob = Proxy::start(policy, |e| e.with_gate(gate.clone()));

    let (first, head) = alice.tunnel(&target).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(gate.open(), 1);
    for request in [
        connect_close(&target),
        format!("GET http://{target}/ HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"),
    ] {
        let answer = bob.exchange(&request).await;
        assert_eq!(status(&answer), 503, "{request}: {answer}");
        assert!(
            answer.to_ascii_lowercase().contains("retry-after: 1"),
            "{answer}"
        );
        assert!(
            answer.contains("as many as the file-descriptor limit allows"),
            "{answer}"
        );
    }
    assert_eq!(echo.accepted.load(Ordering::SeqCst), 1, "bob never dialled");
    // The other half is the IDEs': a WebSocket tunnel still gets its place.
    let ide = gate.admit(2).expect("the IDEs' half");
    drop(ide);

    // Alice's tunnel closes: its place is free for Bob.
    drop(first);
    echo.one_ended().await;
    tokio::time::timeout(DEADLINE, async {
        while gate.open() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the place frees up in time");
    let (mut second, head) = bob.tunnel(&target).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    echoes(&mut second, b"bob's turn").await;
}

#[tokio::test]
async fn dropping_serving_closes_open_tunnels_and_the_socket() {
    let mut echo = Echo::start().await;
    let target = echo.addr.to_string();
    let mut proxy = Proxy::start(allowing(std::slice::from_ref(&target)), |e| e);
    let (mut tunnel, head) = proxy.tunnel(&target).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    echoes(&mut tunnel, b"before the stop").await;

    drop(proxy.serving.take());
    echo.one_ended().await;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(DEADLINE, tunnel.read_to_end(&mut rest))
        .await
        .expect("the workspace's side ends in time");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let refused = tokio::time::timeout(DEADLINE, async {
        loop {
            if tokio::net::UnixStream::connect(&proxy.socket)
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(refused.is_ok(), "the socket stops accepting");
}
