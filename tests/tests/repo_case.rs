//! Owners and repositories are case-insensitive, as on GitHub: every spelling of
//! one repository opens the same workspace, and the access policy denies every
//! spelling of a denied repository (the shipped example policy).

use dcs_e2e::{client, FakeUser, Fixture, JwtIssuer};

#[tokio::test]
async fn every_spelling_of_a_repository_opens_one_workspace() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    for path in [
        "/github/acme/hello/",
        "/github/ACME/Hello/",
        "/github/Acme/HELLO/",
    ] {
        let resp = http.get(fx.proxy.url(path)).send().await?;
        assert_eq!(resp.status(), 200, "{path}: {}", fx.proxy.log());
    }
    assert_eq!(fx.proxy.launcher_pids().len(), 1, "one launcher");
    let (code, list) = dcs_e2e::api::call(http.get(fx.proxy.url("/api/instances"))).await?;
    assert_eq!(code, 200);
    let workspaces = list["instances"].as_array().map_or(0, Vec::len);
    assert_eq!(workspaces, 1, "one workspace: {list}");
    let owners: Vec<_> = std::fs::read_dir(fx.proxy.volume())?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(owners, ["acme"], "one checkout");
    Ok(())
}

#[tokio::test]
async fn the_shipped_policy_denies_every_spelling_of_a_denied_repository() -> anyhow::Result<()> {
    let policy = dcs_e2e::browser::repo_root().join("authentik/policy.example.yaml");
    let issuer = JwtIssuer::default();
    let mut dev = FakeUser::new("dana");
    dev.groups = vec!["platform".into()];
    let flags = ["--policy".to_owned(), policy.display().to_string()];
    let fx = Fixture::trusted_headers(&issuer, &dev.uid, &flags)?;
    for path in [
        "/github/acme/secrets/",
        "/github/acme/SECRETS/",
        "/github/Acme/Secrets/",
    ] {
        let resp = issuer
            .signed(client().get(fx.proxy.url(path)), &dev)
            .header("accept", "text/html")
            .send()
            .await?;
        assert_eq!(resp.status(), 403, "{path}");
        assert!(resp.text().await?.contains("platform-team"), "{path}");
    }
    assert!(
        fx.proxy.launcher_pids_of(&dev.uid).is_empty(),
        "nothing started"
    );
    Ok(())
}
