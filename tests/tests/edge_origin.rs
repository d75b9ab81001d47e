//! The edge keeps foreign pages out: a WebSocket upgrade or a state-changing
//! request to a workspace, an instance or `/api` from a page of another origin is
//! refused (403), in a real Chromium and byte for byte; under `--auth none` a
//! request for a host the proxy does not serve is refused (421, DNS rebinding);
//! the proxy's own pages and the CLI (no `Origin`) keep working.

use std::time::Duration;

use anyhow::Context;
use dcs_e2e::browser::{self, Script};
use dcs_e2e::{bin_path, client, raw_request, Fixture};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A site of another origin: every request gets a small HTML page. On 127.0.0.2
/// (another loopback site), or another port of 127.0.0.1 where that cannot bind.
async fn foreign_site() -> anyhow::Result<String> {
    let listener = match TcpListener::bind("127.0.0.2:0").await {
        Ok(l) => l,
        Err(_) => TcpListener::bind("127.0.0.1:0").await?,
    };
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = stream.read(&mut buf).await;
                let page = "<!doctype html><title>elsewhere</title><p>another site</p>";
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = stream.write_all(resp.as_bytes()).await;
            });
        }
    });
    Ok(format!("http://{addr}/"))
}

/// `log` without its terminal colours.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The API instances (not repository workspaces) `GET /api/instances` lists.
async fn instances(fx: &Fixture) -> anyhow::Result<Vec<Value>> {
    let (code, list) = dcs_e2e::api::call(client().get(fx.proxy.url("/api/instances"))).await?;
    anyhow::ensure!(code == 200, "{list}");
    Ok(list["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["kind"] == "instance")
        .cloned()
        .collect())
}

/// Opens the workspace once, so WebSockets to it answer at once.
async fn warm(fx: &Fixture) -> anyhow::Result<()> {
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 200, "{}", fx.proxy.log());
    Ok(())
}

#[tokio::test]
async fn chromium_on_another_origin_is_refused_the_terminal_and_the_api_ours_is_not(
) -> anyhow::Result<()> {
    let tools = browser::tools();
    let fx = Fixture::new(|b| b)?;
    warm(&fx).await?;
    let foreign = foreign_site().await?;
    let mut script = Script::start(
        &tools,
        "edge_origin.mjs",
        json!({ "foreign": foreign, "proxy": fx.proxy.url("") }),
    )?;
    let theirs = script.expect("foreign", Duration::from_secs(180)).await?;
    assert_eq!(theirs["ws"], "refused", "{theirs}\n{}", fx.proxy.log());
    assert_eq!(theirs["status"], 403, "{theirs}");
    let refused =
        dcs_e2e::procs::wait_until(Duration::from_secs(60), Duration::from_millis(20), || {
            plain(&fx.proxy.log()).contains("path=/github/acme/hello/_dcs/terminal status=403")
        })
        .await;
    assert!(
        refused,
        "the terminal's handshake was refused by the proxy:\n{}",
        fx.proxy.log()
    );
    let ours = script.expect("own", Duration::from_secs(180)).await?;
    assert_eq!(ours["ws"], "open", "{ours}\n{}", fx.proxy.log());
    assert_eq!(ours["status"], 201, "{ours}");
    script.finish(Duration::from_secs(30)).await?;
    assert_eq!(
        instances(&fx).await?.len(),
        1,
        "only our own page created one"
    );
    Ok(())
}

