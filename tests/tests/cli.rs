//! The `dcs` CLI end to end: the real binary as a child process against a real proxy
//! (local mode, `--auth none`) cloning from a real git server. One full cycle (create
//! and wait, status, open with the stored token, the token exchanged for a cookie
//! that reaches the workspace, list, delete, then everything of it is gone), plus
//! the exit codes for a rejected request (2) and an unreachable server (5). Against
//! stub servers: redirects are never followed (a sign-in page is exit 3 and deletes
//! nothing), creates at once keep every token, JSON output of credentials delete,
//! request ids in errors.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use dcs_e2e::{client, location, Fixture};
use serde_json::Value;

#[path = "common/dcs.rs"]
mod dcs;

use dcs::{reply, serve, Dcs};

fn str_of<'a>(v: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    v[key]
        .as_str()
        .with_context(|| format!("no string {key:?} in {v}"))
}

/// The `name=value` part of a `Set-Cookie` header.
fn cookie_pair(resp: &reqwest::Response) -> Option<String> {
    let header = resp.headers().get("set-cookie")?.to_str().ok()?;
    header.split(';').next().map(|p| p.trim().to_owned())
}

fn mode(path: &Path) -> anyhow::Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

#[tokio::test]
async fn a_full_cycle_create_wait_status_open_list_delete() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--ide").arg("none"))?;
    let dcs = Dcs::new(&fx.proxy.url(""))?;
    let http = client();

    // create --wait: the instance, its token and the URL with it, once (the
    // repository given as a link to the git base's server, as the home page takes
    // it; the server reads it).
    let link = format!("{}/acme/hello/tree/main", fx.git.base_url());
    let run = dcs
        .run(&[
            "create", "--repo", &link, "--ide", "none", "--wait", "--output", "json",
        ])
        .await?;
    let run = run.expect(0).with_context(|| fx.proxy.log())?;
    let created = run.json()?;
    assert_eq!(created["repo"], "acme/hello", "{created}");
    let id = str_of(&created, "instance_id")?.to_owned();
    let token = str_of(&created, "access_token")?.to_owned();
    let open_url = str_of(&created, "open_url")?.to_owned();
    assert!(run.stderr.contains("shown only once"), "{run:?}");
    assert!(run.stderr.contains("is ready"), "{run:?}");
    assert!(
        open_url.starts_with(&fx.proxy.url(&format!("/instances/{id}/"))),
        "{open_url}"
    );
    assert!(open_url.ends_with(&format!("tkn={token}")), "{open_url}");

    // The token store is private and holds the token.
    let store = dcs.token_store();
    assert_eq!(mode(&store)?, 0o600);
    assert_eq!(mode(store.parent().context("dir")?)?, 0o700);
    assert!(std::fs::read_to_string(&store)?.contains(&token));

    // status: ready and running.
    let status = dcs
        .exits(0, &["status", "--instance-id", &id, "--output", "json"])
        .await?
        .json()?;
    assert_eq!(status["ready"], true, "{status}");
    assert_eq!(status["phase"], "running", "{status}");
    let table = dcs.exits(0, &["status", &id]).await?;
    assert!(table.stdout.contains("running"), "{table:?}");

    // open --print: the same URL, from the store.
    let printed = dcs.exits(0, &["open", &id, "--print"]).await?;
    assert_eq!(printed.stdout.trim(), open_url);

    // The token buys a cookie (303), and the cookie reaches the workspace.
    let resp = http.get(&open_url).send().await?;
    assert_eq!(resp.status(), 303, "{}", fx.proxy.log());
    let location = location(&resp);
    assert!(
        !location.contains(&token),
        "the token leaves the URL: {location}"
    );
    let cookie = cookie_pair(&resp).context("no Set-Cookie after the token")?;
    let ready_url = fx.proxy.url(&format!("/instances/{id}/_dcs/ready"));
    let with_cookie = || http.get(&ready_url).header("cookie", &cookie).send();
    let resp = with_cookie().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let resp = http.get(&ready_url).send().await?;
    assert!(resp.status().is_client_error(), "no cookie: {resp:?}");

    // stop: stopped when it answers, the files kept.
    let stopped = dcs.exits(0, &["stop", &id]).await?;
    assert!(stopped.stdout.contains("stopped"), "{stopped:?}");
    let status = dcs
        .exits(0, &["status", "--instance-id", &id, "--output", "json"])
        .await?
        .json()?;
    assert_eq!(status["phase"], "stopped", "{status}");
    // start --wait: ready when it returns, and the link reaches it.
    let started = dcs
        .exits(0, &["start", &id, "--wait", "--output", "json"])
        .await?
        .json()?;
    assert_eq!(started["phase"], "running", "{started}");
    let resp = with_cookie().await?;
    assert_eq!(resp.status(), 200, "started: {}", fx.proxy.log());

    // list shows it, as JSON and as a table.
    let list = dcs.exits(0, &["list", "--output", "json"]).await?.json()?;
    let ids: Vec<&str> = list["instances"]
        .as_array()
        .context("instances")?
        .iter()
        .filter_map(|i| i["instance_id"].as_str())
        .collect();
    assert!(ids.contains(&id.as_str()), "{list}");
    let table = dcs.exits(0, &["list"]).await?;
    assert!(
        table.stdout.starts_with("INSTANCE") && table.stdout.contains(&id),
        "{table:?}"
    );
    // Everyone's (the local user is an admin): the same one, with its owner.
    let all = dcs.exits(0, &["list", "--all"]).await?.stdout;
    assert!(all.contains(&id) && all.contains("alice"), "{all}");

    // delete: gone from the server and from the token store.
    let deleted = dcs.exits(0, &["delete", "--instance-id", &id]).await?;
    assert!(deleted.stdout.contains(&id), "{deleted:?}");
    assert!(!std::fs::read_to_string(&store)?.contains(&token));
    let gone = dcs.exits(4, &["get", "--instance-id", &id]).await?;
    assert!(!gone.stderr.trim().is_empty(), "{gone:?}");
    let no_token = dcs.exits(4, &["open", &id, "--print"]).await?;
    let said = "no stored access token";
    assert!(no_token.stderr.contains(said), "{no_token:?}");

    // The old URL and the old cookie open nothing any more.
    let resp = http.get(&open_url).send().await?;
    assert!(
        resp.status().is_client_error() && cookie_pair(&resp).is_none(),
        "old token: {} {:?}",
        resp.status(),
        resp.headers()
    );
    let resp = with_cookie().await?;
    assert!(resp.status().is_client_error(), "old cookie: {resp:?}");
    Ok(())
}

