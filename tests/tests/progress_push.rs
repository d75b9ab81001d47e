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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launchers_push_reaches_its_services_annotation_through_the_proxy() -> anyhow::Result<()>
{
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
    // The workspace, made as another replica would.
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

    let proxy = dcs_e2e::ProxyBuilder::new(&dir.path().join("data"), "http://127.0.0.1:1")
        .knative(&kubeconfig, &hop_file)
        .start()?;
    let addr = proxy.addr;
    let own = hop.credential_for(&name);
    let cloning = r#"{"phase":"checkout","ready":false,"error":null,
        "progress":{"received_bytes":4096,"objects_done":5,"objects_total":20}}"#;

    assert_eq!(
        push(addr, &name, None, cloning).await?,
        401,
        "no credential"
    );
    let other = hop.credential_for("ws-someone-else");
    assert_eq!(
        push(addr, &name, Some(other.expose()), cloning).await?,
        401,
        "another workspace's credential"
    );
    // 404 until the proxy's watch cache holds the Service, then written.
    let mut last = 0;
    for _ in 0..600 {
        last = push(addr, &name, Some(own.expose()), cloning).await?;
        if last != 404 && last != 429 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last, 204, "accepted once the proxy's cache has the Service");
    let recorded = annotation(&server, &name).context("the annotation")?;
    assert_eq!(recorded["phase"], "cloning", "{recorded}");
    assert_eq!(recorded["percent"], 25, "{recorded}");

    let ready = r#"{"phase":"ready","ready":true,"error":null}"#;
    assert_eq!(push(addr, &name, Some(own.expose()), ready).await?, 204);
    assert_eq!(
        annotation(&server, &name),
        None,
        "the final report clears it"
    );
    assert_eq!(server.created("services"), vec![name], "nothing else made");
    Ok(())
}
