//! `customizations.vscode.extensions` installed into the real code-server, from a
//! gallery on loopback that this test serves (the proxy's `--extensions-gallery`,
//! or `EXTENSIONS_GALLERY` in the proxy's environment, which reaches the launcher
//! and so code-server): VS Code's gallery
//! protocol (`POST <serviceUrl>/extensionquery`, then the manifest and the VSIX from
//! the version's `assetUri`) answering for one extension whose VSIX is built here.
//! Nothing is asked of the gallery before consent; after Allow the extension is in
//! code-server's extensions folder and `code-server --list-extensions` lists it; the
//! next start installs nothing again. An id the gallery lacks fails alone: the
//! commands run anyway, and Run again retries only it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use dcs_e2e::ide_support;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::*;

/// The extension's id.
const ID: &str = "acme.hello";

/// Its `package.json`.
const PACKAGE_JSON: &str = r#"{"name": "hello", "publisher": "acme", "version": "1.0.0",
 "displayName": "Hello", "engines": {"vscode": "*"}}"#;

/// Its `extension.vsixmanifest`.
const VSIX_MANIFEST: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011">
  <Metadata>
    <Identity Language="en-US" Id="hello" Version="1.0.0" Publisher="acme" />
    <DisplayName>Hello</DisplayName>
    <Description xml:space="preserve">A test extension</Description>
    <Properties><Property Id="Microsoft.VisualStudio.Code.Engine" Value="*" /></Properties>
  </Metadata>
  <Installation><InstallationTarget Id="Microsoft.VisualStudio.Code" /></Installation>
  <Dependencies />
  <Assets>
    <Asset Type="Microsoft.VisualStudio.Code.Manifest" Path="extension/package.json" Addressable="true" />
  </Assets>
</PackageManifest>
"#;

/// Its `[Content_Types].xml`.
const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension=".json" ContentType="application/json" />
  <Default Extension=".vsixmanifest" ContentType="text/xml" />
</Types>
"#;

/// The VSIX (a zip), built with the system's `zip` in `dir`.
fn build_vsix(dir: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::create_dir_all(dir.join("extension"))?;
    std::fs::write(dir.join("extension/package.json"), PACKAGE_JSON)?;
    std::fs::write(dir.join("extension.vsixmanifest"), VSIX_MANIFEST)?;
    std::fs::write(dir.join("[Content_Types].xml"), CONTENT_TYPES)?;
    let out = std::process::Command::new("zip")
        .current_dir(dir)
        .args([
            "-q",
            "-X",
            "hello.vsix",
            "extension.vsixmanifest",
            "[Content_Types].xml",
            "extension/package.json",
        ])
        .output()
        .context("running zip (install the zip package)")?;
    anyhow::ensure!(out.status.success(), "zip: {out:?}");
    Ok(std::fs::read(dir.join("hello.vsix"))?)
}

/// A gallery on loopback serving one extension; it records each request's path.
struct Gallery {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Gallery {
    async fn start(vsix: Vec<u8>) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, vsix) = (seen.clone(), Bytes::from(vsix));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, vsix) = (log.clone(), vsix.clone());
                let svc = service_fn(move |req| {
                    let (log, vsix) = (log.clone(), vsix.clone());
                    async move { Ok::<_, Infallible>(answer(addr, req, &log, vsix).await) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc),
                );
            }
        });
        Ok(Self { addr, seen })
    }

    /// `EXTENSIONS_GALLERY` for code-server.
    fn env(&self) -> String {
        let base = format!("http://{}", self.addr);
        serde_json::json!({
            "serviceUrl": format!("{base}/gallery"),
            "itemUrl": format!("{base}/item"),
            "extensionUrlTemplate": format!("{base}/gallery/{{publisher}}/{{name}}/latest"),
            "resourceUrlTemplate": format!("{base}/res/{{publisher}}/{{name}}/{{version}}/{{path}}"),
        })
        .to_string()
    }

    /// The requests so far (method and path).
    fn seen(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many queries for the extension so far.
    fn queries(&self) -> usize {
        self.seen()
            .iter()
            .filter(|r| r.contains("/extensionquery") && r.contains(ID))
            .count()
    }

    /// How many VSIX downloads so far.
    fn downloads(&self) -> usize {
        self.seen()
            .iter()
            .filter(|r| r.contains("VSIXPackage"))
            .count()
    }
}

