//! The home page's open box follows `--git-base`, through the real proxy: on a
//! site whose repositories come from another git server, a link to that server
//! opens the workspace (`303`) and a github.com link, which names another
//! repository, is refused naming the git base's host (`400`); with the default git
//! base github.com links open as before. The box only redirects: nothing is
//! cloned, so no git server needs to answer. The API's create reads links by the
//! same rule.

use dcs_e2e::{client, location, ProxyBuilder};

/// `link`, percent-encoded as a form sends it.
fn query(link: &str) -> String {
    format!(
        "/?repo={}",
        percent_encoding::utf8_percent_encode(link, percent_encoding::NON_ALPHANUMERIC)
    )
}

#[tokio::test]
async fn links_open_only_on_the_git_base_s_own_server() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let proxy = ProxyBuilder::new(dir.path(), "https://git.example.com").start()?;
    let http = client();
    for (link, to) in [
        ("https://git.example.com/acme/hello", "/github/acme/hello/"),
        (
            "https://git.example.com/Acme/Hello.git",
            "/github/Acme/Hello/",
        ),
        (
            "https://git.example.com/acme/hello/src/branch/main",
            "/github/acme/hello/",
        ),
        ("git@git.example.com:acme/hello.git", "/github/acme/hello/"),
        ("acme/hello", "/github/acme/hello/"),
    ] {
        let resp = http.get(proxy.url(&query(link))).send().await?;
        assert_eq!(resp.status(), 303, "{link}: {}", proxy.log());
        assert_eq!(location(&resp), to, "{link}");
    }
    for link in [
        "https://github.com/acme/hello",
        "https://github.com/acme/hello/tree/main",
        "git@github.com:acme/hello.git",
        "github.com/acme/hello",
    ] {
        let resp = http
            .get(proxy.url(&query(link)))
            .header("accept", "text/html")
            .send()
            .await?;
        assert_eq!(resp.status(), 400, "{link}: {}", proxy.log());
        let page = resp.text().await?;
        assert!(
            page.contains("only git.example.com repositories open here"),
            "{link}: {page}"
        );
    }
    // The API's create reads a link by the same rule: another server's is a 422
    // on `repo`, and nothing is made.
    let resp = http
        .post(proxy.url("/api/instances"))
        .header("content-type", "application/json")
        .body(r#"{"repo": "https://github.com/acme/hello"}"#)
        .send()
        .await?;
    assert_eq!(resp.status(), 422);
    let err: serde_json::Value = serde_json::from_str(&resp.text().await?)?;
    assert_eq!(err["fields"][0]["field"], "repo", "{err}");
    assert!(
        err["fields"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("only git.example.com repositories open here")),
        "{err}"
    );
    assert!(proxy.launcher_pids().is_empty(), "nothing started");
    Ok(())
}

#[tokio::test]
async fn with_the_default_git_base_github_links_open() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let proxy = ProxyBuilder::new(dir.path(), "https://github.com").start()?;
    let http = client();
    for link in [
        "https://github.com/acme/hello/tree/main",
        "https://www.github.com/acme/hello.git",
        "git@github.com:acme/hello.git",
    ] {
        let resp = http.get(proxy.url(&query(link))).send().await?;
        assert_eq!(resp.status(), 303, "{link}: {}", proxy.log());
        assert_eq!(location(&resp), "/github/acme/hello/", "{link}");
    }
    let resp = http
        .get(proxy.url(&query("https://git.example.com/acme/hello")))
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(resp.status(), 400);
    let page = resp.text().await?;
    assert!(
        page.contains("only github.com repositories open here"),
        "{page}"
    );
    Ok(())
}
