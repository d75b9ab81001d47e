//! Port previews at the edge, through the real proxy (and Chromium where the browser
//! decides): a preview under the workspace's path runs sandboxed, in an opaque origin,
//! so its scripts cannot read `/api` or the workspace's files while the page itself
//! renders and its own scripts run; no credential of the auth layer, the instance or
//! the preview host reaches a preview app; a preview cannot address the proxy itself.
//! Subdomain mode (`--preview-domain`) is in [`subdomain`], a shared instance's
//! preview in [`shared`], a preview whose app is not up yet in [`waiting`].

mod app;
mod binding;
mod hosts;
mod policy;
mod shared;
mod starting;
mod subdomain;
mod waiting;

use std::time::Duration;

use dcs_e2e::browser::{self, Script};
use dcs_e2e::workspace_echo::head_echo_in_workspace;
use dcs_e2e::{client, ide_support, raw_get, FakeOutpost, FakeUser, Fixture};
use futures_util::{SinkExt, StreamExt};
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, SET_COOKIE};
use tokio_tungstenite::tungstenite::Message;

/// The policy the proxy adds to every path-mode preview response.
const SANDBOX: &str = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads";

/// Sends `req` (a `POST /api/instances`, signed in however the test signs in) with `body`:
/// the new instance's id and access token.
async fn create_instance(
    fx: &Fixture,
    req: reqwest::RequestBuilder,
    body: &str,
) -> anyhow::Result<(String, String)> {
    let resp = req
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await?;
    assert_eq!(resp.status(), 201, "{}", fx.proxy.log());
    let created: serde_json::Value = serde_json::from_str(&resp.text().await?)?;
    let field = |name: &str| created[name].as_str().unwrap_or_default().to_owned();
    Ok((field("instance_id"), field("access_token")))
}

fn all(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> Vec<String> {
    resp.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_preview_runs_sandboxed_with_its_own_policy_cookies_and_redirects_kept_inside(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let port = app::page_app().await?;
    let http = client();
    let base = format!("/github/acme/hello/ports/{port}");

    let resp = http.get(fx.proxy.url(&format!("{base}/"))).send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    assert_eq!(
        all(&resp, CONTENT_SECURITY_POLICY),
        [app::APP_CSP, SANDBOX],
        "the app's own policy is kept, the sandbox added"
    );
    assert_eq!(
        all(&resp, SET_COOKIE),
        [format!("app_sid=1; Path={base}/; HttpOnly")],
        "the app's cookie stays inside its preview; one named like the session is dropped"
    );

    let resp = http.get(fx.proxy.url(&format!("{base}/go"))).send().await?;
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], format!("{base}/after").as_str());
    assert_eq!(all(&resp, CONTENT_SECURITY_POLICY), [SANDBOX]);
    // Absolute redirects stay inside too: to the request's own host (the proxy's, an
    // app that builds URLs from `Host`) and to the app's own address (a configured
    // base URL, which the browser would look for on the person's own machine).
    // Another site's address is the app's to choose.
    for (to, want) in [
        ("host", format!("{base}/after")),
        ("localhost", format!("{base}/after")),
        ("v4", format!("{base}/after?x=1")),
        ("v6", format!("{base}/after")),
        ("other", "http://other.example/after".to_owned()),
    ] {
        let resp = http
            .get(fx.proxy.url(&format!("{base}/go/{to}")))
            .send()
            .await?;
        assert_eq!(resp.status(), 302, "{to}");
        assert_eq!(resp.headers()["location"], want.as_str(), "{to}");
    }

    // The launcher's own answers for a preview are sandboxed too.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let nothing = closed.local_addr()?.port();
    drop(closed);
    let resp = http
        .get(
            fx.proxy
                .url(&format!("/github/acme/hello/ports/{nothing}/")),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), 502);
    assert_eq!(all(&resp, CONTENT_SECURITY_POLICY), [SANDBOX]);

    // A WebSocket (an HMR channel) still passes.
    let stream = tokio::net::TcpStream::connect(fx.proxy.addr).await?;
    let url = format!("ws://{}{base}/ws", fx.proxy.addr);
    let (mut ws, resp) = tokio_tungstenite::client_async(url, stream).await?;
    assert_eq!(resp.status(), 101, "{}", fx.proxy.log());
    ws.send(Message::text("hmr")).await?;
    let echoed = tokio::time::timeout(Duration::from_secs(60), ws.next()).await?;
    assert!(matches!(echoed, Some(Ok(m)) if m == Message::text("hmr")));

    // The IDE's own responses are not sandboxed.
    let resp = http.get(fx.proxy.url("/github/acme/hello/")).send().await?;
    assert_eq!(resp.status(), 200);
    assert!(!all(&resp, CONTENT_SECURITY_POLICY).contains(&SANDBOX.to_owned()));
    Ok(())
}

