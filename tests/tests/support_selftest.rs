//! Proves the `dcs-e2e` support library works: a real git smart-HTTP server
//! serving upstream repos to the `git` CLI (with and without a token), exact
//! bytes HTTP, `/proc` helpers and binary lookup.

use std::convert::Infallible;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use dcs_e2e::{
    bin_dir, bin_path, cmdline, git_command, is_alive, processes_with_env, raw_get, raw_request,
    run_git, wait_until, GitServer, UpstreamRepo,
};
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

type TestResult = anyhow::Result<()>;

/// Runs a prepared git command; returns whether it succeeded, printing stderr.
fn succeeds(cmd: &mut Command) -> anyhow::Result<bool> {
    let output = cmd.output()?;
    if !output.status.success() {
        eprintln!("git stderr: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(output.status.success())
}

#[test]
fn clone_and_fetch_over_smart_http() -> TestResult {
    let root = tempfile::tempdir()?;
    let repo = UpstreamRepo::create(root.path(), "acme/hello", &[("README.md", "hello\n")])?;
    let server = GitServer::start(root.path())?;
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(repo.url(&server.base_url()), server.repo_url("acme/hello"));

    let clones = tempfile::tempdir()?;
    let dest = clones.path().join("hello");
    let cloned = git_command()
        .args(["clone", "--quiet", &server.repo_url("acme/hello")])
        .arg(&dest)
        .status()?;
    assert!(cloned.success());
    assert_eq!(std::fs::read_to_string(dest.join("README.md"))?, "hello\n");
    assert_eq!(run_git(&dest, &["rev-parse", "HEAD"])?, repo.head()?);

    let new_sha = repo.commit(&[("src/lib.rs", "// new\n")], "add lib")?;
    assert_eq!(repo.head()?, new_sha);
    run_git(&dest, &["fetch", "--quiet", "origin"])?;
    assert_eq!(run_git(&dest, &["rev-parse", "origin/main"])?, new_sha);

    let requests = server.requests();
    assert!(requests.iter().all(|r| r.authorized && r.user.is_none()));
    // Whether git gzips a request body depends on its size, so a gzip request is
    // not asserted here; the fetch above succeeding is what proves the server.
    assert!(requests.iter().any(|r| r
        .headers
        .get("git-protocol")
        .is_some_and(|v| v == "version=2")));
    assert!(requests
        .iter()
        .any(|r| r.method == "POST" && r.path_and_query == "/acme/hello.git/git-upload-pack"));
    Ok(())
}

#[test]
fn token_travels_in_headers_never_in_urls() -> TestResult {
    let root = tempfile::tempdir()?;
    UpstreamRepo::create(root.path(), "acme/private", &[("a.txt", "secret stuff\n")])?;
    let server = GitServer::builder(root.path())
        .require_token("s3cret")
        .start()?;
    let url = server.repo_url("acme/private");
    let clones = tempfile::tempdir()?;

    // No credentials: fails without prompting.
    let anonymous = clones.path().join("anonymous");
    assert!(!succeeds(
        git_command()
            .args(["clone", "--quiet", &url])
            .arg(&anonymous)
    )?);
    assert!(server.requests().iter().any(|r| !r.authorized));

    // Wrong password through a credential helper: fails.
    let wrong = clones.path().join("wrong");
    let wrong_helper = "credential.helper=!f() { echo username=x; echo password=nope; }; f";
    assert!(!succeeds(
        git_command()
            .args(["-c", wrong_helper, "clone", "--quiet", &url])
            .arg(&wrong)
    )?);

    // Right password through a credential helper.
    let helper = "credential.helper=!f() { echo username=alice; echo password=s3cret; }; f";
    let via_helper = clones.path().join("via-helper");
    assert!(succeeds(
        git_command()
            .args(["-c", helper, "clone", "--quiet", &url])
            .arg(&via_helper)
    )?);
    assert_eq!(
        std::fs::read_to_string(via_helper.join("a.txt"))?,
        "secret stuff\n"
    );

    // Right password through GIT_ASKPASS (answers every prompt with the token).
    let askpass = clones.path().join("askpass.sh");
    std::fs::write(&askpass, "#!/bin/sh\necho s3cret\n")?;
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755))?;
    let via_askpass = clones.path().join("via-askpass");
    assert!(succeeds(
        git_command()
            .env("GIT_ASKPASS", &askpass)
            .args(["clone", "--quiet", &url])
            .arg(&via_askpass)
    )?);

    let requests = server.requests();
    assert!(requests
        .iter()
        .all(|r| !r.path_and_query.contains("s3cret")));
    let users: Vec<_> = requests.iter().filter_map(|r| r.user.as_deref()).collect();
    assert!(users.contains(&"alice"));
    assert!(
        users.contains(&"s3cret"),
        "askpass answered the user prompt too"
    );
    assert!(requests
        .iter()
        .filter(|r| r.authorized)
        .all(|r| r.headers.contains_key(http::header::AUTHORIZATION)));
    Ok(())
}

