//! Opening a repository through the proxy: listing, download, upload, WebSocket,
//! readable errors for missing repositories and bad paths, private repositories.

use std::time::Duration;

use dcs_e2e::{client, raw_get, raw_request, Fixture, GitServer, README};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn opening_a_repo_lists_its_files_and_serves_downloads_and_uploads() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();

    let resp = http.get(fx.proxy.url("/github/acme/hello")).send().await?;
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.headers()["location"], "/github/acme/hello/");

    let resp = http
        .get(fx.proxy.url("/github/acme/hello/"))
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let page = resp.text().await?;
    assert!(page.contains("README.md") && page.contains("src"), "{page}");

    let resp = http
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    // Dated once, by the proxy (the launcher behind it writes no `Date`).
    let dates = resp.headers().get_all("date").iter().count();
    assert_eq!(dates, 1, "{:?}", resp.headers());
    assert_eq!(resp.text().await?, README);

    let upload = vec![b'x'; 3 * 1024 * 1024 + 17];
    let url = fx.proxy.url("/github/acme/hello/_dcs/files/notes.bin");
    let resp = http.put(&url).body(upload.clone()).send().await?;
    assert_eq!(resp.status(), 201, "{}", resp.text().await?);
    assert_eq!(std::fs::read(fx.checkout().join("notes.bin"))?, upload);

    let resp = http.put(&url).body("overwrite attempt").send().await?;
    assert_eq!(resp.status(), 409);
    assert_eq!(
        std::fs::read(fx.checkout().join("notes.bin"))?,
        upload,
        "nothing is overwritten"
    );

    let resp = http.get(&url).send().await?;
    assert_eq!(resp.bytes().await?.len(), upload.len());
    Ok(())
}

#[tokio::test]
async fn websocket_carries_frames_both_ways_through_the_proxy() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let stream = tokio::net::TcpStream::connect(fx.proxy.addr).await?;
    let url = format!("ws://{}/github/acme/hello/_dcs/ws-echo", fx.proxy.addr);
    let (mut ws, resp) = tokio_tungstenite::client_async(url, stream).await?;
    assert_eq!(resp.status(), 101);
    ws.send(Message::text("hello through the proxy")).await?;
    ws.send(Message::binary(vec![0u8, 1, 2, 255])).await?;
    let mut got = Vec::new();
    while got.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await? {
            Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => got.push(m),
            Some(Ok(_)) => {}
            other => anyhow::bail!("unexpected {other:?}"),
        }
    }
    assert_eq!(got[0], Message::text("hello through the proxy"));
    assert_eq!(got[1], Message::binary(vec![0u8, 1, 2, 255]));
    ws.close(None).await?;
    Ok(())
}

#[tokio::test]
async fn a_missing_repository_gets_a_readable_404() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let resp = client()
        .get(fx.proxy.url("/github/acme/nope/"))
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(resp.status(), 404);
    let page = resp.text().await?;
    assert!(
        page.contains("acme/nope") && page.to_lowercase().contains("not found"),
        "{page}"
    );
    assert!(
        fx.wait_for_no_launcher(Duration::from_secs(60)).await,
        "a failed launcher is not left running: {:?}",
        fx.proxy.launcher_pids()
    );
    Ok(())
}

#[tokio::test]
async fn bad_paths_get_400_with_a_message_and_never_5xx() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let long_owner = format!("/github/{}/hello/", "a".repeat(200));
    for path in [
        "/github/..",
        "/github/acme/..",
        "/github/acme/hello/../../etc/passwd",
        "/github/acme/hello/%2e%2e/x",
        "/github/a/b%2Fc",
        "/github/a/b%2Fc/",
        long_owner.as_str(),
        "/github/a/.git",
        "/github/a/.git/",
        "/github/acme/hello%00/",
        "/github/acme/hello/x%00",
        "/github/%C3%A9/hello/",
        "/github/acme/h%C3%A9llo/",
        "/github/a",
        "/github/-a/b/",
    ] {
        let resp = raw_get(fx.proxy.addr, path).await?;
        assert_eq!(resp.status, 400, "{path}: {}", resp.text());
        assert!(
            resp.text().contains("error"),
            "{path}: a message is given: {}",
            resp.text()
        );
    }
    // Raw non-ASCII and control bytes in the request line.
    for target in [
        &b"/github/acme/h\xc3\xa9llo/"[..],
        b"/github/acme/hel\x01lo/",
    ] {
        let mut req = b"GET ".to_vec();
        req.extend_from_slice(target);
        req.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let resp = raw_request(fx.proxy.addr, &req).await?;
        assert_eq!(resp.status, 400, "{:?}", String::from_utf8_lossy(target));
    }
    let resp = raw_get(fx.proxy.addr, "/nothing/here").await?;
    assert_eq!(resp.status, 404);
    assert!(
        fx.proxy.launcher_pids().is_empty(),
        "no bad path started a workspace"
    );
    Ok(())
}

#[tokio::test]
async fn a_private_repo_is_cloned_with_a_token_that_never_leaks() -> anyhow::Result<()> {
    const TOKEN: &str = "ghp_s3cretTOKENvalue123";
    let token_file = tempfile::NamedTempFile::new()?;
    std::fs::write(token_file.path(), format!("{TOKEN}\n"))?;
    let mut fx = Fixture::with_git(
        |root| GitServer::builder(root).require_token(TOKEN).start(),
        |b| {
            b.arg("--git-token-file")
                .arg(token_file.path().to_string_lossy())
        },
    )?;
    fx.readme_is_served().await?;

    let requests = fx.git.requests();
    assert!(requests.iter().any(|r| r.authorized), "the token was used");
    assert!(
        requests.iter().all(|r| !r.path_and_query.contains(TOKEN)),
        "never in a URL"
    );
    let pids = fx.proxy.launcher_pids();
    assert_eq!(pids.len(), 1);
    for pid in pids {
        let argv = dcs_e2e::cmdline(pid).unwrap_or_default().join(" ");
        assert!(!argv.contains(TOKEN), "never in argv");
        let environ = std::fs::read(format!("/proc/{pid}/environ"))?;
        assert!(
            !String::from_utf8_lossy(&environ).contains(TOKEN),
            "never in the environment"
        );
    }
    let git_config = std::fs::read_to_string(fx.checkout().join(".git/config"))?;
    assert!(!git_config.contains(TOKEN), "never in .git/config");
    for entry in std::fs::read_dir(fx.proxy.data_dir.join("logs"))? {
        let log = std::fs::read_to_string(entry?.path())?;
        assert!(!log.contains(TOKEN), "never in a launcher log");
    }
    assert!(
        !fx.proxy.whole_log().contains(TOKEN),
        "never in the proxy log"
    );
    Ok(())
}

#[tokio::test]
async fn a_private_repo_without_a_token_is_refused_clearly() -> anyhow::Result<()> {
    let fx = Fixture::with_git(
        |root| GitServer::builder(root).require_token("tok").start(),
        |b| b,
    )?;
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/"))
        .send()
        .await?;
    let status = resp.status().as_u16();
    let body = resp.text().await?;
    assert!(status == 403 || status == 404, "{status}: {body}");
    assert!(!body.is_empty());
    Ok(())
}
