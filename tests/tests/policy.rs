//! The repository access policy end to end: allowed repositories open, denied ones
//! get a 403 page naming the rule and start nothing, admins may open anything; an
//! instance's link (shared or not) and the API's start are decided for who asks; and
//! a broken policy file stops the proxy at start-up with file and line.

use std::time::Duration;

use dcs_e2e::api::{call, open_link, wait_running};
use dcs_e2e::{client, FakeUser, Fixture, JwtIssuer};
use reqwest::RequestBuilder;
use serde_json::{json, Value};

const POLICY: &str = "\
default: deny
admin_groups: [dcs-admins]
rules:
  - name: developers-acme
    groups: [developers]
    allow: [\"acme/.*\"]
    deny: [\"acme/secrets\"]
";

fn signed(req: RequestBuilder, issuer: &JwtIssuer, user: &FakeUser) -> RequestBuilder {
    issuer.signed(req, user).header("accept", "text/html")
}

#[tokio::test]
async fn the_policy_decides_who_opens_what_and_names_the_rule() -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let dir = tempfile::tempdir()?;
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY)?;
    let alice = FakeUser::new("alice");
    let flags = ["--policy".to_owned(), policy.display().to_string()];
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &flags)?;

    let resp = signed(
        client().get(fx.proxy.url("/github/acme/hello/")),
        &issuer,
        &alice,
    )
    .send()
    .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());

    for (path, rule) in [
        ("/github/acme/secrets/", "developers-acme"),
        ("/github/other/tools/", "default"),
    ] {
        let resp = signed(client().get(fx.proxy.url(path)), &issuer, &alice)
            .send()
            .await?;
        assert_eq!(resp.status(), 403, "{path}");
        let page = resp.text().await?;
        assert!(
            page.contains(&format!("&quot;{rule}&quot;")),
            "{path}: the page names the rule: {page}"
        );
    }
    assert_eq!(
        fx.proxy.launcher_pids_of(&alice.uid).len(),
        1,
        "denied requests start nothing"
    );

    let mut admin = FakeUser::new("root");
    admin.groups = vec!["dcs-admins".into()];
    let resp = signed(
        client().get(fx.proxy.url("/github/other/tools/")),
        &issuer,
        &admin,
    )
    .send()
    .await?;
    assert_eq!(
        resp.status(),
        404,
        "an admin passes the policy (the repo just does not exist)"
    );
    Ok(())
}

#[tokio::test]
async fn neither_a_shared_link_nor_the_api_opens_a_repository_the_policy_denies(
) -> anyhow::Result<()> {
    let issuer = JwtIssuer::default();
    let dir = tempfile::tempdir()?;
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY)?;
    let alice = FakeUser::new("alice");
    // Not a developer: the policy's default (deny) decides for bob.
    let bob = FakeUser {
        groups: vec!["contractors".into()],
        ..FakeUser::new("bob")
    };
    let root = FakeUser {
        groups: vec!["dcs-admins".into()],
        ..FakeUser::new("root")
    };
    let flags = [
        "--policy".to_owned(),
        policy.display().to_string(),
        "--admin-group".to_owned(),
        "dcs-admins".to_owned(),
        "--dangerous-allow-shared-instances".to_owned(),
    ];
    let fx = Fixture::trusted_headers(&issuer, &alice.uid, &flags)?;
    let http = client();
    let create = |who: &FakeUser, body: Value| {
        issuer.signed(
            http.post(fx.proxy.url("/api/instances"))
                .header("content-type", "application/json")
                .body(body.to_string()),
            who,
        )
    };
    let refused = |err: &Value| {
        err["error"] == "forbidden"
            && err["message"]
                .as_str()
                .is_some_and(|m| m.contains("acme/hello") && m.contains("\"default\""))
    };

    // Alice's instance of acme/hello, shared with bob: it opens for her, not for him.
    let (code, created) = call(create(
        &alice,
        json!({"repo": "acme/hello", "shared_with": {"users": [bob.uid]}}),
    ))
    .await?;
    assert_eq!(code, 201, "{created} {}", fx.proxy.log());
    let id = created["instance_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token = created["access_token"].as_str().unwrap_or_default();
    let status = fx.proxy.url(&format!("/api/status?instance_id={id}"));
    wait_running(
        || issuer.signed(http.get(&status), &alice),
        Duration::from_secs(60),
    )
    .await?;
    assert_eq!(open_link(&fx, &issuer, &alice, &id, token).await?, 200);
    assert_eq!(
        open_link(&fx, &issuer, &bob, &id, token).await?,
        403,
        "sharing does not grant what the policy denies"
    );

    // One an admin made for bob: his, and still neither opened nor started for him.
    let (code, made) = call(create(
        &root,
        json!({"repo": "acme/hello", "user_id": bob.uid}),
    ))
    .await?;
    assert_eq!(code, 201, "{made} {}", fx.proxy.log());
    let his = made["instance_id"].as_str().unwrap_or_default().to_owned();
    let his_token = made["access_token"].as_str().unwrap_or_default();
    assert_eq!(open_link(&fx, &issuer, &bob, &his, his_token).await?, 403);
    let action = |who: &FakeUser, what: &str| {
        issuer.signed(
            http.post(fx.proxy.url(&format!("/api/instances/{his}/{what}"))),
            who,
        )
    };
    let (code, stopped) = call(action(&root, "stop")).await?;
    assert_eq!(
        (code, stopped["status"].as_str()),
        (200, Some("stopped")),
        "{stopped}"
    );
    let (code, err) = call(action(&bob, "start")).await?;
    assert_eq!(code, 403, "{err}");
    assert!(
        refused(&err),
        "the message names the repository and the rule: {err}"
    );
    assert!(
        fx.proxy.launcher_pids_of(&bob.uid).is_empty(),
        "nothing started for bob"
    );
    // The admin may start it (the policy's admin groups), and alice hers.
    let (code, started) = call(action(&root, "start")).await?;
    assert_eq!(code, 202, "{started} {}", fx.proxy.log());
    let (code, _) = call(issuer.signed(
        http.post(fx.proxy.url(&format!("/api/instances/{id}/start"))),
        &alice,
    ))
    .await?;
    assert_eq!(code, 202);
    Ok(())
}

#[tokio::test]
async fn a_broken_policy_is_refused_at_start_with_file_and_line() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY.replace("acme/secrets", "acme/(unclosed"))?;
    let out = std::process::Command::new(dcs_e2e::bin_path("dcs-proxy")?)
        .args(["serve", "--check-config", "--policy"])
        .arg(&policy)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--launcher-bin")
        .arg(dcs_e2e::bin_path("dcs-launcher")?)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:7", policy.display())),
        "file and line: {stderr}"
    );
    Ok(())
}
