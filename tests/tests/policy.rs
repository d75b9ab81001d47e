//! The repository access policy end to end: allowed repositories open, denied ones
//! get a 403 page naming the rule and start nothing, admins may open anything, and a
//! broken policy file stops the proxy at start-up with file and line.

use dcs_e2e::{client, FakeUser, Fixture, JwtIssuer};
use reqwest::RequestBuilder;

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