/// A request head with `extra` headers.
fn head(line: &str, host: &str, extra: &[&str]) -> Vec<u8> {
    let mut h = format!("{line}\r\nhost: {host}\r\nconnection: close\r\n");
    for e in extra {
        h.push_str(e);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

const UPGRADE: &[&str] = &[
    "connection: upgrade",
    "upgrade: websocket",
    "sec-websocket-version: 13",
    "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==",
];

#[tokio::test]
async fn foreign_origins_and_cross_site_fetches_are_403_and_our_own_pass() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    warm(&fx).await?;
    let addr = fx.proxy.addr;
    let host = addr.to_string();
    let terminal = "GET /github/acme/hello/_dcs/terminal HTTP/1.1";
    let post = "POST /api/instances HTTP/1.1";
    let json_body = ["content-type: application/json", "content-length: 2"];
    for (line, extra, want) in [
        (terminal, vec!["origin: http://127.0.0.2:9000"], 403),
        (terminal, vec!["origin: null"], 403),
        (terminal, vec!["sec-fetch-site: cross-site"], 403),
        (terminal, vec!["sec-fetch-site: same-site"], 403),
        (post, vec!["origin: http://evil.example"], 403),
        (post, vec!["origin: http://127.0.0.1:1"], 403),
        (post, vec!["sec-fetch-site: cross-site"], 403),
        (
            "DELETE /api/instances/inst-0123456789abcdef HTTP/1.1",
            vec!["origin: http://evil.example"],
            403,
        ),
        (
            "PUT /github/acme/hello/_dcs/files/x.txt HTTP/1.1",
            vec!["origin: http://evil.example", "content-length: 0"],
            403,
        ),
        (
            "POST /instances/inst-0123456789abcdef/x HTTP/1.1",
            vec!["origin: http://evil.example", "content-length: 0"],
            403,
        ),
        // Reads are not refused (the browser keeps their answers from the page).
        (
            "GET /api/me HTTP/1.1",
            vec!["origin: http://evil.example"],
            200,
        ),
    ] {
        let mut all: Vec<&str> = extra.clone();
        if line == terminal {
            all.extend_from_slice(UPGRADE);
        }
        if line == post {
            all.extend_from_slice(&json_body);
        }
        let mut bytes = head(line, &host, &all);
        if line == post {
            bytes.extend_from_slice(b"{}");
        }
        let resp = raw_request(addr, &bytes).await?;
        assert_eq!(resp.status, want, "{line} {extra:?}: {}", resp.text());
        if want == 403 {
            assert!(
                resp.text().contains("only pages of this server"),
                "{}",
                resp.text()
            );
        }
    }
    let api_403 = raw_request(
        addr,
        &head("DELETE /api/instances/x HTTP/1.1", &host, &["origin: null"]),
    )
    .await?;
    assert_eq!(
        api_403.header("content-type"),
        Some("application/json"),
        "JSON under /api"
    );
    assert!(instances(&fx).await?.is_empty(), "nothing was created");

    for (origin, what) in [
        (format!("origin: http://{addr}"), "our own origin"),
        (
            format!("origin: http://localhost:{}", addr.port()),
            "localhost",
        ),
        ("sec-fetch-site: same-origin".to_owned(), "same-origin"),
        (String::new(), "no Origin at all (a script)"),
    ] {
        let mut extra: Vec<&str> = UPGRADE.to_vec();
        if !origin.is_empty() {
            extra.push(&origin);
        }
        let resp = raw_request(addr, &head(terminal, &host, &extra)).await?;
        assert_eq!(resp.status, 101, "{what}: {}", resp.text());
    }
    Ok(())
}

#[tokio::test]
async fn auth_none_answers_421_to_a_host_it_does_not_serve() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let addr = fx.proxy.addr;
    let port = addr.port();
    for (line, host) in [
        ("GET /api/me HTTP/1.1", "rebind.evil.example".to_owned()),
        (
            "GET /api/me HTTP/1.1",
            format!("rebind.evil.example:{port}"),
        ),
        (
            "GET /github/acme/hello/ HTTP/1.1",
            format!("rebind.evil.example:{port}"),
        ),
        (
            "GET /metrics HTTP/1.1",
            format!("rebind.evil.example:{port}"),
        ),
        (
            "GET /api/me HTTP/1.1",
            format!("localhost:{}", port.wrapping_add(1).max(1)),
        ),
    ] {
        let resp = raw_request(addr, &head(line, &host, &[])).await?;
        assert_eq!(resp.status, 421, "{line} for {host}: {}", resp.text());
        assert!(resp.text().contains("--auth none"), "{}", resp.text());
    }
    let page = raw_request(
        addr,
        &head(
            "GET /github/acme/hello/ HTTP/1.1",
            "rebind.evil.example",
            &["accept: text/html"],
        ),
    )
    .await?;
    assert_eq!(page.status, 421);
    assert!(
        page.text().contains("<h1>Wrong address</h1>"),
        "{}",
        page.text()
    );
    assert!(fx.proxy.volumes().is_empty(), "no workspace was started");
    for host in [
        addr.to_string(),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let resp = raw_request(addr, &head("GET /api/me HTTP/1.1", &host, &[])).await?;
        assert_eq!(resp.status, 200, "{host}: {}", resp.text());
    }
    Ok(())
}

#[tokio::test]
async fn the_cli_without_an_origin_still_creates_and_deletes_instances() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let home = tempfile::tempdir()?;
    let dcs = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(bin_path("dcs")?);
        cmd.args(args)
            .arg("--server")
            .arg(fx.proxy.url(""))
            .env_remove("DCS_SERVER")
            .env_remove("DCS_TOKEN")
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .kill_on_drop(true);
        anyhow::Ok(cmd)
    };
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        dcs(&["create", "--repo", "acme/hello", "--output", "json"])?.output(),
    )
    .await??;
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        fx.proxy.log()
    );
    let created: Value = serde_json::from_slice(&out.stdout)?;
    let id = created["instance_id"].as_str().context("an id")?.to_owned();
    assert_eq!(instances(&fx).await?.len(), 1);
    let out =
        tokio::time::timeout(Duration::from_secs(120), dcs(&["delete", &id])?.output()).await??;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(instances(&fx).await?.is_empty());
    Ok(())
}
