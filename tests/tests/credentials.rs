//! Git credentials in workspaces. The operator's token clones, and nothing a
//! workspace's processes can look at holds it: not an environment, not a file under
//! `/`, not `.git/config`, not the launcher's files (searched from a real terminal
//! of a sandboxed workspace). A user's own credential (`PUT
//! /api/me/credentials/{host}`) lets `git push` work from their workspace, is never
//! answered or logged, and another user's workspace never sees it.

use std::path::Path;

use dcs_e2e::{client, FakeUser, Fixture, GitServer, JwtIssuer, UpstreamRepo};
use serde_json::{json, Value};

#[path = "common/terminal.rs"]
mod terminal;
use terminal::Terminal;

const TERMINAL: &str = "/github/acme/hello/_dcs/terminal";

/// A shell function `search NEEDLE_FILE` printing every place a process can read
/// that holds the needle: files under `/` (but `/proc`, `/sys`, `/dev`; `/usr`, the
/// host's system, text files only), every process's environment and command line.
const SEARCH: &str = r#"search() { { grep -rlsF -f "$1" --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev --exclude-dir=usr / ; grep -rlsIF -f "$1" /usr ; for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do grep -lsaF -f "$1" "$f"; done; } | grep -vx "$1"; echo "searched:$?"; }"#;

/// Writes `secret` (given in two pieces, so no command line ever holds it whole)
/// to `file` in the workspace.
fn needle(file: &str, secret: &str) -> String {
    let (a, b) = secret.split_at(secret.len() / 2);
    format!("printf '%s%s\\n' '{a}' '{b}' > {file}")
}

/// `(header, value)` pairs of a signed-in request of `user`.
fn signed_in(issuer: &JwtIssuer, user: &FakeUser) -> Vec<(String, String)> {
    vec![
        ("x-authentik-uid".into(), user.uid.clone()),
        ("x-authentik-username".into(), user.username.clone()),
        (
            "x-authentik-jwt".into(),
            issuer.token(&user.uid, &user.username),
        ),
    ]
}

#[tokio::test]
async fn the_operator_token_is_nowhere_a_workspace_can_look() -> anyhow::Result<()> {
    let token = "ghp_operator0123456789abcdefOPERATORtoken";
    let secrets = tempfile::tempdir()?;
    let token_file = secrets.path().join("git-token");
    std::fs::write(&token_file, format!("{token}\n"))?;
    let mut fx = Fixture::with_git(
        |root| GitServer::builder(root).require_token(token).start(),
        |b| {
            b.arg("--sandbox")
                .arg("--git-token-file")
                .arg(token_file.to_string_lossy())
        },
    )?;
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    assert_eq!(
        resp.status(),
        200,
        "cloned with the token: {}",
        fx.proxy.log()
    );
    assert!(
        fx.git
            .requests()
            .iter()
            .any(|r| r.authorized && r.user.is_some()),
        "the clone used the token"
    );

    let mut term = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    term.run(SEARCH).await?;
    // The search finds what is there: a canary planted in the checkout.
    term.run(&needle("/tmp/canary", "canary-4242-in-the-checkout"))
        .await?;
    term.run("cp /tmp/canary ./canary.txt").await?;
    let found = term.run("search /tmp/canary").await?;
    assert!(found.contains("/canary.txt"), "the search works: {found}");
    assert!(found.contains("searched:"), "{found}");

    term.run(&needle("/tmp/needle", token)).await?;
    let found = term.run("search /tmp/needle").await?;
    assert!(found.contains("searched:"), "{found}");
    assert!(
        !found.lines().any(|l| l.starts_with('/')),
        "the operator's token is readable in the workspace at: {found}"
    );
    let config = term.run("cat .git/config").await?;
    assert!(config.contains("[remote \"origin\"]"), "{config}");
    assert!(
        !config.contains("x-access-token") && !config.contains('@'),
        "{config}"
    );
    let env = term
        .run("grep -lsa DCS_GIT_TOKEN_FILE /proc/[0-9]*/environ; echo env-checked")
        .await?;
    assert!(env.contains("env-checked"), "{env}");
    assert!(
        !env.lines().any(|l| l.starts_with("/proc")),
        "a process names the token file: {env}"
    );
    term.close().await;

    let logs = fx.proxy.whole_log() + &read_dir_text(&fx.proxy.data_dir.join("logs"));
    assert!(!logs.contains(token), "the token in a log");
    Ok(())
}

