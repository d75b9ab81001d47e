//! Only the proxy reaches a workspace: a request straight to a launcher — its
//! loopback port, its unix socket (sandboxed), or its Knative route (the stand-in
//! ingress) — without the workspace's hop credential, with another workspace's, or
//! with its own replayed to another workspace, gets 401 and nothing of the
//! workspace; `/_dcs/ready` answers such a request its bare status code only. The
//! proxy's own requests pass, and the credential never reaches the IDE or an app.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dcs_e2e::{client, Fixture, UpstreamRepo};
use dcs_model::{RepoRef, UserId, WorkspaceKey};
use dcs_proxy::hop::HopKey;

#[path = "common/direct.rs"]
mod direct;

fn key(user: &str, repo: &str) -> WorkspaceKey {
    WorkspaceKey::new(
        UserId::new(user).expect("user"),
        RepoRef::parse(repo).expect("repo"),
    )
}

/// The proxy's generated hop secret (local default).
fn hop_key(data_dir: &Path) -> HopKey {
    HopKey::load(&data_dir.join("secrets/hop.key")).expect("the generated hop secret")
}

/// Opens `/github/<repo>/` through the proxy (starting the workspace): 200.
async fn open(fx: &Fixture, repo: &str) -> anyhow::Result<()> {
    let url = fx.proxy.url(&format!("/github/{repo}/"));
    let req = client().get(url).header("accept", "text/html");
    fx.expect_ok(req).await.map(drop)
}

/// Every way past the proxy is refused for `target` (`get` sends a request with an
/// optional credential), while its own credential passes.
async fn assert_only_its_own_credential_passes<F, Fut>(
    get: F,
    own: &str,
    others: &[&str],
) -> anyhow::Result<()>
where
    F: Fn(&'static str, Option<String>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<direct::Answer>>,
{
    for path in [
        "/",
        "/_dcs/files/",
        "/_dcs/files/README.md",
        "/_dcs/notices",
        "/ports/9/",
    ] {
        let none = get(path, None).await?;
        assert_eq!(none.status, 401, "{path} without a credential: {none:?}");
        assert!(!none.body.contains("README"), "{path}: {none:?}");
        for other in others {
            let wrong = get(path, Some((*other).to_owned())).await?;
            assert_eq!(
                wrong.status, 401,
                "{path} with another credential: {wrong:?}"
            );
        }
        let forged = get(path, Some(format!("{own}0"))).await?;
        assert_eq!(forged.status, 401, "{path} with a forged credential");
    }
    let listing = get("/_dcs/files/", Some(own.to_owned())).await?;
    assert_eq!(listing.status, 200, "{listing:?}");
    assert!(listing.body.contains("README"), "{listing:?}");
    // The probe stays open, but says nothing but its status.
    let bare = get("/_dcs/ready", None).await?;
    assert_eq!(bare.status, 200, "{bare:?}");
    assert_eq!(
        bare.body, "",
        "no phase, error or progress without the credential"
    );
    let full = get("/_dcs/ready", Some(own.to_owned())).await?;
    assert!(full.body.contains("\"phase\""), "{full:?}");
    Ok(())
}

#[tokio::test]
async fn a_local_launcher_answers_only_the_proxys_requests() -> anyhow::Result<()> {
    let mut fx = Fixture::new(|b| b)?;
    let _world = UpstreamRepo::create(
        &fx.tmp.path().join("git"),
        "acme/world",
        &[("README.md", "# world\n")],
    )?;
    open(&fx, "acme/hello").await?;
    open(&fx, "acme/world").await?;
    let hop = hop_key(&fx.proxy.data_dir);
    let (hello, world) = (key("alice", "acme/hello"), key("alice", "acme/world"));
    let addr_of = |k: &WorkspaceKey| {
        std::fs::read_to_string(fx.proxy.data_dir.join(format!("run/{}.addr", k.name())))
            .map(|a| a.trim().to_owned())
    };
    let (hello_addr, world_addr) = (addr_of(&hello)?, addr_of(&world)?);
    let own = hop.credential(&hello.name());
    let theirs = hop.credential(&world.name());
    let bobs = hop.credential(&key("bob", "acme/hello").name());

    let get = |path: &'static str, cred: Option<String>| {
        let addr = hello_addr.clone();
        async move { direct::tcp(&addr, path, cred.as_deref()).await }
    };
    assert_only_its_own_credential_passes(get, own.expose(), &[theirs.expose(), bobs.expose()])
        .await?;
    // Replayed to another workspace, a credential opens nothing there.
    let replayed = direct::tcp(&world_addr, "/_dcs/files/", Some(own.expose())).await?;
    assert_eq!(replayed.status, 401, "{replayed:?}");
    // The terminal (an upgrade) is refused the same way.
    assert_eq!(
        direct::upgrade(&hello_addr, "/_dcs/terminal", None).await?,
        401
    );
    assert_eq!(
        direct::upgrade(&hello_addr, "/_dcs/terminal", Some(theirs.expose())).await?,
        401
    );
    assert_eq!(
        direct::upgrade(&hello_addr, "/_dcs/terminal", Some(own.expose())).await?,
        101
    );
    // And as a stream of an HTTP/2 connection (how the proxy sends upgrades to a
    // launcher it reaches directly): every stream is checked on its own.
    for cred in [None, Some(theirs.expose()), Some(bobs.expose())] {
        assert_eq!(
            direct::stream(&hello_addr, "/_dcs/terminal", cred).await?,
            401
        );
    }
    assert_eq!(
        direct::stream(&hello_addr, "/_dcs/terminal", Some(own.expose())).await?,
        101
    );

    // The proxy's own requests pass; what reaches an app carries no credential,
    // even when the client sends one.
    let port = dcs_e2e::api::head_echo().await?;
    let resp = client()
        .get(fx.proxy.url(&format!("/github/acme/hello/ports/{port}/")))
        .header(direct::HOP, own.expose())
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let head = resp.text().await?.to_ascii_lowercase();
    assert!(head.starts_with("get / "), "{head}");
    assert!(!head.contains(direct::HOP), "{head}");
    assert!(!head.contains(own.expose()), "{head}");

    // Never in a log.
    let logs = fx.proxy.whole_log() + &all_logs(&fx.proxy.data_dir.join("logs"))?;
    for c in [&own, &theirs] {
        assert!(!logs.contains(c.expose()), "a hop credential in a log");
    }
    Ok(())
}

