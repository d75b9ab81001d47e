//! The home page at `/` through the real proxy: in Chromium, a person with no
//! workspace sees an empty list, a typo in the open box is refused with why (the text
//! kept), a pasted link to the git server opens the workspace, the list shows it
//! running, Stop stops it (the launcher is gone), a cancelled Delete keeps it and
//! Delete forgets it; a row whose workspace was deleted elsewhere says why its Stop
//! failed; an API instance's Stop stops it, and an admin lists everyone's and stops another user's
//! (someone in no admin group is offered no Everyone's, and refused it if they tick
//! it anyway);
//! a workspace listed as starting leaves the list by itself when deleted. Without
//! a browser: the box's links answer `303` to the workspace or `400`, and
//! the page's actions sent from a foreign page are refused at the edge.

use std::time::Duration;

use dcs_e2e::browser::{self, Script};
use dcs_e2e::git_server::Mode;
use dcs_e2e::{client, location, procs, FakeUser, Fixture, JwtIssuer};

const STEP: Duration = Duration::from_secs(180);

#[tokio::test]
async fn a_person_opens_stops_and_deletes_workspaces_from_the_home_page_in_chromium(
) -> anyhow::Result<()> {
    let tools = browser::tools();
    let fx = Fixture::new(|b| b)?;
    let mut script = Script::start(
        &tools,
        "home.mjs",
        serde_json::json!({
            "url": fx.proxy.url("/"),
            "typo": "acme",
            "link": format!("{}/acme/hello/tree/main", fx.git.base_url()),
        }),
    )?;
    script.expect("empty", STEP).await?;
    let refused = script.expect("refused", STEP).await?;
    assert!(
        refused["text"]
            .as_str()
            .unwrap_or("")
            .contains("expected owner/repo"),
        "{refused}"
    );
    assert_eq!(refused["value"], "acme", "{refused}");
    assert!(fx.proxy.launcher_pids().is_empty(), "a typo starts nothing");

    let opened = script.expect("opened", STEP).await?;
    assert!(
        opened["url"]
            .as_str()
            .unwrap_or("")
            .ends_with("/github/acme/hello/"),
        "{opened}"
    );
    let listed = script.expect("listed", STEP).await?;
    assert_eq!(listed["state"], "running", "{listed}");
    assert_eq!(fx.proxy.launcher_pids().len(), 1);

    script.expect("stopped", STEP).await?;
    let gone = procs::wait_until(STEP, Duration::from_millis(50), || {
        fx.proxy.launcher_pids().is_empty()
    });
    anyhow::ensure!(gone.await, "Stop stopped it: {}", fx.proxy.log());

    script.expect("kept", STEP).await?;
    script.expect("deleted", STEP).await?;
    let list = client()
        .get(fx.proxy.url("/api/instances"))
        .send()
        .await?
        .text()
        .await?;
    assert!(!list.contains("acme/hello"), "forgotten: {list}");
    assert!(
        fx.checkout().join("README.md").is_file(),
        "its files are kept"
    );
    script.send("open-again").await?;

    // A tab left open on the list while the workspace is deleted elsewhere.
    script.expect("ready-for-stale", STEP).await?;
    delete_the_one(&fx).await?;
    script.send("deleted-elsewhere").await?;
    let stale = script.expect("stale-refused", STEP).await?;
    assert!(
        stale["text"]
            .as_str()
            .unwrap_or("")
            .contains("acme/hello could not be stopped"),
        "{stale}"
    );
    assert!(fx.proxy.launcher_pids().is_empty(), "nothing started again");
    script.finish(STEP).await?;
    Ok(())
}

