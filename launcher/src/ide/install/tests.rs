//! The download path against a loopback HTTP server serving a tarball built here:
//! a good checksum installs (after a retried 503) and caches; a second start does
//! not download; a bad checksum is refused and nothing is executed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use super::*;
use crate::fixtures::{env, fake_ide, Running, Upstream};
use crate::trust::test_ca::{serve_https, TestCa};

const VERSION: &str = "9.9.9";

/// A fake code-server that leaves `ran` in its user-data dir, then serves the
/// checkout.
fn fake() -> String {
    fake_ide::code_server(r#"touch "$data/ran""#)
}

fn archive_name() -> String {
    let plan = CODE_SERVER
        .plan(
            Path::new("/c"),
            Some(VERSION),
            Some("http://x"),
            std::env::consts::ARCH,
        )
        .expect("plan");
    plan.url.trim_start_matches("http://x/").to_owned()
}

/// `code-server-<v>-linux-<arch>/bin/code-server` in a `.tar.gz`.
fn tarball() -> Vec<u8> {
    let top = archive_name().trim_end_matches(".tar.gz").to_owned();
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut header = tar::Header::new_gnu();
    let fake = fake();
    header.set_size(fake.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    tar.append_data(
        &mut header,
        format!("{top}/bin/code-server"),
        fake.as_bytes(),
    )
    .expect("append");
    tar.into_inner().expect("tar").finish().expect("gz")
}

/// Requests seen, per path.
type Hits = Arc<Mutex<HashMap<String, usize>>>;

/// Serves `files`; the first request of each path in `fail_once` gets a 503.
fn files_service(
    files: HashMap<String, Vec<u8>>,
    fail_once: Vec<String>,
    hits: Hits,
) -> impl hyper::service::Service<
    Request<hyper::body::Incoming>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    let (files, fail_once) = (Arc::new(files), Arc::new(fail_once));
    service_fn(move |req: Request<hyper::body::Incoming>| {
        let path = req.uri().path().trim_start_matches('/').to_owned();
        let n = {
            let mut seen = hits.lock().expect("lock");
            let n = seen.entry(path.clone()).or_default();
            *n += 1;
            *n
        };
        let res = match files.get(&path) {
            _ if n == 1 && fail_once.contains(&path) => {
                (StatusCode::SERVICE_UNAVAILABLE, Vec::new())
            }
            Some(body) => (StatusCode::OK, body.clone()),
            None => (StatusCode::NOT_FOUND, Vec::new()),
        };
        let mut resp = Response::new(Full::new(Bytes::from(res.1)));
        *resp.status_mut() = res.0;
        async move { Ok::<_, Infallible>(resp) }
    })
}

/// Serves `files` over plain HTTP (see [`files_service`]). Returns its base URL and
/// the number of requests per path.
async fn server(files: HashMap<String, Vec<u8>>, fail_once: Vec<String>) -> (String, Hits) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let hits = Hits::default();
    let service = files_service(files, fail_once, hits.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    (format!("http://{addr}"), hits)
}

/// Serves `files` over HTTPS with a certificate `ca` signed.
async fn https_server(ca: &TestCa, files: HashMap<String, Vec<u8>>) -> (String, Hits) {
    let hits = Hits::default();
    let base = serve_https(ca, files_service(files, Vec::new(), hits.clone())).await;
    (base, hits)
}

/// The archive and its published checksum.
fn archive_files() -> HashMap<String, Vec<u8>> {
    let (tarball, name) = (tarball(), archive_name());
    let sum = fetch::hex(&Sha256::digest(&tarball));
    HashMap::from([
        (name.clone(), tarball),
        (
            format!("{name}.sha256"),
            format!("{sum}  {name}\n").into_bytes(),
        ),
    ])
}

fn code_server_env(git: &str, ws: &Path, base: &str) -> dcs_model::LauncherEnv {
    let mut env = env(git, ws);
    env.ide = "code-server".into();
    env.ide_version = Some(VERSION.into());
    env.ide_download_base = Some(base.into());
    env
}

#[test]
fn plans_name_the_upstream_archive_or_the_same_file_at_a_mirror() {
    let plan = CODE_SERVER
        .plan(Path::new("/cfg"), None, None, "x86_64")
        .expect("plan");
    assert_eq!(
        plan.url,
        "https://github.com/coder/code-server/releases/download/v4.139.1/code-server-4.139.1-linux-amd64.tar.gz"
    );
    assert_eq!(plan.dir, Path::new("/cfg/ides/code-server-4.139.1"));
    assert!(plan
        .exe
        .ends_with("code-server-4.139.1-linux-amd64/bin/code-server"));
    let mirrored = OPENVSCODE
        .plan(
            Path::new("/cfg"),
            Some("1.2.3"),
            Some("http://m/ides/"),
            "aarch64",
        )
        .expect("plan");
    assert_eq!(
        mirrored.url,
        "http://m/ides/openvscode-server-v1.2.3-linux-arm64.tar.gz"
    );
    let vscode = VSCODE
        .plan(Path::new("/cfg"), None, None, "x86_64")
        .expect("plan");
    assert!(vscode.url.contains("/cli-alpine-x64/stable") && vscode.exe.ends_with("code"));
    assert!(CODE_SERVER
        .plan(Path::new("/c"), None, None, "riscv64")
        .is_err());
    assert_eq!(
        fetch::parse_sha256(&format!("{}  f.tar.gz\n", "AB".repeat(32))),
        Some("ab".repeat(32))
    );
    assert_eq!(fetch::parse_sha256("nope"), None);
}

#[tokio::test]
async fn a_good_checksum_installs_once_and_the_next_start_does_not_download() {
    let name = archive_name();
    let (base, hits) = server(archive_files(), vec![name.clone()]).await;
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");

    let l = Running::ready(code_server_env(&upstream.base(), ws.path(), &base)).await;
    assert_eq!(
        l.get("/README.md").await.text(),
        "hello\n",
        "the installed IDE serves"
    );
    l.stop().await.expect("stops");
    assert_eq!(
        hits.lock().expect("lock")[&name],
        2,
        "one 503, then one download"
    );
    let installed = ws.path().join(format!(".dcs/ides/code-server-{VERSION}"));
    assert!(installed.join(".installed").is_file());

    let again = Running::ready(code_server_env(&upstream.base(), ws.path(), &base)).await;
    again.stop().await.expect("stops");
    assert_eq!(
        hits.lock().expect("lock")[&name],
        2,
        "the second start downloads nothing"
    );
}

#[tokio::test]
async fn a_bad_checksum_is_refused_and_nothing_is_executed() {
    let name = archive_name();
    let wrong = "0".repeat(64);
    let files = HashMap::from([
        (name.clone(), tarball()),
        (format!("{name}.sha256"), wrong.into_bytes()),
    ]);
    let (base, _) = server(files, Vec::new()).await;
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");

    let l = Running::start(code_server_env(&upstream.base(), ws.path(), &base)).await;
    let failed = l.wait_for_phase("failed").await.json();
    let message = failed["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("checksum mismatch") && message.contains("nothing was installed"),
        "{message}"
    );
    l.stop().await.expect("stops");
    let ides = ws.path().join(".dcs/ides");
    let left: Vec<_> = std::fs::read_dir(&ides)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "nothing installed or left half-done: {left:?}"
    );
    assert!(
        !ws.path().join(".dcs/code-server/data/ran").exists(),
        "nothing was executed"
    );
}