#[tokio::test]
async fn a_rejected_request_exits_2_with_the_field_message() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--ide").arg("none"))?;
    let dcs = Dcs::new(&fx.proxy.url(""))?;
    let args = ["create", "--repo", "acme/hello", "--cpu-limit", "banana"];
    let run = dcs.exits(2, &args).await?;
    assert!(
        run.stderr
            .lines()
            .any(|l| l.trim_start().starts_with("cpu_limit: ")),
        "{run:?}"
    );
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(!dcs.token_store().exists(), "nothing stored: {run:?}");

    // A usage error never reaches the server.
    let run = dcs.exits(2, &["create", "--env", "NOEQUALS"]).await?;
    assert!(run.stderr.contains("KEY=VALUE"), "{run:?}");
    Ok(())
}

#[tokio::test]
async fn an_unreachable_server_exits_5_without_showing_the_token() -> anyhow::Result<()> {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let dcs = Dcs::new(&format!("http://127.0.0.1:{port}"))?;
    let secret = "sekrit-bearer-token-value";
    let run = dcs.exits(5, &["list", "--token", secret]).await?;
    assert!(run.stderr.contains("cannot reach"), "{run:?}");
    assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret));
    let args = [
        "status",
        "inst-0000000000000000",
        "--wait",
        "--timeout",
        "30",
    ];
    let run = dcs.exits(5, &args).await?;
    assert!(run.stderr.contains("cannot reach"), "{run:?}");
    Ok(())
}

/// Creates at once, all answered at the same moment (so that their saves race).
const CREATES: usize = 8;
/// The stub's answer to anything else.
const NOT_FOUND: &str =
    r#"{"error":"not_found","message":"no such thing","request_id":"rid-e2e-7"}"#;

