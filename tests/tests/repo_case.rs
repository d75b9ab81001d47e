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

/// A workspace deleted (its files kept) and opened again spelled otherwise finds its
/// folder as first spelled: the user's uncommitted work is there, and no second
/// checkout is cloned beside it.
#[tokio::test]
async fn a_workspace_opened_again_in_another_spelling_finds_its_files() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    // Every spelling answers, as on GitHub (this git server is case-sensitive).
    for name in ["Team/Tools", "team/tools"] {
        dcs_e2e::repos::UpstreamRepo::create(
            &fx.tmp.path().join("git"),
            name,
            &[("README.md", "# tools\n")],
        )?;
    }
    let http = client();
    let files = |path: &str| fx.proxy.url(&format!("{path}_dcs/files/notes.txt"));
    let resp = http.get(fx.proxy.url("/github/Team/Tools/")).send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let folder = fx.proxy.volume().join("Team/Tools");
    std::fs::write(folder.join("notes.txt"), "uncommitted work\n")?;

    // Deleted: the record goes, the files stay.
    dcs_e2e::api::delete_the_only_workspace(&fx).await?;
    assert!(
        fx.wait_for_no_launcher(std::time::Duration::from_secs(120))
            .await,
        "{}",
        fx.proxy.log()
    );

    // A person opens it again, spelled in lower case.
    let page = dcs_e2e::navigation(http.get(fx.proxy.url("/github/team/tools/")));
    let resp = page.send().await?;
    assert!(resp.status().is_success(), "{}", fx.proxy.log());
    let resp = http.get(files("/github/team/tools/")).send().await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    assert_eq!(resp.text().await?, "uncommitted work\n");
    let owners: Vec<_> = std::fs::read_dir(fx.proxy.volume())?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(owners, ["Team"], "no second checkout");
    Ok(())
}