fn all_logs(dir: &Path) -> anyhow::Result<String> {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir)? {
        text.push_str(&std::fs::read_to_string(entry?.path()).unwrap_or_default());
    }
    Ok(text)
}

#[tokio::test]
async fn a_sandboxed_launcher_answers_only_the_proxy_on_its_unix_socket() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--sandbox"))?;
    open(&fx, "acme/hello").await?;
    let hello = key("alice", "acme/hello");
    let socket: PathBuf = fx
        .proxy
        .data_dir
        .join("run")
        .join(hello.name().as_str())
        .join("launcher.sock");
    assert!(socket.exists(), "{}", socket.display());
    assert!(
        !fx.proxy
            .data_dir
            .join(format!("run/{}.addr", hello.name()))
            .exists(),
        "no loopback port"
    );
    let hop = hop_key(&fx.proxy.data_dir);
    let own = hop.credential(&hello.name());
    let other = hop.credential(&key("bob", "acme/hello").name());
    let get = |path: &'static str, cred: Option<String>| {
        let socket = socket.clone();
        async move { direct::unix(&socket, path, cred.as_deref()).await }
    };
    assert_only_its_own_credential_passes(get, own.expose(), &[other.expose()]).await?;
    // And the proxy gets through it.
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    assert_eq!(resp.text().await?, dcs_e2e::README);
    Ok(())
}

mod knative {
    //! The Knative data plane: the fake API server and its ingress stand-in, real
    //! launchers behind it with their hop Secrets' files.