#[tokio::test]
async fn api_instances_are_stopped_from_the_home_page_an_admins_everyones_too() -> anyhow::Result<()>
{
    let tools = browser::tools();
    // `--auth none`: the one local user (alice) is an admin.
    let fx = Fixture::new(|b| b)?;
    let http = client();
    let (own, own_status) = running_instance(&fx, "{}").await?;
    let (other, other_status) = running_instance(&fx, r#"{"user_id": "bob"}"#).await?;
    let mut script = Script::start(
        &tools,
        "home_everyone.mjs",
        serde_json::json!({ "url": fx.proxy.url("/"), "own": own, "other": other }),
    )?;
    script.expect("own-stopped", STEP).await?;
    let listed = script.expect("listed", STEP).await?;
    assert_eq!(listed["owner"], "bob", "{listed}");
    assert!(listed["href"].is_null(), "no Open link to bob's: {listed}");
    script.expect("other-stopped", STEP).await?;
    let again = script.expect("own-again", STEP).await?;
    assert_eq!(again["rows"], 1, "alice's own only: {again}");
    script.finish(STEP).await?;
    for status in [own_status, other_status] {
        let (_, now) = dcs_e2e::api::call(http.get(fx.proxy.url(&status))).await?;
        assert_eq!(now["phase"], "stopped", "{now}");
    }
    assert!(
        fx.wait_for_no_launcher(STEP).await,
        "alice's launcher is gone: {}",
        fx.proxy.log()
    );
    assert!(fx.proxy.launcher_pids_of("bob").is_empty(), "bob's too");
    Ok(())
}

#[tokio::test]
async fn someone_in_no_admin_group_sees_their_own_and_is_refused_everyones() -> anyhow::Result<()> {
    let tools = browser::tools();
    let issuer = JwtIssuer::default();
    let (alice, bob) = (FakeUser::new("alice"), FakeUser::new("bob"));
    let fx = Fixture::trusted_headers(
        &issuer,
        &alice.uid,
        &["--admin-group".into(), "dcs-admins".into()],
    )?;
    let create = |who: &FakeUser| {
        issuer.signed(
            client()
                .post(fx.proxy.url("/api/instances"))
                .header("content-type", "application/json")
                .body("{}"),
            who,
        )
    };
    let mut ids = Vec::new();
    for who in [&alice, &bob] {
        let (code, created) = dcs_e2e::api::call(create(who)).await?;
        anyhow::ensure!(code == 201, "created: {created} {}", fx.proxy.log());
        ids.push(
            created["instance_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let headers: serde_json::Map<String, serde_json::Value> = issuer
        .headers(&alice)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.into()))
        .collect();
    let mut script = Script::start(
        &tools,
        "home_not_admin.mjs",
        serde_json::json!({ "url": fx.proxy.url("/"), "headers": headers, "own": ids[0] }),
    )?;
    let listed = script.expect("listed", STEP).await?;
    assert_eq!(
        listed["ids"],
        serde_json::json!([ids[0]]),
        "alice's own: {listed}"
    );
    assert_eq!(
        listed["everyone"], false,
        "no Everyone's for alice: {listed}"
    );
    let forced = script.expect("forced", STEP).await?;
    let failed = forced["failed"].as_str().unwrap_or_default();
    assert!(
        failed.contains("could not be listed") && failed.contains("admin"),
        "{forced}"
    );
    assert_eq!(
        forced["ids"],
        serde_json::json!([ids[0]]),
        "nobody else's: {forced}"
    );
    script.finish(STEP).await?;
    Ok(())
}

#[tokio::test]
async fn the_list_follows_a_start_without_a_touch() -> anyhow::Result<()> {
    let tools = browser::tools();
    let fx = Fixture::new(|b| b)?;
    // The clone begins and hangs: the workspace stays starting until it is deleted.
    fx.git.set_mode(Mode::HangPacks);
    let opening = tokio::spawn(
        client()
            .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
            .send(),
    );
    let cloning = procs::wait_until(STEP, Duration::from_millis(20), || {
        let requests = fx.git.requests();
        requests
            .iter()
            .any(|r| r.path_and_query.ends_with("/git-upload-pack"))
    });
    anyhow::ensure!(cloning.await, "the clone began: {}", fx.proxy.log());
    let mut script = Script::start(
        &tools,
        "home_starting.mjs",
        serde_json::json!({ "url": fx.proxy.url("/") }),
    )?;
    script.expect("starting", STEP).await?;
    delete_the_one(&fx).await?;
    script.send("deleted").await?;
    if let Err(e) = script.expect("gone", STEP).await {
        let list = instance_ids(&fx).await?;
        anyhow::bail!("{e}\nlisted now: {list:?}\n{}", fx.proxy.log());
    }
    script.finish(STEP).await?;
    opening.abort();
    Ok(())
}

/// An API instance created with `body`, once it runs: its id and its status path.
async fn running_instance(fx: &Fixture, body: &str) -> anyhow::Result<(String, String)> {
    let http = client();
    let created = http
        .post(fx.proxy.url("/api/instances"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await?;
    let (code, created) = dcs_e2e::api::status_json(created).await?;
    anyhow::ensure!(code == 201, "created: {created} {}", fx.proxy.log());
    let id = created["instance_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let status = format!("/api/status?instance_id={id}");
    dcs_e2e::api::wait_running(|| http.get(fx.proxy.url(&status)), STEP).await?;
    Ok((id, status))
}

/// Deletes the one workspace `GET /api/instances` lists, as another tab or `dcs
/// delete` would.
async fn delete_the_one(fx: &Fixture) -> anyhow::Result<()> {
    let id = instance_ids(fx).await?;
    anyhow::ensure!(id.len() == 1, "one workspace: {id:?}");
    let deleted = client()
        .delete(fx.proxy.url(&format!("/api/instances/{}", id[0])))
        .send()
        .await?;
    anyhow::ensure!(deleted.status() == 204, "deleted: {}", fx.proxy.log());
    Ok(())
}

/// The ids `GET /api/instances` lists.
async fn instance_ids(fx: &Fixture) -> anyhow::Result<Vec<String>> {
    let list = client().get(fx.proxy.url("/api/instances")).send().await?;
    let list: serde_json::Value = serde_json::from_slice(&list.bytes().await?)?;
    Ok(list["instances"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|i| i["instance_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

#[tokio::test]
async fn the_open_box_leads_to_the_workspace_or_says_why_not() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    // Links name repositories on the git base's server (tests/tests/home_git_base.rs).
    let encoded = |link: String| {
        percent_encoding::utf8_percent_encode(&link, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let git = fx.git.base_url();
    let scp = format!("git@{}:Acme/Hello.git", fx.git.addr().ip());
    for (link, to) in [
        ("acme%2Fhello".to_owned(), "/github/acme/hello/"),
        (
            encoded(format!("{git}/acme/hello.git")),
            "/github/acme/hello/",
        ),
        (encoded(scp), "/github/Acme/Hello/"),
        (
            "+%2Fgithub%2Facme%2Fhello%2Fsrc+".to_owned(),
            "/github/acme/hello/",
        ),
    ] {
        let resp = http
            .get(fx.proxy.url(&format!("/?repo={link}")))
            .send()
            .await?;
        assert_eq!(resp.status(), 303, "{link}");
        assert_eq!(location(&resp), to, "{link}");
    }
    for (link, why) in [
        ("acme", "expected owner/repo"),
        ("https%3A%2F%2Fgithub.com%2Facme%2Fhello", "only 127.0.0.1:"),
        ("acme%2F..", "invalid repository name"),
    ] {
        let resp = http
            .get(fx.proxy.url(&format!("/?repo={link}")))
            .header("accept", "text/html")
            .send()
            .await?;
        assert_eq!(resp.status(), 400, "{link}");
        let page = resp.text().await?;
        assert!(page.contains(why), "{link}: {page}");
    }
    assert!(fx.proxy.launcher_pids().is_empty(), "nothing started");
    let resp = http.post(fx.proxy.url("/")).send().await?;
    assert_eq!(resp.status(), 405);
    Ok(())
}

#[tokio::test]
async fn the_pages_actions_from_a_foreign_page_are_refused() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    let opened = http.get(fx.proxy.url("/github/acme/hello/")).send().await?;
    assert_eq!(opened.status(), 200, "{}", fx.proxy.log());
    let ids = instance_ids(&fx).await?;
    let id = ids.first().ok_or_else(|| anyhow::anyhow!("none listed"))?;
    let evil = "http://evil.example";
    let stop = http
        .post(fx.proxy.url(&format!("/api/instances/{id}/stop")))
        .header("origin", evil)
        .send()
        .await?;
    assert_eq!(stop.status(), 403);
    let delete = http
        .delete(fx.proxy.url(&format!("/api/instances/{id}")))
        .header("origin", evil)
        .send()
        .await?;
    assert_eq!(delete.status(), 403);
    assert_eq!(fx.proxy.launcher_pids().len(), 1, "still running");
    // The page itself from its own origin: accepted.
    let own = format!("http://{}", fx.proxy.addr);
    let delete = http
        .delete(fx.proxy.url(&format!("/api/instances/{id}")))
        .header("origin", own)
        .send()
        .await?;
    assert_eq!(delete.status(), 204, "{}", fx.proxy.log());
    Ok(())
}
