//! Instance links before sign-in cost the Kubernetes API nothing: a real
//! `dcs-proxy` in Knative mode (on the stateful fake API server, reached through
//! `KUBECONFIG`) signing people in through a stand-in Authentik outpost. Made-up
//! ids with a `?tkn=` are refused from the watch cache alone (403, no cookie, as a
//! wrong token for a real instance is), with not one API-server `GET`; a real
//! instance's link is still exchanged before sign-in and opens for its owner after.

use std::time::Duration;

use dcs_e2e::api::call;
use dcs_e2e::{client, FakeOutpost, FakeUser, ProxyBuilder};
use dcs_proxy::runtime::knative::fake::ingress::FakeIngress;
use dcs_proxy::runtime::knative::fake::{FakeApiServer, Policy};

/// How many made-up ids an anonymous client tries.
const MADE_UP: usize = 50;

/// The status and `Set-Cookie` of `GET path` with `cookie`, if any.
async fn get(url: String, cookie: Option<&str>) -> anyhow::Result<(u16, Option<String>, String)> {
    let mut req = client().get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await?;
    let set_cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned());
    Ok((resp.status().as_u16(), set_cookie, resp.text().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_links_before_sign_in_reach_no_api_server_and_real_ones_still_open(
) -> anyhow::Result<()> {
    dcs_proxy::runtime::knative::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let server = FakeApiServer::new();
    server.set_policy(Policy::ReadyAfter(Duration::ZERO));
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig())?;
    let hop = dir.path().join("hop.key");
    std::fs::write(&hop, [b'k'; 32])?;
    let ingress = FakeIngress::start(&server);
    let outpost = FakeOutpost::start(vec![FakeUser::new("alice")])?;
    let builder = ProxyBuilder::new(&dir.path().join("data"), "http://127.0.0.1:1")
        .knative(&kubeconfig, &hop)
        .arg("--knative-ingress")
        .arg(ingress.addr().to_string());
    let proxy = outpost.signs_in(builder).start()?;

    // Alice makes an instance, and the proxy's cache has it.
    let bearer = outpost.bearer_for("alice")?;
    let (code, created) = call(
        client()
            .post(proxy.url("/api/instances"))
            .bearer_auth(&bearer)
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await?;
    assert_eq!(code, 201, "{created}\n{}", proxy.log());
    let id = created["instance_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token = created["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let status = proxy.url(&format!("/api/status?instance_id={id}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (code, now) = call(client().get(&status).bearer_auth(&bearer)).await?;
        if code == 200 && now["phase"] == "running" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never running: {code} {now}\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Someone not signed in tries made-up ids, with a well-formed token and without.
    let before = server.calls().len();
    let well_formed = "0".repeat(64);
    let tries = (0..MADE_UP).map(|i| {
        let tkn = if i % 2 == 0 {
            well_formed.as_str()
        } else {
            "0"
        };
        get(
            proxy.url(&format!("/instances/x{}/?tkn={tkn}", 100 + i)),
            None,
        )
    });
    for answer in futures_util::future::join_all(tries).await {
        let (code, set_cookie, _) = answer?;
        assert_eq!((code, set_cookie), (403, None), "{}", proxy.log());
    }
    // A wrong token for the real instance: the same answer (no id is confirmed).
    let (code, set_cookie, _) = get(
        proxy.url(&format!("/instances/{id}/?tkn={well_formed}")),
        None,
    )
    .await?;
    assert_eq!((code, set_cookie), (403, None));
    // (The instance's own start may still read its volume meanwhile.)
    let made_up = |name: &Option<String>| {
        name.as_deref()
            .and_then(|n| n.strip_prefix('x'))
            .is_some_and(|n| n.parse::<usize>().is_ok())
    };
    let asked: Vec<_> = server.calls()[before..]
        .iter()
        .filter(|c| made_up(&c.name) || (c.verb == "get" && c.resource == "services"))
        .cloned()
        .collect();
    assert!(
        asked.is_empty(),
        "anonymous links reached the API server: {asked:?}"
    );

    // The real link: exchanged before sign-in (no API call either) ...
    let (code, cookie, _) = get(proxy.url(&format!("/instances/{id}/?tkn={token}")), None).await?;
    assert_eq!(code, 303, "{}", proxy.log());
    let cookie = cookie.unwrap_or_default();
    assert!(cookie.starts_with("dcs_instance_token="), "{cookie}");
    let page = proxy.url(&format!("/instances/{id}/"));
    // ... the page itself needs sign-in ...
    let (code, _, _) = get(page.clone(), Some(&cookie)).await?;
    assert_ne!(code, 200, "not signed in");
    // ... without the link's cookie a signed-in owner is refused ...
    let session = outpost.session_for("alice")?;
    let (code, _, _) = get(page.clone(), Some(&session)).await?;
    assert_eq!(code, 403, "{}", proxy.log());
    // ... and with both it opens.
    let both = format!("{session}; {cookie}");
    let (code, _, body) = get(page, Some(&both)).await?;
    assert_eq!(
        (code, body.as_str()),
        (200, "a canned workspace"),
        "{}",
        proxy.log()
    );
    Ok(())
}
