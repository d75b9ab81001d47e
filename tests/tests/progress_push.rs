//! A launcher's progress push through a real `dcs-proxy` process in Knative mode
//! (on the stateful fake API server, reached through `KUBECONFIG`): the route
//! `/_dcs/hop/progress/<name>` needs no sign-in and no origin, only the
//! workspace's hop credential; what it pushes lands as the `dcs.dev/progress`
//! annotation of that workspace's Service, and the final report clears it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use dcs_model::{RepoRef, UserId, WorkspaceKey};
use dcs_proxy::hop::HopKey;
use dcs_proxy::runtime::knative::fake::{FakeApiServer, Policy};
use dcs_proxy::runtime::knative::{KnativeArgs, KnativeRuntime};
use dcs_proxy::runtime::{Runtime, WorkspaceSpec};
use serde_json::Value;

const NS: &str = "dcs-workspaces";

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    args: KnativeArgs,
}

/// POSTs `body` to the push route of `name` with `credential`; the status.
async fn push(
    addr: SocketAddr,
    name: &str,
    credential: Option<&str>,
    body: &str,
) -> anyhow::Result<u16> {
    let hop = credential
        .map(|c| format!("X-DCS-Hop: {c}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST /_dcs/hop/progress/{name} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n{hop}\
         Sec-Fetch-Site: cross-site\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    Ok(dcs_e2e::raw_request(addr, req.as_bytes()).await?.status)
}

fn annotation(server: &FakeApiServer, name: &str) -> Option<Value> {
    let ksvc = server.object("serving.knative.dev", "services", NS, name)?;
    let value = ksvc["metadata"]["annotations"]["dcs.dev/progress"].as_str()?;
    serde_json::from_str(value).ok()
}

/// A workspace registered on a fake API server (as another replica would), the
/// hop secret's file and key, and the workspace's name.
struct Scene {
    dir: tempfile::TempDir,
    server: FakeApiServer,
    kubeconfig: std::path::PathBuf,
    hop_file: std::path::PathBuf,
    hop: HopKey,
    name: String,
}

async fn scene() -> anyhow::Result<Scene> {
    use clap::Parser as _;
    dcs_proxy::runtime::knative::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let secret = b"e2e-progress-secret-0123456789abcdef";
    let hop_file = dir.path().join("hop.key");
    std::fs::write(&hop_file, secret)?;
    let hop = HopKey::from_bytes(secret).map_err(anyhow::Error::msg)?;

    let server = FakeApiServer::new();
    server.set_policy(Policy::ReadyAfter(Duration::from_secs(3600)));
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig())?;
    let mut cfg = Cli::try_parse_from(["dcs-proxy"])?
        .args
        .validate()
        .map_err(|p| anyhow::anyhow!("{p:?}"))?;
    cfg.hop = Some(hop.clone());
    let maker = KnativeRuntime::new(cfg, server.client());
    let key = WorkspaceKey::new(UserId::new("alice")?, RepoRef::parse("acme/hello")?);
    maker
        .register(&WorkspaceSpec::for_repo(key.clone()))
        .await?;
    let name = key.name().to_string();
    Ok(Scene {
        dir,
        server,
        kubeconfig,
        hop_file,
        hop,
        name,
    })
}

/// Pushes `body` to `addr` with the workspace's own credential until the proxy's
/// watch cache holds its Service (404 before) and the pace allows (429); the
/// last status.
async fn push_until_taken(addr: SocketAddr, scene: &Scene, body: &str) -> anyhow::Result<u16> {
    let own = scene.hop.credential_for(&scene.name);
    let mut last = 0;
    for _ in 0..600 {
        last = push(addr, &scene.name, Some(own.expose()), body).await?;
        if last != 404 && last != 429 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(last)
}

const CLONING: &str = r#"{"phase":"checkout","ready":false,"error":null,
    "progress":{"received_bytes":4096,"objects_done":5,"objects_total":20}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launchers_push_reaches_its_services_annotation_through_the_proxy() -> anyhow::Result<()>
{
    let scene = scene().await?;
    let (server, name, hop) = (&scene.server, &scene.name, &scene.hop);
    let proxy = dcs_e2e::ProxyBuilder::new(&scene.dir.path().join("data"), "http://127.0.0.1:1")
        .knative(&scene.kubeconfig, &scene.hop_file)
        .start()?;
    let addr = proxy.addr;
    let own = hop.credential_for(name);

    assert_eq!(push(addr, name, None, CLONING).await?, 401, "no credential");
    let other = hop.credential_for("ws-someone-else");
    assert_eq!(
        push(addr, name, Some(other.expose()), CLONING).await?,
        401,
        "another workspace's credential"
    );
    // 404 until the proxy's watch cache holds the Service, then written.
    assert_eq!(
        push_until_taken(addr, &scene, CLONING).await?,
        204,
        "accepted once the proxy's cache has the Service"
    );
    let recorded = annotation(server, name).context("the annotation")?;
    assert_eq!(recorded["phase"], "cloning", "{recorded}");
    assert_eq!(recorded["percent"], 25, "{recorded}");

    let ready = r#"{"phase":"ready","ready":true,"error":null}"#;
    assert_eq!(push(addr, name, Some(own.expose()), ready).await?, 204);
    assert_eq!(annotation(server, name), None, "the final report clears it");
    assert_eq!(
        server.created("services"),
        vec![name.clone()],
        "nothing else made"
    );
    Ok(())
}

/// `--hop-listen`: pushes are taken there and only there, and nothing else is
/// served there, so a workspace pod admitted to that port alone (the shipped
/// NetworkPolicy) meets no public route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_hop_listen_pushes_are_taken_on_that_address_alone() -> anyhow::Result<()> {
    let scene = scene().await?;
    let proxy = dcs_e2e::ProxyBuilder::new(&scene.dir.path().join("data"), "http://127.0.0.1:1")
        .knative(&scene.kubeconfig, &scene.hop_file)
        .arg("--hop-listen")
        .arg("127.0.0.1:0")
        .start()?;
    let hop_addr = proxy.hop_addr.context("the hop listener's address")?;
    assert_ne!(hop_addr, proxy.addr);

    assert_eq!(
        push(hop_addr, &scene.name, None, CLONING).await?,
        401,
        "no credential"
    );
    assert_eq!(
        push_until_taken(hop_addr, &scene, CLONING).await?,
        204,
        "taken on the hop listener"
    );
    let recorded = annotation(&scene.server, &scene.name).context("the annotation")?;
    assert_eq!(recorded["phase"], "cloning", "{recorded}");
    // The same push on the main listener: not served there (the cache has the
    // Service by now, so this 404 is the route's).
    let own = scene.hop.credential_for(&scene.name);
    assert_eq!(
        push(proxy.addr, &scene.name, Some(own.expose()), CLONING).await?,
        404,
        "the main listener takes no pushes"
    );

    // Nothing but pushes on the hop listener: no public route, no API, no metrics,
    // whatever the method.
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/api/me"),
        ("POST", "/api/instances"),
        ("GET", "/github/acme/hello/"),
        ("GET", "/outpost.goauthentik.io/start"),
        ("GET", "/_dcs/hop/progress/"),
        ("POST", "/_dcs/hop/progress/a/b"),
    ] {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {hop_addr}\r\nX-authentik-username: alice\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let resp = dcs_e2e::raw_request(hop_addr, req.as_bytes()).await?;
        assert_eq!(resp.status, 404, "{method} {path} on the hop listener");
    }
    // A previewed app addressing it (the preview hop's mark): refused as on every
    // listener of the proxy's.
    let req = format!(
        "POST /_dcs/hop/progress/{} HTTP/1.1\r\nHost: {hop_addr}\r\nVia: 1.1 dcs-preview\r\n\
         X-DCS-Hop: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{CLONING}",
        scene.name,
        own.expose(),
        CLONING.len()
    );
    let resp = dcs_e2e::raw_request(hop_addr, req.as_bytes()).await?;
    assert_eq!(resp.status, 403, "a preview's request");
    Ok(())
}