#[test]
fn serves_concurrent_clones() -> TestResult {
    let root = tempfile::tempdir()?;
    let files: Vec<(String, String)> = (0..50)
        .map(|i| {
            (
                format!("dir{}/file{i}.txt", i % 5),
                format!("content {i}\n"),
            )
        })
        .collect();
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let repo = UpstreamRepo::create(root.path(), "acme/many", &files)?;
    let server = GitServer::start(root.path())?;
    let url = server.repo_url("acme/many");
    let clones = tempfile::tempdir()?;
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let dest = clones.path().join(format!("c{i}"));
            let url = url.clone();
            std::thread::spawn(move || -> anyhow::Result<String> {
                run_git(
                    Path::new("/"),
                    &["clone", "--quiet", &url, dest_str(&dest)?],
                )?;
                run_git(&dest, &["rev-parse", "HEAD"])
            })
        })
        .collect();
    for handle in handles {
        let sha = handle
            .join()
            .map_err(|_| anyhow::anyhow!("clone thread panicked"))??;
        assert_eq!(sha, repo.head()?);
    }
    Ok(())
}

fn dest_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .ok_or_else(|| anyhow::anyhow!("non-UTF-8 path"))
}

#[tokio::test]
async fn raw_http_against_git_server() -> TestResult {
    let root = tempfile::tempdir()?;
    UpstreamRepo::create(root.path(), "acme/hello", &[("README.md", "hello\n")])?;
    let server = GitServer::start(root.path())?;

    let refs = raw_get(
        server.addr(),
        "/acme/hello.git/info/refs?service=git-upload-pack",
    )
    .await?;
    assert_eq!(refs.status, 200);
    assert_eq!(
        refs.header("content-type"),
        Some("application/x-git-upload-pack-advertisement")
    );
    assert!(refs.text().starts_with("001e# service=git-upload-pack\n"));

    let missing = raw_get(server.addr(), "/acme/nope.git/info/refs").await?;
    assert_eq!(missing.status, 404);

    // Sent verbatim: a URL library would have collapsed the `..`.
    let traversal = raw_request(
        server.addr(),
        b"GET /acme/../acme/hello.git/info/refs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await?;
    assert_ne!(traversal.status, 200);
    assert!(server
        .requests()
        .iter()
        .any(|r| r.path_and_query == "/acme/../acme/hello.git/info/refs"));

    let locked = GitServer::builder(root.path())
        .require_token("s3cret")
        .start()?;
    let denied = raw_get(locked.addr(), "/acme/hello.git/info/refs").await?;
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.header("WWW-Authenticate"),
        Some("Basic realm=\"git\"")
    );
    // base64("u:s3cret")
    let allowed = raw_request(
        locked.addr(),
        b"GET /acme/hello.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\n\
          Authorization: Basic dTpzM2NyZXQ=\r\nConnection: close\r\n\r\n",
    )
    .await?;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        locked
            .requests()
            .last()
            .and_then(|r| r.user.clone())
            .as_deref(),
        Some("u")
    );
    Ok(())
}