#[tokio::test]
async fn a_version_that_does_not_exist_is_named_in_the_error() {
    let (base, _) = server(HashMap::new(), Vec::new()).await;
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let l = Running::start(code_server_env(&upstream.base(), ws.path(), &base)).await;
    let failed = l.wait_for_phase("failed").await.json();
    let message = failed["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("404") && message.contains("DCS_IDE_VERSION"),
        "{message}"
    );
    l.stop().await.expect("stops");
}

#[tokio::test]
async fn a_mirror_signed_by_a_private_ca_is_trusted_through_the_extra_file_only() {
    let ca = TestCa::new("mirror CA");
    let (base, hits) = https_server(&ca, archive_files()).await;
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");

    // The launcher's own roots do not include the mirror's CA: refused at once (no
    // retries of an untrusted certificate), saying how to trust it.
    let l = Running::start(code_server_env(&upstream.base(), ws.path(), &base)).await;
    let failed = l.wait_for_phase("failed").await.json();
    let message = failed["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("certificate is not trusted") && message.contains("DCS_EXTRA_CA_FILE"),
        "{message}"
    );
    l.stop().await.expect("stops");
    assert_eq!(
        hits.lock().expect("lock").get(&archive_name()),
        None,
        "nothing was served"
    );

    let mut env = code_server_env(&upstream.base(), ws.path(), &base);
    env.extra_ca_file = Some(ca.write_ca(ws.path()));
    let l = Running::ready(env).await;
    assert_eq!(
        l.get("/README.md").await.text(),
        "hello\n",
        "the installed IDE serves"
    );
    l.stop().await.expect("stops");
    assert_eq!(hits.lock().expect("lock")[&archive_name()], 1);
}
