//! `--auth authentik` end to end: the real proxy doing forward auth against a
//! stand-in outpost: sign-in redirect → IdP → callback through the proxy →
//! workspace, 401 for scripts, the session cache, sign-out, and a closed door
//! when the outpost is down.

use dcs_e2e::outpost::{query, SESSION_COOKIE};
use dcs_e2e::workspace_echo::head_echo_in_workspace;
use dcs_e2e::{client, location, FakeOutpost, FakeUser, Fixture};
use reqwest::header::{ACCEPT, COOKIE, SET_COOKIE};
use reqwest::Response;

const HTML: &str = "text/html,application/xhtml+xml";

fn fixture(outpost: &FakeOutpost, uid: &str) -> anyhow::Result<Fixture> {
    Fixture::new(|b| outpost.signs_in(b.user(uid)))
}

async fn get(url: &str, cookie: Option<&str>) -> anyhow::Result<Response> {
    let mut req = client().get(url).header(ACCEPT, HTML);
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    Ok(req.send().await?)
}

#[tokio::test]
async fn a_browser_signs_in_through_the_proxy_and_lands_in_its_own_workspace() -> anyhow::Result<()>
{
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    let fx = fixture(&outpost, &alice.uid)?;
    let home = fx.proxy.url("/github/acme/hello/");

    // 1. Not signed in: sent to the outpost's start page, with where to come back to.
    let resp = get(&home, None).await?;
    assert_eq!(resp.status(), 302, "{}", fx.proxy.log());
    let start = location(&resp);
    let (path, q) = start.split_once('?').unwrap_or_default();
    assert_eq!(path, "/outpost.goauthentik.io/start");
    assert_eq!(query(q)["rd"], home);

    // 2. /start is passed through the proxy to the outpost, which sends us to the IdP.
    let resp = get(&fx.proxy.url(&start), None).await?;
    assert_eq!(resp.status(), 302, "{}", fx.proxy.log());
    let idp = location(&resp);
    assert!(
        idp.starts_with(&format!("{}/idp/authorize?", outpost.url())),
        "{idp}"
    );

    // 3. The IdP signs alice in and returns her to the callback on the proxy's host.
    let resp = get(&format!("{idp}&login=alice"), None).await?;
    let callback = location(&resp);
    let want = fx.proxy.url("/outpost.goauthentik.io/callback?");
    assert!(callback.starts_with(&want), "{callback}");

    // 4. The callback (through the proxy) sets the session cookie and returns to rd.
    let resp = get(&callback, None).await?;
    assert_eq!(resp.status(), 302, "{}", fx.proxy.log());
    assert_eq!(location(&resp), home);
    let set = resp.headers()[SET_COOKIE].to_str()?.to_owned();
    let cookie = set.split(';').next().unwrap_or_default().to_owned();
    assert!(cookie.starts_with(&format!("{SESSION_COOKIE}=")), "{set}");

    // 5. Signed in: the workspace listing, checked out under alice's uid.
    let resp = get(&home, Some(&cookie)).await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    assert!(resp.text().await?.contains("README.md"));
    assert!(fx
        .proxy
        .volume_of(&alice.uid)
        .join("acme/hello/README.md")
        .is_file());
    assert_eq!(fx.proxy.volumes(), std::slice::from_ref(&alice.uid));

    // 6. The outpost saw the original URL and host of the request it checked.
    let seen = outpost.seen_checks();
    let last = seen.last().expect("checks were made");
    assert_eq!(last["x-original-url"], home.as_str());
    assert_eq!(last["x-forwarded-host"], fx.proxy.addr.to_string().as_str());

    // 6b. The home page greets her by her login name, and its list (the API's) is
    // hers; without the session, `/` sends to sign-in like any page.
    let resp = get(&fx.proxy.url("/"), Some(&cookie)).await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let page = resp.text().await?;
    assert!(page.contains("<strong id=user>alice</strong>"), "{page}");
    let list = get(&fx.proxy.url("/api/instances"), Some(&cookie)).await?;
    let list = list.text().await?;
    assert!(list.contains("\"repo\":\"acme/hello\""), "{list}");
    let resp = get(&fx.proxy.url("/"), None).await?;
    assert_eq!(resp.status(), 302);
    assert!(location(&resp).starts_with("/outpost.goauthentik.io/start?"));

    // 7. Sign-out through the proxy ends the session at once (cache included).
    let resp = get(
        &fx.proxy.url("/outpost.goauthentik.io/sign_out"),
        Some(&cookie),
    )
    .await?;
    assert_eq!(resp.status(), 302);
    assert!(resp.headers()[SET_COOKIE].to_str()?.contains("Max-Age=0"));
    let resp = get(&home, Some(&cookie)).await?;
    assert_eq!(resp.status(), 302, "signed out: back to sign-in");
    Ok(())
}