#[tokio::test]
async fn raw_http_decodes_chunked_bodies() -> TestResult {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let path = req.uri().path().to_owned();
                    let frames = ["first,", " second,", " third"]
                        .map(|s| Ok::<_, Infallible>(Frame::data(Bytes::from(s))));
                    let mut resp =
                        hyper::Response::new(StreamBody::new(futures_util::stream::iter(frames)));
                    if path == "/teapot" {
                        *resp.status_mut() = hyper::StatusCode::IM_A_TEAPOT;
                    }
                    resp.headers_mut().insert(
                        "x-path",
                        http::HeaderValue::from_str(&path)
                            .unwrap_or(http::HeaderValue::from_static("?")),
                    );
                    Ok::<_, Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let resp = raw_get(addr, "/teapot").await?;
    assert_eq!(resp.status, 418);
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    assert_eq!(resp.header("X-Path"), Some("/teapot"));
    assert_eq!(resp.text(), "first, second, third");

    // Keep-alive: the response is complete without the server closing.
    let keep_alive = raw_request(addr, b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").await?;
    assert_eq!(keep_alive.status, 200);
    assert_eq!(keep_alive.body, b"first, second, third");
    server.abort();
    Ok(())
}

#[tokio::test]
async fn procs_find_and_watch_a_process() -> TestResult {
    let marker = format!("DCS_E2E_SELFTEST={}", std::process::id());
    let (key, value) = marker
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("marker"))?;
    let mut child = Command::new("sleep").arg("30").env(key, value).spawn()?;
    let pid = child.id();

    assert!(
        wait_until(Duration::from_secs(60), Duration::from_millis(20), || {
            processes_with_env(&marker) == vec![pid]
        })
        .await
    );
    assert_eq!(
        cmdline(pid),
        Some(vec!["sleep".to_owned(), "30".to_owned()])
    );
    assert!(is_alive(pid));
    // A prefix of the entry is not a match.
    assert!(!processes_with_env(&marker[..marker.len() - 1]).contains(&pid));

    child.kill()?;
    // Not yet reaped: a zombie still has a /proc entry but is not alive.
    assert!(
        wait_until(Duration::from_secs(60), Duration::from_millis(20), || {
            !is_alive(pid)
        })
        .await
    );
    child.wait()?;
    assert!(processes_with_env(&marker).is_empty());
    assert_eq!(cmdline(pid), None);
    Ok(())
}

#[test]
fn bins_point_at_the_profile_dir() -> TestResult {
    let dir = bin_dir()?;
    assert_ne!(dir.file_name().and_then(|n| n.to_str()), Some("deps"));
    let err = bin_path("dcs-no-such-binary")
        .err()
        .ok_or_else(|| anyhow::anyhow!("found?"))?;
    assert!(format!("{err}").contains("run `make build` (`cargo build --bins`) first"));
    Ok(())
}

/// `make test`'s summary says why a target did not build: what the system said (a
/// full disk) over the compiler's error, else the compiler's last error; and how much
/// disk is free. (A CI run once printed only "NOT BUILT" for a full disk.)
#[test]
fn the_test_summary_says_why_a_target_did_not_build() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("run.log");
    std::fs::write(
        &log,
        "   Compiling dcs-proxy v0.1.0 (/w/proxy)\n\
         error: linking with `cc` failed: exit status: 1\n  |\n  = note: cc -m64 …\n\
         \x20 = note: /usr/bin/ld: final link failed: No space left on device\n\n\
         error: could not compile `dcs-proxy` (bin \"dcs-proxy\" test) due to 1 previous error\n\
         error[E0308]: mismatched types\n\
         error: could not compile `dcs-model` (lib) due to 1 previous error\n",
    )?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mk/test-summary.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&log)
        .arg("101")
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.contains(
            &"NOT BUILT    dcs-proxy (bin \"dcs-proxy\" test): /usr/bin/ld: final link failed: No space left on device"
        ),
        "{text}"
    );
    assert!(
        lines.contains(&"NOT BUILT    dcs-model (lib): error[E0308]: mismatched types"),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("disk: ") && l.contains(" free where the build writes")),
        "{text}"
    );
    Ok(())
}
