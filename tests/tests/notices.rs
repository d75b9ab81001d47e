//! A checkout that is the user's own stays theirs, visibly: when its `origin` was
//! renamed, re-pointed or removed, or the operator changed the git base, the
//! workspace opens as it is (nothing fetched, nothing changed) and every page says
//! that updates are not fetched and how to fix it: the `none` IDE's page and file
//! manager through the proxy, and VS Code (code-server) in Chromium, where the
//! launcher injects its banner script into the workbench page.

use std::path::Path;
use std::time::Duration;

use dcs_e2e::browser::{self, Script};
use dcs_e2e::{client, ide_support, run_git, Fixture};
use serde_json::Value;

/// Clones `acme/hello` into the proxy user's volume (as a first start would have),
/// then lets `change` do what the user did to it.
fn user_checkout(fx: &Fixture, clone_from: &str, change: &[&[&str]]) -> anyhow::Result<()> {
    let owner = fx.proxy.volume().join("acme");
    std::fs::create_dir_all(&owner)?;
    run_git(&owner, &["clone", "--quiet", clone_from, "hello"])?;
    let checkout = fx.checkout();
    std::fs::write(checkout.join("README.md"), "my own words\n")?;
    std::fs::write(checkout.join("notes.txt"), "mine\n")?;
    for args in change {
        run_git(&checkout, args)?;
    }
    Ok(())
}

/// Everything the user could lose: HEAD, status, index, refs, remotes.
fn state(checkout: &Path) -> anyhow::Result<Vec<String>> {
    let git = |args: &[&str]| run_git(checkout, args);
    Ok(vec![
        git(&["rev-parse", "HEAD"])?,
        git(&["status", "--porcelain", "--untracked-files=all"])?,
        git(&["ls-files", "--stage"])?,
        git(&["for-each-ref"])?,
        git(&["remote", "-v"])?,
        std::fs::read_to_string(checkout.join("README.md"))?,
    ])
}

async fn page(fx: &Fixture, path: &str) -> anyhow::Result<(u16, String)> {
    let resp = client()
        .get(fx.proxy.url(path))
        .header("accept", "text/html")
        .send()
        .await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

#[tokio::test]
async fn a_checkout_whose_origin_the_user_changed_opens_with_the_warning_in_every_page(
) -> anyhow::Result<()> {
    let pw_url = "https://user:pw@example.invalid/me/fork.git";
    let cases: [(&str, &[&[&str]], &str); 3] = [
        (
            "renamed",
            &[&["remote", "rename", "origin", "upstream"]],
            "has no remote 'origin' (its remote 'upstream' points at",
        ),
        (
            "re-pointed",
            &[&["remote", "set-url", "origin", pw_url]],
            "points at https://***@example.invalid/me/fork.git, not",
        ),
        (
            "removed",
            &[&["remote", "remove", "origin"]],
            "has no remote 'origin': updates are not fetched. To get them: git remote add origin",
        ),
    ];
    for (what, change, says) in cases {
        let fx = Fixture::new(|b| b)?;
        user_checkout(&fx, &fx.repo.url(&fx.git.base_url()), change)?;
        fx.repo
            .commit(&[("README.md", "upstream moved on\n")], "update")?;
        let before = state(&fx.checkout())?;
        check_warning_shown(&fx, what, says).await?;
        assert_eq!(state(&fx.checkout())?, before, "{what}: nothing changed");
    }
    Ok(())
}

#[tokio::test]
async fn a_changed_git_base_opens_the_checkout_with_the_warning() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    // Cloned from where the repository used to be served.
    let old = format!("file://{}", fx.repo.path().display());
    user_checkout(&fx, &old, &[])?;
    let before = state(&fx.checkout())?;
    let says = format!(
        "points at {old}, not {}: updates are not fetched. To get them: git remote set-url origin {}",
        fx.repo.url(&fx.git.base_url()),
        fx.repo.url(&fx.git.base_url())
    );
    check_warning_shown(&fx, "git base", &says).await?;
    assert_eq!(state(&fx.checkout())?, before);
    Ok(())
}

/// The workspace opens (the `none` IDE's page, the file manager) with `says` in a
/// banner, and `/_dcs/notices` lists it.
async fn check_warning_shown(fx: &Fixture, what: &str, says: &str) -> anyhow::Result<()> {
    let (status, root) = page(fx, "/github/acme/hello/").await?;
    assert_eq!(status, 200, "{what}: {root}\n{}", fx.proxy.log());
    let shown = |html: &str| html.contains("id=\"dcs-notices\"") && unescape(html).contains(says);
    assert!(
        shown(&root),
        "{what}: the IDE page shows the warning: {root}"
    );
    assert!(root.contains("updates are not fetched"), "{what}");
    assert!(
        root.contains("_dcs/notice.js"),
        "{what}: the banner stays current"
    );
    assert!(
        !root.contains("user:pw"),
        "{what}: no credentials in the page"
    );
    let (status, files) = page(fx, "/github/acme/hello/_dcs/files/src/").await?;
    assert_eq!(status, 200, "{what}");
    assert!(
        shown(&files),
        "{what}: the file manager shows the warning: {files}"
    );
    assert!(files.contains("<script src=\"../../../_dcs/notice.js\" defer></script>"));
    let notices = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/notices"))
        .send()
        .await?
        .text()
        .await?;
    let notices: Value = serde_json::from_str(&notices)?;
    let text = notices["notices"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains(says), "{what}: {notices}");
    assert_eq!(notices["notices"][0]["level"], "warning");
    Ok(())
}

/// HTML text with the escapes the launcher writes undone.
fn unescape(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn code_server_shows_the_warning_as_a_banner_in_chromium() -> anyhow::Result<()> {
    let tools = browser::tools();
    let code_server = ide_support::code_server();
    let fx = Fixture::new(|b| b.code_server(&code_server))?;
    user_checkout(
        &fx,
        &fx.repo.url(&fx.git.base_url()),
        &[&[
            "remote",
            "set-url",
            "origin",
            "https://example.invalid/me/fork.git",
        ]],
    )?;
    let before = state(&fx.checkout())?;
    let shots = ide_support::screenshot_dir("notices")?;
    let mut script = Script::start(
        &tools,
        "notices.mjs",
        serde_json::json!({
            "url": fx.proxy.url("/github/acme/hello/"),
            "screenshots": shots.display().to_string(),
            "text": "updates are not fetched",
        }),
    )?;
    let banner = script.expect("banner", Duration::from_secs(300)).await?;
    let text = banner["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("points at https://example.invalid/me/fork.git"),
        "{banner}"
    );
    assert!(text.contains("git remote set-url origin"), "{banner}");
    assert_eq!(banner["csp_errors"], serde_json::json!([]), "{banner}");
    script.expect("dismissed", Duration::from_secs(60)).await?;
    script.expect("done", Duration::from_secs(60)).await?;
    assert_eq!(state(&fx.checkout())?, before);
    Ok(())
}
