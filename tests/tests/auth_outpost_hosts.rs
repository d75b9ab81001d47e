//! What the sign-in layer in front may and may not decide, end to end:
//! - `--auth authentik` tells the outpost the `--public-url` host, never one the
//!   client picked: the host picks which Authentik application (and so which
//!   access policy) checks the session, so a session of another application on the
//!   same outpost, sent with that application's `Host`, is still checked as ours.
//!   Without `--public-url` the proxy refuses to start.
//! - A request header `Set-Cookie` (what ingress-nginx adds when its
//!   `auth-response-headers` lists it: the outpost's session cookie) never reaches
//!   a workspace.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dcs_e2e::outpost::query;
use dcs_e2e::{bin_path, client, raw_request, FakeOutpost, FakeUser, Fixture};

/// A host of another application behind the same outpost.
const WIKI: &str = "wiki.example.com";

#[test]
fn authentik_mode_refuses_to_start_without_a_public_url() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let mut child = Command::new(bin_path("dcs-proxy")?)
        .args(["serve", "--listen", "127.0.0.1:0", "--auth", "authentik"])
        .args(["--authentik-outpost-url", "http://127.0.0.1:9"])
        .arg("--data-dir")
        .arg(data.path())
        .arg("--launcher-bin")
        .arg(bin_path("dcs-launcher")?)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // A refusal is immediate; a proxy that started would run until killed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("dcs-proxy started in authentik mode without --public-url");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("needs --public-url"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_foreign_host_is_checked_as_the_public_host() -> anyhow::Result<()> {
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    let fx = Fixture::new(|b| outpost.signs_in(b.user(&alice.uid)))?;
    let public = fx.proxy.addr.to_string();
    let session = outpost.session_for("alice")?;
    let path = "/github/acme/hello/_dcs/files/README.md";

    // A session sent with another application's host (and its forwarded headers).
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {WIKI}\r\nX-Forwarded-Host: {WIKI}\r\n\
         X-Forwarded-Proto: https\r\nCookie: {session}\r\nConnection: close\r\n\r\n"
    );
    let resp = raw_request(fx.proxy.addr, request.as_bytes()).await?;
    assert_eq!(resp.status, 200, "{}", fx.proxy.log());
    let seen = outpost.seen_checks();
    let check = seen.last().expect("the outpost was asked");
    assert_eq!(check["x-forwarded-host"], public.as_str());
    assert_eq!(check["x-original-url"], fx.proxy.url(path).as_str());
    assert!(
        seen.iter().all(|h| !format!("{h:?}").contains(WIKI)),
        "the outpost never hears of the client's host: {seen:?}"
    );

    // Not signed in: the sign-in returns to the public URL, not to the client's host.
    let request = format!(
        "GET /github/acme/hello/ HTTP/1.1\r\nHost: {WIKI}\r\nAccept: text/html\r\n\
         Connection: close\r\n\r\n"
    );
    let resp = raw_request(fx.proxy.addr, request.as_bytes()).await?;
    assert_eq!(resp.status, 302, "{}", fx.proxy.log());
    let start = resp.header("location").unwrap_or_default();
    let (_, q) = start.split_once('?').unwrap_or_default();
    assert_eq!(query(q)["rd"], fx.proxy.url("/github/acme/hello/"));
    Ok(())
}

#[tokio::test]
async fn a_set_cookie_request_header_never_reaches_a_workspace() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let port = dcs_e2e::api::head_echo().await?;
    let resp = client()
        .get(fx.proxy.url(&format!("/github/acme/hello/ports/{port}/x")))
        .header("set-cookie", "authentik_proxy_x=secret")
        .header("set-cookie", "authentik_session=core; Path=/")
        .header("cookie", "ide-theme=dark")
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let head = resp.text().await?;
    assert!(head.starts_with("GET /x "), "{head}");
    assert!(
        head.contains("ide-theme=dark"),
        "other cookies pass: {head}"
    );
    let lower = head.to_ascii_lowercase();
    assert!(
        !lower.contains("set-cookie") && !lower.contains("authentik") && !head.contains("secret"),
        "{head}"
    );
    Ok(())
}
