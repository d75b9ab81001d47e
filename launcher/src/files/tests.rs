//! The file API and the `none` IDE page through a real launcher on `127.0.0.1:0`,
//! over a real clone of a real upstream repository.

use http::{Method, StatusCode};

use crate::fixtures::{env, Running, Upstream};

const JSON: (&str, &str) = ("accept", "application/json");

async fn launcher() -> (Upstream, tempfile::TempDir, Running) {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let running = Running::ready(env(&upstream.base(), ws.path())).await;
    (upstream, ws, running)
}

#[tokio::test]
async fn listings_are_json_on_request_with_dirs_first() {
    let (_up, _ws, l) = launcher().await;
    for path in ["/_dcs/files/?format=json", "/_dcs/files/"] {
        let reply = l.send(Method::GET, path, &[JSON], b"").await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let json = reply.json();
        assert_eq!(json["path"], "/");
        let entries: Vec<(&str, &str)> = json["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap_or(""),
                    e["kind"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [(".git", "dir"), ("src", "dir"), ("README.md", "file")]
        );
        assert_eq!(json["entries"][2]["size"], 6);
        assert!(json["entries"][2]["modified"].as_u64().is_some());
    }
    let sub = l
        .send(Method::GET, "/_dcs/files/src/", &[JSON], b"")
        .await
        .json();
    assert_eq!(sub["path"], "/src/");
    assert_eq!(sub["entries"][0]["name"], "main.rs");
    l.stop().await.expect("clean stop");
}

#[tokio::test]
async fn directories_without_a_slash_redirect_relatively_keeping_the_query() {
    let (_up, _ws, l) = launcher().await;
    let reply = l.get("/_dcs/files/src?format=json").await;
    assert_eq!(reply.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(reply.headers["location"], "src/?format=json");
    // Not kept by the browser: `src` may be a file tomorrow.
    assert_eq!(reply.headers["cache-control"], "no-store");
    let reply = l.get("/_dcs/files").await;
    assert_eq!(reply.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(reply.headers["location"], "files/");
}

#[tokio::test]
async fn downloads_stream_the_exact_bytes() {
    let (_up, _ws, l) = launcher().await;
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(l.checkout.join("big.bin"), &big).expect("write");
    let reply = l.get("/_dcs/files/big.bin").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-length"], "3000000");
    assert_eq!(reply.headers["content-type"], "application/octet-stream");
    assert!(reply.body == big, "downloaded bytes differ");

    let reply = l.get("/_dcs/files/README.md?download").await;
    assert_eq!(reply.body, "hello\n");
    assert_eq!(
        reply.headers["content-type"],
        "text/markdown; charset=utf-8"
    );
    assert_eq!(
        reply.headers["content-disposition"],
        "attachment; filename*=UTF-8''README.md"
    );
}

#[tokio::test]
async fn paths_that_could_escape_the_checkout_are_rejected() {
    let (_up, _ws, l) = launcher().await;
    for path in [
        "/_dcs/files/%2e%2e/%2e%2e/etc/passwd",
        "/_dcs/files/src/%2E%2E/README.md",
        "/_dcs/files/a%00b",
        "/_dcs/files/a%5cb",
        "/_dcs/files/a%2fb",
    ] {
        let reply = l.send(Method::GET, path, &[JSON], b"").await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.text()
        );
        assert!(reply.json()["error"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret"), "s").expect("write");
    std::os::unix::fs::symlink(outside.path(), l.checkout.join("escape")).expect("symlink");
    let reply = l
        .send(Method::GET, "/_dcs/files/escape/secret", &[JSON], b"")
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    let reply = l
        .send(Method::PUT, "/_dcs/files/escape/new", &[JSON], b"x")
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    assert!(!outside.path().join("new").exists());
}

#[tokio::test]
async fn uploads_create_new_files_and_never_overwrite() {
    let (_up, _ws, l) = launcher().await;
    let reply = l
        .send(
            Method::PUT,
            "/_dcs/files/src/new%20file.txt",
            &[JSON],
            b"fresh",
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(
        std::fs::read(l.checkout.join("src/new file.txt")).expect("uploaded"),
        b"fresh"
    );

    let reply = l
        .send(Method::PUT, "/_dcs/files/README.md", &[JSON], b"clobber")
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    let message = reply.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("nothing was overwritten"), "{message}");
    assert_eq!(
        std::fs::read(l.checkout.join("README.md")).expect("readme"),
        b"hello\n"
    );

    let reply = l
        .send(Method::PUT, "/_dcs/files/nope/x.txt", &[JSON], b"x")
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text());
    let reply = l.send(Method::PUT, "/_dcs/files/src/", &[JSON], b"x").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    let mut names: Vec<String> = std::fs::read_dir(l.checkout.join("src"))
        .expect("src")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["main.rs", "new file.txt"],
        "no temporary files left"
    );
}

#[tokio::test]
async fn cross_site_writes_are_refused() {
    let (_up, _ws, l) = launcher().await;
    let headers = [JSON, ("sec-fetch-site", "cross-site")];
    let reply = l
        .send(Method::PUT, "/_dcs/files/evil.txt", &headers, b"x")
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(!l.checkout.join("evil.txt").exists());
}

#[tokio::test]
async fn mkdir_creates_once_then_conflicts() {
    let (_up, _ws, l) = launcher().await;
    let reply = l
        .send(Method::POST, "/_dcs/files/docs/?mkdir", &[JSON], b"")
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert!(l.checkout.join("docs").is_dir());
    let reply = l
        .send(Method::POST, "/_dcs/files/docs?op=mkdir", &[JSON], b"")
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    let reply = l
        .send(Method::POST, "/_dcs/files/a/b/?mkdir", &[JSON], b"")
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = l
        .send(Method::POST, "/_dcs/files/docs/", &[JSON], b"")
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let (_up, _ws, l) = launcher().await;
    let reply = l
        .send(Method::DELETE, "/_dcs/files/README.md", &[JSON], b"")
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.headers["allow"], "GET, HEAD, PUT, POST");
    assert!(l.checkout.join("README.md").exists());
}

#[tokio::test]
async fn browsers_get_html_pages_with_relative_links() {
    let (_up, _ws, l) = launcher().await;
    let root = l.get("/").await;
    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(root.headers["content-type"], "text/html; charset=utf-8");
    let page = root.text();
    assert!(page.contains("href=\"_dcs/files/README.md\""), "{page}");
    assert!(page.contains("href=\"_dcs/files/src/\""), "{page}");
    assert!(page.contains("type=\"file\""));

    let sub = l.get("/_dcs/files/src/").await.text();
    assert!(sub.contains("href=\"./main.rs\""), "{sub}");
    assert!(sub.contains("href=\"../\""), "{sub}");

    let missing = l.get("/_dcs/files/nope.txt").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.headers["content-type"], "text/html; charset=utf-8");
    assert!(missing.text().contains("/nope.txt does not exist"));

    assert_eq!(l.get("/elsewhere").await.status, StatusCode::NOT_FOUND);
    assert_eq!(l.get("/_dcs/unknown").await.status, StatusCode::NOT_FOUND);
}

#[test]
fn query_flags_are_recognised() {
    use super::Query;
    let q = Query::parse(Some("format=json&download"));
    assert!(q.json && q.download && !q.mkdir);
    assert!(Query::parse(Some("op=mkdir")).mkdir);
    assert!(Query::parse(Some("mkdir")).mkdir);
    assert_eq!(Query::parse(Some("")).raw, None);
    assert_eq!(Query::parse(None), Query::default());
}