#[tokio::test]
async fn scripts_and_xhr_without_a_session_get_401_json_and_start_nothing() -> anyhow::Result<()> {
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    let fx = fixture(&outpost, &alice.uid)?;
    let url = fx.proxy.url("/github/acme/hello/_dcs/files/README.md");
    let forged = [
        ("x-authentik-uid", alice.uid.as_str()),
        ("x-authentik-username", "alice"),
    ];
    let requests = [
        client().get(&url),
        client().get(&url).header(ACCEPT, "application/json"),
        client()
            .get(&url)
            .header(ACCEPT, HTML)
            .header("x-requested-with", "XMLHttpRequest"),
        client()
            .get(&url)
            .header(ACCEPT, HTML)
            .header("sec-fetch-mode", "cors"),
        client()
            .get(&url)
            .header(forged[0].0, forged[0].1)
            .header(forged[1].0, forged[1].1)
            .header(COOKIE, format!("{SESSION_COOKIE}=made-up")),
    ];
    for req in requests {
        let resp = req.send().await?;
        assert_eq!(resp.status(), 401);
        let body: serde_json::Value = serde_json::from_str(&resp.text().await?)?;
        assert_eq!(body["status"], 401, "{body}");
    }
    assert!(fx.proxy.volumes().is_empty(), "no workspace was started");
    Ok(())
}

#[tokio::test]
async fn a_session_is_checked_once_within_the_cache_ttl() -> anyhow::Result<()> {
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    // The longest TTL there is, so a slow machine never outlasts it mid-test.
    let mut fx = Fixture::new(|b| {
        outpost
            .signs_in(b.user(&alice.uid))
            .arg("--auth-cache-ttl")
            .arg("10m")
    })?;
    let cookie = format!("ide-pref=1; {}", outpost.session_for("alice")?);
    let url = fx.proxy.url("/github/acme/hello/_dcs/files/README.md");
    for _ in 0..6 {
        let resp = get(&url, Some(&cookie)).await?;
        assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    }
    assert_eq!(outpost.checks(), 1, "one check per session per TTL");
    // A failure is never cached: each bad session is asked about again.
    let bad = format!("{SESSION_COOKIE}=nope");
    for _ in 0..3 {
        assert_eq!(get(&url, Some(&bad)).await?.status(), 302);
    }
    assert_eq!(outpost.checks(), 4);
    let session = cookie.rsplit('=').next().unwrap_or_default();
    assert!(
        !fx.proxy.whole_log().contains(session),
        "session cookies are never logged"
    );
    Ok(())
}

#[tokio::test]
async fn an_unreachable_outpost_is_a_503_page_never_an_open_door() -> anyhow::Result<()> {
    let alice = FakeUser::new("alice");
    let mut outpost = FakeOutpost::start(vec![alice.clone()])?;
    let cookie = outpost.session_for("alice")?;
    let fx = fixture(&outpost, &alice.uid)?;
    outpost.stop();
    let resp = get(&fx.proxy.url("/github/acme/hello/"), Some(&cookie)).await?;
    assert_eq!(resp.status(), 503);
    assert!(resp.text().await?.contains("Sign-in service unavailable"));
    let resp = get(&fx.proxy.url("/outpost.goauthentik.io/start?rd=x"), None).await?;
    assert_eq!(resp.status(), 503, "the pass-through fails closed too");
    assert!(fx.proxy.volumes().is_empty(), "no workspace was started");
    Ok(())
}

