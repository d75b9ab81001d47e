//! A person whose sign-in expires while a page is open is told so and gets back in
//! with one click, against the real proxy doing forward auth (`--auth authentik`,
//! nothing cached: `--auth-cache-ttl 0s`) with the stand-in outpost:
//! - an open workspace tab (`--ide none`: the launcher's page with the injected idle
//!   script; `--tab-poll 1s`) whose session the outpost ended shows "Your sign-in
//!   expired" with Sign in again, its polls stop (nothing it sends reaches the outpost
//!   any more), and Sign in again goes through the sign-in back to the workspace; a
//!   network blip does not read as signed out, an ingress's redirect to its sign-in
//!   page does;
//! - the progress page the same, while a clone hangs;
//! - the edge's 401 JSON says `"sign_in": true` (workspace paths and `/api`); the
//!   home page has Sign out where people sign in; the trusted-headers 401 page links
//!   to Sign in again and names the request id.

use std::time::{Duration, Instant};

use dcs_e2e::browser::{self, Script};
use dcs_e2e::git_server::Mode;
use dcs_e2e::{api, client, navigation, FakeOutpost, FakeUser, Fixture, JwtIssuer};
use reqwest::header::COOKIE;
use serde_json::Value;

/// Generous: the machine is shared and a CPU hog may run beside.
const STEP: Duration = Duration::from_secs(300);
/// How soon after its session ended an open page must say so: a few poll periods
/// (`--tab-poll 1s`; the progress page polls every 0.5 s), with room for a busy
/// machine.
const TELLS_WITHIN: Duration = Duration::from_secs(30);
/// The span over which a page that said so must ask nothing more: five poll periods.
const QUIET: Duration = Duration::from_secs(5);
const SIGN_OUT: &str = "/outpost.goauthentik.io/sign_out";

/// A proxy signing in at `outpost`, checking every request there (nothing cached),
/// its tabs polling every second, and `more` flags.
fn fixture(outpost: &FakeOutpost, alice: &FakeUser, more: &[&str]) -> anyhow::Result<Fixture> {
    Fixture::new(|b| {
        let b = outpost
            .signs_in(b.user(&alice.uid))
            .arg("--auth-cache-ttl")
            .arg("0s")
            .arg("--tab-poll")
            .arg("1s");
        more.iter().fold(b, |b, a| b.arg(*a))
    })
}

/// Ends the session of `cookie` at the outpost (as an expiry, or a sign-out in
/// another browser, does): the browser keeps its cookie, which no longer signs in.
async fn end_session(outpost: &FakeOutpost, cookie: &str) -> anyhow::Result<()> {
    let resp = client()
        .get(format!("{}{SIGN_OUT}", outpost.url()))
        .header(COOKIE, cookie)
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 302, "the outpost's sign-out: {resp:?}");
    Ok(())
}

/// Runs the browser script on `kind`'s page at `url` up to the page saying that the
/// sign-in expired and staying quiet; returns the script (waiting for `sign-in`).
async fn expire_under(
    fx: &Fixture,
    outpost: &FakeOutpost,
    url: &str,
    kind: &str,
    ingress: Option<String>,
) -> anyhow::Result<Script> {
    let tools = browser::tools();
    let mut script = Script::start(
        &tools,
        "signed_out.mjs",
        serde_json::json!({
            "url": url,
            "login": "alice",
            "kind": kind,
            "quiet_ms": QUIET.as_millis() as u64,
            "deadline_ms": TELLS_WITHIN.as_millis() as u64,
            "ingress": ingress,
        }),
    )?;
    let loaded = script.expect("loaded", STEP).await?;
    let cookie = loaded["cookie"].as_str().unwrap_or_default().to_owned();
    end_session(outpost, &cookie).await?;
    let ended = Instant::now();
    let told = script.expect("signed-out", STEP).await?;
    let took = ended.elapsed();
    assert!(
        took < TELLS_WITHIN,
        "the page said so only after {took:?}: {told}\n{}",
        fx.proxy.log()
    );
    let text = told["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("Your sign-in expired") && text.contains("Sign in again"),
        "{told}"
    );
    if kind == "ide" {
        assert_eq!(told["on_top"], true, "it covers the IDE: {told}");
    }
    // Polling ended: over five poll periods the page asks nothing, and nothing of it
    // reaches the outpost (every request would be checked there: no cache).
    let checks = outpost.checks();
    let quiet = script.expect("quiet", STEP).await?;
    assert_eq!(quiet["polls_after"], 0, "the page kept polling: {quiet}");
    assert_eq!(
        outpost.checks(),
        checks,
        "the signed-out page still sent requests: {}",
        fx.proxy.log()
    );
    Ok(script)
}

