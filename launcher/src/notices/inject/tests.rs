//! Injection into HTML documents: the pure edits, and a whole launcher forwarding
//! to a fake IDE (the `code-server` kind with a Python server as `DCS_IDE_BIN`) that
//! compresses whenever the client lets it, as code-server does.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use http::{HeaderValue, Method};

use super::*;
use crate::fixtures::{env, git, Running, Upstream};

const TAG: &str = "<script src=\"./_dcs/notice.js\" defer></script>";

#[test]
fn the_tag_goes_before_the_end_of_the_head_whatever_its_case() {
    let out = into_html(
        b"<html><HEAD><title>t</title></HEAD><body>x</body></html>",
        TAG,
    )
    .expect("injected");
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        format!("<html><HEAD><title>t</title>{TAG}</HEAD><body>x</body></html>")
    );
    let out = into_html(b"<body>no head</body>", TAG).expect("injected");
    assert!(out.starts_with(TAG.as_bytes()));
    let out = into_html(b"just text", TAG).expect("injected");
    assert!(out.starts_with(TAG.as_bytes()));
}

#[test]
fn a_document_that_already_loads_the_script_is_left_alone() {
    let page = format!("<head>{}</head>", crate::notices::script_tag("../../"));
    assert_eq!(into_html(page.as_bytes(), TAG), None);
}

#[test]
fn only_top_level_navigations_are_edited() {
    let headers = |pairs: &[(&'static str, &'static str)]| {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    };
    let doc = headers(&[("sec-fetch-dest", "document")]);
    assert!(wants(&Method::GET, "/deep/page", &doc));
    assert!(!wants(&Method::POST, "/", &doc));
    assert!(!wants(
        &Method::GET,
        "/",
        &headers(&[("sec-fetch-dest", "iframe")])
    ));
    assert!(!wants(
        &Method::GET,
        "/",
        &headers(&[("sec-fetch-dest", "script")])
    ));
    let html = headers(&[("accept", "text/html,application/xhtml+xml")]);
    assert!(
        wants(&Method::GET, "/", &html),
        "old clients: the root page"
    );
    assert!(!wants(&Method::GET, "/static/x.html", &html));
    assert!(!wants(&Method::GET, "/", &headers(&[("accept", "*/*")])));
}

/// A stand-in IDE: any GET answers an HTML page (plain text under `/plain`),
/// gzip-compressed whenever `Accept-Encoding` allows it, and says in
/// `x-seen-accept-encoding` what it was asked for.
const FAKE_IDE: &str = r#"#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in --bind-addr) addr="$2"; shift ;; esac
  shift
done
exec python3 - "${addr##*:}" <<'PY'
import gzip, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
PAGE = b"<!doctype html><html><head><title>IDE</title></head><body><p>the IDE</p></body></html>"
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        asked = self.headers.get('Accept-Encoding', '')
        body, encoding = PAGE, None
        if 'gzip' in asked:
            body, encoding = gzip.compress(PAGE), 'gzip'
        plain = self.path.startswith('/plain')
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain' if plain else 'text/html; charset=utf-8')
        if encoding:
            self.send_header('Content-Encoding', encoding)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('X-Seen-Accept-Encoding', asked or '-')
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
HTTPServer(('127.0.0.1', int(sys.argv[1])), Handler).serve_forever()
PY
"#;

fn fake_ide(dir: &Path) -> PathBuf {
    let bin = dir.join("code-server");
    std::fs::write(&bin, FAKE_IDE).expect("write fake");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    bin
}

#[tokio::test]
async fn ide_documents_get_the_notice_script_and_everything_else_streams_unchanged() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let tools = tempfile::tempdir().expect("tempdir");
    let mut env = env(&upstream.base(), ws.path());
    // A checkout the user re-pointed: the workspace opens with a notice.
    let checkout = env.checkout_dir();
    std::fs::create_dir_all(checkout.parent().expect("parent")).expect("mkdir");
    git(
        ws.path(),
        &[
            "clone",
            "--quiet",
            &format!("{}/acme/hello.git", upstream.base()),
            "acme/hello",
        ],
    );
    git(
        &checkout,
        &[
            "remote",
            "set-url",
            "origin",
            "https://example.invalid/fork.git",
        ],
    );
    env.ide = "code-server".into();
    env.ide_bin = Some(fake_ide(tools.path()));
    let before_ms = crate::activity::now_ms();
    let l = Running::ready(env).await;

    let gzip = [("accept-encoding", "gzip, deflate")];
    let doc = l
        .send(
            Method::GET,
            "/?folder=/w",
            &[("sec-fetch-dest", "document"), gzip[0]],
            b"",
        )
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.headers["x-seen-accept-encoding"], "identity");
    assert!(doc.headers.get(CONTENT_ENCODING).is_none());
    let text = doc.text();
    // The page knows which run of the IDE served it (this launcher's first start of
    // it), and the idle poll which one answers now.
    let idle = l.get("/_dcs/idle").await.json();
    let run = idle["ide_run"]
        .as_str()
        .expect("the run in the idle report");
    // The time this launcher began supervising the IDE, and its first start: another
    // launcher of the workspace (restarted, or a new pod) gives other runs.
    let (began, start) = run.split_once('-').expect("began-start");
    assert!(began.parse::<u64>().expect("unix ms") >= before_ms, "{run}");
    assert_eq!(start, "1", "{run}");
    let tag = format!("<script src=\"./_dcs/notice.js\" data-ide-run=\"{run}\" defer></script>");
    assert_eq!(
        text,
        format!("<!doctype html><html><head><title>IDE</title>{tag}</head><body><p>the IDE</p></body></html>")
    );
    assert_eq!(doc.headers[CONTENT_LENGTH], text.len().to_string().as_str());

    let deep = l
        .send(Method::GET, "/a/b", &[("sec-fetch-dest", "document")], b"")
        .await;
    assert!(deep.text().contains(&format!(
        "<script src=\"../_dcs/notice.js\" data-ide-run=\"{run}\" defer>"
    )));

    // Not navigations: exactly what the IDE sent, compression included.
    for dest in ["iframe", "script"] {
        let other = l
            .send(Method::GET, "/", &[("sec-fetch-dest", dest), gzip[0]], b"")
            .await;
        assert_eq!(
            other.headers["x-seen-accept-encoding"], "gzip, deflate",
            "{dest}"
        );
        assert_eq!(other.headers[CONTENT_ENCODING], "gzip", "{dest}");
    }
    // A navigation to something that is not HTML: unchanged.
    let plain = l
        .send(
            Method::GET,
            "/plain",
            &[("sec-fetch-dest", "document")],
            b"",
        )
        .await;
    assert_eq!(plain.headers[CONTENT_TYPE], "text/plain");
    assert!(!plain.text().contains("notice.js"));

    let notices = l.get("/_dcs/notices").await.json();
    let text = notices["notices"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(notices["notices"][0]["id"], "checkout", "{notices}");
    assert!(
        text.contains("points at https://example.invalid/fork.git"),
        "{text}"
    );
    assert!(text.contains("updates are not fetched"), "{text}");
    let post = l.send(Method::POST, "/_dcs/notices", &[], b"").await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    let script = l.get("/_dcs/notice.js").await;
    assert_eq!(
        script.headers[CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert!(script.text().contains("dcs-notices"));
    l.stop().await.expect("clean stop");
}