/// The gallery's answer to `req`: the query names the extension, its assets are
/// below `/asset/`.
async fn answer(
    addr: SocketAddr,
    req: Request<Incoming>,
    log: &Mutex<Vec<String>>,
    vsix: Bytes,
) -> Response<Full<Bytes>> {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(format!(
            "{method} {path} {}",
            String::from_utf8_lossy(&body)
        ));
    let reply = |code: StatusCode, kind: &str, body: Bytes| {
        let mut res = Response::new(Full::new(body));
        *res.status_mut() = code;
        if let Ok(kind) = kind.parse() {
            res.headers_mut().insert(http::header::CONTENT_TYPE, kind);
        }
        res
    };
    if path.ends_with("/extensionquery") {
        // Only the one extension is here: a query for another finds nothing.
        let found: Vec<Value> = String::from_utf8_lossy(&body)
            .contains(ID)
            .then(|| extension(addr))
            .into_iter()
            .collect();
        let query = serde_json::json!({"results": [{
            "resultMetadata": [{"metadataType": "ResultCount",
                                "metadataItems": [{"name": "TotalCount", "count": found.len()}]}],
            "extensions": found,
        }]});
        return reply(StatusCode::OK, "application/json", query.to_string().into());
    }
    match path.as_str() {
        "/asset/Microsoft.VisualStudio.Code.Manifest" => {
            reply(StatusCode::OK, "application/json", PACKAGE_JSON.into())
        }
        "/asset/Microsoft.VisualStudio.Services.VSIXPackage" => {
            reply(StatusCode::OK, "application/octet-stream", vsix)
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not here".into()),
    }
}

/// The gallery's entry for the extension, its assets on `addr`.
fn extension(addr: SocketAddr) -> Value {
    let asset = format!("http://{addr}/asset");
    serde_json::json!({
        "extensionId": "00000000-0000-4000-8000-000000000001",
        "extensionName": "hello",
        "displayName": "Hello",
        "shortDescription": "A test extension",
        "flags": "validated, public",
        "publisher": {"publisherId": "00000000-0000-4000-8000-000000000002",
                      "publisherName": "acme", "displayName": "Acme"},
        "versions": [{
            "version": "1.0.0",
            "lastUpdated": "2024-01-01T00:00:00Z",
            "assetUri": asset,
            "fallbackAssetUri": asset,
            "files": [
                {"assetType": "Microsoft.VisualStudio.Services.VSIXPackage",
                 "source": format!("{asset}/Microsoft.VisualStudio.Services.VSIXPackage")},
                {"assetType": "Microsoft.VisualStudio.Code.Manifest",
                 "source": format!("{asset}/Microsoft.VisualStudio.Code.Manifest")},
            ],
            "properties": [{"key": "Microsoft.VisualStudio.Code.Engine", "value": "*"}],
        }],
        "statistics": [],
    })
}

/// The installed extension folders (`acme.hello-1.0.0`) in `dir`.
fn installed(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("acme.hello"))
        .collect()
}