/// A stub API on 127.0.0.1:0 (its base URL): `POST /api/instances` makes distinct
/// instances, `/api/me` redirects to the same path elsewhere, other `/api/instances…`
/// redirect to a sign-in page (as forward auth does for an expired token), one
/// credential can be deleted; anything else is a 404 `ApiError` with a request id.
async fn stub() -> anyhow::Result<String> {
    let made = Arc::new(AtomicUsize::new(0));
    let together = Arc::new(tokio::sync::Barrier::new(CREATES));
    serve(move |asked| {
        let (made, together) = (made.clone(), together.clone());
        async move {
            match (asked.method.as_str(), asked.path.as_str()) {
                ("POST", "/api/instances") => {
                    let n = made.fetch_add(1, Ordering::SeqCst);
                    let _ = tokio::time::timeout(Duration::from_secs(30), together.wait()).await;
                    let id = format!("inst-{n:016x}");
                    let created = serde_json::json!({"instance_id": id, "user_id": "alice",
                        "kind": "instance", "url": format!("/instances/{id}/"),
                        "status": "starting", "env": [], "access_token": format!("token-{n}"),
                        "warnings": []});
                    reply(201, &[], created.to_string())
                }
                ("DELETE", "/api/me/credentials/github.com") => reply(204, &[], ""),
                (_, "/api/me") => reply(307, &[("location", "https://127.0.0.1:1/api/me")], ""),
                (_, p) if p.starts_with("/api/instances") => {
                    reply(302, &[("location", "/login?rd=x")], "")
                }
                (_, "/login") => reply(200, &[("content-type", "text/html")], "<p>sign in"),
                _ => reply(404, &[("x-request-id", "rid-header")], NOT_FOUND),
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_redirect_to_sign_in_is_exit_3_and_deletes_nothing() -> anyhow::Result<()> {
    let server = stub().await?;
    let dcs = Dcs::new(&server)?;
    let run = dcs.exits(3, &["list"]).await?;
    for said in ["sign-in page", "DCS_TOKEN", "/login"] {
        assert!(run.stderr.contains(said), "{said}: {run:?}");
    }
    assert!(!run.stderr.contains("rd=x"), "never the query: {run:?}");

    let id = "inst-0000000000000000";
    let store = dcs.token_store();
    std::fs::create_dir_all(store.parent().context("dir")?)?;
    let seeded = serde_json::json!({"servers": {&server: {id: {
        "access_token": "seeded-token", "url": format!("/instances/{id}/")}}}});
    std::fs::write(&store, serde_json::to_vec_pretty(&seeded)?)?;
    let before = std::fs::read(&store)?;
    let run = dcs.exits(3, &["delete", id]).await?;
    assert!(!run.stdout.contains("deleted"), "{run:?}");
    assert!(std::fs::read(&store)? == before, "token kept");

    // The same path on another server: use that one.
    let run = dcs.exits(2, &["whoami"]).await?;
    let said = "--server https://127.0.0.1:1 ";
    assert!(run.stderr.contains(said), "{run:?}");
    Ok(())
}

#[tokio::test]
async fn creates_at_once_keep_every_token_and_errors_name_the_request_id() -> anyhow::Result<()> {
    let server = stub().await?;
    let dcs = Dcs::new(&server)?;
    let create = || dcs.run(&["create", "--output", "json"]);
    let runs = futures_util::future::join_all((0..CREATES).map(|_| create())).await;
    for run in runs {
        let run = run?.expect(0)?;
        assert!(run.stderr.contains("it is saved in"), "{run:?}");
    }
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(dcs.token_store())?)?;
    let saved = stored["servers"][&server].as_object().context("none")?;
    assert_eq!(saved.len(), CREATES, "{stored}");

    let delete = ["credentials", "delete", "github.com", "--output"];
    let json = dcs.run(&[&delete[..], &["json"]].concat()).await?;
    let want = serde_json::json!({"host": "github.com", "deleted": true});
    assert_eq!(json.expect(0)?.json()?, want);
    let text = dcs.run(&[&delete[..], &["table"]].concat()).await?;
    let text = text.expect(0)?;
    assert_eq!(text.stdout, "deleted the credential for github.com\n");

    let run = dcs.exits(4, &["workspace", "--user-id", "bob"]).await?;
    let said = "no such thing (404, request id rid-e2e-7)";
    assert!(run.stderr.contains(said), "{run:?}");
    Ok(())
}