    use dcs_model::{InstanceId, InstanceSpec};
    use dcs_proxy::runtime::knative::fake::ingress::FakeIngress;
    use dcs_proxy::runtime::knative::fake::launcher::Launcher;
    use dcs_proxy::runtime::knative::fake::{FakeApiServer, Policy};
    use dcs_proxy::runtime::knative::{KnativeArgs, KnativeRuntime};
    use dcs_proxy::runtime::{Runtime, WorkspaceSpec};

    use super::*;

    fn instance(user: &str, id: &str) -> WorkspaceKey {
        WorkspaceKey::instance(
            UserId::new(user).expect("user"),
            InstanceId::parse(id).expect("id"),
        )
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: KnativeArgs,
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_knative_route_admits_only_the_proxys_requests() -> anyhow::Result<()> {
        use clap::Parser as _;
        dcs_proxy::runtime::knative::install_crypto_provider();
        let hop = HopKey::from_bytes(b"e2e-hop-secret-0123456789abcdef-0123")
            .map_err(anyhow::Error::msg)?;
        let mut cfg = Cli::try_parse_from(["dcs-proxy"])?
            .args
            .validate()
            .map_err(|p| anyhow::anyhow!("{p:?}"))?;
        cfg.hop = Some(hop.clone());
        let server = FakeApiServer::new();
        server.set_policy(Policy::ReadyAfter(Duration::from_millis(200)));
        let ingress = FakeIngress::start(&server);
        let runtime = KnativeRuntime::new(cfg.clone(), server.client())
            .with_route_override(ingress.addr().to_string());
        let (a, b) = (
            instance("alice", "inst-00000000000000a1"),
            instance("bob", "inst-00000000000000b2"),
        );
        let bin = dcs_e2e::bin_path("dcs-launcher")?;
        let (da, db) = (tempfile::tempdir()?, tempfile::tempdir()?);
        let (la, lb) = (
            Launcher::start(&bin, &a, da.path(), Some(&hop)).await?,
            Launcher::start(&bin, &b, db.path(), Some(&hop)).await?,
        );
        ingress.forward(a.name().as_str(), la.addr);
        ingress.forward(b.name().as_str(), lb.addr);
        let mut ups = Vec::new();
        for k in [&a, &b] {
            let spec = WorkspaceSpec::new(k.clone(), InstanceSpec::default());
            runtime.register(&spec).await?;
            // The route probe is one of the proxy's own requests: it passes.
            let ensure = runtime.ensure(&spec);
            tokio::pin!(ensure);
            let up = loop {
                tokio::select! {
                    up = &mut ensure => break up?,
                    () = tokio::time::sleep(Duration::from_millis(20)) => {
                        server.settle(&cfg.namespace, k.name().as_str());
                    }
                }
            };
            assert_eq!(up.hop.as_ref(), Some(&hop.credential(&k.name())));
            ups.push(up);
        }
        let route = ingress.addr().to_string();
        let host_a = ups[0].host.clone().unwrap_or_default();
        let host_b = ups[1].host.clone().unwrap_or_default();
        let via = |host: String| {
            let route = route.clone();
            move |path: &'static str, cred: Option<String>| {
                let (route, host) = (route.clone(), host.clone());
                async move {
                    let stream = tokio::net::TcpStream::connect(&route).await?;
                    direct::get(stream, &host, path, cred.as_deref(), &[]).await
                }
            }
        };
        let (own_a, own_b) = (hop.credential(&a.name()), hop.credential(&b.name()));
        for (host, own, other) in [(&host_a, &own_a, &own_b), (&host_b, &own_b, &own_a)] {
            let get = via(host.clone());
            for path in ["/", "/_dcs/files/", "/_dcs/notices"] {
                assert_eq!(get(path, None).await?.status, 401, "{host}{path}");
                // Replayed from the other workspace.
                assert_eq!(get(path, Some(other.expose().into())).await?.status, 401);
            }
            assert_eq!(
                get("/_dcs/files/", Some(own.expose().into())).await?.status,
                200
            );
            let bare = get("/_dcs/ready", None).await?;
            assert_eq!((bare.status, bare.body.as_str()), (200, ""));
        }
        Ok(())
    }
}