#[tokio::test]
async fn scripts_use_the_api_with_a_bearer_token_the_outpost_checks() -> anyhow::Result<()> {
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    let mut fx = fixture(&outpost, &alice.uid)?;
    let token = outpost.bearer_for("alice")?;
    let http = client();

    // The CLI's way in: `Authorization: Bearer`, checked by the outpost.
    let resp = http
        .get(fx.proxy.url("/api/me"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let me: serde_json::Value = serde_json::from_str(&resp.text().await?)?;
    assert_eq!(me["user_id"], alice.uid.as_str());
    assert_eq!(me["admin"], false, "no --admin-group: nobody is an admin");
    let checked = outpost.seen_checks();
    assert!(
        checked.iter().any(|h| h
            .get("authorization")
            .is_some_and(|v| v == format!("Bearer {token}").as_str())),
        "the proxy passes Authorization to the outpost's check"
    );

    // A bad token: a JSON 401, never a sign-in redirect.
    let resp = http
        .get(fx.proxy.url("/api/me"))
        .bearer_auth("not-a-token")
        .header(ACCEPT, HTML)
        .send()
        .await?;
    assert_eq!(resp.status(), 401);
    assert!(resp.text().await?.contains("unauthorized"));

    // And it never reaches a workspace: an app in the workspace (sandboxed, as with
    // every multi-user sign-in: a preview reaches only its own processes) sees none.
    let signed_in = [("authorization".to_owned(), format!("Bearer {token}"))];
    let echo = head_echo_in_workspace(fx.proxy.addr, "/github/acme/hello", &signed_in).await?;
    let port = echo.port();
    let resp = http
        .get(fx.proxy.url(&format!("/github/acme/hello/ports/{port}/x")))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let head = resp.text().await?;
    assert!(head.starts_with("GET /x "), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("authorization") && !head.contains(&token),
        "{head}"
    );

    // An instance made with the token; its access cookie is not shown to the outpost.
    let resp = http
        .post(fx.proxy.url("/api/instances"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await?;
    assert_eq!(resp.status(), 201, "{}", fx.proxy.log());
    let created: serde_json::Value = serde_json::from_str(&resp.text().await?)?;
    let (id, access) = (
        created["instance_id"].as_str().unwrap_or_default(),
        created["access_token"].as_str().unwrap_or_default(),
    );
    let resp = http
        .get(fx.proxy.url(&format!("/instances/{id}/?tkn={access}")))
        .send()
        .await?;
    assert_eq!(resp.status(), 303);
    let cookie = resp.headers()[SET_COOKIE]
        .to_str()?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let resp = http
        .get(fx.proxy.url(&format!("/instances/{id}/_dcs/ready")))
        .bearer_auth(&token)
        .header(COOKIE, format!("{cookie}; ide-pref=1"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let checks: Vec<String> = outpost
        .seen_checks()
        .iter()
        .map(|check| format!("{:?}", check.get_all(COOKIE).iter().collect::<Vec<_>>()))
        .collect();
    // That request was checked, with its other cookie and without the access one.
    assert!(
        checks.iter().any(|cookies| cookies.contains("ide-pref=1")),
        "the outpost checked the request that carried the access cookie: {checks:?}"
    );
    assert!(
        !checks.iter().any(|cookies| cookies.contains(access)),
        "the outpost never sees an access token"
    );
    let log = fx.proxy.whole_log();
    assert!(
        !log.contains(&token) && !log.contains(access),
        "tokens are never logged"
    );
    Ok(())
}

/// Only a top-level navigation is sent to sign in: a frame (a VS Code webview)
/// sent there would show the sign-in page inside the IDE, so it gets the 401.
#[tokio::test]
async fn a_frame_gets_401_and_only_a_top_level_navigation_is_sent_to_sign_in() -> anyhow::Result<()>
{
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    let fx = fixture(&outpost, &alice.uid)?;
    let url = fx
        .proxy
        .url("/github/acme/hello/stable-1/static/out/webview/index.html");
    let navigate = |dest: &str| {
        client()
            .get(&url)
            .header(ACCEPT, HTML)
            .header("sec-fetch-mode", "navigate")
            .header("sec-fetch-dest", dest)
    };
    for frame in ["iframe", "frame"] {
        let resp = navigate(frame).send().await?;
        assert_eq!(resp.status(), 401, "{frame}: {}", fx.proxy.log());
    }
    let resp = navigate("document").send().await?;
    assert_eq!(resp.status(), 302, "{}", fx.proxy.log());
    assert!(location(&resp).starts_with("/outpost.goauthentik.io/start?"));
    assert!(fx.proxy.volumes().is_empty(), "no workspace was started");
    Ok(())
}