#[tokio::test]
async fn a_preview_page_renders_and_runs_its_scripts_but_cannot_read_the_api() -> anyhow::Result<()>
{
    let tools = browser::tools();
    let fx = Fixture::new(|b| b)?;
    let port = app::page_app().await?;
    let shots = ide_support::screenshot_dir("previews")?;
    let mut script = Script::start(
        &tools,
        "preview_sandbox.mjs",
        serde_json::json!({
            "url": fx.proxy.url(&format!("/github/acme/hello/ports/{port}/")),
            "screenshots": shots.display().to_string(),
        }),
    )?;
    let seen = script.expect("preview", Duration::from_secs(120)).await?;
    script.finish(Duration::from_secs(30)).await?;
    assert_eq!(seen["title"], "preview rendered", "{seen}");
    assert_eq!(seen["inline"], "inline script ran", "{seen}");
    assert_eq!(seen["ext"], "external script ran", "{seen}");
    assert_eq!(seen["origin"], "null", "an opaque origin: {seen}");
    for id in ["api", "files"] {
        let text = seen[id].as_str().unwrap_or_default();
        assert!(text.starts_with("blocked:"), "{id}: {seen}");
    }
    Ok(())
}

#[tokio::test]
async fn a_preview_app_never_sees_a_credential() -> anyhow::Result<()> {
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    let fx = Fixture::new(|b| {
        outpost
            .signs_in(b.user(&alice.uid))
            .arg("--strip-cookie")
            .arg("corp_sso,_oauth2_*")
            .arg("--strip-cookie")
            .arg("legacy_sso")
    })?;
    let session = outpost.session_for("alice")?;
    let bearer = outpost.bearer_for("alice")?;
    // The app runs in the workspace (sandboxed: a preview reaches only its own processes).
    let signed_in = [("cookie".to_owned(), session.clone())];
    let app = head_echo_in_workspace(fx.proxy.addr, "/github/acme/hello", &signed_in).await?;
    let echo = app.port();
    let http = client();
    let planted = "authentik_session=core-session; corp_sso=s1; _oauth2_proxy=s2; \
                   legacy_sso=s3; dcs_preview=p1; dcs_instance_token=t1";
    let cleared = |head: &str| {
        let lower = head.to_ascii_lowercase();
        for gone in [
            "authentik_proxy",
            "authentik_session",
            "corp_sso",
            "_oauth2_proxy",
            "legacy_sso",
            "dcs_preview",
            "dcs_instance_token",
            "authorization",
            "x-authentik",
        ] {
            assert!(!lower.contains(gone), "{gone} reached the app:\n{head}");
        }
        assert!(!head.contains(&bearer), "{head}");
        assert!(head.contains("theme=dark"), "other cookies pass: {head}");
    };

    // A repository workspace's preview: the session cookie, the bearer and every
    // configured name stop at the edge.
    for auth in ["cookie", "bearer"] {
        let mut req = http
            .get(fx.proxy.url(&format!("/github/acme/hello/ports/{echo}/x")))
            .header(COOKIE, format!("theme=dark; {planted}; {session}"));
        if auth == "bearer" {
            req = req.bearer_auth(&bearer);
        }
        let resp = req.send().await?;
        assert_eq!(resp.status(), 200, "{auth}: {}", fx.proxy.log());
        let head = resp.text().await?;
        assert!(head.starts_with("GET /x "), "{head}");
        cleared(&head);
    }

    // An instance's preview: its access cookie stops at the edge too.
    let create = http
        .post(fx.proxy.url("/api/instances"))
        .bearer_auth(&bearer);
    let (id, token) = create_instance(&fx, create, "{}").await?;
    let resp = http
        .get(fx.proxy.url(&format!("/instances/{id}/?tkn={token}")))
        .send()
        .await?;
    assert_eq!(resp.status(), 303);
    let access = resp.headers()[SET_COOKIE]
        .to_str()?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let prefix = format!("/instances/{id}");
    // The instance is a workspace of its own: its app runs there.
    let signed_in = [("cookie".to_owned(), format!("{access}; {session}"))];
    let instance_app = head_echo_in_workspace(fx.proxy.addr, &prefix, &signed_in).await?;
    let resp = http
        .get(
            fx.proxy
                .url(&format!("{prefix}/ports/{}/y", instance_app.port())),
        )
        .header(COOKIE, format!("theme=dark; {access}; {session}"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let head = resp.text().await?;
    assert!(head.starts_with("GET /y "), "{head}");
    cleared(&head);
    assert!(!head.contains(&token), "{head}");
    Ok(())
}

#[tokio::test]
async fn a_preview_cannot_address_the_proxy_itself() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let own = fx.proxy.addr.port();
    // The workspace runs (so a refusal is not a start failure).
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/ready"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    for path in [
        format!("/github/acme/hello/ports/{own}/api/me"),
        format!("/github/acme/hello/ports/{own}/github/acme/hello/_dcs/files/"),
        format!("/github/acme/hello/ports/{own}/healthz"),
    ] {
        let resp = raw_get(fx.proxy.addr, &path).await?;
        assert_eq!(resp.status, 403, "{path}: {}", resp.text());
        assert!(
            resp.text().contains("cannot address the proxy"),
            "{path}: {}",
            resp.text()
        );
        assert!(
            !resp.text().contains(&fx.proxy.user),
            "no user data: {}",
            resp.text()
        );
    }
    // A client cannot pretend to come through a preview to get past anything: it is
    // simply refused as well.
    let resp = client()
        .get(fx.proxy.url("/api/me"))
        .header("via", "1.1 dcs-preview")
        .send()
        .await?;
    assert_eq!(resp.status(), 403);
    Ok(())
}
