//! Subdomain mode (`--preview-domain preview.localhost`): the workspace's preview path
//! sends the browser to the preview's own host, which gives it a nonce and gets a
//! one-time ticket bound to it, then exchanges that for a cookie of its own; nothing
//! else opens it.

use std::time::Duration;

use dcs_e2e::api::head_echo;
use dcs_e2e::browser::{self, Script};
use dcs_e2e::workspace_echo::head_echo_in_workspace;
use dcs_e2e::{client, ide_support, FakeOutpost, FakeUser, Fixture};
use futures_util::{SinkExt, StreamExt};
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, SET_COOKIE};
use reqwest::Url;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::hosts::{location, reaching, redeem, set_cookie, ticket, DOMAIN};
use super::{app, create_instance};

#[tokio::test]
async fn a_preview_host_opens_with_a_one_time_ticket_and_then_its_own_cookie() -> anyhow::Result<()>
{
    let fx = Fixture::new(|b| b.arg("--preview-domain").arg(DOMAIN))?;
    let echo = head_echo().await?;
    let port = fx.proxy.addr.port();

    let minted = ticket(
        &fx,
        &format!("/github/acme/hello/ports/{echo}/hello?x=1"),
        None,
    )
    .await?;
    let (url, host) = (minted.url.clone(), minted.host.clone());
    assert!(
        host.starts_with(&format!("{echo}-ws-")) && host.ends_with(&format!(".{DOMAIN}")),
        "{url}"
    );
    assert!(host.len() - DOMAIN.len() - 1 <= 63, "a DNS label: {host}");
    assert_eq!((url.scheme(), url.port()), ("http", Some(port)));
    assert_eq!(url.path(), "/hello");
    let ticket_param = url
        .query_pairs()
        .find(|(k, _)| k == "dcs_preview_ticket")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    assert!(!ticket_param.is_empty(), "{url}");
    assert!(url.query().unwrap_or_default().starts_with("x=1&"), "{url}");

    let http = reaching(&host, fx.proxy.addr)?;
    let resp = http
        .get(url.clone())
        .header(COOKIE, &minted.nonce)
        .send()
        .await?;
    assert_eq!(resp.status(), 303, "{}", fx.proxy.log());
    assert_eq!(
        location(&resp),
        format!("http://{host}:{port}/hello?x=1"),
        "the ticket leaves the address"
    );
    let (cookie, _) = set_cookie(&resp);
    let resp = http
        .get(url.clone())
        .header(COOKIE, &minted.nonce)
        .send()
        .await?;
    assert_eq!(resp.status(), 403, "a ticket opens once");
    // A path that looks like another host stays a path on the preview host.
    let sly = ticket(
        &fx,
        &format!("/github/acme/hello/ports/{echo}//evil.example/x"),
        None,
    )
    .await?;
    let resp = http.get(sly.url).header(COOKIE, sly.nonce).send().await?;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        location(&resp),
        format!("http://{host}:{port}//evil.example/x")
    );

    let page = format!("http://{host}:{port}/hello?x=1");
    let resp = http
        .get(&page)
        .header(COOKIE, format!("theme=dark; {cookie}"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    assert!(
        resp.headers().get(CONTENT_SECURITY_POLICY).is_none(),
        "its own origin needs no sandbox"
    );
    let head = resp.text().await?;
    assert!(head.starts_with("GET /hello?x=1 HTTP/1.1\r\n"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains(&format!("host: {host}:{port}")), "{head}");
    for gone in ["dcs_preview", "x-forwarded-prefix", "x-dcs-preview-root"] {
        assert!(!lower.contains(gone), "{gone}: {head}");
    }
    assert!(head.contains("theme=dark"), "{head}");
    let resp = http.get(&page).send().await?;
    assert_eq!(resp.status(), 401, "no cookie, no preview");

    // A bare `/ports/<n>` goes to the host's root; other methods are refused.
    let root = ticket(&fx, &format!("/github/acme/hello/ports/{echo}"), None).await?;
    assert_eq!(root.url.path(), "/");
    let resp = client()
        .post(fx.proxy.url(&format!("/github/acme/hello/ports/{echo}/")))
        .send()
        .await?;
    assert_eq!(resp.status(), 400);

    // WebSockets (HMR) pass from the preview's own pages only.
    let ws_app = app::page_app().await?;
    let minted = ticket(&fx, &format!("/github/acme/hello/ports/{ws_app}/"), None).await?;
    let ws_host = minted.host.clone();
    let cookie = redeem(&reaching(&ws_host, fx.proxy.addr)?, &minted).await?;
    let own = format!("http://{ws_host}:{port}");
    for (origin, want) in [(own.as_str(), 101), (&*fx.proxy.url(""), 403)] {
        let mut req = format!("ws://{ws_host}:{port}/ws").into_client_request()?;
        req.headers_mut().insert("cookie", cookie.parse()?);
        req.headers_mut().insert("origin", origin.parse()?);
        let stream = tokio::net::TcpStream::connect(fx.proxy.addr).await?;
        match tokio_tungstenite::client_async(req, stream).await {
            Ok((mut ws, resp)) => {
                assert_eq!((resp.status().as_u16(), origin), (want, origin));
                ws.send(Message::text("hmr")).await?;
                let echoed = tokio::time::timeout(Duration::from_secs(60), ws.next()).await?;
                assert!(matches!(echoed, Some(Ok(m)) if m == Message::text("hmr")));
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!((resp.status().as_u16(), origin), (want, origin));
            }
            Err(e) => anyhow::bail!("{origin}: {e}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn an_expired_ticket_opens_nothing() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| {
        b.arg("--preview-domain")
            .arg(DOMAIN)
            .arg("--preview-ticket-ttl")
            .arg("1s")
    })?;
    let echo = head_echo().await?;
    let minted = ticket(&fx, &format!("/github/acme/hello/ports/{echo}/"), None).await?;
    // Not a race: the ticket's deadline is a whole second after it was made, and
    // this waits well past it before the one and only attempt.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let resp = reaching(&minted.host, fx.proxy.addr)?
        .get(minted.url)
        .header(COOKIE, minted.nonce)
        .send()
        .await?;
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get(SET_COOKIE).is_none());
    assert!(resp.text().await?.contains("expired"));
    Ok(())
}

#[tokio::test]
async fn a_second_user_cannot_use_the_first_users_preview_host() -> anyhow::Result<()> {
    let (alice, bob) = (FakeUser::new("alice"), FakeUser::new("bob"));
    let outpost = FakeOutpost::start(vec![alice.clone(), bob.clone()])?;
    let fx = Fixture::new(|b| {
        outpost
            .signs_in(b.user(&alice.uid))
            .arg("--preview-domain")
            .arg(DOMAIN)
    })?;
    let (alice_session, bob_session) = (outpost.session_for("alice")?, outpost.session_for("bob")?);
    // Alice's app runs in her workspace (sandboxed: a preview reaches only its own
    // processes); bob's preview host is only ever opened, never fetched.
    let signed_in = [("cookie".to_owned(), alice_session.clone())];
    let app = head_echo_in_workspace(fx.proxy.addr, "/github/acme/hello", &signed_in).await?;
    let echo = app.port();
    let path = format!("/github/acme/hello/ports/{echo}/");
    let port = fx.proxy.addr.port();

    let a_minted = ticket(&fx, &path, Some(&alice_session)).await?;
    let b_minted = ticket(&fx, &path, Some(&bob_session)).await?;
    let (a_host, b_host) = (a_minted.host.clone(), b_minted.host.clone());
    assert_ne!(
        a_host, b_host,
        "each user's workspace has its own preview host"
    );
    let at_a = reaching(&a_host, fx.proxy.addr)?;
    let at_b = reaching(&b_host, fx.proxy.addr)?;
    let alice_cookie = redeem(&at_a, &a_minted).await?;
    let bob_cookie = redeem(&at_b, &b_minted).await?;
    let a_page = format!("http://{a_host}:{port}/");

    for (who, cookie) in [
        ("bob's preview cookie", bob_cookie.as_str()),
        ("bob's sign-in session", bob_session.as_str()),
        ("alice's sign-in session", alice_session.as_str()),
    ] {
        let resp = at_a.get(&a_page).header(COOKIE, cookie).send().await?;
        assert_eq!(resp.status(), 401, "{who} opened alice's preview host");
    }
    // Bob's ticket, carried to alice's host: refused there, still unspent at his own.
    let b_minted = ticket(&fx, &path, Some(&bob_session)).await?;
    let mut stolen = b_minted.url.clone();
    stolen.set_host(Some(&a_host))?;
    let resp = at_a
        .get(stolen)
        .header(COOKIE, &b_minted.nonce)
        .send()
        .await?;
    assert_eq!(resp.status(), 403, "{}", fx.proxy.log());
    assert!(resp.headers().get(SET_COOKIE).is_none());
    redeem(&at_b, &b_minted).await?;

    let resp = at_a
        .get(&a_page)
        .header(COOKIE, format!("{alice_cookie}; {alice_session}"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let head = resp.text().await?;
    assert!(
        !head.contains("authentik_proxy") && !head.contains("dcs_preview"),
        "{head}"
    );
    Ok(())
}

#[tokio::test]
async fn a_browser_follows_a_preview_to_its_own_host_without_the_main_origins_cookies(
) -> anyhow::Result<()> {
    let tools = browser::tools();
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    let fx = Fixture::new(|b| {
        outpost
            .signs_in(b.user(&alice.uid))
            .arg("--preview-domain")
            .arg(DOMAIN)
    })?;
    let session = outpost.session_for("alice")?;
    let (name, value) = session.split_once('=').unwrap_or_default();
    // The app runs in the workspace (sandboxed: a preview reaches only its own processes).
    let signed_in = [("cookie".to_owned(), session.clone())];
    let app = head_echo_in_workspace(fx.proxy.addr, "/github/acme/hello", &signed_in).await?;
    let echo = app.port();
    let shots = ide_support::screenshot_dir("previews")?;
    let mut script = Script::start(
        &tools,
        "preview_host.mjs",
        serde_json::json!({
            "main": fx.proxy.url(""),
            "url": fx.proxy.url(&format!("/github/acme/hello/ports/{echo}/page?q=1")),
            "cookies": [
                {"name": name, "value": value, "url": fx.proxy.url("/")},
                {"name": "main_only", "value": "m1", "url": fx.proxy.url("/")},
                // As if the auth layer's cookie were set for the parent domain.
                {"name": "authentik_session", "value": "parent", "domain": format!(".{DOMAIN}"), "path": "/"},
            ],
            "screenshots": shots.display().to_string(),
        }),
    )?;
    let seen = script.expect("preview", Duration::from_secs(120)).await?;
    script.finish(Duration::from_secs(30)).await?;
    let landed = Url::parse(seen["url"].as_str().unwrap_or_default())?;
    let host = landed.host_str().unwrap_or_default();
    assert!(
        host.starts_with(&format!("{echo}-ws-")) && host.ends_with(DOMAIN),
        "{seen}"
    );
    assert_eq!(landed.path(), "/page");
    assert_eq!(
        landed.query(),
        Some("q=1"),
        "no ticket left in the address: {seen}"
    );
    assert_eq!(
        seen["origin"],
        format!("http://{host}:{}", fx.proxy.addr.port())
    );
    for key in ["head", "reloaded"] {
        let head = seen[key].as_str().unwrap_or_default();
        assert!(head.starts_with("GET /page?q=1 "), "{key}: {seen}");
        for gone in [
            "authentik_proxy",
            "authentik_session",
            "main_only",
            "dcs_preview",
            "authorization",
        ] {
            assert!(
                !head.to_ascii_lowercase().contains(gone),
                "{gone} in {key}: {head}"
            );
        }
    }
    assert!(
        !seen["document_cookie"]
            .as_str()
            .unwrap_or("dcs_preview")
            .contains("dcs_preview"),
        "the preview cookie is HttpOnly: {seen}"
    );
    assert!(
        seen["api"]
            .as_str()
            .unwrap_or_default()
            .starts_with("blocked:"),
        "the main origin's API is another origin's: {seen}"
    );
    Ok(())
}

#[tokio::test]
async fn an_instances_preview_host_opens_through_its_access_link() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--preview-domain").arg(DOMAIN))?;
    let echo = head_echo().await?;
    let http = client();
    let create = http.post(fx.proxy.url("/api/instances"));
    let (id, token) = create_instance(&fx, create, r#"{"repo":"acme/hello"}"#).await?;
    let path = format!("/instances/{id}/ports/{echo}/x");
    let resp = http.get(fx.proxy.url(&path)).send().await?;
    assert_eq!(resp.status(), 403, "no access cookie, no ticket");
    let resp = http
        .get(fx.proxy.url(&format!("/instances/{id}/?tkn={token}")))
        .send()
        .await?;
    let (access, _) = set_cookie(&resp);
    let minted = ticket(&fx, &path, Some(&access)).await?;
    let host = minted.host.clone();
    assert_eq!(host, format!("{echo}-{id}.{DOMAIN}"));
    let at = reaching(&host, fx.proxy.addr)?;
    let cookie = redeem(&at, &minted).await?;
    let resp = at
        .get(format!("http://{host}:{}/x", fx.proxy.addr.port()))
        .header(COOKIE, format!("{cookie}; {access}"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let head = resp.text().await?;
    assert!(head.starts_with("GET /x "), "{head}");
    assert!(!head.contains(&token) && !head.contains("dcs_"), "{head}");
    Ok(())
}