fn read_dir_text(dir: &Path) -> String {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

/// A second git server, requiring `token`, that accepts pushes to its
/// `acme/hello`: a fork of `origin` (the repository the workspace cloned), as a
/// user's fork is. The workspace's first clone is shallow until its history
/// arrives in the background, and git refuses a shallow push to a repository
/// without that history ("shallow update not allowed"): an unrelated target made
/// the push depend on how fast the background fetch was.
fn push_server(root: &Path, origin: &UpstreamRepo, token: &str) -> anyhow::Result<GitServer> {
    origin.fork_into(root)?;
    GitServer::builder(root).require_token(token).start()
}

async fn api(req: reqwest::RequestBuilder) -> anyhow::Result<(u16, String)> {
    let resp = req.send().await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

#[tokio::test]
async fn the_users_own_credential_lets_git_push_and_is_never_shown() -> anyhow::Result<()> {
    let token = "glpat-alice-own-0123456789ABCDEF";
    let mut fx = Fixture::new(|b| b)?;
    let push = push_server(&fx.tmp.path().join("push"), &fx.repo, token)?;
    let host = push.addr().to_string();
    let url = fx.proxy.url(&format!("/api/me/credentials/{host}"));

    let (status, body) = api(client()
        .put(&url)
        .header("content-type", "application/json")
        .body(body_of(&json!({"username": "alice-user", "token": token}))))
    .await?;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(token), "{body}");
    let (status, body) = api(client().get(fx.proxy.url("/api/me/credentials"))).await?;
    assert_eq!(status, 200, "{body}");
    let list: Value = serde_json::from_str(&body)?;
    assert_eq!(
        list,
        json!({"credentials": [{"host": host, "username": "alice-user"}]})
    );
    // A bad request is a 4xx that does not echo the token.
    let (status, body) = api(client()
        .put(&url)
        .header("content-type", "application/json")
        .body(body_of(&json!({"username": "", "token": token}))))
    .await?;
    assert_eq!(status, 422, "{body}");
    assert!(!body.contains(token), "{body}");

    let mut term = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    let pushed = term
        .run(&format!(
            "git -c user.name=alice -c user.email=alice@example.com commit -q --allow-empty -m mine \
             && git push -q http://{host}/acme/hello.git HEAD:refs/heads/from-alice 2>&1 && echo PUSHED"
        ))
        .await?;
    assert!(pushed.contains("PUSHED"), "{pushed}");
    assert!(
        push.requests()
            .iter()
            .any(|r| r.path_and_query.contains("git-receive-pack")
                && r.authorized
                && r.user.as_deref() == Some("alice-user")),
        "the push carried alice's credential"
    );
    let config = term.run("cat .git/config").await?;
    assert!(!config.contains(token), "{config}");

    // Deleted, it is offered no more.
    let (status, body) = api(client().delete(&url)).await?;
    assert_eq!(status, 204, "{body}");
    let (_, body) = api(client().get(fx.proxy.url("/api/me/credentials"))).await?;
    assert_eq!(
        serde_json::from_str::<Value>(&body)?,
        json!({"credentials": []})
    );
    let refused = term
        .run(&format!(
            "git push -q http://{host}/acme/hello.git HEAD:refs/heads/again 2>&1; echo exit=$?"
        ))
        .await?;
    assert!(!refused.contains("exit=0"), "{refused}");
    term.close().await;

    let logs = fx.proxy.whole_log() + &read_dir_text(&fx.proxy.data_dir.join("logs"));
    assert!(!logs.contains(token), "the user's token in a log");
    Ok(())
}

#[tokio::test]
async fn another_users_workspace_never_sees_a_credential() -> anyhow::Result<()> {
    let token = "ghp_alice_only_0123456789abcdefALICE";
    let issuer = JwtIssuer::default();
    let (alice, bob) = (FakeUser::new("alice"), FakeUser::new("bob"));
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &[])?;
    let (status, body) = api(issuer
        .signed(
            client().put(fx.proxy.url("/api/me/credentials/git.example.com")),
            &alice,
        )
        .header("content-type", "application/json")
        .body(body_of(&json!({"username": "alice-user", "token": token}))))
    .await?;
    assert_eq!(status, 200, "{body}");
    let (_, body) =
        api(issuer.signed(client().get(fx.proxy.url("/api/me/credentials")), &bob)).await?;
    assert_eq!(
        serde_json::from_str::<Value>(&body)?,
        json!({"credentials": []})
    );

    let fill =
        "printf 'protocol=https\\nhost=git.example.com\\n\\n' | git credential fill 2>&1; true";
    let mut bobs = Terminal::open(fx.proxy.addr, TERMINAL, &signed_in(&issuer, &bob)).await?;
    let offered = bobs.run(fill).await?;
    assert!(!offered.contains(token), "{offered}");
    bobs.run(SEARCH).await?;
    bobs.run(&needle("/tmp/needle", token)).await?;
    let found = bobs.run("search /tmp/needle").await?;
    assert!(found.contains("searched:"), "{found}");
    assert!(
        !found.lines().any(|l| l.starts_with('/')),
        "alice's credential is readable in bob's workspace at: {found}"
    );
    bobs.close().await;

    // Her own credential is hers to use in her workspace.
    let mut alices = Terminal::open(fx.proxy.addr, TERMINAL, &signed_in(&issuer, &alice)).await?;
    let offered = alices.run(fill).await?;
    assert!(
        offered.contains("username=alice-user") && offered.contains(&format!("password={token}")),
        "{offered}"
    );
    alices.close().await;
    Ok(())
}

fn body_of(value: &Value) -> String {
    value.to_string()
}
