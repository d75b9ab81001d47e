//! An open connection (the IDE's WebSocket, a terminal) does not outlive the
//! sign-in that admitted it, end to end through the real proxy and launcher:
//! - `--auth authentik`: a sign-out through the proxy closes that session's open
//!   sockets at once (another session's stay); a session ended at the outpost
//!   behind the proxy's back (a sign-out through another replica, a revoked
//!   session, a deactivated user) closes them within one re-check period.
//! - `--auth trusted-headers`: a socket closes when its token expires (plus the
//!   leeway); one opened with a fresh token stays.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dcs_e2e::jwt::now;
use dcs_e2e::{client, FakeOutpost, FakeUser, Fixture, JwtIssuer};
use futures_util::{SinkExt, StreamExt};
use reqwest::header::COOKIE;
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

/// Longest a step may take on a busy machine.
const STEP: Duration = Duration::from_secs(60);

/// Opens `/github/acme/hello/_dcs/ws-echo` through the proxy with `headers`, from
/// the proxy's own origin.
async fn open_echo(fx: &Fixture, headers: &[(&'static str, String)]) -> anyhow::Result<Ws> {
    let url = format!("ws://{}/github/acme/hello/_dcs/ws-echo", fx.proxy.addr);
    let mut req = url.into_client_request()?;
    for (name, value) in headers {
        req.headers_mut().insert(*name, value.parse()?);
    }
    let origin = format!("http://{}", fx.proxy.addr);
    req.headers_mut().insert("origin", origin.parse()?);
    let stream = TcpStream::connect(fx.proxy.addr).await?;
    let (ws, resp) =
        tokio::time::timeout(STEP, tokio_tungstenite::client_async(req, stream)).await??;
    anyhow::ensure!(resp.status() == 101, "{}", resp.status());
    Ok(ws)
}

/// Starts the workspace with a plain request (a page's own WebSocket wakes nothing).
async fn warm(fx: &Fixture, headers: &[(&'static str, String)]) -> anyhow::Result<()> {
    let url = fx.proxy.url("/github/acme/hello/_dcs/files/README.md");
    let req = headers
        .iter()
        .fold(client().get(url), |req, (name, value)| {
            req.header(*name, value)
        });
    let resp = req.send().await?;
    anyhow::ensure!(
        resp.status() == 200,
        "{}: {}",
        resp.status(),
        fx.proxy.log()
    );
    Ok(())
}

/// Sends `text` and waits for its echo.
async fn echoes(ws: &mut Ws, text: &str) -> anyhow::Result<()> {
    ws.send(Message::text(text)).await?;
    let got = tokio::time::timeout(STEP, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
                Some(Ok(_)) => continue,
                other => anyhow::bail!("the socket ended: {other:?}"),
            }
        }
    })
    .await??;
    anyhow::ensure!(got == text, "echoed {got:?}");
    Ok(())
}

/// Waits up to `deadline` for the socket to end; whether it did.
async fn closes_within(ws: &mut Ws, deadline: Duration) -> bool {
    tokio::time::timeout(deadline, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .is_ok()
}

fn authentik(outpost: &FakeOutpost, uid: &str, ttl: &str) -> anyhow::Result<Fixture> {
    Fixture::new(|b| {
        outpost
            .signs_in(b.user(uid))
            .arg("--auth-cache-ttl")
            .arg(ttl)
    })
}

#[tokio::test]
async fn a_sign_out_through_the_proxy_closes_that_sessions_open_sockets() -> anyhow::Result<()> {
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    // The longest TTL there is: nothing here waits for a cache entry to expire.
    let mut fx = authentik(&outpost, &alice.uid, "10m")?;
    let (laptop, phone) = (outpost.session_for("alice")?, outpost.session_for("alice")?);
    warm(&fx, &[("cookie", phone.clone())]).await?;
    let mut terminal = open_echo(&fx, &[("cookie", laptop.clone())]).await?;
    let mut other = open_echo(&fx, &[("cookie", phone.clone())]).await?;
    echoes(&mut terminal, "ls").await?;
    echoes(&mut other, "pwd").await?;

    let resp = client()
        .get(fx.proxy.url("/outpost.goauthentik.io/sign_out"))
        .header(COOKIE, &laptop)
        .send()
        .await?;
    assert_eq!(resp.status(), 302, "{}", fx.proxy.log());
    assert!(
        closes_within(&mut terminal, Duration::from_secs(30)).await,
        "the signed-out session's socket stayed open: {}",
        fx.proxy.log()
    );
    echoes(&mut other, "still here").await?;
    let again = open_echo(&fx, &[("cookie", laptop.clone())]).await;
    assert!(again.is_err(), "a signed-out session opens no new socket");
    let log = fx.proxy.whole_log();
    let session = laptop.rsplit('=').next().unwrap_or_default();
    assert!(!log.contains(session), "session cookies are never logged");
    Ok(())
}

#[tokio::test]
async fn a_session_ended_at_the_outpost_closes_its_sockets_within_one_period() -> anyhow::Result<()>
{
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    // A TTL of 1 s: the re-check period is its floor, 10 s.
    let fx = authentik(&outpost, &alice.uid, "1s")?;
    let (ended, kept) = (outpost.session_for("alice")?, outpost.session_for("alice")?);
    warm(&fx, &[("cookie", kept.clone())]).await?;
    let mut terminal = open_echo(&fx, &[("cookie", ended.clone())]).await?;
    let mut other = open_echo(&fx, &[("cookie", kept.clone())]).await?;
    echoes(&mut terminal, "ls").await?;

    // A re-check of live sessions closes nothing.
    let before = outpost.checks();
    let rechecked = Instant::now() + STEP;
    while outpost.checks() < before + 2 && Instant::now() < rechecked {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        outpost.checks() >= before + 2,
        "the sessions were re-checked"
    );
    echoes(&mut terminal, "still signed in").await?;

    // Signed out elsewhere: the proxy is not told, and finds out at its next re-check.
    assert!(outpost.end_session(&ended));
    // One period is 10 s; the rest is room for a busy machine.
    assert!(
        closes_within(&mut terminal, Duration::from_secs(40)).await,
        "the ended session's socket stayed open: {}",
        fx.proxy.log()
    );
    echoes(&mut other, "still here").await?;
    Ok(())
}

#[tokio::test]
async fn a_socket_closes_when_its_token_expires() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let alice = FakeUser::new("alice");
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &[])?;
    let fresh = issuer.headers(&alice);
    // The workspace is up first, so the short-lived token is spent on the socket only.
    warm(&fx, &fresh).await?;
    let mut kept = open_echo(&fx, &fresh).await?;
    echoes(&mut kept, "warm").await?;

    // Past its `exp` but within the 30 s leeway: accepted for about 12 s more.
    let exp = now() - 18;
    let claims = json!({
        "iss": issuer.issuer, "aud": issuer.audience, "sub": alice.uid,
        "exp": exp, "iat": exp - 300, "preferred_username": "alice",
    });
    let short = [
        ("x-authentik-uid", alice.uid.clone()),
        ("x-authentik-jwt", issuer.sign(&claims)),
    ];
    let mut terminal = open_echo(&fx, &short).await?;
    echoes(&mut terminal, "ls").await?;
    assert!(
        closes_within(&mut terminal, STEP).await,
        "the socket outlived its token: {}",
        fx.proxy.log()
    );
    let closed_at = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    assert!(
        closed_at + 1 >= exp + 30,
        "closed at {closed_at}, before exp {exp} + the leeway"
    );
    echoes(&mut kept, "a fresh token's socket stays").await?;
    Ok(())
}