#[tokio::test]
async fn an_open_workspace_tab_says_its_sign_in_expired_and_signs_in_again() -> anyhow::Result<()> {
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    let fx = fixture(&outpost, &alice, &[])?;
    let url = fx.proxy.url("/github/acme/hello/");
    // Where an ingress doing the sign-in would send an expired session's request.
    let ingress = format!("{}/outpost.goauthentik.io/start?rd=x", outpost.url());
    let mut script = expire_under(&fx, &outpost, &url, "ide", Some(ingress)).await?;

    // One click (and the IdP's login) and the tab is back in its workspace.
    script.send("sign-in").await?;
    let back = script.expect("back", STEP).await?;
    assert_eq!(back["covered"], false, "{back}");

    // A network blip is not a sign-out; an ingress's redirect to its sign-in is.
    script.send("ingress").await?;
    let blips = script.expect("blips", STEP).await?;
    assert_eq!(
        blips["covered"], false,
        "a blip read as signed out: {blips}"
    );
    let redirected = script.expect("redirected", STEP).await?;
    assert!(
        redirected["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Your sign-in expired"),
        "{redirected}"
    );
    script.finish(STEP).await?;
    Ok(())
}

#[tokio::test]
async fn the_progress_page_says_its_sign_in_expired_and_signs_in_again() -> anyhow::Result<()> {
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    // The clone begins and hangs (and is not given up on): the page stays.
    let fx = fixture(&outpost, &alice, &["--git-low-speed-limit", "0"])?;
    fx.git.set_mode(Mode::HangPacks);
    let url = fx.proxy.url("/github/acme/hello/");
    let mut script = expire_under(&fx, &outpost, &url, "progress", None).await?;
    script.send("sign-in").await?;
    let back = script.expect("back", STEP).await?;
    assert_eq!(back["covered"], false, "{back}");
    script.finish(STEP).await?;
    Ok(())
}

#[tokio::test]
async fn the_edges_401_says_sign_in_and_the_home_page_signs_out() -> anyhow::Result<()> {
    let alice = FakeUser::new("alice");
    let outpost = FakeOutpost::start(vec![alice.clone()])?;
    let fx = fixture(&outpost, &alice, &[])?;
    let cookie = outpost.session_for("alice")?;

    // A page's script without a valid session: 401, saying that signing in is the way.
    for (path, error) in [
        ("/github/acme/hello/_dcs/idle", None),
        ("/api/instances", Some("unauthorized")),
    ] {
        let resp = client()
            .get(fx.proxy.url(path))
            .header("accept", "application/json")
            .header(COOKIE, "authentik_proxy_e2e0test=expired")
            .send()
            .await?;
        let (status, body) = api::status_json(resp).await?;
        assert_eq!(
            (status, &body["sign_in"]),
            (401, &Value::Bool(true)),
            "{path}: {body}"
        );
        if let Some(code) = error {
            assert_eq!(body["error"], code, "the API's code is kept: {body}");
        }
    }

    // The home page signs out at the outpost.
    let resp = navigation(client().get(fx.proxy.url("/")))
        .header(COOKIE, &cookie)
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let home = resp.text().await?;
    assert!(
        home.contains(&format!("<a id=sign-out href=\"{SIGN_OUT}\">Sign out</a>")),
        "{home}"
    );
    // Without sign-in (`--auth none`), nobody signs out.
    let local = Fixture::new(|b| b)?;
    let home = navigation(client().get(local.proxy.url("/")))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        home.contains("id=user") && !home.contains("Sign out"),
        "{home}"
    );
    Ok(())
}

#[tokio::test]
async fn the_trusted_headers_401_page_links_to_signing_in_again() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let alice = FakeUser::new("alice");
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &[])?;

    // A navigation whose token does not verify (here: none): a page that says how
    // to get past it, and what to tell an administrator.
    let resp = navigation(client().get(fx.proxy.url("/github/acme/hello/")))
        .send()
        .await?;
    assert_eq!(resp.status(), 401, "{}", fx.proxy.log());
    let id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(!id.is_empty(), "{resp:?}");
    let page = resp.text().await?;
    assert!(
        page.contains(&format!(
            "<a id=sign-in-again href=\"{SIGN_OUT}\" target=_top>Sign in again</a>"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "give an administrator the request id <code>{id}</code>"
        )),
        "{page}"
    );

    // Signed in: the home page signs out (through the ingress's route to the outpost).
    let resp = issuer
        .signed(navigation(client().get(fx.proxy.url("/"))), &alice)
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let home = resp.text().await?;
    assert!(
        home.contains(&format!("href=\"{SIGN_OUT}\">Sign out</a>")),
        "{home}"
    );
    Ok(())
}
