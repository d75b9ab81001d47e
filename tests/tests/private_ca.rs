//! A git server whose certificate only the operator's own CA vouches for
//! (`--extra-ca-file`), through the real proxy in local mode: the repository check
//! that runs before anything is made trusts that CA as the launchers do, so the
//! workspace opens; a server whose CA nobody named is still refused.

use dcs_e2e::{client, Fixture, GitServer, TestCa};

#[tokio::test]
async fn a_git_server_of_the_operators_own_ca_opens() -> anyhow::Result<()> {
    let ca = TestCa::new("corp root")?;
    let files = tempfile::tempdir()?;
    let ca_file = ca.write_ca(files.path(), "corp-root.pem")?;
    let tls = ca.clone();
    let fx = Fixture::with_git(
        |root| GitServer::builder(root).tls(&tls).start(),
        |b| b.arg("--extra-ca-file").arg(ca_file.display().to_string()),
    )?;
    fx.readme_is_served().await?;
    Ok(())
}

#[tokio::test]
async fn a_git_server_of_an_unknown_ca_is_refused_with_a_reason() -> anyhow::Result<()> {
    let ca = TestCa::new("nobody's root")?;
    let tls = ca.clone();
    let fx = Fixture::with_git(|root| GitServer::builder(root).tls(&tls).start(), |b| b)?;
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    assert_eq!(resp.status(), 502, "{}", fx.proxy.log());
    let body = resp.text().await?;
    assert!(body.contains("cannot reach the git server"), "{body}");
    assert!(fx.proxy.launcher_pids().is_empty(), "nothing was started");
    Ok(())
}
