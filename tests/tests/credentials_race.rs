//! Changes of one user's git credentials at the same time all land
//! (`PUT`/`DELETE /api/me/credentials/{host}`): twenty hosts set at once through two
//! real `dcs-proxy` replicas in Knative mode on one fake API server (the user's
//! credentials Secret), and through one proxy in local mode (the file in the
//! user's volume); then removed at once, exactly those go.

use std::future::Future;

use dcs_e2e::{client, Proxy, ProxyBuilder};
use dcs_proxy::runtime::knative::fake::FakeApiServer;
use serde_json::{json, Value};

/// Twenty hosts of `round`.
fn hosts(round: usize) -> Vec<String> {
    (0..20)
        .map(|i| format!("h{round}-{i:02}.example"))
        .collect()
}

async fn put(proxy: &Proxy, host: &str) -> anyhow::Result<(u16, String)> {
    let body = json!({"username": "alice", "token": format!("ghp_{host}")});
    let resp = client()
        .put(proxy.url(&format!("/api/me/credentials/{host}")))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body)?)
        .send()
        .await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

async fn delete(proxy: &Proxy, host: &str) -> anyhow::Result<(u16, String)> {
    let resp = client()
        .delete(proxy.url(&format!("/api/me/credentials/{host}")))
        .send()
        .await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

/// The hosts `proxy` lists.
async fn listed(proxy: &Proxy) -> anyhow::Result<Vec<String>> {
    let resp = client()
        .get(proxy.url("/api/me/credentials"))
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 200, "{}", proxy.log());
    let list: Value = serde_json::from_str(&resp.text().await?)?;
    Ok(list["credentials"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["host"].as_str().map(str::to_owned))
        .collect())
}

/// Runs `op` for every host at once, through `proxies` in turn; each must answer
/// `want`.
async fn at_once<'a, F, Fut>(proxies: &[&'a Proxy], hosts: &'a [String], want: u16, op: F)
where
    F: Fn(&'a Proxy, &'a str) -> Fut,
    Fut: Future<Output = anyhow::Result<(u16, String)>>,
{
    let calls = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| op(proxies[i % proxies.len()], h.as_str()));
    for (answer, host) in futures_util::future::join_all(calls)
        .await
        .into_iter()
        .zip(hosts)
    {
        let (status, body) = answer.expect("answered");
        assert_eq!(status, want, "{host}: {body}");
    }
}

/// Three rounds of twenty hosts set at once, then one round removed at once.
async fn race(proxies: &[&Proxy]) -> anyhow::Result<()> {
    let rounds: Vec<Vec<String>> = (0..3).map(hosts).collect();
    for (round, names) in rounds.iter().enumerate() {
        at_once(proxies, names, 200, put).await;
        let want: Vec<String> = rounds[..=round].concat();
        for proxy in proxies {
            assert_eq!(listed(proxy).await?, want, "round {round}: {}", proxy.log());
        }
    }
    at_once(proxies, &rounds[0], 204, delete).await;
    let want: Vec<String> = rounds[1..].concat();
    for proxy in proxies {
        assert_eq!(listed(proxy).await?, want, "after removal: {}", proxy.log());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_knative_replicas_setting_hosts_at_once_keep_every_host() -> anyhow::Result<()> {
    dcs_proxy::runtime::knative::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let server = FakeApiServer::new();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig())?;
    let hop = dir.path().join("hop.key");
    std::fs::write(&hop, [b'k'; 32])?;
    let replica = |name: &str| {
        ProxyBuilder::new(&dir.path().join(name), "http://127.0.0.1:1")
            .knative(&kubeconfig, &hop)
            .start()
    };
    let (a, b) = (replica("a")?, replica("b")?);
    race(&[&a, &b]).await?;
    // One Secret holds them, written only through the API.
    let names = server.names("", "secrets", "dcs-workspaces");
    assert_eq!(
        names.iter().filter(|n| n.starts_with("cred-")).count(),
        1,
        "{names:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_local_proxy_setting_hosts_at_once_keeps_every_host() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let proxy = ProxyBuilder::new(dir.path(), "http://127.0.0.1:1").start()?;
    race(&[&proxy]).await
}