#[tokio::test]
async fn extensions_install_into_code_server_after_consent_and_once() -> anyhow::Result<()> {
    let code_server = ide_support::code_server();
    let tmp = tempfile::tempdir()?;
    let gallery = Gallery::start(build_vsix(tmp.path())?).await?;
    let gallery_json = gallery.env();
    // The operator's flag (the other tests set code-server's own variable instead).
    let fx = Fixture::new(|b| {
        b.code_server(&code_server)
            .arg("--extensions-gallery")
            .arg(gallery_json.as_str())
    })?;
    let config = format!(
        r#"{{"customizations": {{"vscode": {{"extensions": ["{ID}", "-acme.not-this"]}}}},
            "postCreateCommand": "echo created > created.txt"}}"#
    );
    fx.repo
        .commit(&[(FILE, config.as_str())], "a dev container")?;
    open(&fx).await?;
    let ide_dir = fx.proxy.volume().join(".dcs/code-server");
    let extensions_dir = ide_dir.join("extensions");

    // Before consent: asked for, nothing fetched, nothing installed.
    let s = status(&fx).await?;
    assert_eq!(
        s["extensions"],
        serde_json::json!({"ids": [ID], "state": "waiting_for_consent", "exit_code": null}),
        "{s}"
    );
    let list = notices(&fx).await?;
    let consent = notice(&list, "devcontainer").context("consent notice")?;
    let text = consent["text"].as_str().unwrap_or_default();
    assert!(text.contains("to install extensions acme.hello"), "{text}");
    assert!(!text.contains("not-this"), "{text}");
    assert_eq!(gallery.downloads(), 0, "{:?}", gallery.seen());
    assert_eq!(installed(&extensions_dir), Vec::<String>::new());

    // Allowed: installed from the gallery, then the step runs.
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 202, "{body}");
    let s = wait_status(&fx, "extensions installed and steps done", |s| {
        s["extensions"]["state"] == "done" && all_done(s)
    })
    .await?;
    assert_eq!(s["extensions"]["exit_code"], 0, "{s}");
    assert_eq!(read(&fx, "created.txt").as_deref(), Some("created\n"));
    assert_eq!(installed(&extensions_dir), ["acme.hello-1.0.0"]);
    assert!(
        extensions_dir
            .join("acme.hello-1.0.0/package.json")
            .is_file(),
        "the VSIX's extension/ folder is the installed one"
    );
    let seen = gallery.seen();
    assert!(
        seen.iter()
            .any(|r| r.starts_with("POST /gallery/extensionquery") && r.contains(ID)),
        "{seen:?}"
    );
    assert_eq!(gallery.downloads(), 1, "{seen:?}");
    let listed = tokio::process::Command::new(&code_server)
        .arg("--extensions-dir")
        .arg(&extensions_dir)
        .arg("--user-data-dir")
        .arg(ide_dir.join("data"))
        .arg("--list-extensions")
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success() && stdout.lines().any(|l| l.trim() == ID),
        "--list-extensions: {listed:?}"
    );
    let (_, text) = log(&fx).await?;
    assert!(
        text.contains("== customizations.vscode.extensions: acme.hello ==")
            && text.contains("successfully installed"),
        "{text}"
    );
    let list = notices(&fx).await?;
    let reload = notice(&list, "devcontainer-extensions").context("reload notice")?;
    assert_eq!(
        reload["text"],
        "Extensions from devcontainer.json are installed: reload the window to use them."
    );
    assert_eq!(reload["actions"][0]["reload"], true, "{reload}");

    // The next start installs nothing again.
    let queries = gallery.queries();
    stop(&fx).await?;
    open(&fx).await?;
    let s = wait_status(&fx, "the next start settled", |s| {
        s["extensions"]["state"] == "done" && all_done(s)
    })
    .await?;
    assert_eq!(s["allowed"], true, "{s}");
    assert_eq!(gallery.downloads(), 1, "{:?}", gallery.seen());
    assert_eq!(
        gallery.queries(),
        queries,
        "asked again: {:?}",
        gallery.seen()
    );
    let list = notices(&fx).await?;
    assert!(
        notice(&list, "devcontainer-extensions").is_none(),
        "{list:?}"
    );
    Ok(())
}

#[tokio::test]
async fn an_extension_the_gallery_lacks_holds_up_no_command() -> anyhow::Result<()> {
    let code_server = ide_support::code_server();
    let tmp = tempfile::tempdir()?;
    let gallery = Gallery::start(build_vsix(tmp.path())?).await?;
    let gallery_env = gallery.env();
    let fx = Fixture::new(|b| {
        b.code_server(&code_server)
            .env("EXTENSIONS_GALLERY", gallery_env.as_str())
    })?;
    let config = format!(
        r#"{{"customizations": {{"vscode": {{"extensions": ["{ID}", "nope.missing"]}}}},
            "postCreateCommand": "echo created > created.txt"}}"#
    );
    fx.repo
        .commit(&[(FILE, config.as_str())], "a dev container")?;
    open(&fx).await?;
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 202, "{body}");
    let settled = |s: &Value| s["extensions"]["state"] == "failed" && all_done(s);
    let s = wait_status(&fx, "the command ran despite the failure", settled).await?;
    assert_eq!(
        s["extensions"]["failed"],
        serde_json::json!(["nope.missing"]),
        "{s}"
    );
    assert_eq!(read(&fx, "created.txt").as_deref(), Some("created\n"));
    let extensions_dir = fx.proxy.volume().join(".dcs/code-server/extensions");
    assert_eq!(installed(&extensions_dir), ["acme.hello-1.0.0"]);
    let list = notices(&fx).await?;
    let failed = notice(&list, "devcontainer-extensions").context("failure notice")?;
    let text = failed["text"].as_str().unwrap_or_default();
    assert!(text.contains("not installed: nope.missing"), "{text}");

    // Run again: only the missing one is asked for again.
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 202, "{body}");
    // The route forgot the failure before answering: this waits for the retry.
    wait_status(&fx, "the retry ended", settled).await?;
    assert_eq!(gallery.downloads(), 1, "{:?}", gallery.seen());
    let (_, text) = log(&fx).await?;
    let count = |id: &str| text.matches(&format!("extensions: {id} ==")).count();
    assert_eq!((count(ID), count("nope.missing")), (1, 2), "{text}");
    Ok(())
}
